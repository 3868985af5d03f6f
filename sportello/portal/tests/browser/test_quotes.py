"""Quotes in a real Chromium: axe-core on the list, the quote page and the confirmation
step, at desktop and phone width; accepting a quote issues its invoice.

The demo is loaded for today (the live server reads the real clock): quotes are found by
their subject, never by date.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.billing.models import Invoice, Quote
from sportello.portal.tests.browser.helpers import ANA, login_over_http, set_user_language
from sportello.portal.tests.browser.test_services_accessibility import PHONE, violations_of


def check_page(page: Page, screen: str) -> list[str]:
    problems = violations_of(page, f"{screen} [1280px]")
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{screen} [360px]: the page scrolls sideways ({width}px wide)")
    problems += violations_of(page, f"{screen} [360px]")
    page.set_viewport_size({"width": 1280, "height": 800})
    return problems


def test_accepting_a_quote_issues_its_invoice(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    quote = Quote.objects.get(account__name__startswith="Nubeclara", subject="Migración de la tienda online")
    invoices_before = Invoice.objects.filter(source="quote").count()
    login_over_http(page, live_server, ANA)
    problems: list[str] = []

    page.goto(f"{live_server.url}/billing/quotes/")
    expect(page.locator("main h1")).to_have_text("Quotes")
    expect(page.locator("table.quotes-table tbody tr")).to_have_count(5)  # drafts are not shown
    problems += check_page(page, "quotes list")
    page.get_by_role("link", name="Total").click()
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Total")

    page.get_by_role("link", name=quote.number).click()
    expect(page.locator("main h1")).to_have_text(f"Quote {quote.number}")
    expect(page.locator("main")).to_contain_text("Migración de sitios")
    problems += check_page(page, "quote page")

    page.get_by_role("link", name="Accept", exact=True).click()
    expect(page.locator("main h1")).to_have_text(f"Accept quote {quote.number}?")
    problems += check_page(page, "accept confirmation")
    page.get_by_role("button", name=re.compile(r"^Accept and issue the invoice for")).click()

    expect(page.locator(".alert-success").first).to_contain_text(f"Quote {quote.number} accepted: invoice")
    quote.refresh_from_db()
    assert quote.status == "converted" and quote.invoice is not None
    assert Invoice.objects.filter(source="quote").count() == invoices_before + 1
    assert (quote.invoice.total_minor, quote.invoice.status) == (quote.total_minor, "open")
    expect(page.locator("main")).to_contain_text(quote.invoice.number)
    expect(page.get_by_role("link", name="Accept", exact=True)).to_have_count(0)
    problems += check_page(page, "converted quote page")
    assert problems == []


def test_declining_with_a_reason_by_keyboard(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "es")
    quote = Quote.objects.get(account__name__startswith="Nubeclara", subject="Ampliación de buzones")
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/billing/quotes/{quote.number}/decline/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    problems = check_page(page, "decline form [es]")
    field = page.locator("textarea[name=reason]")
    field.focus()
    field.fill("Demasiado caro para nosotros")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("Demasiado caro para nosotros")
    quote.refresh_from_db()
    assert (quote.status, quote.decline_reason) == ("declined", "Demasiado caro para nosotros")
    assert problems == []
