"""What a member sees depends on the role in the account being worked in."""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.portal.tests.browser.helpers import (
    ANA,
    DIEGO,
    NUBECLARA,
    STUDIO_FERRI,
    login,
    nav_link,
    set_user_language,
)


def test_technical_member_has_no_billing(page: Page, live_server, demo_data) -> None:
    set_user_language(DIEGO, "en")
    login(page, live_server, DIEGO)

    for href in ("/", "/services/", "/domains/", "/support/", "/account/"):
        expect(nav_link(page, href)).to_have_count(1)
    expect(nav_link(page, "/billing/")).to_have_count(0)
    expect(page.locator('main a[href="/billing/"]')).to_have_count(0)  # no dashboard card either

    response = page.goto(f"{live_server.url}/billing/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")


def test_account_switcher_changes_account_and_menu(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    login(page, live_server, ANA)
    subtitle = page.locator(".page-subtitle")
    expect(subtitle).to_contain_text(NUBECLARA)
    expect(subtitle).to_contain_text("Your role: Owner")
    expect(nav_link(page, "/billing/")).to_have_count(1)

    menu = page.locator("details.account-menu")
    menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")
    menu.get_by_role("button", name=STUDIO_FERRI).click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(subtitle).to_contain_text(STUDIO_FERRI)
    expect(subtitle).to_contain_text("Your role: Technical")
    expect(page.get_by_role("status")).to_contain_text(f"You are now working in {STUDIO_FERRI}.")
    expect(nav_link(page, "/billing/")).to_have_count(0)
    expect(page.locator("details.account-menu > summary")).to_contain_text(STUDIO_FERRI)
