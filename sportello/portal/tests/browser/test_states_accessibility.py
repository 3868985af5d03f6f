"""axe-core (WCAG 2.0/2.1/2.2 A and AA) on client-area pages in the states the other
accessibility tests do not reach: the printable credit note and quote, a card payment still
in progress, a PIX code whose time is over, the service page's automatic-payment switch,
the new-request form sent back with errors, a request with files, the payments list with a
transfer still awaited and the invoice that waits for it, and a request whose card number
was removed and whose emailed files were left out. Each at desktop and phone width, with no
sideways scrolling on a phone.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from email.message import EmailMessage

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.accounts.models import Account, Membership
from sportello.billing.models import DocumentKind, Invoice, Quote
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.core.testing import Clock
from sportello.payments.models import Payment
from sportello.payments.services import payment_begin, payment_create, payment_preference_set
from sportello.portal.tests.browser.helpers import ANA, NUBECLARA, login_over_http, set_user_language
from sportello.portal.tests.browser.test_payments import check_page
from sportello.services.models import Service
from sportello.support import references
from sportello.support.models import Department
from sportello.support.services import Upload, ticket_open, ticket_reply_by_email

BRUNO = "bruno@example.com"  # owner of Bruno Tecnologia Ltda. (BRL, pt-br)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# The day the test's own documents are dated: fixed, so that nothing depends on today.
DAY = dt.date(2026, 2, 2)


def issued_invoice(account: Account, description: str) -> Invoice:
    draft = invoice_create(
        account=account,
        lines=[NewLine(description=description, quantity=Decimal(1), unit_price=Decimal("100.00"))],
        as_of=DAY,
    )
    return invoice_issue(invoice=draft, as_of=DAY, due_date=DAY + dt.timedelta(days=14))


def started_payment(account: Account, invoice: Invoice, method: str) -> Payment:
    plan = payment_create(account=account, invoices=[invoice], method=method, use_credit=False, by=None, as_of=DAY)
    assert plan.payment is not None
    return payment_begin(payment=plan.payment, return_url="http://testserver/billing/")


@pytest.fixture
def ana(page: Page, live_server, demo_data) -> Page:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    return page


def test_the_printable_credit_note_and_quote(ana: Page, live_server) -> None:
    credit_note = Invoice.objects.filter(account__name=NUBECLARA, kind=DocumentKind.CREDIT_NOTE).first()
    quote = Quote.objects.filter(account__name=NUBECLARA).exclude(number="").first()
    assert credit_note is not None and quote is not None
    problems = []
    for screen, path in (
        ("credit note print", f"/billing/credit-notes/{credit_note.number}/print/"),
        ("quote print", f"/billing/quotes/{quote.number}/print/"),
    ):
        response = ana.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, screen
        expect(ana.locator("button[data-print]")).to_be_visible()  # shown by documents.js
        problems += check_page(ana, screen)
    assert problems == []


def test_a_card_payment_in_progress(ana: Page, live_server, settings) -> None:
    settings.PAYMENTS_TESTCARD_ENABLED = True
    account = Account.objects.get(name=NUBECLARA)
    # Started on the card processor's page and not finished there.
    payment = started_payment(account, issued_invoice(account, "Backup storage, 100 GB"), "testcard")
    ana.goto(f"{live_server.url}/billing/payments/{payment.public_id}/")
    expect(ana.locator("main h1")).to_have_text("Payment in progress")
    expect(ana.get_by_role("link", name="Back to the payment page")).to_be_visible()
    assert check_page(ana, "payment in progress") == []


def test_a_pix_code_whose_time_is_over(page: Page, live_server, demo_data, monkeypatch) -> None:
    membership = Membership.objects.select_related("account").get(user__email=BRUNO, account__currency="BRL")
    payment = started_payment(membership.account, issued_invoice(membership.account, "Hospedagem Pro"), "pix")
    expires_at = dt.datetime.fromisoformat(payment.instructions["expires_at"])
    monkeypatch.setattr("sportello.portal.views.payments.utc_now", Clock(expires_at + dt.timedelta(minutes=1)))
    set_user_language(BRUNO, "en")
    login_over_http(page, live_server, BRUNO)
    page.goto(f"{live_server.url}/billing/payments/{payment.public_id}/")
    expect(page.locator("main h1")).to_have_text("Pay with PIX")
    expect(page.locator("main")).to_contain_text("The time to pay this PIX code is over.")
    expect(page.get_by_label("PIX copy and paste code")).to_have_count(0)
    assert check_page(page, "PIX code expired") == []


def test_the_service_page_with_automatic_payment_on(ana: Page, live_server) -> None:
    payment_preference_set(account=Account.objects.get(name=NUBECLARA), apply_credit=False, autopay=True, by=None)
    service = Service.objects.get(label="fotos.nubeclara.example.com")
    ana.goto(f"{live_server.url}/services/{service.pk}/")
    button = ana.get_by_role("button", name="Turn automatic payment off for this service")
    expect(button).to_be_visible()
    problems = check_page(ana, "service, automatic payment on")
    button.click()
    expect(ana.get_by_role("button", name="Turn automatic payment on for this service")).to_be_visible()
    problems += check_page(ana, "service, automatic payment turned off")
    assert problems == []


def test_the_new_request_form_with_errors(ana: Page, live_server) -> None:
    ana.goto(f"{live_server.url}/support/new/")
    with ana.expect_response(re.compile(r"/support/new/$")) as answer:
        ana.get_by_role("button", name="Send the request").click()
    assert answer.value.request.method == "POST" and answer.value.status == 400
    expect(ana.locator(".field-error").first).to_be_visible()
    assert check_page(ana, "new request, with errors") == []


def test_a_request_with_files(ana: Page, live_server) -> None:
    membership = Membership.objects.get(account__name=NUBECLARA, user__email=ANA)
    ticket = ticket_open(
        membership=membership,
        department=Department.objects.get(slug="finance"),
        subject="Remittance advice for February",
        body="Both files attached.",
        uploads=[
            Upload(file=io.BytesIO(PDF), name="remittance-february.pdf"),
            Upload(file=io.BytesIO(PDF), name="bank-confirmation.pdf"),
        ],
        now=dt.datetime(2026, 2, 2, 9, 30, tzinfo=dt.UTC),
    )
    ana.goto(f"{live_server.url}/support/requests/{ticket.public_id}/")
    expect(ana.get_by_role("link", name="remittance-february.pdf")).to_be_visible()
    expect(ana.get_by_role("link", name="bank-confirmation.pdf")).to_be_visible()
    assert check_page(ana, "request with files") == []


def test_the_payments_list_and_an_invoice_awaiting_a_transfer(ana: Page, live_server) -> None:
    account = Account.objects.get(name=NUBECLARA)
    invoice = issued_invoice(account, "Managed backups, March")
    payment = started_payment(account, invoice, "bank_transfer")
    ana.goto(f"{live_server.url}/billing/invoices/{invoice.number}/")
    notice = ana.get_by_role("link", name="see the transfer details")
    expect(notice).to_be_visible()
    problems = check_page(ana, "invoice awaiting a transfer")
    ana.goto(f"{live_server.url}/billing/payments/")
    expect(ana.locator("main h1")).to_have_text("Payments")
    row = ana.locator("tbody tr", has=ana.get_by_role("link", name=invoice.number))
    expect(row).to_contain_text("Awaiting your transfer")
    problems += check_page(ana, "payments list")
    row.get_by_role("link", name="Transfer details").click()
    expect(ana).to_have_url(re.compile(rf"/billing/payments/{payment.public_id}/$"))
    expect(ana.locator("main h1")).to_have_text("Waiting for your transfer")
    assert problems == []


def test_a_request_with_a_card_number_removed_and_files_left_out(ana: Page, live_server) -> None:
    membership = Membership.objects.get(account__name=NUBECLARA, user__email=ANA)
    ticket = ticket_open(
        membership=membership,
        department=Department.objects.get(slug="finance"),
        subject="Charge on my card",
        body="It was charged to 4242 4242 4242 4242 twice.",
        uploads=[],
        now=dt.datetime(2026, 2, 2, 9, 30, tzinfo=dt.UTC),
    )
    mail = EmailMessage()
    mail["From"] = ANA
    mail["To"] = references.reply_address(ticket.public_id)
    mail["Subject"] = "Re: Charge on my card"
    mail["Message-ID"] = "<files-left-out@mail.example>"
    mail.set_content("The statement is attached.")
    mail.add_attachment(b"<html><script>alert(1)</script></html>", maintype="text", subtype="html", filename="x.html")
    ticket_reply_by_email(raw=mail.as_bytes(), now=dt.datetime(2026, 2, 2, 10, 0, tzinfo=dt.UTC))
    ana.goto(f"{live_server.url}/support/requests/{ticket.public_id}/")
    main = ana.locator("main")
    expect(main).to_contain_text("•••• •••• •••• 4242")
    expect(main).to_contain_text("A card number was removed from this message")
    expect(main).to_contain_text("Files sent by email but left out of this message:")
    expect(main).to_contain_text("x.html")
    assert check_page(ana, "request with a card number removed and files left out") == []
