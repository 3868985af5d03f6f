"""Helpers of the identity and access browser tests: emails from the real SMTP server,
logging in and out through the forms, TOTP codes, Chromium's virtual authenticator."""

from __future__ import annotations

import re
import threading
import time
from typing import TYPE_CHECKING, Any

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from playwright.sync_api import expect

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import account_create, membership_add, user_create

if TYPE_CHECKING:
    from email.message import EmailMessage

    from playwright.sync_api import CDPSession, Locator, Page
    from pytest_django.live_server_helper import LiveServer

# A passphrase zxcvbn scores 4 ("Very strong") for every user of these tests.
STRONG_PASSWORD = "quiet otter juggles seven lanterns"
# Passes every Django validator except the zxcvbn one: score 1, "Weak".
WEAK_PASSWORD = "bluebird1234"
WRONG_PASSWORD = "not-the-password-at-all"

# The strength meter under a new-password field (portal/_password_meter.html).
METER_LABEL = "#password-meter .meter-label"

# What the meter says about the passwords above.
METER_TEXT = {
    STRONG_PASSWORD: "Password strength: Very strong",
    WEAK_PASSWORD: "Password strength: Weak — not accepted yet",
}

EMAIL_TIMEOUT = 10.0  # seconds; delivery happens inside the request, so it is instant in practice


def field(page: Page | Locator, label: str) -> Locator:
    """The form field labelled exactly `label` (a required field's label ends with "*")."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def fill_new_password(page: Page, label: str, password: str) -> None:
    """Type a new password and wait for the meter's verdict on it.

    Waiting matters beyond the meter: htmx posts the field 250 ms after the last
    keystroke, and a form sent before that answer would race it on the server.
    """
    field(page, label).fill(password)
    expect(page.locator(METER_LABEL)).to_have_text(METER_TEXT[password])


def wait_for_email(
    inbox: Any, *, to: str, number: int = 1, subject: str = "", timeout: float = EMAIL_TIMEOUT
) -> EmailMessage:
    """The `number`-th message the SMTP server received for `to` (whose subject starts with
    `subject`, when given), waiting for it if needed.

    The live server sends after its transaction commits, in its own thread: poll the
    inbox (a bounded wait for an outcome, not a sleep) instead of assuming it is there.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        received = [
            message
            for message in list(inbox.messages)
            if to in str(message["To"]) and str(message["Subject"]).startswith(subject)
        ]
        if len(received) >= number:
            return received[number - 1]
        if time.monotonic() > deadline:
            subjects = [f"{m['To']}: {m['Subject']}" for m in inbox.messages]
            raise AssertionError(f"no email #{number} to {to} within {timeout}s; received: {subjects}")
        pause.wait(0.05)


def plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the email has no plain-text part"
    return str(part.get_content()).replace("\r\n", "\n")


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "the email has no HTML part"
    return str(part.get_content())


def link_in(message: EmailMessage, live_server: LiveServer) -> str:
    """The one link of the email's plain text that points at the live server."""
    links = re.findall(rf"{re.escape(live_server.url)}/\S+", plain_text(message))
    assert len(links) == 1, f"expected one link to {live_server.url}, found {links}"
    return links[0]


def person_awaiting_first_access(email: str, full_name: str, account_name: str) -> Membership:
    """Someone the provider created without a password, as staff do (language English)."""
    account = account_create(name=account_name, country="ES", currency="EUR", language="en", time_zone="Europe/Madrid")
    user = user_create(email=email, full_name=full_name, language="en")
    return membership_add(account=account, user=user, role=Role.READ_ONLY)


def submit_login(page: Page, live_server: LiveServer, email: str, password: str) -> None:
    """Fill and send the login form, and wait for the page that answers it (which may look
    just like the one before, when a failed attempt follows another)."""
    if not page.url.startswith(f"{live_server.url}/accounts/login/"):
        page.goto(f"{live_server.url}/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(password)
    with page.expect_navigation():
        page.locator('form[action="/accounts/login/"] button[type="submit"]').click()


def expect_dashboard(page: Page, live_server: LiveServer, first_name: str) -> None:
    """The dashboard of a logged-in member, in English."""
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {first_name}")


def open_account_tab(page: Page, live_server: LiveServer, tab: str, path: str) -> None:
    """Account in the main navigation, then one of its tabs, as a person would."""
    page.locator('nav:not(main nav) a[href="/account/"]').click()
    expect(page).to_have_url(f"{live_server.url}/account/")
    page.get_by_role("navigation", name="Account sections").get_by_role("link", name=tab, exact=True).click()
    expect(page).to_have_url(f"{live_server.url}{path}")


def logout(page: Page, live_server: LiveServer) -> None:
    """Log out from the user menu, and wait for the login page."""
    menu = page.locator("details.user-menu")
    menu.locator("summary").click()
    menu.locator('form[action="/accounts/logout/"] button').click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/accounts/login/"))


def reauthenticate(page: Page, password: str) -> None:
    """allauth asks for the password again before a two-factor change: give it."""
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    expect(page.get_by_role("heading", level=2)).to_have_text("Confirm it is you")
    page.locator('input[name="password"]').fill(password)
    page.locator('form[action="/accounts/reauthenticate/"] button[type="submit"]').click()


def totp_code(secret: str) -> str:
    """The code an authenticator app shows now for `secret` (RFC 6238, 30-second steps)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def wrong_totp_code(secret: str) -> str:
    """A code no step near now accepts (with a tolerance of one step either side)."""
    step = int(time.time()) // 30
    near = {format_hotp_value(hotp_value(secret, step + offset)) for offset in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in near)


def add_virtual_authenticator(page: Page) -> CDPSession:
    """A platform passkey authenticator in Chromium (DevTools WebAuthn domain) that
    verifies the user and approves every prompt by itself."""
    client = page.context.new_cdp_session(page)
    client.send("WebAuthn.enable")
    client.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return client


def user_named(email: str) -> User:
    return User.objects.get(email=email)
