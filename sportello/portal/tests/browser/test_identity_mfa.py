"""Two-factor authentication in a real browser: an authenticator app (TOTP) with its
recovery codes, and a passkey made by Chromium's virtual authenticator."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from allauth.mfa.models import Authenticator
from playwright.sync_api import Locator, Page, expect

from sportello.conftest import PASSWORD
from sportello.portal.tests.browser.helpers import login
from sportello.portal.tests.browser.identity_helpers import (
    add_virtual_authenticator,
    expect_dashboard,
    field,
    logout,
    open_account_tab,
    reauthenticate,
    submit_login,
    totp_code,
    user_named,
    wrong_totp_code,
)

ALICE = "alice@example.org"


def open_security_tab(page: Page, live_server) -> None:
    open_account_tab(page, live_server, "Security", "/account/security/")


def factor_panel(page: Page, heading: str) -> Locator:
    """One factor's box on the Security tab, by its heading."""
    return page.locator("section.security-factor", has=page.get_by_role("heading", name=heading))


def test_it_logs_in_with_an_authenticator_app_and_a_recovery_code(page: Page, live_server, settings, alice) -> None:
    # One 30-second step of tolerance either side, as authenticator apps drift: a code
    # computed just before a step ends is still good when the server checks it.
    settings.MFA_TOTP_TOLERANCE = 1
    login(page, live_server, ALICE, PASSWORD)
    open_security_tab(page, live_server)
    totp_panel = factor_panel(page, "Authenticator app")
    expect(totp_panel).to_contain_text("Not set up.")
    totp_panel.get_by_role("link", name="Set up an authenticator app").click()

    reauthenticate(page, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/totp/activate/")
    expect(page.get_by_role("heading", level=2)).to_have_text("Set up an authenticator app")
    secret = page.locator("code.secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    field(page, "Authenticator code").fill(wrong_totp_code(secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#id_code_error")).to_have_text("Incorrect code.")
    assert not Authenticator.objects.filter(user__email=ALICE).exists()

    field(page, "Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on").click()

    # allauth creates the recovery codes with the first factor and shows them at once.
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    codes = page.get_by_label("Unused codes").input_value().split("\n")
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-f]{8}", code) for code in codes), codes
    expect(page.locator("main")).to_contain_text("10 codes of 10 left.")
    open_security_tab(page, live_server)
    expect(totp_panel).to_contain_text("Active Codes from your authenticator app are accepted at login.")

    # Password, then the code from the app.
    logout(page, live_server)
    submit_login(page, live_server, ALICE, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/authenticate/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor authentication")
    field(page, "Code").fill(totp_code(secret))
    page.get_by_role("button", name="Log in").click()
    expect_dashboard(page, live_server, "Alice")

    # Password, then a recovery code instead.
    logout(page, live_server)
    submit_login(page, live_server, ALICE, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/authenticate/")
    field(page, "Code").fill(codes[3])
    page.get_by_role("button", name="Log in").click()
    expect_dashboard(page, live_server, "Alice")
    open_security_tab(page, live_server)
    expect(factor_panel(page, "Recovery codes")).to_contain_text("9 unused codes left.")

    # A recovery code works once.
    logout(page, live_server)
    submit_login(page, live_server, ALICE, PASSWORD)
    field(page, "Code").fill(codes[3])
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#id_code_error")).to_have_text("Incorrect code.")
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/authenticate/")
    # Still half logged in: the dashboard sends back to the second step.
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/authenticate/")


def test_it_logs_in_with_a_passkey(page: Page, live_server, alice) -> None:
    add_virtual_authenticator(page)
    login(page, live_server, ALICE, PASSWORD)
    open_security_tab(page, live_server)
    passkeys = factor_panel(page, "Passkeys and security keys")
    passkeys.get_by_role("link", name="Add a passkey").click()

    reauthenticate(page, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/webauthn/add/")
    field(page, "Name").fill("Work laptop")
    page.get_by_label("Also use it to log in without a password").check()
    page.get_by_role("button", name="Add a passkey").click()

    # The virtual authenticator answers the browser's prompt; the first factor also
    # brings the recovery codes.
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    passkey = Authenticator.objects.get(user=user_named(ALICE), type=Authenticator.Type.WEBAUTHN)
    assert passkey.wrap().name == "Work laptop"
    assert passkey.wrap().is_passwordless is True
    open_security_tab(page, live_server)
    expect(passkeys.locator("li strong")).to_have_text(["Work laptop"])
    passkeys.get_by_role("link", name="Manage passkeys").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/webauthn/")
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").nth(0)).to_have_text("Work laptop")
    expect(rows.locator("td").nth(1)).to_have_text("Passkey")
    expect(rows.locator("td").nth(3)).to_have_text("Never")

    logout(page, live_server)
    page.get_by_role("button", name="Log in with a passkey").click()
    expect_dashboard(page, live_server, "Alice")
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None
