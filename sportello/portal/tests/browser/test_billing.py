"""Billing in a real Chromium, on the demo's invoices: the dashboard cards (what is overdue, the
next invoice due, the open balance and the account credit), the status filters (by mouse and
keyboard), "email me this list" read from a real SMTP server, axe-core on every billing page,
and the invoices list at phone width.

The demo is loaded for today (the live server reads the real clock); its invoices are
dated from today, so the figures below hold on any day.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from sportello.billing.models import Invoice
from sportello.core.money import Money
from sportello.portal.tests.browser.helpers import ANA, login_over_http, set_user_language
from sportello.portal.tests.browser.identity_helpers import wait_for_email

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
NUBECLARA = "Nubeclara Servicios Digitales S.L."
axe = Axe()


def violations_of(page: Page, screen: str) -> list[str]:
    lines = []
    for violation in axe.run(page, options=AXE_OPTIONS).response["violations"]:
        for node in violation["nodes"]:
            lines.append(f"{screen}: {violation['id']} ({violation['impact']}) {', '.join(map(str, node['target']))}")
    return lines


def number_of(description: str) -> str:
    """The demo invoice of Nubeclara (entered by staff, not an order's or a quote's, nor a
    credit note, which copies the lines it corrects) whose first line starts with `description`."""
    invoice = Invoice.objects.get(
        account__name=NUBECLARA,
        kind="invoice",
        source="manual",
        lines__position=0,
        lines__description__startswith=description,
    )
    return invoice.display_number


def rows(page: Page) -> list[str]:
    return [text.strip() for text in page.locator(".invoices-table tbody th[scope=row] a").all_text_contents()]


def test_the_dashboard_cards_answer_what_is_owed(page: Page, live_server: Any, demo_data: None) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/")
    cards = page.locator(".billing-cards > li")
    expect(cards).to_have_count(4)
    overdue = cards.nth(0)
    # Managed WordPress 15.00 + 21 % VAT, unpaid 26 days past its due date, the dedicated IP
    # address 36.00 + 21 % VAT, in collections 66 days after its due date, and the intranet
    # hosting's renewal 5.99 + 21 % VAT, 10 days past its due date.
    expect(overdue.locator(".card-figure")).to_have_text("€68.96")
    expect(overdue).to_contain_text("3 invoices past their due date")
    assert overdue.locator(".card-figure").evaluate("e => getComputedStyle(e).color") == "rgb(180, 35, 24)"
    # Web Hosting Pro 47.15, half (23.58) paid, due in 4 days.
    expect(cards.nth(1).locator(".card-figure")).to_have_text("€23.57")
    expect(cards.nth(1)).to_contain_text(f"invoice {number_of('Web Hosting Pro')}")
    # 68.96 overdue + 23.57 + 6.05 (5 mailboxes) + 10.88 (the demo order's invoice) + 726.00
    # (the accepted demo quote's invoice) not yet due.
    expect(cards.nth(2).locator(".card-figure")).to_have_text("€835.46")
    expect(cards.nth(2)).to_contain_text("7 unpaid invoices, overdue included")
    # 25.00 welcome + 50.00 by card + 100.00 by transfer - 10.89 spent (the payments demo).
    credit = cards.nth(3)
    expect(credit.locator(".card-figure")).to_have_text(["€164.11"])
    expect(credit).to_contain_text("Money you have with us: it pays your invoices before any card or transfer.")
    credit.get_by_role("link", name="Account credit").click()
    expect(page).to_have_url(f"{live_server.url}/billing/credit/")
    expect(page.locator("main h1")).to_have_text("Account credit")
    page.go_back()
    page.locator(".billing-cards > li").nth(0).get_by_role("link", name="Overdue").click()
    expect(page).to_have_url(f"{live_server.url}/billing/invoices/?status=overdue")
    # The one in collections first (due earlier), shown as such.
    assert rows(page) == [
        number_of("Dedicated IP address"),
        number_of("Managed WordPress"),
        Invoice.objects.get(account__name=NUBECLARA, source="renewal").display_number,
    ]
    expect(page.locator(".invoices-table tbody tr").first.locator(".badge")).to_have_text("In collections")


def test_the_credit_card_reads_zero_without_credit(page: Page, live_server: Any, demo_data: None) -> None:
    from sportello.payments.services import credit_adjust

    account = Invoice.objects.filter(account__name=NUBECLARA).first().account  # type: ignore[union-attr]
    credit_adjust(account=account, amount=Money("-164.11", "EUR"), note="Paid out to the customer", by=None)
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/")
    credit = page.locator(".billing-cards > li").nth(3)
    expect(credit.locator(".card-figure")).to_have_text(["€0.00"])
    expect(credit).to_contain_text("No credit to use: add funds to pay your invoices from it.")


def test_the_status_filters_work_with_mouse_and_keyboard(page: Page, live_server: Any, demo_data: None) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/billing/invoices/")
    filters = page.get_by_role("navigation", name="Show documents by status")
    # Nine invoices issued (its draft is not shown), four credit notes, the demo order's invoice,
    # the accepted demo quote's, the payments demo's: two for funds added (by card, by
    # transfer) and one paid from credit, and the suspended intranet hosting's unpaid renewal.
    expect(filters.locator("[aria-current=page]")).to_have_text("All (19)")
    filters.get_by_role("link", name=re.compile(r"^Credit notes")).click()
    expect(filters.locator("[aria-current=page]")).to_have_text("Credit notes (4)")
    assert len(rows(page)) == 4
    # Cancelled (by staff) and refunded (to the card) share a group.
    filters.get_by_role("link", name=re.compile(r"^Cancelled or refunded")).click()
    expect(filters.locator("[aria-current=page]")).to_have_text("Cancelled or refunded (2)")
    assert sorted(rows(page)) == sorted([number_of("Email migration"), number_of("Premium DNS")])
    # Keyboard: focus the "Paid" filter and press Enter.
    filters.get_by_role("link", name=re.compile(r"^Paid")).focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"status=paid"))
    expect(filters.locator("[aria-current=page]")).to_have_text("Paid (6)")
    funds = Invoice.objects.filter(account__name=NUBECLARA, source="funds")
    assert sorted(rows(page)) == sorted(
        [
            *(number_of(d) for d in ("Domain renewal", "Web Hosting Basic", "SSL certificate", "Domain privacy")),
            *(invoice.display_number for invoice in funds),
        ]
    )
    # Sorting by a column, then opening a row.
    page.get_by_role("link", name="Total").click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_text(re.compile("Total"))
    page.locator(".invoices-table tbody a").first.click()
    expect(page.locator("main h1")).to_have_text(re.compile(r"^Invoice INV-"))


def test_email_me_this_list_arrives_with_the_csv(
    page: Page, live_server: Any, demo_data: None, smtp_inbox: Any, settings: Any
) -> None:
    settings.SITE_URL = live_server.url
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/billing/invoices/?status=overdue")
    page.get_by_role("button", name=re.compile("Email me this list")).click()
    expect(page.locator(".alert-success")).to_contain_text("The list is on its way to ana@example.com")
    expect(page).to_have_url(f"{live_server.url}/billing/invoices/?status=overdue&sort=status")
    message = wait_for_email(smtp_inbox, to=ANA)
    assert "Overdue" in str(message["Subject"])
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    table = list(csv.reader(io.StringIO(attachment.get_content().removeprefix("\ufeff"))))
    renewal = Invoice.objects.get(account__name=NUBECLARA, source="renewal").display_number
    assert [row[1] for row in table] == [
        "Number",
        number_of("Dedicated IP address"),
        number_of("Managed WordPress"),
        renewal,
    ]
    assert [row[4:8] for row in table[1:]] == [
        ["In collections", "43.56", "43.56", "EUR"],
        ["Overdue", "18.15", "18.15", "EUR"],
        ["Overdue", "7.25", "7.25", "EUR"],
    ]
    page.goto(f"{live_server.url}/account/email-log/")
    expect(page.locator("main")).to_contain_text(str(message["Subject"]))


def screens() -> dict[str, str]:
    overdue = number_of("Managed WordPress")
    partial = number_of("Web Hosting Pro")
    paid = number_of("Web Hosting Basic")
    note = Invoice.objects.filter(account__name=NUBECLARA, kind="credit_note").first()
    assert note is not None
    return {
        "dashboard": "/",
        "overview": "/billing/",
        "list": "/billing/invoices/",
        "list-overdue-by-total": "/billing/invoices/?status=overdue&sort=-total",
        "list-cancelled-or-refunded": "/billing/invoices/?status=cancelled",
        "invoice-overdue": f"/billing/invoices/{overdue}/",
        "invoice-in-collections": f"/billing/invoices/{number_of('Dedicated IP address')}/",
        "invoice-partially-paid": f"/billing/invoices/{partial}/",
        "invoice-paid-with-credit-note": f"/billing/invoices/{paid}/",
        "credit-note": f"/billing/credit-notes/{note.display_number}/",
        "history": "/billing/history/",
        "statement": "/billing/statement/",
        "statement-errors": "/billing/statement/?start=2026-02-01&end=2025-01-01",
    }


@pytest.mark.parametrize("language", ["en", "es"])
def test_no_axe_violations_on_the_billing_pages(page: Page, live_server: Any, demo_data: None, language: str) -> None:
    set_user_language(ANA, language)
    login_over_http(page, live_server, ANA)
    problems = []
    for screen, path in screens().items():
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
            page.set_viewport_size(DESKTOP)
    assert problems == []


def test_the_list_fits_a_phone_and_its_table_scrolls_inside_a_focusable_region(
    page: Page, live_server: Any, demo_data: None
) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/billing/invoices/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    region = page.locator(".table-wrap").first
    expect(region).to_have_attribute("tabindex", "0")
    expect(region).to_have_attribute("role", "region")
    assert region.evaluate("e => e.scrollWidth > e.clientWidth"), "the table should scroll inside its region"
    # The keyboard reaches the region and scrolls it with the arrow keys.
    region.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    # Arrow-key scrolling may be animated: wait until the region has moved, however long that takes.
    page.wait_for_function("e => e.scrollLeft > 0", arg=region.element_handle())
    # The filters wrap instead of widening the page.
    assert page.locator(".status-filters").evaluate("e => e.scrollWidth <= e.clientWidth")
