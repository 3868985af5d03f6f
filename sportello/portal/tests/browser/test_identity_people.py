"""Inviting a colleague in a real browser: the invitation travels over real SMTP, and the
new member sees only the areas of the role they were given.

(Switching between accounts is test_access.py::test_account_switcher_changes_account_and_menu.)
"""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.accounts.models import Membership, Role
from sportello.accounts.services import invitation_create
from sportello.core.time import utc_now
from sportello.portal.tests.browser.helpers import ANA, NUBECLARA, login, login_over_http, nav_link, set_user_language
from sportello.portal.tests.browser.identity_helpers import (
    STRONG_PASSWORD,
    expect_dashboard,
    field,
    fill_new_password,
    link_in,
    open_account_tab,
    wait_for_email,
)

NEWCOMER = "marta@example.com"


def test_it_invites_a_colleague_who_then_sees_only_their_areas(
    page: Page, new_context, live_server, demo_data, smtp_inbox, settings
) -> None:
    settings.SITE_URL = live_server.url
    set_user_language(ANA, "en")
    login(page, live_server, ANA)
    open_account_tab(page, live_server, "Users and contacts", "/account/people/")

    invite = page.locator("section", has=page.get_by_role("heading", name="Invite a colleague"))
    field(invite, "Email address").fill(NEWCOMER)
    field(invite, "Role").select_option(label="Finance")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_have_text(f"Invitation sent to {NEWCOMER}. It is valid for 7 days.")
    pending = page.locator("section", has=page.get_by_role("heading", name="Pending invitations")).locator("tbody tr")
    expect(pending.filter(has_text=NEWCOMER).locator("td").nth(1)).to_have_text("Finance")

    # Nobody has this email yet: the invitation is in the account's language (Spanish).
    message = wait_for_email(smtp_inbox, to=NEWCOMER)
    assert message["Subject"] == f"Ana García López le invita al área de clientes de {NUBECLARA}"
    link = link_in(message, live_server)

    # The newcomer, in a browser of their own.
    newcomer = new_context().new_page()
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", level=1)).to_have_text(f"Join {NUBECLARA}")
    expect(newcomer.locator(".lead")).to_have_text(
        f"Ana García López invites {NEWCOMER} to the customer area, with the role Finance."
    )
    field(newcomer, "Your name").fill("Marta Ruiz")
    fill_new_password(newcomer, "New password", STRONG_PASSWORD)
    field(newcomer, "New password (again)").fill(STRONG_PASSWORD)
    newcomer.get_by_role("button", name="Accept and create my login").click()
    expect(newcomer.get_by_role("status")).to_have_text(f"You now have access to {NUBECLARA}.")

    # The password chosen on the invitation page is the newcomer's login. (Accepting
    # should also log them in: test_accepting_an_invitation_logs_the_newcomer_in.)
    login_over_http(newcomer, live_server, NEWCOMER, STRONG_PASSWORD)
    newcomer.goto(f"{live_server.url}/")
    expect_dashboard(newcomer, live_server, "Marta")
    expect(newcomer.locator(".page-subtitle")).to_contain_text("Your role: Finance")
    for href in ("/", "/billing/", "/support/", "/account/"):
        expect(nav_link(newcomer, href)).to_have_count(1)
    for href in ("/services/", "/domains/"):
        expect(nav_link(newcomer, href)).to_have_count(0)
    response = newcomer.goto(f"{live_server.url}/services/")
    assert response is not None and response.status == 404
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("Page not found")

    membership = Membership.objects.get(user__email=NEWCOMER)
    assert (membership.account.name, membership.role) == (NUBECLARA, Role.FINANCE)
    # The owner's list now has the newcomer as a member, and no pending invitation.
    page.reload()
    expect(pending.filter(has_text=NEWCOMER)).to_have_count(0)
    members = page.locator("section", has=page.get_by_role("heading", name="People with a login")).locator("tbody tr")
    expect(members.filter(has_text=NEWCOMER).locator("td").nth(2)).to_have_text("Finance")


def test_accepting_an_invitation_logs_the_newcomer_in(page: Page, live_server, alice) -> None:
    secret = invitation_create(acting=alice, email=NEWCOMER, role=Role.FINANCE, now=utc_now())[1]
    page.goto(f"{live_server.url}/accounts/invitation/{secret}/")
    field(page, "Your name").fill("Marta Ruiz")
    fill_new_password(page, "New password", STRONG_PASSWORD)
    field(page, "New password (again)").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Accept and create my login").click()

    # The message is shown on whatever page the newcomer lands: once it is there, the
    # navigation is over and the address is final.
    expect(page.get_by_role("status")).to_have_text(f"You now have access to {alice.account.name}.")
    assert page.url == f"{live_server.url}/", "accepting should log in and open the dashboard"
    expect_dashboard(page, live_server, "Marta")
