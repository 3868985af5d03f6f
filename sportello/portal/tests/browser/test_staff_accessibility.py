"""axe-core (WCAG 2.0/2.1/2.2 A and AA) on the back office pages of invoicing, payments and
support: lists with their filters, the documents' pages, the forms staff fill in (also
when they come back with errors), the refund form, the bank statement import, the
reconciliation queue, the request page with its conversation, files and internal notes.

The back office is Django's admin under /staff/; its browser tests live with the others
here, where the browser fixtures are. Staff log in through the same login endpoint as
customers. Data comes from the demo and, for what the demo does not have, from the
domain services, as the other browser tests do.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.accounts.models import Account, Membership, User
from sportello.billing.models import BillingRun, DocumentKind, Invoice, InvoiceStatus, Quote
from sportello.billing.services import NewLine, invoice_create
from sportello.payments.models import CreditEntry, Gateway, Payment, PaymentStatus, ReconciliationItem
from sportello.payments.services import statement_import
from sportello.portal.tests.browser.helpers import ANA, NUBECLARA, STAFF, login_over_http
from sportello.portal.tests.browser.test_services_accessibility import violations_of
from sportello.support.models import (
    Announcement,
    CannedReply,
    Department,
    KnowledgeArticle,
    SharedFile,
    Ticket,
    TicketStatus,
)
from sportello.support.services import Upload, ticket_open, ticket_reply_staff

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# When the test's own records are dated: fixed, so that nothing depends on today.
DAY = dt.date(2026, 2, 2)
MOMENT = dt.datetime(2026, 2, 2, 9, 30, tzinfo=dt.UTC)


def scan(page: Page, live_server, screens: dict[str, str]) -> list[str]:
    """Open each back office page (it answers 200 and shows its title) and run axe on it."""
    problems: list[str] = []
    for screen, path in screens.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, f"{screen}: HTTP {response and response.status}"
        expect(page.locator("#content h1, #content h2").first).to_be_visible()
        problems += violations_of(page, screen)
    return problems


def sent_back(page: Page, screen: str, *, error: str = "") -> list[str]:
    """axe on a form the server sent back with its errors, once the page has fully loaded
    (the back office's script names some controls on "load")."""
    expect(page.locator(".errorlist").first).to_contain_text(error)
    page.wait_for_load_state("load")
    return violations_of(page, screen)


def staff_login(page: Page, live_server) -> None:
    User.objects.filter(email=STAFF).update(language="en")
    login_over_http(page, live_server, STAFF)


# --- Invoicing (issue 5) ------------------------------------------------------------------


def billing_screens() -> dict[str, str]:
    account = Account.objects.get(name=NUBECLARA)
    draft = invoice_create(
        account=account,
        lines=[NewLine(description="Consulting, January", quantity=Decimal(3), unit_price=Decimal("80.00"))],
        as_of=DAY,
    )
    issued = Invoice.objects.filter(
        account=account, kind=DocumentKind.INVOICE, status__in=[InvoiceStatus.OPEN, InvoiceStatus.OVERDUE]
    ).first()
    assert issued is not None
    credit_note = Invoice.objects.filter(account=account, kind=DocumentKind.CREDIT_NOTE).first()
    assert credit_note is not None
    quote = Quote.objects.filter(account=account).first()
    assert quote is not None
    run = BillingRun.objects.create(
        as_of=DAY,
        partition="all",
        status="done",
        attempts=1,
        services_billed=3,
        invoices_issued=2,
        totals={"EUR": 48400, "BRL": 5000},
        reminders_sent=1,
        errors=[{"step": "renewal", "account": account.pk, "error": "TaxRateMissing: no 'reduced' tax rate for ES"}],
    )
    return {
        "index": "/staff/",
        "billing app": "/staff/billing/",
        "invoices": "/staff/billing/invoice/",
        "invoices, drafts": "/staff/billing/invoice/?status__exact=draft",
        "credit notes": "/staff/billing/invoice/?kind__exact=credit_note",
        "new manual invoice": "/staff/billing/invoice/add/",
        "draft invoice": f"/staff/billing/invoice/{draft.pk}/change/",
        "issued invoice": f"/staff/billing/invoice/{issued.pk}/change/",
        "credit note form": f"/staff/billing/invoice/{issued.pk}/credit-note/",
        "offline payment": f"/staff/billing/invoice/{issued.pk}/payment/",
        "credit note": f"/staff/billing/invoice/{credit_note.pk}/change/",
        "quotes": "/staff/billing/quote/",
        "new quote": "/staff/billing/quote/add/",
        "quote": f"/staff/billing/quote/{quote.pk}/change/",
        "billing runs": "/staff/billing/billingrun/",
        "billing run of a date": f"/staff/billing/billingrun/{run.pk}/change/",
        "tax rates": "/staff/billing/taxrate/",
        "billing preferences": "/staff/billing/billingpreference/",
        "reminders sent": "/staff/billing/remindersent/",
        "late fees": "/staff/billing/latefee/",
        "dunning suspensions": "/staff/billing/dunningsuspension/",
    }


def test_no_axe_violations_on_the_invoicing_pages(page: Page, live_server, demo_data) -> None:
    screens = billing_screens()
    staff_login(page, live_server)
    problems = scan(page, live_server, screens)

    # The forms sent back with their errors.
    page.goto(f"{live_server.url}/staff/billing/invoice/add/")
    page.locator('input[type="submit"]').click()
    problems += sent_back(page, "new manual invoice, with errors")
    page.goto(f"{live_server.url}{screens['offline payment']}")
    page.locator('input[type="submit"]').click()
    problems += sent_back(page, "offline payment, with errors")
    page.goto(f"{live_server.url}{screens['credit note form']}")
    page.locator('input[type="submit"]').click()
    problems += sent_back(page, "credit note form, with errors")

    # Issuing the draft from the list: the action chosen, then its outcome.
    page.goto(f"{live_server.url}{screens['invoices, drafts']}")
    draft_id = screens["draft invoice"].split("/")[-3]
    page.locator(f'input.action-select[value="{draft_id}"]').check()
    page.locator('select[name="action"]').select_option("issue")
    problems += violations_of(page, "invoices, issuing a draft")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("1 invoice issued.")
    page.wait_for_load_state("load")
    problems += violations_of(page, "invoices, draft issued")
    assert not problems, "\n".join(problems)


# --- Payments and credit (issue 6) --------------------------------------------------------


def payments_screens() -> dict[str, str]:
    account = Account.objects.get(name=NUBECLARA)
    # A statement whose line matches no payment: it lands in the reconciliation queue.
    statement_import(
        text="date,amount,currency,reference\n2026-02-02,42.00,EUR,RF00UNKNOWN0001\n", name="feb.csv", by=None
    )
    item = ReconciliationItem.objects.latest("pk")
    succeeded = Payment.objects.filter(account=account, status=PaymentStatus.SUCCEEDED).first()
    assert succeeded is not None
    credit = CreditEntry.objects.filter(account=account).first()
    assert credit is not None
    card = Gateway.TESTCARD.value
    return {
        "payments app": "/staff/payments/",
        "payments": "/staff/payments/payment/",
        "payments, transfers awaiting registration": "/staff/payments/payment/?transfers=awaiting",
        "payments, PIX awaiting confirmation": "/staff/payments/payment/?pix=awaiting",
        "payments, by status and gateway": f"/staff/payments/payment/?status__exact=succeeded&gateway__exact={card}",
        "payment": f"/staff/payments/payment/{succeeded.pk}/change/",
        "refund form": f"/staff/payments/payment/{succeeded.pk}/refund/",
        "payment events": "/staff/payments/paymentevent/",
        "processed webhooks": "/staff/payments/processedwebhook/",
        "reconciliation queue": "/staff/payments/reconciliationitem/?state=open",
        "reconciliation item": f"/staff/payments/reconciliationitem/{item.pk}/change/",
        "bank statement lines": "/staff/payments/bankstatementline/",
        "bank statement import": "/staff/payments/bankstatementline/import/",
        "credit ledger of an account": f"/staff/payments/creditentry/?account__id__exact={account.pk}",
        "credit adjustment": "/staff/payments/creditentry/add/",
        "credit entry": f"/staff/payments/creditentry/{credit.pk}/change/",
        "saved payment methods": "/staff/payments/savedpaymentmethod/",
        "payment preferences": "/staff/payments/paymentpreference/",
        "service payment preferences": "/staff/payments/servicepaymentpreference/",
        "auto-pay retries": "/staff/payments/autopayretry/",
    }


def test_no_axe_violations_on_the_payments_pages(page: Page, live_server, demo_data) -> None:
    screens = payments_screens()
    staff_login(page, live_server)
    problems = scan(page, live_server, screens)

    # Registering a PIX: the list's action bar with its fields, one payment chosen.
    page.goto(f"{live_server.url}/staff/payments/payment/?pix=awaiting")
    page.locator('select[name="action"]').select_option("register_pix")
    problems += violations_of(page, "register PIX, action chosen")

    # The forms sent back with their errors.
    page.goto(f"{live_server.url}{screens['refund form']}")
    page.get_by_label("Amount").fill("")
    page.locator('input[type="submit"]').click()
    problems += sent_back(page, "refund form, with errors")
    page.goto(f"{live_server.url}{screens['bank statement import']}")
    page.get_by_label("Bank statement (CSV)").set_input_files(
        [{"name": "statement.csv", "mimeType": "text/csv", "buffer": b"\xff\xfe\x00 not text"}]
    )
    page.locator('input[type="submit"]').click()
    problems += sent_back(page, "bank statement import, with errors")
    page.goto(f"{live_server.url}{screens['credit adjustment']}")
    page.locator('input[name="_save"]').click()
    problems += sent_back(page, "credit adjustment, with errors")
    assert not problems, "\n".join(problems)


# --- Support (issue 7) --------------------------------------------------------------------


def support_screens() -> dict[str, str]:
    staff = User.objects.get(email=STAFF)
    membership = Membership.objects.get(account__name=NUBECLARA, user__email=ANA)
    finance = Department.objects.get(slug="finance")
    ticket = ticket_open(
        membership=membership,
        department=finance,
        subject="Statement for the auditors",
        body="Could you send the **2025** statement?",
        uploads=[Upload(file=io.BytesIO(PDF), name="auditors-request.pdf")],
        now=MOMENT,
    )
    ticket_reply_staff(ticket=ticket, by=staff, body="Customer since 2019: send it signed.", internal=True, now=MOMENT)
    ticket_reply_staff(
        ticket=ticket,
        by=staff,
        body="Here it is.",
        uploads=[Upload(file=io.BytesIO(PDF), name="statement-2025.pdf")],
        now=MOMENT + dt.timedelta(hours=1),
    )
    closed = Ticket.objects.filter(status=TicketStatus.CLOSED).first()
    assert closed is not None
    canned = CannedReply.objects.first()
    article = KnowledgeArticle.objects.first()
    announcement = Announcement.objects.first()
    shared = SharedFile.objects.first()
    assert canned and article and announcement and shared
    return {
        "support app": "/staff/support/",
        "queue": "/staff/support/ticket/",
        "queue of a department, waiting on us": f"/staff/support/ticket/?department__id__exact={finance.pk}&waiting=us",
        "queue, waiting on the customer, assigned to me": "/staff/support/ticket/?waiting=customer&assigned=me",
        "request with replies, notes and files": f"/staff/support/ticket/{ticket.pk}/change/",
        "closed request": f"/staff/support/ticket/{closed.pk}/change/",
        "departments": "/staff/support/department/",
        "new department": "/staff/support/department/add/",
        "department": f"/staff/support/department/{finance.pk}/change/",
        "canned replies": "/staff/support/cannedreply/",
        "new canned reply": "/staff/support/cannedreply/add/",
        "canned reply": f"/staff/support/cannedreply/{canned.pk}/change/",
        "knowledge categories": "/staff/support/knowledgecategory/",
        "knowledge articles": "/staff/support/knowledgearticle/",
        "new knowledge article": "/staff/support/knowledgearticle/add/",
        "knowledge article": f"/staff/support/knowledgearticle/{article.pk}/change/",
        "announcements": "/staff/support/announcement/",
        "new announcement": "/staff/support/announcement/add/",
        "announcement": f"/staff/support/announcement/{announcement.pk}/change/",
        "shared files": "/staff/support/sharedfile/",
        "new shared file": "/staff/support/sharedfile/add/",
        "shared file": f"/staff/support/sharedfile/{shared.pk}/change/",
    }


def test_no_axe_violations_on_the_support_pages(page: Page, live_server, demo_data) -> None:
    screens = support_screens()
    staff_login(page, live_server)
    problems = scan(page, live_server, screens)

    # The request page sent back with errors: an empty reply, a merge into nothing.
    path = screens["request with replies, notes and files"]
    page.goto(f"{live_server.url}{path}")
    page.get_by_role("button", name="Send").click()
    problems += sent_back(page, "request, empty reply", error="Write a message or choose a canned reply.")
    page.get_by_label("Merge into request (reference)").fill("nosuchref")
    page.get_by_role("button", name="Merge", exact=True).click()
    problems += sent_back(page, "request, merge refused", error="No request has this reference.")
    # A canned reply chosen and sent: the success message on the page.
    page.get_by_label("Canned reply").select_option(index=1)
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".messagelist")).to_contain_text("Reply sent.")
    page.wait_for_load_state("load")
    problems += violations_of(page, "request, reply sent")

    for screen, add in (("new shared file", "sharedfile"), ("new knowledge article", "knowledgearticle")):
        page.goto(f"{live_server.url}/staff/support/{add}/add/")
        page.locator('input[name="_save"]').click()
        problems += sent_back(page, f"{screen}, with errors")
    assert not problems, "\n".join(problems)
