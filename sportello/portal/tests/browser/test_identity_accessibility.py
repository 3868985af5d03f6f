"""axe-core (WCAG 2.0/2.1/2.2 A and AA) on the identity and access pages, in English and
Spanish.

The login, first-access and password-reset forms, the contact page and the account tabs
(overview, My details, Security, Users and contacts, email preferences, email log,
activity) are checked in every language, and at phone width, by test_accessibility.py:
this file covers the rest of what the identity issue added, including the pages that
only exist in the middle of a flow (a password link, an invitation, two-factor setup).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from sportello.accounts.models import Contact, Membership, User
from sportello.accounts.services import invitation_create, password_link_path
from sportello.conftest import PASSWORD, make_member
from sportello.core.time import utc_now
from sportello.notifications.models import EmailLog
from sportello.portal.tests.browser.helpers import (
    ANA,
    NUBECLARA,
    login,
    login_over_http,
    set_user_language,
    set_visitor_language,
)
from sportello.portal.tests.browser.identity_helpers import (
    WEAK_PASSWORD,
    add_virtual_authenticator,
    field,
    fill_new_password,
    logout,
    person_awaiting_first_access,
    submit_login,
    totp_code,
    wrong_totp_code,
)

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
LANGUAGES = ("en", "es")
axe = Axe()


def axe_violations(page: Page, screen: str) -> list[str]:
    """axe's violations on the page as it is now, one readable line per element."""
    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            target = ", ".join(map(str, node["target"]))
            lines.append(f"{screen}: {violation['id']} ({violation['help']}) at {target}: {node['html'][:160]}")
    return lines


def assert_no_violations(found: list[str]) -> None:
    assert found == [], f"{len(found)} axe violation(s):\n" + "\n".join(found)


def expect_language(page: Page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("main h1")).to_be_visible()


# --- Visitors' pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitorScreen:
    path: Callable[[], str]  # made when the test runs: links carry fresh secrets
    status: int = 200
    url: str | None = None  # where the browser ends up, when it is redirected


def _set_password_link() -> str:
    user = person_awaiting_first_access("nora@example.com", "Nora Vidal", "Vidal Estudio S.L.").user
    return password_link_path(url_name="first-access-set-password", user=user)


def _reset_link() -> str:
    user = make_member("nora@example.com", "Vidal Estudio S.L.").user
    return password_link_path(url_name="account_reset_password_from_key", user=user)


def _invitation_link() -> str:
    owner = make_member("nora@example.com", "Vidal Estudio S.L.")
    secret = invitation_create(acting=owner, email="marta@example.com", role="finance", now=utc_now())[1]
    return f"/accounts/invitation/{secret}/"


VISITOR_SCREENS = {
    "first-access-sent": VisitorScreen(lambda: "/accounts/first-access/sent/"),
    "first-access-set-password": VisitorScreen(_set_password_link),
    "link-no-longer-works": VisitorScreen(lambda: "/accounts/first-access/1-aaaaaa-bbbbbbbb/", status=400),
    "password-reset-done": VisitorScreen(lambda: "/accounts/password/reset/done/"),
    "password-reset-from-key": VisitorScreen(_reset_link, url=r"/accounts/password/reset/key/\w+-set-password/$"),
    "password-reset-from-key-done": VisitorScreen(lambda: "/accounts/password/reset/key/done/"),
    "invitation-new-person": VisitorScreen(_invitation_link),
}


@pytest.mark.parametrize(("screen", "language"), [(s, lang) for s in VISITOR_SCREENS for lang in LANGUAGES])
def test_visitor_pages_have_no_axe_violations(page: Page, live_server, screen: str, language: str) -> None:
    spec = VISITOR_SCREENS[screen]
    set_visitor_language(page.context, live_server, language)
    response = page.goto(f"{live_server.url}{spec.path()}")
    if spec.url:
        expect(page).to_have_url(re.compile(spec.url))
    else:
        assert response is not None and response.status == spec.status
    expect_language(page, language)
    assert_no_violations(axe_violations(page, f"{screen} [{language}]"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_too_many_attempts_page_has_no_axe_violations(page: Page, live_server, language: str) -> None:
    set_visitor_language(page.context, live_server, language)
    form = page.locator("main form")
    for _request in range(3):  # three links per email in five minutes...
        page.goto(f"{live_server.url}/accounts/first-access/")
        form.locator('input[name="email"]').fill("nobody@example.com")
        form.locator('button[type="submit"]').click()
        expect(page).to_have_url(f"{live_server.url}/accounts/first-access/sent/")
    page.goto(f"{live_server.url}/accounts/first-access/")  # ...and the fourth is refused
    form.locator('input[name="email"]').fill("nobody@example.com")
    form.locator('button[type="submit"]').click()
    expect(page.locator(".error-code")).to_have_text("429")
    expect_language(page, language)
    assert_no_violations(axe_violations(page, f"429 [{language}]"))


# --- Ana's pages: users and contacts, account details, emails, password ---------------------------


def _lucia() -> int:
    return Membership.objects.get(account__name=NUBECLARA, user__email="lucia@example.com").pk


def _gestoria() -> int:
    return Contact.objects.get(account__name=NUBECLARA, email="gestoria@example.com").pk


def _invitation_email() -> int:
    return EmailLog.objects.get(account__name=NUBECLARA, to_email="pablo@example.com").pk


MEMBER_SCREENS: dict[str, Callable[[], str]] = {
    "member-edit": lambda: f"/account/people/{_lucia()}/",
    "member-remove": lambda: f"/account/people/{_lucia()}/remove/",
    "contact-edit": lambda: f"/account/contacts/{_gestoria()}/",
    "contact-delete": lambda: f"/account/contacts/{_gestoria()}/delete/",
    "account-details": lambda: "/account/details/",
    "email-detail": lambda: f"/account/email-log/{_invitation_email()}/",
    "password-change": lambda: "/accounts/password/change/",
    "two-factor-index": lambda: "/accounts/2fa/",
    "reauthenticate": lambda: "/accounts/reauthenticate/?next=/accounts/2fa/totp/activate/",
}


@pytest.mark.parametrize(("screen", "language"), [(s, lang) for s in MEMBER_SCREENS for lang in LANGUAGES])
def test_member_pages_have_no_axe_violations(page: Page, live_server, demo_data, screen: str, language: str) -> None:
    set_user_language(ANA, language)
    login_over_http(page, live_server, ANA)
    response = page.goto(f"{live_server.url}{MEMBER_SCREENS[screen]()}")
    assert response is not None and response.status == 200
    expect_language(page, language)
    assert_no_violations(axe_violations(page, f"{screen} [{language}]"))


# --- Two-factor pages, in the order a user meets them ------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_two_factor_pages_have_no_axe_violations(page: Page, live_server, settings, alice, language: str) -> None:
    """One walk through setting up both factors and logging in with them; axe on each page."""
    settings.MFA_TOTP_TOLERANCE = 1  # see test_identity_mfa.py
    User.objects.filter(pk=alice.user_id).update(language=language)
    set_visitor_language(page.context, live_server, language)  # for the second step of logging in
    add_virtual_authenticator(page)
    found: list[str] = []

    def check(screen: str, url: str) -> None:
        expect(page).to_have_url(re.compile(url))
        expect_language(page, language)
        found.extend(axe_violations(page, f"{screen} [{language}]"))

    login(page, live_server, "alice@example.org", PASSWORD)
    page.goto(f"{live_server.url}/accounts/2fa/totp/activate/")
    check("reauthenticate", r"/accounts/reauthenticate/\?next=")
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[action="/accounts/reauthenticate/"] button[type="submit"]').click()

    check("totp-activate", r"/accounts/2fa/totp/activate/$")
    secret = page.locator("code.secret").inner_text()
    page.locator('input[name="code"]').fill(wrong_totp_code(secret))
    page.locator('form[action="/accounts/2fa/totp/activate/"] button[type="submit"]').click()
    expect(page.locator("#id_code_error")).to_be_visible()
    check("totp-activate-with-error", r"/accounts/2fa/totp/activate/$")
    page.locator('input[name="code"]').fill(totp_code(secret))
    page.locator('form[action="/accounts/2fa/totp/activate/"] button[type="submit"]').click()

    check("recovery-codes", r"/accounts/2fa/recovery-codes/$")
    page.goto(f"{live_server.url}/accounts/2fa/")
    check("two-factor-index-with-totp", r"/accounts/2fa/$")
    page.goto(f"{live_server.url}/accounts/2fa/webauthn/add/")
    check("passkey-add", r"/accounts/2fa/webauthn/add/$")
    page.locator('input[name="name"]').fill("Work laptop")
    page.locator("#mfa_webauthn_add").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/$"))
    page.goto(f"{live_server.url}/accounts/2fa/webauthn/")
    check("passkey-list", r"/accounts/2fa/webauthn/$")
    page.goto(f"{live_server.url}/account/security/")
    check("security-with-factors", r"/account/security/$")

    logout(page, live_server)
    submit_login(page, live_server, "alice@example.org", PASSWORD)
    check("login-second-step", r"/accounts/2fa/authenticate/$")
    page.locator('input[name="code"]').fill(totp_code(secret))
    page.locator('form[action="/accounts/2fa/authenticate/"] button[type="submit"]').click()
    expect(page).to_have_url(f"{live_server.url}/")

    # Reauthenticating when two factors are on offers them as alternatives.
    page.goto(f"{live_server.url}/accounts/2fa/totp/deactivate/")
    check("reauthenticate-with-alternatives", r"/accounts/reauthenticate/\?next=")
    page.goto(f"{live_server.url}/accounts/2fa/reauthenticate/?next=/accounts/2fa/totp/deactivate/")
    check("reauthenticate-with-code", r"/accounts/2fa/reauthenticate/")
    page.goto(f"{live_server.url}/accounts/2fa/webauthn/reauthenticate/?next=/accounts/2fa/totp/deactivate/")
    check("reauthenticate-with-passkey", r"/accounts/2fa/webauthn/reauthenticate/")

    assert_no_violations(found)


def test_axe_sees_a_broken_identity_page(page: Page, live_server) -> None:
    """Guards the tests above against passing vacuously: a field without a label is caught."""
    page.goto(f"{live_server.url}/accounts/first-access/sent/")
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<input type=text>')")
    found = axe_violations(page, "broken")
    assert any(": label (" in line for line in found), found


# --- Beyond axe: what it does not check --------------------------------------------------------


def test_a_refused_new_password_is_announced_with_its_field(page: Page, live_server, alice) -> None:
    login(page, live_server, "alice@example.org", PASSWORD)
    page.goto(f"{live_server.url}/accounts/password/change/")
    field(page, "Current password").fill(PASSWORD)
    fill_new_password(page, "New password", WEAK_PASSWORD)
    field(page, "New password, again").fill(WEAK_PASSWORD)
    page.locator("main form").get_by_role("button", name="Change password").click()
    expect(page.locator("#id_password1_error")).to_be_visible()

    # The page is final now: read what it says, without waiting.
    described_by = (field(page, "New password").get_attribute("aria-describedby") or "").split()
    assert {"id_password1_helptext", "id_password1_error"} <= set(described_by), described_by


def test_the_reset_form_shows_the_password_rules_as_the_fields_help(page: Page, live_server, alice) -> None:
    page.goto(f"{live_server.url}{password_link_path(url_name='account_reset_password_from_key', user=alice.user)}")
    expect(page).to_have_url(re.compile(r"/accounts/password/reset/key/\w+-set-password/$"))
    expect(page.locator("main h1")).to_have_text("Choose a new password")
    # The page is final now: read what it says, without waiting.
    rules = page.locator("#id_password1_helptext li").all_inner_texts()
    assert rules == [
        "Your password can’t be too similar to your other personal information.",
        "Your password must contain at least 10 characters.",
        "Your password can’t be a commonly used password.",
        "Your password can’t be entirely numeric.",
        "Use a long passphrase of several uncommon words; length beats symbols.",
    ]
