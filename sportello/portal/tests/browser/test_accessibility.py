"""axe-core (WCAG 2.0/2.1/2.2 A and AA rules) on every client-area page, in every language
(and, in English, at phone width too)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from sportello.portal.tests.browser.helpers import (
    ANA,
    LANGUAGES,
    STAFF,
    login,
    login_over_http,
    nav_link,
    set_user_language,
    set_visitor_language,
)

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
axe = Axe()
PHONE = {"width": 360, "height": 740}


@dataclass(frozen=True)
class Screen:
    user: str | None  # None: an anonymous visitor
    path: str
    status: int = 200
    via: str = ""  # "nav": an entry of the main navigation; "tabs": of the account section's tabs


SCREENS = {
    # Visitors
    "login": Screen(None, "/accounts/login/"),
    "first-access": Screen(None, "/accounts/first-access/"),
    "password-reset": Screen(None, "/accounts/password/reset/"),
    "contact": Screen(None, "/contact/"),
    # The client area, as ana (owner): every entry of the main navigation...
    "dashboard": Screen(ANA, "/", via="nav"),
    "billing": Screen(ANA, "/billing/", via="nav"),
    "services": Screen(ANA, "/services/", via="nav"),
    "domains": Screen(ANA, "/domains/", via="nav"),
    "support": Screen(ANA, "/support/", via="nav"),
    "account": Screen(ANA, "/account/", via="nav"),
    # ...and of the account section's tabs
    "profile": Screen(ANA, "/account/profile/", via="tabs"),
    "security": Screen(ANA, "/account/security/", via="tabs"),
    "people": Screen(ANA, "/account/people/", via="tabs"),
    "email-preferences": Screen(ANA, "/account/email-preferences/", via="tabs"),
    "email-log": Screen(ANA, "/account/email-log/", via="tabs"),
    "activity": Screen(ANA, "/account/activity/", via="tabs"),
    # Errors
    "not-found": Screen(ANA, "/no-such-page/", status=404),
    "no-customer-account": Screen(STAFF, "/", status=403),
}


def axe_report(violations: list[dict]) -> str:
    lines = [f"{len(violations)} axe violation(s):"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}  <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"    target {', '.join(map(str, node['target']))}: {node['html'][:200]}")
            if node.get("failureSummary"):
                lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
    return "\n".join(lines)


def open_screen(page: Page, live_server, request: pytest.FixtureRequest, screen: str, language: str) -> None:
    """Show `screen` in `language`, as its user, and check it is the page it should be."""
    spec = SCREENS[screen]
    if spec.user is None:
        set_visitor_language(page.context, live_server, language)
    else:
        request.getfixturevalue("demo_data")  # visitors' pages need no data: skip loading it
        set_user_language(spec.user, language)
        login_over_http(page, live_server, spec.user)

    response = page.goto(f"{live_server.url}{spec.path}")
    assert response is not None and response.status == spec.status
    # The page is linked from its menu, and marked there as the current one.
    if spec.via == "nav":
        expect(nav_link(page, spec.path)).to_have_attribute("aria-current", "page")
    elif spec.via == "tabs":
        expect(page.locator(f'main nav a[href="{spec.path}"]')).to_have_attribute("aria-current", "page")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("main h1")).to_be_visible()


@pytest.mark.parametrize(
    ("screen", "language"),
    [(name, language) for name in SCREENS for language in LANGUAGES],
)
def test_no_axe_violations(page: Page, live_server, request: pytest.FixtureRequest, screen: str, language: str) -> None:
    open_screen(page, live_server, request, screen, language)
    problems = []
    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    if violations:
        problems.append(f"{screen} [{language}, 1280px]: " + axe_report(violations))

    if language == "en":
        # At phone width the layout changes (tables scroll, the menu becomes a strip): once
        # more, in one language to keep the suite fast.
        page.set_viewport_size(PHONE)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > PHONE["width"]:
            problems.append(f"{screen} [{language}, 360px]: the page scrolls sideways ({scroll_width}px wide)")
        violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
        if violations:
            problems.append(f"{screen} [{language}, 360px]: " + axe_report(violations))

    assert not problems, "\n\n".join(problems)


def test_no_axe_violations_with_the_menus_open(page: Page, live_server, demo_data) -> None:
    """The account and user menus are closed during the test above: check their panels too."""
    set_user_language(ANA, "en")
    login(page, live_server, ANA)
    page.locator("details.account-menu > summary").click()
    expect(page.locator("details.account-menu .menu-panel")).to_be_visible()
    # A click elsewhere closes an open menu (sportello.js): open the second one directly.
    page.evaluate("document.querySelector('details.user-menu').open = true")
    for menu in ("details.account-menu", "details.user-menu"):
        expect(page.locator(f"{menu} .menu-panel")).to_be_visible()
    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    assert violations == [], "dashboard with menus open: " + axe_report(violations)


def test_axe_really_checks_the_page(page: Page, live_server) -> None:
    """Guards the test above against passing vacuously: a page without a language is caught."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate("document.documentElement.removeAttribute('lang')")
    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    assert "html-has-lang" in {violation["id"] for violation in violations}, axe_report(violations)
