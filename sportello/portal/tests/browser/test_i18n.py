"""The language: chosen in the switcher and saved on the user; for visitors, the browser's."""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.accounts.models import User
from sportello.portal.tests.browser.helpers import ANA, login, nav_link, set_user_language

# (language code, its name in the switcher, the Billing link in that language)
SWITCHES = [
    ("it", "Italiano", "Fatturazione"),
    ("es", "Español", "Facturación"),
    ("pt-br", "Português (Brasil)", "Faturamento"),
]


@pytest.mark.parametrize(("language", "name", "billing"), SWITCHES, ids=[s[0] for s in SWITCHES])
def test_language_switcher_translates_saves_and_remembers(
    page: Page, live_server, demo_data, language: str, name: str, billing: str
) -> None:
    set_user_language(ANA, "en")
    login(page, live_server, ANA)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav_link(page, "/billing/")).to_have_text("Billing")

    # Choosing submits the form by itself (sportello.js); the page comes back translated.
    page.locator("header select[name=language]").select_option(label=name)
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("header select[name=language]")).to_have_value(language)
    assert User.objects.get(email=ANA).language == language

    # The words are translated (needs the compiled catalog, sportello/locale/*/LC_MESSAGES/django.mo).
    expect(nav_link(page, "/billing/")).to_have_text(billing)

    # Log out, forget the language cookie too, log in again: the saved choice still applies.
    page.locator("details.user-menu > summary").click()
    page.locator('details.user-menu form[action="/accounts/logout/"] button[type=submit]').click()
    expect(page.locator('input[name="password"]')).to_be_visible()  # back at the login form
    page.context.clear_cookies()
    login(page, live_server, ANA)
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(nav_link(page, "/billing/")).to_have_text(billing)


def test_language_switcher_works_without_javascript(new_context, live_server) -> None:
    """Without the script the switcher shows its own button (progressive enhancement)."""
    page = new_context(java_script_enabled=False).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    switcher = page.locator("header form.language-switcher")
    switcher.locator("select[name=language]").select_option("it")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # nothing submitted by itself
    switcher.locator("button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")


def test_visitor_gets_the_language_of_the_browser(new_context, live_server) -> None:
    page = new_context(locale="pt-BR").new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    expect(page.locator("header select[name=language]")).to_have_value("pt-br")
