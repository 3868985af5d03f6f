"""Support in the client area and the back office: tenancy, refusals, downloads, what renders literally."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from sportello.notifications.models import EmailLog
from sportello.support.models import (
    Announcement,
    Attachment,
    CannedReply,
    KnowledgeArticle,
    KnowledgeCategory,
    KnowledgeFeedback,
    KnowledgeTranslation,
    SharedFile,
    Ticket,
    TicketMessage,
)
from sportello.support.services import Upload, shared_file_add, ticket_open, ticket_reply_staff
from sportello.support.tests.conftest import NOW, PDF, PNG, POLYGLOT, SVG, XSS, upload

pytestmark = pytest.mark.django_db


def detail_url(ticket: Ticket) -> str:
    return reverse("portal:support-request", args=[ticket.public_id])


def counts() -> tuple[int, int, int]:
    return Ticket.objects.count(), TicketMessage.objects.count(), Attachment.objects.count()


# --- Tenancy ----------------------------------------------------------------------------------


def test_another_accounts_request_and_attachment_are_404(client, bob, alice_ticket):
    client.force_login(bob.user)
    attachment = alice_ticket.attachments.get()
    for path in (
        detail_url(alice_ticket),
        reverse("portal:support-attachment", args=[attachment.public_id]),
    ):
        assert client.get(path).status_code == 404
    before = counts()
    for name in ("support-close", "support-reopen"):
        assert client.post(reverse(f"portal:{name}", args=[alice_ticket.public_id])).status_code == 404
    assert client.post(detail_url(alice_ticket), {"body": "hello"}).status_code == 404
    assert counts() == before
    alice_ticket.refresh_from_db()
    assert alice_ticket.status == "open"
    listing = client.get(reverse("portal:support")).content.decode()
    assert alice_ticket.subject not in listing


def test_guessed_ids_are_404(client, alice, alice_ticket):
    client.force_login(alice.user)
    # A guess one character away from the real id: never the id itself, whatever its last character.
    near = alice_ticket.public_id[:-1] + ("y" if alice_ticket.public_id.endswith("z") else "z")
    for guess in (str(alice_ticket.pk), "1", near, "aaaaaaaaaa"):
        assert client.get(reverse("portal:support-request", args=[guess])).status_code == 404
        assert client.get(reverse("portal:support-attachment", args=[guess])).status_code == 404


def test_a_member_without_the_support_area_sees_only_their_own(client, alice, colleague, alice_ticket, finance):
    own = ticket_open(membership=colleague, department=finance, subject="Receipt for March", body="x", now=NOW)
    client.force_login(colleague.user)
    page = client.get(reverse("portal:support")).content.decode()
    assert "Receipt for March" in page
    assert alice_ticket.subject not in page
    assert client.get(detail_url(own)).status_code == 200
    assert client.get(detail_url(alice_ticket)).status_code == 404
    attachment = alice_ticket.attachments.get()
    assert client.get(reverse("portal:support-attachment", args=[attachment.public_id])).status_code == 404
    # The owner sees both.
    client.force_login(alice.user)
    page = client.get(reverse("portal:support")).content.decode()
    assert "Receipt for March" in page and alice_ticket.subject in page


def test_internal_notes_never_reach_the_customer(client, alice, alice_ticket, staff):
    ticket_reply_staff(ticket=alice_ticket, by=staff, body="SECRET-NOTE", internal=True, now=NOW)
    note = TicketMessage.objects.get(body="SECRET-NOTE")
    Attachment.objects.create(
        account=alice.account,
        ticket=alice_ticket,
        message=note,
        filename="internal.pdf",
        stored_name=alice_ticket.attachments.first().stored_name,
        content_type="application/pdf",
        size=1,
        sha256="0",
        created_at=NOW,
    )
    client.force_login(alice.user)
    page = client.get(detail_url(alice_ticket)).content.decode()
    assert "SECRET-NOTE" not in page and "internal.pdf" not in page
    hidden = Attachment.objects.get(filename="internal.pdf")
    assert client.get(reverse("portal:support-attachment", args=[hidden.public_id])).status_code == 404
    assert not EmailLog.objects.filter(body_text__contains="SECRET-NOTE").exists()


# --- Opening, replying, refusing --------------------------------------------------------------


def test_a_customer_opens_a_request_with_a_file(client, alice, finance):
    client.force_login(alice.user)
    response = client.post(
        reverse("portal:support-new"),
        {
            "department": finance.pk,
            "subject": "Wrong VAT on invoice",
            "priority": "high",
            "body": "The rate should be 21 %.",
            "attachments": [SimpleUploadedFile("invoice.pdf", PDF, content_type="application/octet-stream")],
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(ticket)
    assert (ticket.priority, ticket.department, ticket.requester) == ("high", finance, alice.user)
    assert ticket.attachments.get().content_type == "application/pdf"
    page = client.get(detail_url(ticket)).content.decode()
    assert "Your request is sent." in page
    assert "invoice.pdf" in page


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("big.pdf", PDF + b"x" * 3000)], "“big.pdf” is larger than 2 KB, the most a file may be."),
        ([("a.pdf", PDF), ("b.pdf", PDF), ("c.png", PNG)], "At most 2 files can be attached to a message."),
        ([("logo.svg", SVG)], "“logo.svg” is not a type of file we accept."),
        ([("cat.gif", POLYGLOT)], "“cat.gif” is not a type of file we accept."),
    ],
)
def test_refused_uploads_say_why_and_change_nothing(client, alice, finance, support_settings, files, message):
    client.force_login(alice.user)
    before = counts()
    response = client.post(
        reverse("portal:support-new"),
        {
            "department": finance.pk,
            "subject": "Files",
            "priority": "normal",
            "body": "See attached.",
            "attachments": [SimpleUploadedFile(name, content) for name, content in files],
        },
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert counts() == before
    assert EmailLog.objects.count() == 0


def test_a_customer_replies_closes_and_reopens(client, alice, alice_ticket):
    client.force_login(alice.user)
    response = client.post(detail_url(alice_ticket), {"body": "Any news?"})
    assert response.status_code == 302
    assert alice_ticket.messages.last().body == "Any news?"
    client.post(reverse("portal:support-close", args=[alice_ticket.public_id]))
    alice_ticket.refresh_from_db()
    assert alice_ticket.status == "closed"
    page = client.get(detail_url(alice_ticket)).content.decode()
    assert "Reopen the request" in page and "Send the reply" not in page
    client.post(reverse("portal:support-reopen", args=[alice_ticket.public_id]))
    alice_ticket.refresh_from_db()
    assert alice_ticket.status == "open"


def test_a_read_only_member_is_told_they_cannot_answer_a_colleagues_request(client, alice, alice_ticket):
    from sportello.accounts.models import Role, User
    from sportello.accounts.services import membership_add

    reader = User.objects.create_user("reader@example.org", "x")
    membership_add(account=alice.account, user=reader, role=Role.READ_ONLY)
    client.force_login(reader)
    page = client.get(detail_url(alice_ticket)).content.decode()
    assert alice_ticket.subject in page and "Send the reply" not in page
    before = counts()
    response = client.post(detail_url(alice_ticket), {"body": "Me too"})
    assert response.status_code == 400
    assert "Your role lets you read this request, but not change it." in response.content.decode()
    assert counts() == before


def test_closing_twice_says_why(client, alice, alice_ticket):
    client.force_login(alice.user)
    client.post(reverse("portal:support-close", args=[alice_ticket.public_id]))
    events = alice_ticket.events.count()
    response = client.post(reverse("portal:support-close", args=[alice_ticket.public_id]), follow=True)
    assert "This is not possible while the request is “Closed”." in response.content.decode()
    assert alice_ticket.events.count() == events


# --- Downloads ----------------------------------------------------------------------------------


def test_attachments_are_always_downloads(client, alice, finance):
    ticket = ticket_open(
        membership=alice,
        department=finance,
        subject="Text",
        body="x",
        uploads=[upload(b"plain notes\n", '../../notes"\r\n.html')],
        now=NOW,
    )
    attachment = ticket.attachments.get()
    client.force_login(alice.user)
    response = client.get(reverse("portal:support-attachment", args=[attachment.public_id]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="notes\'.html"'
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert b"".join(response.streaming_content) == b"plain notes\n"


# --- What users type renders literally ------------------------------------------------------------


def test_script_svg_and_template_syntax_render_literally_everywhere(client, admin_client, alice, finance, staff):
    ticket = ticket_open(
        membership=alice,
        department=finance,
        subject=XSS,
        body=XSS,
        uploads=[upload(b"notes", "<svg onload=alert(3)>{{7*7}}.txt")],
        now=NOW,
    )
    ticket_reply_staff(ticket=ticket, by=staff, body=XSS, now=NOW + dt.timedelta(hours=1))
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &lt;svg onload=alert(2)&gt; {{7*7}}"
    file_escaped = "&lt;svg onload=alert(3)&gt;{{7*7}}.txt"

    client.force_login(alice.user)
    for page in (client.get(detail_url(ticket)), client.get(reverse("portal:support")), client.get("/")):
        body = page.content.decode()
        assert escaped in body
        assert "<script>alert" not in body and "<svg onload" not in body and ">49<" not in body
    assert file_escaped in client.get(detail_url(ticket)).content.decode()

    emails = EmailLog.objects.filter(to_email="alice@example.org").order_by("id")
    assert len(emails) == 2
    for sent in emails:
        assert XSS in sent.subject  # a subject is plain text: literal, not escaped
        assert XSS in sent.body_text
        assert escaped in sent.body_html
        assert "<script>alert" not in sent.body_html and "<svg onload" not in sent.body_html
    assert "<svg onload=alert(3)>{{7*7}}.txt" in emails[0].body_text

    admin = admin_client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert escaped in admin and file_escaped in admin
    assert "<script>alert" not in admin and "<svg onload" not in admin
    queue = admin_client.get(reverse("admin:support_ticket_changelist")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in queue and "<script>alert" not in queue


# --- Knowledge base, announcements, shared files, the service page ------------------------------


@pytest.fixture
def article(db):
    category = KnowledgeCategory.objects.create(slug="billing", name="Billing", name_translations={"es": "Facturación"})
    article = KnowledgeArticle.objects.create(slug="pay", category=category)
    KnowledgeTranslation.objects.create(article=article, language="en", title="How to pay", body="Press **Pay**.")
    KnowledgeTranslation.objects.create(article=article, language="es", title="Cómo pagar", body="Pulsa **Pagar**.")
    only_en = KnowledgeArticle.objects.create(slug="refunds", category=category)
    KnowledgeTranslation.objects.create(article=only_en, language="en", title="Refunds", body="Within 14 days.")
    return article


def test_the_knowledge_base_speaks_the_readers_language_with_english_fallback(client, alice, article):
    alice.user.language = "es"
    alice.user.save()
    client.force_login(alice.user)
    page = client.get(reverse("portal:support-kb")).content.decode()
    assert "Cómo pagar" in page and "How to pay" not in page
    assert '<a href="/support/help/refunds/" lang="en">Refunds</a>' in page
    found = client.get(reverse("portal:support-kb"), {"q": "pagar"}).content.decode()
    assert "Cómo pagar" in found and "Refunds" not in found
    article_page = client.get(reverse("portal:support-kb-article", args=["pay"])).content.decode()
    assert "Pulsa <strong>Pagar</strong>." in article_page
    assert client.get(reverse("portal:support-kb-article", args=["nope"])).status_code == 404


def test_was_this_helpful_counts_one_answer_per_reader(client, alice, article):
    client.force_login(alice.user)
    url = reverse("portal:support-kb-feedback", args=["pay"])
    client.post(url, {"helpful": "no"})
    client.post(url, {"helpful": "yes"})
    client.post(url, {"helpful": "maybe"})
    assert list(KnowledgeFeedback.objects.values_list("user__email", "helpful")) == [("alice@example.org", True)]
    page = client.get(reverse("portal:support-kb-article", args=["pay"])).content.decode()
    assert "1 reader found it helpful." in page


def test_the_dashboard_shows_requests_news_and_shared_files(client, alice, alice_ticket, colleague, staff):
    Announcement.objects.create(
        title="Maintenance on Sunday",
        body="Servers restart.",
        translations={"es": {"title": "Mantenimiento el domingo", "body": "Reinicio."}},
        published_at=NOW,
    )
    Announcement.objects.create(title="Not yet", body="x", published_at=NOW + dt.timedelta(days=3650))
    contract = shared_file_add(
        account=alice.account,
        title="Contract 2026",
        upload=Upload(file=io.BytesIO(PDF), name="contract.pdf"),
        area="billing",
        by=staff,
        now=NOW,
    )
    report = shared_file_add(
        account=alice.account,
        title="Security report",
        upload=Upload(file=io.BytesIO(PDF), name="report.pdf"),
        area="services",
        by=staff,
        now=NOW,
    )
    assert sorted(EmailLog.objects.filter(subject__startswith="A new document").values_list("to_email", flat=True)) == [
        "alice@example.org",
        "alice@example.org",
        "carlos@example.org",
    ]
    client.force_login(alice.user)
    page = client.get("/").content.decode()
    assert "1 open request." in page
    assert alice_ticket.subject in page
    assert "Maintenance on Sunday" in page and "Not yet" not in page
    assert "Contract 2026" in page and "Security report" in page
    # The colleague (billing only) sees the contract, not the report, nor alice's request.
    client.force_login(colleague.user)
    page = client.get("/").content.decode()
    assert "Contract 2026" in page and "Security report" not in page and alice_ticket.subject not in page
    assert client.get(reverse("portal:support-shared-file", args=[report.public_id])).status_code == 404
    response = client.get(reverse("portal:support-shared-file", args=[contract.public_id]))
    assert response["Content-Disposition"] == 'attachment; filename="contract.pdf"'


def test_shared_files_of_another_account_are_404(client, bob, alice, staff):
    shared = shared_file_add(
        account=alice.account,
        title="Contract",
        upload=Upload(file=io.BytesIO(PDF), name="c.pdf"),
        area="billing",
        by=staff,
        now=NOW,
    )
    client.force_login(bob.user)
    assert client.get(reverse("portal:support-shared-file", args=[shared.public_id])).status_code == 404
    assert "Contract" not in client.get("/").content.decode()


def test_need_help_on_the_service_page_opens_a_linked_request(
    client, alice, alice_service, hosting, technical, finance
):
    article = KnowledgeArticle.objects.create(
        slug="storage", category=KnowledgeCategory.objects.create(slug="hosting", name="Hosting")
    )
    article.products.add(hosting.product)
    KnowledgeTranslation.objects.create(article=article, language="en", title="Storage is full", body="Delete backups.")
    client.force_login(alice.user)
    service_page = client.get(reverse("portal:service-detail", args=[alice_service.pk])).content.decode()
    link = f"/support/new/?service={alice_service.pk}"
    assert "Need help with this service?" in service_page and link in service_page
    assert "Storage is full" in service_page
    new_page = client.get(link).content.decode()
    assert "Storage is full" in new_page
    assert re.search(rf'<option value="{alice_service.pk}" selected>', new_page)
    assert re.search(rf'<option value="{technical.pk}" selected>', new_page)
    client.post(
        link,
        {
            "department": technical.pk,
            "subject": "Full",
            "priority": "normal",
            "body": "Help",
            "service": alice_service.pk,
        },
    )
    assert Ticket.objects.get().related_service == alice_service


def test_a_service_of_another_account_cannot_be_linked(client, alice, alice_service, bob_service, finance):
    client.force_login(alice.user)
    response = client.post(
        reverse("portal:support-new"),
        {"department": finance.pk, "subject": "x", "priority": "normal", "body": "x", "service": bob_service.pk},
    )
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert Ticket.objects.count() == 0


# --- Back office ----------------------------------------------------------------------------------


def test_the_back_office_queue_filters_and_times(
    admin_client, admin_user, alice_ticket, alice, finance, technical, staff
):
    other = ticket_open(membership=alice, department=finance, subject="Waiting on customer", body="x", now=NOW)
    ticket_reply_staff(ticket=other, by=staff, body="Answer", now=NOW + dt.timedelta(hours=2, minutes=5))
    url = reverse("admin:support_ticket_changelist")
    waiting_us = admin_client.get(url, {"waiting": "us"}).content.decode()
    assert alice_ticket.subject in waiting_us and "Waiting on customer" not in waiting_us
    waiting_customer = admin_client.get(
        url, {"waiting": "customer", "department__id__exact": finance.pk}
    ).content.decode()
    assert "Waiting on customer" in waiting_customer and alice_ticket.subject not in waiting_customer
    assert "2 h 5 min" in waiting_customer
    technical.staff.add(admin_user)
    mine = admin_client.get(url, {"assigned": "my_departments"}).content.decode()
    assert alice_ticket.subject not in mine and "0 support requests" in mine


def test_staff_reply_with_a_canned_reply_note_assign_and_merge(admin_client, alice, alice_ticket, finance, staff):
    canned = CannedReply.objects.create(title="Refund", body="We refunded the charge.", department=finance)
    url = reverse("admin:support_ticket_change", args=[alice_ticket.pk])
    admin_client.post(url, {"action": "reply", "body": "Hello,", "canned": canned.pk})
    alice_ticket.refresh_from_db()
    assert alice_ticket.status == "answered"
    assert alice_ticket.messages.last().body == "Hello,\n\nWe refunded the charge."
    admin_client.post(url, {"action": "reply", "body": "VIP", "internal": "on"})
    assert alice_ticket.messages.last().is_internal
    admin_client.post(url, {"action": "assign", "assigned_to": staff.pk})
    alice_ticket.refresh_from_db()
    assert alice_ticket.assigned_to == staff
    page = admin_client.get(url).content.decode()
    assert "Internal note" in page and "VIP" in page

    duplicate = ticket_open(membership=alice, department=finance, subject="Dup", body="dup body", now=NOW)
    admin_client.post(
        reverse("admin:support_ticket_change", args=[duplicate.pk]), {"action": "merge", "into": alice_ticket.public_id}
    )
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into) == ("closed", alice_ticket)
    assert alice_ticket.messages.filter(body="dup body").exists()


def test_customers_cannot_reach_the_back_office_queue(client, alice, alice_ticket):
    client.force_login(alice.user)
    response = client.get(reverse("admin:support_ticket_change", args=[alice_ticket.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_staff_add_a_shared_file_through_the_back_office(admin_client, alice):
    response = admin_client.post(
        reverse("admin:support_sharedfile_add"),
        {"account": alice.account.pk, "title": "Report", "area": "billing", "upload": SimpleUploadedFile("r.pdf", PDF)},
    )
    assert response.status_code == 302
    assert SharedFile.objects.get().filename == "r.pdf"
    before = SharedFile.objects.count()
    response = admin_client.post(
        reverse("admin:support_sharedfile_add"),
        {"account": alice.account.pk, "title": "Page", "area": "billing", "upload": SimpleUploadedFile("p.pdf", SVG)},
        follow=True,
    )
    assert "is not a type of file we accept" in response.content.decode()
    assert SharedFile.objects.count() == before


# --- Requests about an invoice ----------------------------------------------------------------------


def invoice_options(page: str) -> list[tuple[str, str, bool]]:
    """The "About an invoice" choices of a new-request page: (value, label, selected)."""
    select = re.search(r'<select name="invoice"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None, "no invoice field"
    return [
        (value, label, bool(selected))
        for value, selected, label in re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select[1])
    ]


def main_of(response) -> str:
    """The page's main content (the header's language form repeats the address, query included)."""
    page = response.content.decode()
    return page[page.index('<main id="main"') : page.index("</main>")]


def new_request(**fields: object) -> dict[str, object]:
    return {"subject": "Charged twice", "priority": "normal", "body": "The invoice was charged twice.", **fields}


def test_the_invoice_page_asks_for_questions_about_it(client, alice, alice_invoice, alice_credit_note):
    client.force_login(alice.user)
    page = client.get(reverse("portal:invoice", args=["INV-2026-00001"])).content.decode()
    assert '<a href="/support/new/?invoice=INV-2026-00001">Question about this invoice?</a>' in page
    page = client.get(reverse("portal:credit-note", args=["CN-2026-00001"])).content.decode()
    assert '<a href="/support/new/?invoice=CN-2026-00001">Question about this credit note?</a>' in page


def test_a_question_about_an_invoice_is_pre_linked_and_goes_to_finance(
    client, alice, technical, finance, alice_invoice, alice_credit_note, alice_draft, bob_invoice
):
    client.force_login(alice.user)
    link = "/support/new/?invoice=INV-2026-00001"
    page = client.get(link).content.decode()
    assert "A question about invoice INV-2026-00001" in page
    assert re.search(rf'<option value="{finance.pk}" selected>Finance</option>', page)
    # Most recent first, by printed number and total; no draft, nothing of bob's.
    assert invoice_options(page) == [
        ("", "None", False),
        (str(alice_credit_note.pk), "Credit note CN-2026-00001 · €24.20", False),
        (str(alice_invoice.pk), "INV-2026-00001 · €121.00", True),
    ]
    response = client.post(link, new_request(department=finance.pk, invoice=alice_invoice.pk))
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(ticket)
    assert (ticket.related_kind, ticket.related_invoice, ticket.department) == ("invoice", alice_invoice, finance)
    page = client.get(detail_url(ticket)).content.decode()
    assert f'<a href="{reverse("portal:invoice", args=["INV-2026-00001"])}">Invoice INV-2026-00001</a>' in page


def test_a_request_about_a_credit_note_links_to_the_credit_note(client, alice, finance, alice_credit_note):
    client.force_login(alice.user)
    page = client.get("/support/new/?invoice=CN-2026-00001").content.decode()
    assert "A question about credit note CN-2026-00001" in page
    client.post("/support/new/?invoice=CN-2026-00001", new_request(department=finance.pk, invoice=alice_credit_note.pk))
    page = client.get(detail_url(Ticket.objects.get())).content.decode()
    assert f'<a href="{reverse("portal:credit-note", args=["CN-2026-00001"])}">Credit note CN-2026-00001</a>' in page


def test_an_older_invoice_linked_from_its_page_stays_among_the_choices(
    client, alice, finance, alice_invoice, monkeypatch
):
    from sportello.support.tests.conftest import INVOICE_DAY, issued_invoice

    newer = issued_invoice(alice.account, "10.00", on=INVOICE_DAY + dt.timedelta(days=5))
    monkeypatch.setattr("sportello.portal.views.support.INVOICE_CHOICES", 1)
    client.force_login(alice.user)
    assert [value for value, _label, _selected in invoice_options(client.get("/support/new/").content.decode())] == [
        "",
        str(newer.pk),
    ]
    link = "/support/new/?invoice=INV-2026-00001"
    assert invoice_options(client.get(link).content.decode())[-1] == (
        str(alice_invoice.pk),
        "INV-2026-00001 · €121.00",
        True,
    )
    response = client.post(link, new_request(department=finance.pk, invoice=alice_invoice.pk))
    assert response.status_code == 302
    assert Ticket.objects.get().related_invoice == alice_invoice


def test_another_accounts_invoice_cannot_be_linked_or_pre_linked(client, alice, finance, alice_invoice, bob_invoice):
    client.force_login(alice.user)
    page = main_of(client.get(f"/support/new/?invoice={bob_invoice.display_number}"))
    assert "A question about" not in page and bob_invoice.display_number not in page
    assert invoice_options(page) == [("", "None", True), (str(alice_invoice.pk), "INV-2026-00001 · €121.00", False)]
    response = client.post(reverse("portal:support-new"), new_request(department=finance.pk, invoice=bob_invoice.pk))
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert Ticket.objects.count() == 0


def test_a_service_and_an_invoice_at_once_are_refused_with_a_reason(
    client, alice, finance, alice_service, alice_invoice
):
    client.force_login(alice.user)
    response = client.post(
        reverse("portal:support-new"),
        new_request(department=finance.pk, invoice=alice_invoice.pk, service=alice_service.pk),
    )
    assert response.status_code == 400
    assert "A request can be about one thing only: a service, an invoice or an order." in response.content.decode()
    assert counts() == (0, 0, 0)
    assert EmailLog.objects.count() == 0


def test_without_the_billing_area_there_is_no_invoice_to_link(client, alice, alice_technician, finance, alice_invoice):
    client.force_login(alice_technician.user)
    for link in ("/support/new/", "/support/new/?invoice=INV-2026-00001", "/support/new/?invoice=INV-2026-09999"):
        response = client.get(link)
        page = main_of(response)
        # An existing number and a made-up one give the same page: the plain form.
        assert response.status_code == 200
        assert 'name="invoice"' not in page and "INV-2026" not in page and "A question about" not in page
    # A forged field is not part of the form: the request is opened about nothing.
    client.post(reverse("portal:support-new"), new_request(department=finance.pk, invoice=alice_invoice.pk))
    assert Ticket.objects.get().related_kind == ""


def test_the_request_page_names_the_invoice_without_a_link_for_members_without_billing(
    client, alice, alice_technician, finance, alice_invoice
):
    ticket = ticket_open(
        membership=alice,
        department=finance,
        subject="Charged twice",
        body="x",
        related_invoice_id=alice_invoice.pk,
        now=NOW,
    )
    # The technician has the support area: they see the account's requests, and which
    # invoice this one is about, but not the invoice itself.
    client.force_login(alice_technician.user)
    page = client.get(detail_url(ticket)).content.decode()
    assert "<dd>Invoice INV-2026-00001</dd>" in page
    assert reverse("portal:invoice", args=["INV-2026-00001"]) not in page
    assert client.get(reverse("portal:invoice", args=["INV-2026-00001"])).status_code == 404


def test_refusing_an_invoice_says_the_same_whatever_the_reason():
    from sportello.portal.views.support import refusal_message
    from sportello.support.errors import RelatedNotFound

    assert refusal_message(RelatedNotFound("invoice")) == "That invoice is not one you can see in this account."
    assert refusal_message(RelatedNotFound("service")) == "That service is not one of this account's."


def test_the_back_office_request_page_shows_the_invoice(admin_client, alice, finance, alice_invoice):
    from django.contrib import admin

    from sportello.billing.models import Invoice

    ticket = ticket_open(
        membership=alice,
        department=finance,
        subject="Charged twice",
        body="x",
        related_invoice_id=alice_invoice.pk,
        now=NOW,
    )
    page = admin_client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    cell = re.search(r'<td class="related-invoice">(.*?)</td>', page, re.S)
    assert cell is not None
    if admin.site.is_registered(Invoice):
        url = reverse("admin:billing_invoice_change", args=[alice_invoice.pk])
        assert cell[1] == f'<a href="{url}">Invoice INV-2026-00001</a> · €121.00 · Unpaid'
    else:
        # Until the back office has invoice pages, the number is shown without a link.
        assert cell[1] == "Invoice INV-2026-00001 · €121.00 · Unpaid"


# --- Requests about an order, and domains among the services ---------------------------------------


def order_options(page: str) -> list[tuple[str, str, bool]]:
    """The "About an order" choices of a new-request page: (value, label, selected)."""
    select = re.search(r'<select name="order"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None, "no order field"
    return [
        (value, label, bool(selected))
        for value, selected, label in re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select[1])
    ]


@pytest.fixture
def sales(db):
    from sportello.support.models import Department

    return Department.objects.create(slug="sales", name="Sales", position=2)


@pytest.fixture
def reader(alice):
    """A read-only member of alice's account: the support area, but not the orders one."""
    from sportello.accounts.models import Role, User
    from sportello.accounts.services import membership_add

    user = User.objects.create_user("rita@example.org", "x", full_name="Rita")
    return membership_add(account=alice.account, user=user, role=Role.READ_ONLY)


def test_need_help_on_the_order_page_opens_a_request_about_the_order(
    client, alice, finance, sales, alice_order, bob_order
):
    client.force_login(alice.user)
    order_page = client.get(reverse("portal:order-detail", args=["O-2026-000001"])).content.decode()
    link = "/support/new/?order=O-2026-000001"
    assert f'<a href="{link}">Need help with this order?</a>' in order_page
    page = main_of(client.get(link))
    assert "A question about order O-2026-000001" in page
    assert re.search(rf'<option value="{sales.pk}" selected>Sales</option>', page)
    # The account's orders only, by number and total; bob's is not offered.
    assert order_options(page) == [("", "None", False), (str(alice_order.pk), "O-2026-000001 · €24.08", True)]
    response = client.post(link, new_request(department=sales.pk, order=alice_order.pk))
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(ticket)
    assert (ticket.related_kind, ticket.related_order, ticket.department) == ("order", alice_order, sales)
    page = client.get(detail_url(ticket)).content.decode()
    order_url = reverse("portal:order-detail", args=["O-2026-000001"])
    assert f'<dd><a href="{order_url}">Order O-2026-000001</a></dd>' in page


def test_another_accounts_order_cannot_be_linked_or_pre_linked(client, alice, finance, alice_order, bob_order):
    client.force_login(alice.user)
    page = main_of(client.get(f"/support/new/?order={bob_order.number}"))
    assert "A question about" not in page and bob_order.number not in page
    assert order_options(page) == [("", "None", True), (str(alice_order.pk), "O-2026-000001 · €24.08", False)]
    response = client.post(reverse("portal:support-new"), new_request(department=finance.pk, order=bob_order.pk))
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert counts() == (0, 0, 0)
    assert EmailLog.objects.count() == 0


def test_without_the_orders_area_there_is_no_order_to_link(client, alice, colleague, finance, alice_order):
    client.force_login(colleague.user)
    for link in ("/support/new/", "/support/new/?order=O-2026-000001", "/support/new/?order=O-2026-999999"):
        response = client.get(link)
        page = main_of(response)
        # An existing number and a made-up one give the same page: the plain form.
        assert response.status_code == 200
        assert 'name="order"' not in page and "O-2026" not in page and "A question about" not in page
    # A forged field is not part of the form: the request is opened about nothing.
    client.post(reverse("portal:support-new"), new_request(department=finance.pk, order=alice_order.pk))
    assert Ticket.objects.get().related_kind == ""
    assert not alice_order.support_tickets.exists()


def test_the_request_page_names_the_order_without_a_link_for_members_without_orders(
    client, alice, reader, finance, alice_order
):
    ticket = ticket_open(
        membership=alice, department=finance, subject="Order", body="x", related_order_id=alice_order.pk, now=NOW
    )
    client.force_login(reader.user)
    page = client.get(detail_url(ticket)).content.decode()
    assert "<dd>Order O-2026-000001</dd>" in page
    assert reverse("portal:order-detail", args=["O-2026-000001"]) not in page
    assert client.get(reverse("portal:order-detail", args=["O-2026-000001"])).status_code == 404


def test_refusing_an_order_says_the_same_whatever_the_reason():
    from sportello.portal.views.support import refusal_message
    from sportello.support.errors import InvalidRequestData, RelatedNotFound

    assert refusal_message(RelatedNotFound("order")) == "That order is not one you can see in this account."
    assert refusal_message(InvalidRequestData("related", "about more than one thing")) == (
        "A request can be about one thing only: a service, an invoice or an order."
    )


def test_the_back_office_shows_the_order_and_filters_the_queue_by_what_requests_are_about(
    admin_client, alice, finance, alice_order, alice_ticket
):
    ticket = ticket_open(
        membership=alice,
        department=finance,
        subject="When does my order start?",
        body="x",
        related_order_id=alice_order.pk,
        now=NOW,
    )
    page = admin_client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    cell = re.search(r'<td class="related-order">(.*?)</td>', page, re.S)
    assert cell is not None
    url = reverse("admin:orders_order_change", args=[alice_order.pk])
    assert cell[1] == f'<a href="{url}">Order O-2026-000001</a> · €24.08 · Awaiting payment'
    queue = admin_client.get(reverse("admin:support_ticket_changelist"), {"related_kind": "order"}).content.decode()
    assert "When does my order start?" in queue and alice_ticket.subject not in queue


@pytest.fixture
def alice_domain(alice, hosting):
    from sportello.catalog.models import Cycle, Product, ProductKind
    from sportello.catalog.services import plan_create, price_create
    from sportello.catalog.tests.factories import SINCE
    from sportello.services.tests.conftest import service_in

    product = Product.objects.create(
        category=hosting.product.category, name="Domain .example", slug="domain-example", kind=ProductKind.DOMAIN
    )
    plan = plan_create(product=product, name="Registration", code="registration")
    price = price_create(plan=plan, currency="EUR", cycle=Cycle.ANNUAL, amount_minor=1200, valid_from=SINCE)
    return service_in(alice.account, price, "active", label="alice.example")


def service_field(page: str) -> tuple[str, list[tuple[str, list[tuple[str, str]]]]]:
    """The "About a service" field of a new-request page: its label and its groups of (value, label)."""
    label = re.search(r'<label for="id_service"[^>]*>([^<]*)</label>', page)
    select = re.search(r'<select name="service"[^>]*>(.*?)</select>', page, re.S)
    assert label is not None and select is not None
    groups = [
        (name, re.findall(r'<option value="([^"]*)">([^<]*)</option>', options))
        for name, options in re.findall(r'<optgroup label="([^"]*)">(.*?)</optgroup>', select[1], re.S)
    ]
    return label[1].strip(), groups


def test_domains_are_listed_apart_among_the_services(client, alice, alice_service, alice_domain, finance):
    client.force_login(alice.user)
    page = main_of(client.get("/support/new/"))
    assert service_field(page) == (
        "About a service or domain",
        [
            ("Services", [(str(alice_service.pk), "Linux Hosting Basic · www.alice.example")]),
            ("Domains", [(str(alice_domain.pk), "alice.example · Domain .example")]),
        ],
    )
    client.post(reverse("portal:support-new"), new_request(department=finance.pk, service=alice_domain.pk))
    assert (Ticket.objects.get().related_kind, Ticket.objects.get().related_service) == ("service", alice_domain)


def test_a_member_with_domains_but_not_services_links_only_domains(client, alice, alice_service, alice_domain, finance):
    from sportello.accounts.models import Role, User
    from sportello.accounts.services import membership_add

    user = User.objects.create_user("dora@example.org", "x", full_name="Dora")
    membership_add(account=alice.account, user=user, role=Role.CUSTOM, custom_areas=["domains"])
    client.force_login(user)
    page = main_of(client.get("/support/new/"))
    assert service_field(page) == (
        "About a service or domain",
        [("Domains", [(str(alice_domain.pk), "alice.example · Domain .example")])],
    )
    response = client.post(reverse("portal:support-new"), new_request(department=finance.pk, service=alice_service.pk))
    assert response.status_code == 400 and "Select a valid choice." in response.content.decode()
    assert Ticket.objects.count() == 0


def test_staff_emails_stay_out_of_the_customers_email_log(client, alice, finance, staff):
    finance.staff.add(staff)
    client.force_login(alice.user)
    client.post(reverse("portal:support-new"), new_request(department=finance.pk, subject="Printer on fire"))
    ticket = Ticket.objects.get()
    assert sorted(EmailLog.objects.values_list("to_email", flat=True)) == [
        "agent@provider.example",
        "alice@example.org",
    ]
    log = main_of(client.get(reverse("portal:email-log")))
    assert "Request received: Printer on fire" in log
    assert f"[{ticket.public_id}]" not in log and "agent@provider.example" not in log
    staff_email = EmailLog.objects.get(to_email="agent@provider.example")
    assert client.get(reverse("portal:email-detail", args=[staff_email.pk])).status_code == 404


# --- Refused files on the reply forms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("big.pdf", PDF + b"x" * 3000)], "“big.pdf” is larger than 2 KB, the most a file may be."),
        ([("a.pdf", PDF), ("b.pdf", PDF), ("c.png", PNG)], "At most 2 files can be attached to a message."),
    ],
)
def test_the_reply_form_refuses_oversized_and_too_many_files_clearly(
    client, alice, alice_ticket, support_settings, files, message
):
    client.force_login(alice.user)
    before = (counts(), EmailLog.objects.count(), alice_ticket.events.count())
    response = client.post(
        detail_url(alice_ticket),
        {"body": "Here they are.", "attachments": [SimpleUploadedFile(name, content) for name, content in files]},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "Here they are.</textarea>" in page  # what was typed is kept
    assert (counts(), EmailLog.objects.count(), alice_ticket.events.count()) == before
    alice_ticket.refresh_from_db()
    assert alice_ticket.status == "open"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("big.pdf", PDF + b"x" * 3000)], "“big.pdf” is larger than 2 KB, the most a file may be."),
        ([("a.pdf", PDF), ("b.pdf", PDF), ("c.png", PNG)], "At most 2 files can be attached to a message."),
    ],
)
def test_the_back_office_reply_refuses_oversized_and_too_many_files_clearly(
    admin_client, alice, alice_ticket, support_settings, files, message
):
    url = reverse("admin:support_ticket_change", args=[alice_ticket.pk])
    before = (counts(), EmailLog.objects.count(), alice_ticket.events.count())
    response = admin_client.post(
        url,
        {
            "action": "reply",
            "body": "Your refund is on its way.",
            "attachments": [SimpleUploadedFile(name, content) for name, content in files],
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "Your refund is on its way.</textarea>" in page
    assert (counts(), EmailLog.objects.count(), alice_ticket.events.count()) == before
    alice_ticket.refresh_from_db()
    assert (alice_ticket.status, alice_ticket.first_response_at) == ("open", None)


# --- Departments customers cannot choose ----------------------------------------------------------


@pytest.fixture
def abuse(db):
    from sportello.support.models import Department

    return Department.objects.create(slug="abuse", name="Abuse desk", is_public=False, position=9)


def department_options(page: str) -> list[str]:
    select = re.search(r'<select name="department"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None
    return re.findall(r"<option[^>]*>([^<]*)</option>", select[1])


def test_a_hidden_department_is_not_offered_and_refused_when_posted(client, alice, finance, technical, abuse):
    client.force_login(alice.user)
    page = client.get(reverse("portal:support-new")).content.decode()
    assert department_options(page) == ["- Select an option -", "Finance", "Technical support"]
    before = (counts(), EmailLog.objects.count())
    response = client.post(
        reverse("portal:support-new"),
        {"department": abuse.pk, "subject": "Spam from you", "priority": "normal", "body": "Stop it."},
    )
    assert response.status_code == 400
    assert "Select a valid choice. That choice is not one of the available choices." in response.content.decode()
    assert (counts(), EmailLog.objects.count()) == before


def test_staff_move_a_request_into_a_hidden_department(admin_client, alice, alice_ticket, finance, abuse):
    url = reverse("admin:support_ticket_change", args=[alice_ticket.pk])
    page = admin_client.get(url).content.decode()
    assert f'<option value="{abuse.pk}">Abuse desk</option>' in page
    response = admin_client.post(url, {"action": "department", "department": abuse.pk})
    assert response.status_code == 302
    alice_ticket.refresh_from_db()
    assert alice_ticket.department == abuse
    after = admin_client.get(url).content.decode()
    assert "Moved to another department." in after


# --- Stored files are not reachable by their storage path ---------------------------------------


def test_no_url_serves_a_stored_file_by_its_path(client, alice, alice_ticket, settings):
    from pathlib import Path

    attachment = alice_ticket.attachments.get()
    assert Path(settings.MEDIA_ROOT).resolve() != Path(settings.STATIC_ROOT).resolve()
    assert not Path(settings.MEDIA_ROOT).resolve().is_relative_to(Path(settings.STATIC_ROOT).resolve())
    client.force_login(alice.user)
    for path in (
        "/" + attachment.stored_name,
        settings.MEDIA_URL + attachment.stored_name,
        settings.STATIC_URL + attachment.stored_name,
        settings.STATIC_URL + "../media/" + attachment.stored_name,
    ):
        assert client.get(path).status_code == 404, path
    # The one way to it: the download, checked for who asks.
    download = client.get(reverse("portal:support-attachment", args=[attachment.public_id]))
    assert (download.status_code, b"".join(download.streaming_content)) == (200, PDF)


# --- Files left out of an emailed reply, card numbers, merged requests ---------------------------


def test_the_request_page_says_which_emailed_files_were_left_out(client, admin_client, alice, alice_ticket):
    from sportello.support.services import LeftOut, ticket_reply_customer

    ticket_reply_customer(
        ticket=alice_ticket,
        membership=alice,
        body="By email.",
        channel="email",
        now=NOW + dt.timedelta(hours=1),
        files_left_out=[LeftOut("<script>x</script>.exe", "type_refused"), LeftOut("huge.pdf", "too_large")],
    )
    expected = (
        "<p>Files sent by email but left out of this message:</p><ul>"
        "<li>&lt;script&gt;x&lt;/script&gt;.exe: not a type of file we accept</li>"
        "<li>huge.pdf: larger than the size limit</li></ul>"
    )
    client.force_login(alice.user)
    for page in (
        client.get(detail_url(alice_ticket)).content.decode(),
        admin_client.get(reverse("admin:support_ticket_change", args=[alice_ticket.pk])).content.decode(),
    ):
        assert page.count(expected) == 1
        assert "<script>x" not in page


def test_the_customer_is_told_a_card_number_was_removed(client, admin_client, alice, finance):
    client.force_login(alice.user)
    response = client.post(
        reverse("portal:support-new"),
        {
            "department": finance.pk,
            "subject": "Charge card 4242 4242 4242 4242",
            "priority": "normal",
            "body": "Or 5555-5555-5555-4444, whichever works. Not 4242 4242 4242 4241.",
        },
        follow=True,
    )
    ticket = Ticket.objects.get()
    page = response.content.decode()
    assert ticket.subject == "Charge card •••• •••• •••• 4242"
    assert ticket.messages.get().body == "Or •••• •••• •••• 4444, whichever works. Not 4242 4242 4242 4241."
    assert (
        "2 card numbers were removed from what you wrote: we never keep card numbers. To pay, use the Billing pages."
        in page
    )
    assert "2 card numbers were removed from this message: we never keep card numbers." in page
    assert "4242 4242 4242 4242" not in page and "5555-5555" not in page

    response = client.post(detail_url(ticket), {"body": "Sorry: 4111 1111 1111 1111"}, follow=True)
    page = response.content.decode()
    assert ticket.messages.order_by("-id").first().body == "Sorry: •••• •••• •••• 1111"
    assert "A card number was removed from what you wrote: we never keep card numbers." in page
    assert "A card number was removed from this message: we never keep card numbers." in page
    admin = admin_client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert "A card number was removed from this message" in admin and "4111 1111" not in admin

    response = client.post(detail_url(ticket), {"body": "Thanks, order 4242 4242 4242 4241."}, follow=True)
    assert "card number" not in response.content.decode().split("Conversation")[0]


def test_a_merged_request_points_its_requester_to_where_it_continues(client, alice, colleague, finance, staff):
    from sportello.support.services import ticket_merge

    first = ticket_open(membership=colleague, department=finance, subject="Refund please", body="One", now=NOW)
    second = ticket_open(membership=colleague, department=finance, subject="Refund again", body="Two", now=NOW)
    ticket_merge(source=second, target=first, by=staff, now=NOW + dt.timedelta(hours=1))
    client.force_login(colleague.user)
    page = client.get(detail_url(second)).content.decode()
    assert (
        "This request was merged into another one, where its messages and the conversation continue:"
        f' <a href="{detail_url(first)}">Refund please</a> ({first.public_id})'
    ) in page


def test_the_back_office_explains_a_merge_that_would_hide_a_conversation(
    admin_client, alice, colleague, alice_ticket, finance
):
    theirs = ticket_open(membership=colleague, department=finance, subject="Mine", body="Mine", now=NOW)
    before = (counts(), list(Ticket.objects.order_by("pk").values_list("status", "merged_into")))
    response = admin_client.post(
        reverse("admin:support_ticket_change", args=[theirs.pk]),
        {"action": "merge", "into": alice_ticket.public_id},
        follow=True,
    )
    assert (
        "Not done: The two requests were opened by different people and carlos@example.org cannot see and answer"
        " both: merging would take a conversation away from someone, or show it to someone else."
    ) in response.content.decode()
    assert (counts(), list(Ticket.objects.order_by("pk").values_list("status", "merged_into"))) == before


@pytest.mark.parametrize(
    ("language", "empty_choice"),
    [
        ("es", "- Seleccione una opción -"),
        ("pt-br", "- Selecione uma opção -"),
        ("it", "- Selezionare un&#x27;opzione -"),
    ],
)
def test_the_empty_choice_of_a_select_is_in_the_readers_language(
    client, alice, finance, technical, language, empty_choice
):
    type(alice.user).objects.filter(pk=alice.user.pk).update(language=language)
    client.force_login(alice.user)
    page = client.get(reverse("portal:support-new")).content.decode()
    assert department_options(page)[0] == empty_choice


@pytest.fixture
def password_articles(db):
    category = KnowledgeCategory.objects.create(slug="account", name="Account", position=1)
    password = KnowledgeArticle.objects.create(slug="password", category=category, position=2)
    KnowledgeTranslation.objects.create(
        article=password, language="en", title="Change your password", body="Open Security."
    )
    KnowledgeTranslation.objects.create(
        article=password, language="pt-br", title="Trocar a Senha", body="Abra Segurança."
    )
    KnowledgeTranslation.objects.create(
        article=password, language="es", title="Cambiar la contraseña", body="Abra Seguridad."
    )
    # Matches "senha" only in English: ranked after the article that matches in Portuguese.
    english = KnowledgeArticle.objects.create(slug="senha-history", category=category, position=1)
    KnowledgeTranslation.objects.create(article=english, language="en", title="Why we say senha", body="A note.")
    KnowledgeTranslation.objects.create(article=english, language="pt-br", title="Uma nota", body="Sobre palavras.")
    return password, english


def kb_titles(client, query: str) -> list[str]:
    page = client.get(reverse("portal:support-kb"), {"q": query}).content.decode()
    return re.findall(r'<a href="/support/help/[^"]+/"[^>]*>([^<]+)</a>', page)


@pytest.mark.parametrize("query", ["senha", "Senha", "SENHA", "sénha", "trocar senha"])
def test_the_knowledge_base_search_ignores_accents_and_case_and_ranks_the_readers_language_first(
    client, alice, password_articles, query
):
    type(alice.user).objects.filter(pk=alice.user.pk).update(language="pt-br")
    client.force_login(alice.user)
    expected = ["Trocar a Senha"] if "trocar" in query else ["Trocar a Senha", "Uma nota"]
    assert kb_titles(client, query) == expected


@pytest.mark.parametrize("query", ["contraseña", "CONTRASENA", "Contrasena cambiar"])
def test_the_knowledge_base_search_finds_spanish_words_without_their_accents(client, alice, password_articles, query):
    type(alice.user).objects.filter(pk=alice.user.pk).update(language="es")
    client.force_login(alice.user)
    assert kb_titles(client, query) == ["Cambiar la contraseña"]
    assert kb_titles(client, "senhas") == []


# --- News: current announcements and the archive --------------------------------------------------


@pytest.fixture
def news_clock(monkeypatch):
    from sportello.core.testing import Clock

    clock = Clock(NOW)
    monkeypatch.setattr("sportello.portal.views.support.utc_now", clock)
    return clock


def news_titles(page: str) -> list[str]:
    return re.findall(r'<h3 id="news-\d+">([^<]+)</h3>', page)


def test_the_news_page_lists_current_announcements_and_the_archive_the_ended_ones(client, alice, news_clock):
    day = dt.timedelta(days=1)
    Announcement.objects.create(
        title="Maintenance on Sunday",
        body="Servers restart.",
        translations={"es": {"title": "Mantenimiento el domingo", "body": "Reinicio."}},
        published_at=NOW - day,
    )
    Announcement.objects.create(title="New plans", body="Bigger disks.", published_at=NOW - 2 * day)
    Announcement.objects.create(title="Not yet", body="x", published_at=NOW + day)
    for number in range(21):
        Announcement.objects.create(
            title=f"Old news {number:02}",
            body="Over.",
            published_at=NOW - dt.timedelta(days=100 - number),
            visible_until=NOW - dt.timedelta(days=50 - number),
        )
    type(alice.user).objects.filter(pk=alice.user.pk).update(language="es")
    client.force_login(alice.user)

    current = client.get(reverse("portal:support-news")).content.decode()
    first = client.get(reverse("portal:support-news-archive")).content.decode()
    second = client.get(reverse("portal:support-news-archive"), {"page": 2}).content.decode()

    assert news_titles(current) == ["Mantenimiento el domingo", "New plans"]
    assert f'href="{reverse("portal:support-news-archive")}"' in current
    assert news_titles(first) == [f"Old news {number:02}" for number in range(20, 0, -1)]
    assert news_titles(second) == ["Old news 00"]
    assert "Página 2 de 2" in second


def test_the_news_pages_answer_when_there_is_no_news(client, alice, news_clock):
    client.force_login(alice.user)
    current = client.get(reverse("portal:support-news")).content.decode()
    archive = client.get(reverse("portal:support-news-archive")).content.decode()
    assert "No news at the moment" in current and reverse("portal:support-news-archive") not in current
    assert "No earlier news" in archive


def test_the_news_pages_are_for_members_only(client):
    response = client.get(reverse("portal:support-news"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
