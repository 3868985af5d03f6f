"""Support in a real Chromium, on the demo data: a customer's request from opening to
closing — with staff answering in the back office and the customer answering by email
through two real SMTP conversations — a member without the support area who sees only
their own requests, and axe-core (WCAG 2.x A/AA) on every page the helpdesk adds.
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib
from decimal import Decimal
from email.message import EmailMessage
from email.utils import parseaddr

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from sportello.accounts.models import Account, Role, User
from sportello.accounts.services import membership_add
from sportello.billing.models import Invoice
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.demo.data import DEMO_PASSWORD
from sportello.orders.models import Order
from sportello.portal.tests.browser.helpers import ANA, NUBECLARA, STAFF, login_over_http, set_user_language
from sportello.portal.tests.browser.identity_helpers import plain_text, wait_for_email
from sportello.portal.tests.browser.support_helpers import InboundRelay, wait_until
from sportello.services.models import Service
from sportello.support.models import KnowledgeArticle, Ticket, TicketMessage

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
PHONE = {"width": 360, "height": 740}
INBOUND_SECRET = "browser-test-inbound-secret"
axe = Axe()

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# The day the test's own invoice is issued: fixed, so nothing depends on today.
INVOICE_DAY = dt.date(2026, 2, 2)


def violations_of(page: Page, screen: str) -> list[str]:
    lines = []
    for violation in axe.run(page, options=AXE_OPTIONS).response["violations"]:
        for node in violation["nodes"]:
            lines.append(f"{screen}: {violation['id']} ({violation['impact']}) {', '.join(map(str, node['target']))}")
    return lines


def issued_invoice(account: Account) -> Invoice:
    """An issued invoice of €121.00 (100.00 + 21 % Spanish VAT), the test's own. The demo
    data brought the seller and the Spanish rate (demo/data.py `_billing_setup`)."""
    line = NewLine(
        description="Domain renewal nubeclara.example.com (1 year)", quantity=Decimal(1), unit_price=Decimal("100.00")
    )
    draft = invoice_create(account=account, lines=[line], as_of=INVOICE_DAY)
    return invoice_issue(invoice=draft, as_of=INVOICE_DAY, due_date=INVOICE_DAY + dt.timedelta(days=14))


def test_a_finance_request_about_an_invoice_from_opening_to_closing(
    page: Page, new_context, live_server, demo_data, smtp_inbox, settings
) -> None:
    """The acceptance story: a demo customer opens a finance request about an invoice, with
    a file; staff reply in the back office; she sees the reply, answers by email, and closes it."""
    settings.SUPPORT_INBOUND_SECRET = INBOUND_SECRET
    settings.SUPPORT_REPLY_ADDRESS = "support@provider.example"
    set_user_language(ANA, "en")
    invoice = issued_invoice(Account.objects.get(name=NUBECLARA))
    number = invoice.display_number

    # 1. Ana opens a finance request about the invoice, with an attachment.
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/support/")
    page.get_by_role("link", name="Open a new request").click()
    page.get_by_label("Department").select_option(label="Finance")
    page.get_by_label("Subject").fill("Invoice charged twice for nubeclara.example.com")
    page.get_by_label("About an invoice").select_option(value=str(invoice.pk))
    expect(page.get_by_label("About an invoice").locator("option:checked")).to_have_text(f"{number} · €121.00")
    page.get_by_label("Message").fill("The renewal was charged **twice**. Statement attached.")
    page.get_by_label("Files").set_input_files(
        [{"name": "bank-statement.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("main h1")).to_have_text("Invoice charged twice for nubeclara.example.com")
    expect(page.get_by_role("status")).to_contain_text("Your request is sent.")
    expect(page.locator(".page-subtitle .badge")).to_have_text("Open")
    expect(page.get_by_role("link", name="bank-statement.pdf")).to_be_visible()
    expect(page.get_by_role("link", name=f"Invoice {number}")).to_have_attribute("href", f"/billing/invoices/{number}/")
    ticket = Ticket.objects.get(subject="Invoice charged twice for nubeclara.example.com")
    assert (ticket.department.slug, ticket.related_kind, ticket.related_invoice) == ("finance", "invoice", invoice)

    # 2. Staff reply in the back office, where the request names the invoice.
    staff = new_context().new_page()
    login_over_http(staff, live_server, STAFF)
    staff.goto(f"{live_server.url}/staff/support/ticket/?department__id__exact={ticket.department_id}&waiting=us")
    staff.get_by_role("link", name=ticket.subject).click()
    expect(staff.locator(".support-body").first).to_contain_text("The renewal was charged twice.")
    expect(staff.locator(".related-invoice")).to_have_text(f"Invoice {number} · €121.00 · Unpaid")
    staff.locator("#id_body").fill("We refunded the second charge; it reaches your bank in 3 days.")
    staff.get_by_role("button", name="Send").click()
    expect(staff.locator(".ticket-status")).to_have_text("Answered")
    expect(staff.locator(".first-response")).not_to_have_text("—")

    # 3. Ana sees the reply.
    page.reload()
    expect(page.locator(".message-staff .message-body")).to_have_text(
        "We refunded the second charge; it reaches your bank in 3 days."
    )
    expect(page.locator(".page-subtitle .badge")).to_have_text("Answered")

    # 4. Ana answers by email: the notification came over SMTP; her answer goes over SMTP
    # to the provider's mail server, which hands it to the inbound endpoint.
    # (Her other emails: the invoice itself, and the receipt of her request.)
    notification = wait_for_email(smtp_inbox, to=ANA, subject="New reply: Invoice charged twice")
    assert "We refunded the second charge" in plain_text(notification)
    reply_to = parseaddr(str(notification["Reply-To"]))[1]
    assert reply_to.startswith(f"support+{ticket.public_id}-")
    relay = InboundRelay(f"{live_server.url}/support/inbound/", INBOUND_SECRET).start()
    try:
        answer = EmailMessage()
        answer["From"] = f"Ana García López <{ANA}>"
        answer["To"] = reply_to
        answer["Subject"] = f"Re: {notification['Subject']}"
        answer["Message-ID"] = "<answer-1@mail.nubeclara.example.com>"
        answer.set_content(
            "Received, thank you!\n\nOn Tue, Support wrote:\n> " + plain_text(notification).replace("\n", "\n> ")
        )
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as smtp:
            refused = smtp.sendmail(ANA, [reply_to], answer.as_bytes())
        assert refused == {}
        assert relay.answers == [f"added to {ticket.public_id}"]
    finally:
        relay.stop()
    wait_until(lambda: TicketMessage.objects.filter(ticket=ticket, channel="email").exists(), what="the emailed reply")
    page.reload()
    emailed = page.locator(".message-customer").last
    expect(emailed.locator(".message-body")).to_have_text("Received, thank you!")
    expect(emailed).to_contain_text("by email")
    expect(page.locator(".page-subtitle .badge")).to_have_text("Customer reply")

    # 5. Ana closes it.
    page.get_by_role("button", name="Close the request").click()
    expect(page.get_by_role("status")).to_contain_text("The request is closed.")
    expect(page.locator(".page-subtitle .badge")).to_have_text("Closed")
    expect(page.get_by_role("button", name="Reopen the request")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == "closed"

    # The request still leads to its invoice.
    page.get_by_role("link", name=f"Invoice {number}").click()
    expect(page.locator("main h1")).to_have_text(f"Invoice {number}")


def test_a_question_about_an_invoice_starts_on_the_invoice_page(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    invoice = issued_invoice(Account.objects.get(name=NUBECLARA))
    number = invoice.display_number
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/billing/invoices/{number}/")
    page.get_by_role("link", name="Question about this invoice?").click()
    expect(page.locator(".page-subtitle")).to_have_text(f"A question about invoice {number}")
    expect(page.get_by_label("Department").locator("option:checked")).to_have_text("Finance")
    expect(page.get_by_label("About an invoice").locator("option:checked")).to_have_text(f"{number} · €121.00")
    page.get_by_label("Subject").fill("Purchase order number missing")
    page.get_by_label("Message").fill("Please add our PO 4500012345.")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("main h1")).to_have_text("Purchase order number missing")
    expect(page.get_by_role("link", name=f"Invoice {number}")).to_be_visible()
    assert Ticket.objects.get(subject="Purchase order number missing").related_invoice == invoice


def test_a_question_about_an_order_starts_on_the_order_page(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    order = Order.objects.get(account__name=NUBECLARA, status="awaiting_payment")
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/orders/{order.number}/")
    page.get_by_role("link", name="Need help with this order?").click()
    expect(page.locator(".page-subtitle")).to_have_text(f"A question about order {order.number}")
    expect(page.get_by_label("Department").locator("option:checked")).to_have_text("Sales")
    expect(page.get_by_label("About an order").locator("option:checked")).to_have_text(
        re.compile(rf"^{re.escape(order.number)} · ")
    )
    page.get_by_label("Subject").fill("Invoice address for this order")
    page.get_by_label("Message").fill("Please bill it to our Madrid office.")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("main h1")).to_have_text("Invoice address for this order")
    page.get_by_role("link", name=f"Order {order.number}").click()
    expect(page.locator("main h1")).to_have_text(f"Order {order.number}")
    assert Ticket.objects.get(subject="Invoice address for this order").related_order == order


def test_a_member_without_the_support_right_sees_only_their_own(page: Page, live_server, demo_data) -> None:
    account = Account.objects.get(name=NUBECLARA)
    user = User.objects.create_user("ines@example.com", DEMO_PASSWORD, full_name="Inés Prieto", language="en")
    membership_add(account=account, user=user, role=Role.CUSTOM, custom_areas=["billing"])
    others = list(Ticket.objects.filter(account=account))
    assert len(others) == 4

    login_over_http(page, live_server, "ines@example.com")
    page.goto(f"{live_server.url}/support/")
    expect(page.locator(".page-subtitle")).to_have_text("The requests you opened and their answers.")
    expect(page.locator(".empty-title")).to_have_text("No requests yet")
    page.get_by_role("link", name="Open a new request").click()
    expect(page.get_by_label("About a service")).to_have_count(0)  # no services area: nothing to link
    page.get_by_label("Department").select_option(label="Finance")
    page.get_by_label("Subject").fill("Copy of the March receipt")
    page.get_by_label("Message").fill("Could you send it again?")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("main h1")).to_have_text("Copy of the March receipt")

    page.goto(f"{live_server.url}/support/?state=all")
    rows = page.locator(".support-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Copy of the March receipt")
    for ticket in others:
        response = page.goto(f"{live_server.url}/support/requests/{ticket.public_id}/")
        assert response is not None and response.status == 404
    page.goto(f"{live_server.url}/")
    # The area cards (a member with billing also has the billing cards above them).
    expect(page.locator("section[aria-labelledby='areas-heading'] .cards")).to_contain_text("1 open request.")


def support_screens() -> dict[str, str]:
    account = Account.objects.get(name=NUBECLARA)
    answered = Ticket.objects.get(account=account, status="answered")
    closed = Ticket.objects.get(account=account, status="closed")
    fotos = Service.objects.get(label="fotos.nubeclara.example.com")
    article = KnowledgeArticle.objects.get(slug="hosting-storage-full")
    about_invoice = Ticket.objects.get(account=account, related_kind="invoice")
    invoice_number = about_invoice.related_invoice.display_number
    about_order = Ticket.objects.get(account=account, related_kind="order")
    order_number = about_order.related_order.number
    return {
        "dashboard": "/",
        "list": "/support/",
        "list-closed": "/support/?state=closed",
        "new": "/support/new/",
        "new-for-service": f"/support/new/?service={fotos.pk}",
        "new-for-invoice": f"/support/new/?invoice={invoice_number}",
        "detail-about-invoice": f"/support/requests/{about_invoice.public_id}/",
        "new-for-order": f"/support/new/?order={order_number}",
        "detail-about-order": f"/support/requests/{about_order.public_id}/",
        "order-with-help": f"/orders/{order_number}/",
        "detail-answered": f"/support/requests/{answered.public_id}/",
        "detail-closed": f"/support/requests/{closed.public_id}/",
        "kb": "/support/help/",
        "kb-search": "/support/help/?q=invoice",
        "kb-search-empty": "/support/help/?q=zzzz",
        "kb-article": f"/support/help/{article.slug}/",
        "kb-article-english-only": "/support/help/wordpress-updates/",
        "service-with-help": f"/services/{fotos.pk}/",
    }


@pytest.mark.parametrize("language", ["en", "es", "pt-br", "it"])
def test_no_axe_violations_on_the_support_pages(page: Page, live_server, demo_data, language: str) -> None:
    set_user_language(ANA, language)
    login_over_http(page, live_server, ANA)
    problems = []
    for screen, path in support_screens().items():
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, screen
        expect(page.locator("main h1")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", language)
        problems += violations_of(page, f"{screen} [{language}, 1280px]")
        if language == "en":
            page.set_viewport_size(PHONE)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                problems.append(f"{screen} [360px]: the page scrolls sideways ({width}px wide)")
            problems += violations_of(page, f"{screen} [{language}, 360px]")
            page.set_viewport_size({"width": 1280, "height": 800})
    assert not problems, "\n".join(problems)


def test_the_new_request_form_is_keyboard_usable_and_says_what_is_wrong(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/support/new/")
    page.get_by_label("Department").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Subject")).to_be_focused()
    page.get_by_label("Department").select_option(label="Technical support")
    page.get_by_label("Subject").fill("A page")
    page.get_by_label("Message").fill("See the file.")
    page.get_by_label("Files").set_input_files(
        [{"name": "page.html", "mimeType": "text/html", "buffer": b"<html><script>alert(1)</script></html>"}]
    )
    before = Ticket.objects.count()
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator(".field-error")).to_contain_text(re.compile(r"“page.html” is not a type of file we accept"))
    assert Ticket.objects.count() == before
