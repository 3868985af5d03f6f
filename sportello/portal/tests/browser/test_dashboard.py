"""The dashboard in a real browser: content, layout on a phone, keyboard, CSP."""

from __future__ import annotations

import datetime as dt
import re

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from django.conf import settings
from playwright.sync_api import ConsoleMessage, Error, Page, expect

from sportello.billing.models import Invoice
from sportello.core.formatting import date_display
from sportello.portal.tests.browser.helpers import (
    ANA,
    NAV_HREFS,
    NUBECLARA,
    artifact,
    login,
    nav_link,
    set_user_language,
)

PHONE = {"width": 360, "height": 740}


def test_dashboard_welcomes_the_member_and_fits_a_phone(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")  # ana's saved language is Spanish: pin English to check exact words
    login(page, live_server, ANA)
    page.goto(f"{live_server.url}/")  # again, without the one-off "signed in" message

    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Ana")
    expect(page.locator(".page-subtitle")).to_contain_text(NUBECLARA)
    expect(page).to_have_title(f"Dashboard · {settings.PROVIDER_NAME}")
    page.screenshot(path=artifact("dashboard-desktop.png"))

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Ana")
    page.screenshot(path=artifact("dashboard-phone.png"), full_page=True)

    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"the page scrolls sideways on a phone: {scroll_width}px wide"
    # Every entry of the main navigation is there and can be brought into view and focused.
    for href in NAV_HREFS:
        link = nav_link(page, href)
        expect(link).to_be_visible()
        link.scroll_into_view_if_needed()
        expect(link).to_be_in_viewport()
        link.focus()
        expect(link).to_be_focused()


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    login(page, live_server, ANA)
    page.goto(f"{live_server.url}/")  # a fresh load: focus starts at the top of the document

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown when focused, not left off-screen

    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    expect(page).to_have_url(f"{live_server.url}/#main")


def test_dashboard_sends_a_csp_and_logs_no_console_errors(page: Page, live_server, demo_data) -> None:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.location.get('url', '')}: {message.text}")

    def on_page_error(error: Error) -> None:
        errors.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)

    login(page, live_server, ANA)
    response = page.goto(f"{live_server.url}/")
    assert response is not None and response.status == 200

    csp = response.headers.get("content-security-policy")
    assert csp, "the dashboard has no Content-Security-Policy header"
    assert "script-src 'self'" in csp and "style-src 'self'" in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    # The site's script ran (it marks <html class="js">), so it was not blocked.
    expect(page.locator("html")).to_contain_class("js")
    # Open and close a menu so its script paths run too.
    page.locator("details.user-menu > summary").click()
    expect(page.locator("details.user-menu")).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(page.locator("details.user-menu")).not_to_have_attribute("open", "")

    assert errors == [], "console errors (a blocked inline script or style shows up here):\n" + "\n".join(errors)


def test_a_suspended_service_says_why_until_when_and_offers_to_pay(page: Page, live_server, demo_data) -> None:
    """The demo's intranet hosting, suspended for its unpaid renewal: the dashboard says so, its
    Pay button opens the pay page with every overdue invoice ticked, and so does the service page."""
    renewal = Invoice.objects.get(account__name=NUBECLARA, source="renewal")
    assert renewal.due_date is not None
    overdue = list(
        Invoice.objects.filter(account__name=NUBECLARA, status__in=["overdue", "collections"]).order_by("due_date")
    )
    set_user_language(ANA, "en")
    login(page, live_server, ANA)
    page.goto(f"{live_server.url}/")

    panel = page.get_by_role("region", name="Suspended services")
    item = panel.get_by_role("listitem").filter(has_text="intranet.nubeclara.example.com")
    expect(item.get_by_role("heading", level=3)).to_contain_text("Web Hosting Basic")
    expect(item).to_contain_text(f"because invoice {renewal.display_number} is unpaid: €7.25 to pay")
    removed_on = date_display(renewal.due_date + dt.timedelta(days=30), "en")
    expect(item).to_contain_text(f"the service and its data will be removed on {removed_on}.")
    expect(item.get_by_role("link", name=renewal.display_number)).to_have_attribute(
        "href", f"/billing/invoices/{renewal.display_number}/"
    )
    # The staff's own suspension in Studio Ferri is not this account's.
    expect(panel).not_to_contain_text("Malware")

    # The overdue card has its own Pay button, for the same invoices.
    card = page.locator(".billing-cards > li").first
    expect(card.get_by_role("link", name="Pay €68.96")).to_be_visible()

    item.get_by_role("link", name="Pay €68.96").click()
    expect(page).to_have_url(re.compile(r"/billing/pay/\?invoice="))
    expect(page.locator("main h1")).to_have_text("Pay invoices")
    for invoice in overdue:
        expect(page.get_by_role("checkbox", name=invoice.display_number)).to_be_checked()
    expect(page.locator("#pay-selected")).to_have_text("Selected: €68.96.")

    page.go_back()
    item.get_by_role("link", name="Web Hosting Basic").click()
    expect(page.locator("main h1")).to_have_text("Web Hosting Basic")
    alert = page.locator("#suspension")
    expect(alert).to_contain_text("This service is suspended and does not work at the moment. Its data is kept.")
    expect(alert).to_contain_text(f"invoice {renewal.display_number} is unpaid: €7.25 to pay")
    expect(alert).to_contain_text(f"removed on {removed_on}")
    expect(alert.get_by_role("link", name="Pay €68.96")).to_be_visible()
    page.screenshot(path=artifact("service-suspended.png"))
