"""The "invoice issued" email: who receives it, what it shows (the page's and the PDF's
figures), the stored PDF attached, once per document, and never for drafts or when off."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from sportello.accounts.models import EmailTopic, Membership
from sportello.accounts.services import contact_create
from sportello.billing.credit_notes import invoice_cancel
from sportello.billing.emails import invoice_email_send
from sportello.billing.models import Invoice, InvoiceEmailed, SettlementKind
from sportello.billing.services import NewLine, invoice_create, invoice_issue, invoice_settle
from sportello.billing.tasks_pdf import invoice_pdfs_render
from sportello.core.formatting import date_display, money_display
from sportello.core.money import Money
from sportello.notifications.models import EmailKind, EmailLog

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("billing_setup")]
DAY = dt.date(2026, 3, 2)
PROVIDER = django_settings.PROVIDER_NAME


def lines() -> list[NewLine]:
    return [
        NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("200.00")),
        NewLine(description="Backups", quantity=Decimal(2), unit_price=Decimal("12.50")),
    ]


def text_of(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).replace("\xa0", " ")


def plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture
def contacts(alice: Membership) -> None:
    """Besides alice (a member, all default topics): one more invoices contact, one not."""
    contact_create(
        account=alice.account,
        name="Ann <Accounts> & Co",
        email="accounts@example.org",
        topics=[EmailTopic.INVOICES],
        acting=None,
        by=None,
    )
    contact_create(
        account=alice.account,
        name="Mark",
        email="mark@example.org",
        topics=[EmailTopic.MARKETING],
        acting=None,
        by=None,
    )


def issue(membership: Membership, capture: Any) -> Invoice:
    draft = invoice_create(account=membership.account, lines=lines(), as_of=DAY)
    with capture(execute=True):
        invoice_issue(invoice=draft, as_of=DAY)
    return Invoice.objects.get(pk=draft.pk)


def invoice_emails() -> list[EmailLog]:
    return list(EmailLog.objects.filter(kind=EmailKind.INVOICE).order_by("to_email"))


@pytest.mark.usefixtures("contacts")
def test_an_issued_invoice_is_emailed_once_with_its_stored_pdf(
    alice: Membership, django_capture_on_commit_callbacks: Any
) -> None:
    invoice = issue(alice, django_capture_on_commit_callbacks)
    assert invoice.number == "INV-2026-00001" and invoice.total_minor == 27225
    emails = invoice_emails()
    assert [e.to_email for e in emails] == ["accounts@example.org", "alice@example.org"]
    assert {e.subject for e in emails} == {f"Invoice INV-2026-00001 from {PROVIDER}"}
    assert all(e.attachment_names == ["INV-2026-00001.pdf"] for e in emails)
    assert all(e.account_id == alice.account_id for e in emails)
    assert [e.recipient_id for e in emails] == [None, alice.user_id]
    text = emails[1].body_text
    for shown in ("INV-2026-00001", "Issue date: 2 Mar 2026", "Due date: 16 Mar 2026", "€272.25"):
        assert shown in text
    assert "Total: €272.25\nBalance due: €272.25" in text
    assert f"{django_settings.SITE_URL}/billing/invoices/INV-2026-00001/" in text
    assert "Hello Alice," in text

    # The contact's name is the customer's text: escaped in HTML, as typed in the text part.
    ann = emails[0]
    assert "Hello Ann <Accounts> & Co," in ann.body_text
    assert "Hello Ann &lt;Accounts&gt; &amp; Co," in ann.body_html
    assert "<Accounts>" not in ann.body_html

    # Delivered with the stored PDF's very bytes.
    stored = default_storage.open(invoice.pdf.name).read()
    sent = sorted(mail.outbox, key=lambda m: m.to[0])
    assert [m.to for m in sent] == [["accounts@example.org"], ["alice@example.org"]]
    for message in sent:
        assert message.attachments == [("INV-2026-00001.pdf", stored, "application/pdf")]

    # The task run again (a retry, a re-run) sends nothing more.
    invoice_pdfs_render.call(invoice_ids=[invoice.pk])
    invoice_pdfs_render.enqueue(invoice_ids=[invoice.pk])
    assert invoice_email_send(invoice_id=invoice.pk) == 0
    assert len(invoice_emails()) == 2 and len(mail.outbox) == 2
    marker = InvoiceEmailed.objects.get(invoice=invoice)
    assert marker.recipients == 2


def test_the_email_shows_the_figures_of_the_page_and_the_pdf(
    alice_client: Client, alice: Membership, django_capture_on_commit_callbacks: Any
) -> None:
    # Paid in part before the task runs: the balance differs from the total.
    draft = invoice_create(account=alice.account, lines=lines(), as_of=DAY)
    invoice = invoice_issue(invoice=draft, as_of=DAY)  # its commit hooks are not run
    invoice_settle(
        invoice=invoice,
        amount=Money("100.00", "EUR"),
        kind=SettlementKind.PAYMENT,
        reference="part-1",
        settled_on=DAY,
    )
    assert invoice_emails() == []
    invoice_pdfs_render.call(invoice_ids=[invoice.pk])
    invoice.refresh_from_db()
    (email,) = invoice_emails()
    total = money_display(Money.from_minor(invoice.total_minor, "EUR"), "en")
    balance = money_display(Money.from_minor(invoice.total_minor - 10000, "EUR"), "en")
    assert (total, balance) == ("€272.25", "€172.25")
    assert f"Total: {total}\nBalance due: {balance}" in email.body_text
    assert f"Issue date: {date_display(DAY, 'en')}" in email.body_text
    assert f"Due date: {date_display(invoice.due_date, 'en')}" in email.body_text
    page = plain(alice_client.get(reverse("portal:invoice", args=[invoice.number])).content.decode())
    pdf = plain(text_of(default_storage.open(invoice.pdf.name).read()))
    for figure in (total, balance, date_display(DAY, "en"), date_display(invoice.due_date, "en")):
        assert plain(figure) in page
    for figure in (total, date_display(DAY, "en"), date_display(invoice.due_date, "en")):
        assert plain(figure) in pdf
    assert plain(balance) in plain(email.body_html)


def test_nothing_is_sent_for_drafts(alice: Membership) -> None:
    draft = invoice_create(account=alice.account, lines=lines(), as_of=DAY)
    assert invoice_email_send(invoice_id=draft.pk) == 0
    invoice_pdfs_render.call(invoice_ids=[draft.pk])
    assert invoice_emails() == [] and mail.outbox == []
    assert not InvoiceEmailed.objects.exists()


def test_nothing_is_sent_when_the_setting_is_off(
    alice: Membership, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.BILLING_INVOICE_EMAILS = False
    invoice = issue(alice, django_capture_on_commit_callbacks)
    assert invoice.pdf.name  # the PDF is still rendered and kept
    invoice_pdfs_render.call(invoice_ids=[invoice.pk])
    assert invoice_email_send(invoice_id=invoice.pk) == 0
    assert invoice_emails() == [] and mail.outbox == []
    assert not InvoiceEmailed.objects.exists()


def test_without_pdfs_on_issue_the_email_still_carries_the_kept_pdf(
    alice: Membership, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.BILLING_PDF_ON_ISSUE = False
    invoice = issue(alice, django_capture_on_commit_callbacks)
    (email,) = invoice_emails()
    assert invoice.pdf.name  # rendered for the email, and kept as the document
    (message,) = mail.outbox
    assert message.attachments == [
        ("INV-2026-00001.pdf", default_storage.open(invoice.pdf.name).read(), "application/pdf")
    ]
    assert email.attachment_names == ["INV-2026-00001.pdf"]


def test_a_credit_note_is_emailed_with_its_own_pdf(alice: Membership, django_capture_on_commit_callbacks: Any) -> None:
    invoice = issue(alice, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        cancellation = invoice_cancel(invoice=invoice, reason="Ordered by mistake", as_of=DAY)
    note = cancellation.credit_note
    assert note is not None
    note.refresh_from_db()
    emails = [e for e in invoice_emails() if "CN-" in e.subject]
    assert [(e.to_email, e.subject) for e in emails] == [
        ("alice@example.org", f"Credit note CN-2026-00001 from {PROVIDER}")
    ]
    (email,) = emails
    assert email.attachment_names == ["CN-2026-00001.pdf"]
    assert "correcting invoice INV-2026-00001" in email.body_text
    # Negative, as the note is shown everywhere (Invoice.shown_sign).
    assert "Total: -€272.25" in email.body_text and "Balance due" not in email.body_text
    assert "-€272.25" in email.body_html
    assert f"{django_settings.SITE_URL}/billing/credit-notes/CN-2026-00001/" in email.body_text
    message = next(m for m in mail.outbox if m.subject == email.subject)
    assert message.attachments == [("CN-2026-00001.pdf", default_storage.open(note.pdf.name).read(), "application/pdf")]
    assert EmailLog.objects.filter(kind=EmailKind.INVOICE).count() == 2  # the invoice's and the note's


def test_a_payment_request_is_emailed_by_its_number_and_not_again_when_paid(
    alice: Membership, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.BILLING_NUMBERING = "payment"
    invoice = issue(alice, django_capture_on_commit_callbacks)
    assert invoice.number == "" and invoice.proforma_number == "PRO-2026-00001"
    (email,) = invoice_emails()
    assert email.subject == f"Payment request PRO-2026-00001 from {PROVIDER}"
    assert email.attachment_names == ["PRO-2026-00001.pdf"]
    assert f"{django_settings.SITE_URL}/billing/invoices/PRO-2026-00001/" in email.body_text
    (message,) = mail.outbox
    name, data, mimetype = message.attachments[0]
    assert (name, mimetype) == ("PRO-2026-00001.pdf", "application/pdf")
    assert "Payment request" in text_of(data) and "PRO-2026-00001" in text_of(data)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_settle(
            invoice=invoice,
            amount=Money("272.25", "EUR"),
            kind=SettlementKind.PAYMENT,
            reference="t-1",
            settled_on=DAY,
        )
    invoice.refresh_from_db()
    assert invoice.number == "INV-2026-00001" and invoice.pdf.name
    assert len(invoice_emails()) == 1


def test_a_rolled_back_issue_sends_nothing(alice: Membership, django_capture_on_commit_callbacks: Any) -> None:
    from django.db import transaction

    draft = invoice_create(account=alice.account, lines=lines(), as_of=DAY)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                invoice_issue(invoice=draft, as_of=DAY)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert callbacks == []
    assert invoice_emails() == [] and mail.outbox == []


def test_each_contact_reads_it_in_their_language(alice: Membership, django_capture_on_commit_callbacks: Any) -> None:
    alice.user.language = "es"
    alice.user.save(update_fields=["language"])
    issue(alice, django_capture_on_commit_callbacks)
    (email,) = invoice_emails()
    assert "272,25" in email.body_text and "INV-2026-00001" in email.subject
    assert "2 mar 2026" in email.body_text
