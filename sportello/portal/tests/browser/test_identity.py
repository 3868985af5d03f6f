"""Identity in a real browser: first access, logging in (and being throttled), resetting
and changing the password with the live strength meter. Emails travel over real SMTP."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.conftest import PASSWORD
from sportello.notifications.models import EmailLog
from sportello.portal.tests.browser.helpers import DIEGO, login
from sportello.portal.tests.browser.identity_helpers import (
    METER_LABEL,
    STRONG_PASSWORD,
    WEAK_PASSWORD,
    WRONG_PASSWORD,
    expect_dashboard,
    field,
    fill_new_password,
    html_part,
    link_in,
    logout,
    open_account_tab,
    person_awaiting_first_access,
    plain_text,
    submit_login,
    user_named,
    wait_for_email,
)

LUCIA = "lucia@example.com"  # demo finance member of Nubeclara
WRONG_CREDENTIALS = "The email address and/or password you specified are not correct."
TOO_MANY_ATTEMPTS = "Too many failed login attempts. Try again later."


def test_it_gives_first_access_through_an_emailed_link(page: Page, live_server, smtp_inbox, settings) -> None:
    settings.SITE_URL = live_server.url  # links in emails point at this server
    person_awaiting_first_access("nora@example.com", "Nora Vidal", "Vidal Estudio S.L.")

    page.goto(f"{live_server.url}/accounts/login/")
    page.locator(".auth-links").get_by_role("link", name="First access? Set your password").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/first-access/")
    field(page, "Email address").fill("Nora@Example.com")
    page.get_by_role("button", name="Send me the link").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/first-access/sent/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    message = wait_for_email(smtp_inbox, to="nora@example.com")
    subject = "Choose your password for the Sportello Demo Hosting customer area"
    assert message["Subject"] == subject
    link = link_in(message, live_server)
    assert re.fullmatch(rf"{re.escape(live_server.url)}/accounts/first-access/[0-9a-z]+-[0-9a-z]+-[0-9a-z]+/", link)

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your password")
    expect(page.locator(".lead")).to_contain_text("For nora@example.com.")
    field(page, "New password").fill("nora")
    expect(page.locator(METER_LABEL)).to_have_text("Password strength: Very weak — not accepted yet")
    field(page, "New password").fill(STRONG_PASSWORD)
    expect(page.locator(METER_LABEL)).to_have_text("Password strength: Very strong")
    field(page, "New password (again)").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Save my password").click()

    expect_dashboard(page, live_server, "Nora")
    expect(page.get_by_role("status")).to_have_text("Welcome! Your password is set and your email is confirmed.")
    assert user_named("nora@example.com").check_password(STRONG_PASSWORD)

    # The email log shows the same email, as it went over SMTP.
    page.goto(f"{live_server.url}/account/email-log/")
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").nth(1)).to_have_text("nora@example.com")
    expect(rows.locator("td").nth(3)).to_have_text("Sent")
    # (read before the click: the test and the live server share one SQLite connection)
    logged = EmailLog.objects.get(to_email="nora@example.com")
    rows.get_by_role("link", name=subject).click()
    expect(page).to_have_url(f"{live_server.url}/account/email-log/{logged.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    page.get_by_text("Plain-text version").click()
    plain = page.locator("details .pre-wrap")
    expect(plain).to_be_visible()
    assert plain.text_content() == plain_text(message)

    # The HTML version, in its sandboxed frame: the paragraphs and the button of the
    # HTML part received over SMTP, drawn by the same browser.
    received = page.context.new_page()
    received.set_content(html_part(message))
    received_paragraphs = received.locator("p").all_inner_texts()
    received.close()
    assert received_paragraphs[0] == "Hello Nora,"
    frame = page.frame_locator('iframe[title="Email as it was sent"]')
    expect(frame.locator("p")).to_have_text(received_paragraphs)
    expect(frame.get_by_role("link", name="Choose my password")).to_have_attribute("href", link)

    # The link worked once: it is dead now.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link no longer works")


def test_it_throttles_failed_logins_and_answers_unknown_emails_like_wrong_passwords(
    page: Page, live_server, demo_data
) -> None:
    submit_login(page, live_server, "nobody@example.com", WRONG_PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(WRONG_CREDENTIALS)
    unknown_email_page = page.locator("main").inner_text()

    submit_login(page, live_server, LUCIA, WRONG_PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(WRONG_CREDENTIALS)
    assert page.locator("main").inner_text() == unknown_email_page
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")

    for _attempt in range(4):  # five wrong passwords in all for lucia
        submit_login(page, live_server, LUCIA, WRONG_PASSWORD)
        expect(page.get_by_role("alert")).to_have_text(WRONG_CREDENTIALS)

    # Even the right password is refused now, and nothing says whether it was right.
    submit_login(page, live_server, LUCIA, "sportello-demo")
    expect(page.get_by_role("alert")).to_have_text(TOO_MANY_ATTEMPTS)
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))

    # The limit is per email: a colleague on the same network still logs in.
    login(page, live_server, DIEGO)


def test_it_resets_a_forgotten_password(page: Page, live_server, smtp_inbox, settings, alice) -> None:
    settings.SITE_URL = live_server.url
    page.goto(f"{live_server.url}/accounts/login/")
    # (the password field's help repeats the link: take the one under the form)
    page.locator(".auth-links").get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/password/reset/")
    field(page, "Email").fill("alice@example.org")
    page.get_by_role("button", name="Send me the link").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/password/reset/done/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")

    message = wait_for_email(smtp_inbox, to="alice@example.org")
    link = link_in(message, live_server)
    assert link.startswith(f"{live_server.url}/accounts/password/reset/key/")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    new_password = field(page, "New Password")  # allauth's label
    new_password.fill("password")
    expect(page.locator(METER_LABEL)).to_have_text("Password strength: Very weak — not accepted yet")
    new_password.fill(STRONG_PASSWORD)
    expect(page.locator(METER_LABEL)).to_have_text("Password strength: Very strong")
    field(page, "New Password (again)").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Save my new password").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/password/reset/key/done/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Password changed")
    page.get_by_role("link", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    submit_login(page, live_server, "alice@example.org", PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(WRONG_CREDENTIALS)
    submit_login(page, live_server, "alice@example.org", STRONG_PASSWORD)
    expect_dashboard(page, live_server, "Alice")

    # The link worked once.
    logout(page, live_server)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link no longer works")


def test_it_changes_the_password_with_the_live_meter(page: Page, live_server, alice) -> None:
    login(page, live_server, "alice@example.org", PASSWORD)
    open_account_tab(page, live_server, "Security", "/account/security/")
    page.get_by_role("link", name="Change password").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/password/change/")

    new_password = field(page, "New password")
    new_password.fill("password")
    expect(page.locator(METER_LABEL)).to_have_text("Password strength: Very weak — not accepted yet")
    new_password.fill(WEAK_PASSWORD)
    expect(page.locator(METER_LABEL)).to_have_text("Password strength: Weak — not accepted yet")
    new_password.fill(STRONG_PASSWORD)
    expect(page.locator(METER_LABEL)).to_have_text("Password strength: Very strong")

    # What the meter calls weak, the server refuses, next to the field.
    field(page, "Current password").fill(PASSWORD)
    fill_new_password(page, "New password", WEAK_PASSWORD)
    field(page, "New password, again").fill(WEAK_PASSWORD)
    page.locator("main form").get_by_role("button", name="Change password").click()
    expect(page.locator("#id_password1_error")).to_have_text(
        "This password is too easy to guess. This is similar to a commonly used password. "
        "Add another word or two. Uncommon words are better."
    )
    expect(field(page, "New password")).to_have_attribute("aria-invalid", "true")
    assert user_named("alice@example.org").check_password(PASSWORD)

    field(page, "Current password").fill(PASSWORD)
    fill_new_password(page, "New password", STRONG_PASSWORD)
    field(page, "New password, again").fill(STRONG_PASSWORD)
    page.locator("main form").get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_have_text("Password successfully changed.")

    logout(page, live_server)
    submit_login(page, live_server, "alice@example.org", STRONG_PASSWORD)
    expect_dashboard(page, live_server, "Alice")
