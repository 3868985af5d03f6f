"""API tokens in a real Chromium: create one (the secret shown once and working against the
API), revoke it (the API refuses it at once), axe-clean at desktop and phone widths."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.accounts.models import ApiToken
from sportello.portal.tests.browser.helpers import ANA, login_over_http, set_user_language
from sportello.portal.tests.browser.test_services_accessibility import PHONE, violations_of

SECRET = re.compile(r"^spt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")


def axe_at_both_widths(page: Page, screen: str) -> list[str]:
    problems = violations_of(page, f"{screen} [1280px]")
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{screen} [360px]: the page scrolls sideways ({width}px wide)")
    problems += violations_of(page, f"{screen} [360px]")
    page.set_viewport_size({"width": 1280, "height": 800})
    return problems


def test_create_a_token_see_it_once_and_revoke_it(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/account/security/")
    page.get_by_role("link", name="Manage API tokens").click()
    expect(page.get_by_role("heading", name="Create a token")).to_be_visible()
    problems = axe_at_both_widths(page, "tokens-empty")

    # Create it with the keyboard only.
    page.get_by_label("Name").focus()
    page.keyboard.type("monitoring")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past "See the account" to the billing details
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")  # read
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # services
    page.get_by_role("button", name="Create token").focus()
    page.keyboard.press("Enter")

    secret_field = page.get_by_label("Token", exact=True)
    expect(secret_field).to_be_visible()
    secret = secret_field.input_value()
    assert SECRET.match(secret), secret
    expect(page.locator("main")).to_contain_text("it is shown only this once")
    problems += axe_at_both_widths(page, "token-created")
    token = ApiToken.objects.get(name="monitoring")
    assert token.scopes == ["read", "services"]

    me = page.request.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status == 200
    assert me.json()["token"]["scopes"] == ["read", "services"]

    # Shown once: the list shows only the public part.
    page.goto(f"{live_server.url}/account/security/api-tokens/")
    assert secret not in page.content()
    row = page.locator("tbody tr", has_text="monitoring")
    expect(row).to_contain_text(f"spt_{token.key_id}_…")
    expect(row).to_contain_text("Active")
    problems += axe_at_both_widths(page, "tokens-list")

    row.get_by_role("button", name="Revoke the token monitoring").click()
    expect(page.locator(".messages")).to_contain_text("The token “monitoring” is revoked")
    expect(page.locator("tbody tr", has_text="monitoring")).to_contain_text("Revoked")
    refused = page.request.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status == 401
    problems += axe_at_both_widths(page, "tokens-revoked")
    assert not problems, "\n".join(problems)
