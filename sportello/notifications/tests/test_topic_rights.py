"""Emails follow the recipient's areas: a member receives a topic only while their role
opens the pages its emails lead to, whatever preference they kept from a wider role."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from sportello.accounts.models import Contact, EmailTopic, Membership, Role, User
from sportello.accounts.services import contact_create, membership_add
from sportello.billing.credit_notes import invoice_cancel
from sportello.billing.models import Invoice
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.billing.tests import conftest as billing_fixtures
from sportello.conftest import PASSWORD
from sportello.notifications.models import EmailKind, EmailLog
from sportello.notifications.services import contacts_receiving
from sportello.notifications.topics import topics_allowed
from sportello.payments.refunds import notice_contacts

seller = billing_fixtures.seller
tax_rates = billing_fixtures.tax_rates
billing_setup = billing_fixtures.billing_setup

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 3, 2)
ROLES = {
    Role.FINANCE: "finance@example.org",
    Role.TECHNICAL: "tech@example.org",
    Role.READ_ONLY: "reader@example.org",
}


@pytest.fixture
def team(alice: Membership) -> dict[str, Membership]:
    """alice (owner) with a finance, a technical and a read-only member, all of whom kept
    every topic ticked (as a preference left from a wider role would), and one contact
    without a login who chose only invoices."""
    members = {Role.OWNER: alice}
    for role, email in ROLES.items():
        user = User.objects.create_user(email, PASSWORD, full_name=email.split("@")[0].title())
        members[role] = membership_add(account=alice.account, user=user, role=role)
    Contact.objects.filter(account=alice.account).update(topics=list(EmailTopic.values))
    contact_create(
        account=alice.account,
        name="Accounts",
        email="accounts@example.org",
        topics=[EmailTopic.INVOICES, EmailTopic.SERVICES],
        acting=None,
        by=None,
    )
    return members


def test_each_role_may_choose_exactly_the_topics_of_its_areas(team: dict[str, Membership]) -> None:
    everything = ["invoices", "receipts", "services", "domains", "support", "marketing"]
    assert topics_allowed(team[Role.OWNER]) == everything
    assert topics_allowed(team[Role.FINANCE]) == ["invoices", "receipts", "support", "marketing"]
    assert topics_allowed(team[Role.TECHNICAL]) == ["services", "domains", "support", "marketing"]
    assert topics_allowed(team[Role.READ_ONLY]) == everything


def test_a_new_member_starts_with_only_the_default_topics_of_their_areas(team: dict[str, Membership]) -> None:
    user = User.objects.create_user("newtech@example.org", PASSWORD)
    membership_add(account=team[Role.OWNER].account, user=user, role=Role.TECHNICAL)
    assert Contact.objects.get(user=user).topics == ["services", "domains", "support"]


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (
            EmailTopic.INVOICES,
            ["accounts@example.org", "alice@example.org", "finance@example.org", "reader@example.org"],
        ),
        (EmailTopic.RECEIPTS, ["alice@example.org", "finance@example.org", "reader@example.org"]),
        (
            EmailTopic.SERVICES,
            ["accounts@example.org", "alice@example.org", "reader@example.org", "tech@example.org"],
        ),
        (EmailTopic.DOMAINS, ["alice@example.org", "reader@example.org", "tech@example.org"]),
        (
            EmailTopic.SUPPORT,
            ["alice@example.org", "finance@example.org", "reader@example.org", "tech@example.org"],
        ),
    ],
)
def test_the_routing_skips_members_whose_areas_do_not_open_the_topic(
    team: dict[str, Membership], topic: str, expected: list[str]
) -> None:
    account = team[Role.OWNER].account
    assert sorted(c.email for c in contacts_receiving(account=account, topic=topic)) == expected


def test_payment_notices_reach_only_members_with_the_billing_area(team: dict[str, Membership]) -> None:
    account = team[Role.OWNER].account
    assert sorted(c.email for c in notice_contacts(account)) == [
        "alice@example.org",
        "finance@example.org",
        "reader@example.org",
    ]


def test_a_role_reduced_later_stops_the_emails_its_old_preferences_asked_for(team: dict[str, Membership]) -> None:
    finance = team[Role.FINANCE]
    Membership.objects.filter(pk=finance.pk).update(role=Role.CUSTOM, custom_areas=["support"])
    account = finance.account
    assert "finance@example.org" not in [c.email for c in contacts_receiving(account=account, topic="invoices")]
    assert "finance@example.org" in [c.email for c in contacts_receiving(account=account, topic="support")]


@pytest.mark.usefixtures("billing_setup")
def test_invoice_and_credit_note_emails_go_only_to_members_who_can_open_them(
    team: dict[str, Membership], client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    account = team[Role.OWNER].account
    draft = invoice_create(
        account=account,
        lines=[NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("200.00"))],
        as_of=DAY,
    )
    with django_capture_on_commit_callbacks(execute=True):
        invoice_issue(invoice=draft, as_of=DAY)
    invoice = Invoice.objects.get(pk=draft.pk)
    with django_capture_on_commit_callbacks(execute=True):
        note = invoice_cancel(invoice=invoice, reason="Ordered by mistake", as_of=DAY).credit_note
    assert note is not None
    note.refresh_from_db()

    expected = ["accounts@example.org", "alice@example.org", "finance@example.org", "reader@example.org"]
    for number in (invoice.display_number, note.display_number):
        emails = EmailLog.objects.filter(kind=EmailKind.INVOICE, subject__contains=number).order_by("to_email")
        assert [e.to_email for e in emails] == expected
        assert all(e.attachment_names == [f"{number}.pdf"] for e in emails)
    assert not EmailLog.objects.filter(to_email="tech@example.org").exists()

    # The link in the finance member's email opens for them.
    for number in (invoice.display_number, note.display_number):
        email = EmailLog.objects.get(kind=EmailKind.INVOICE, subject__contains=number, to_email="finance@example.org")
        (link,) = [
            line.strip()
            for line in email.body_text.splitlines()
            if line.strip().startswith(settings.SITE_URL) and number in line
        ]
        client.force_login(team[Role.FINANCE].user)
        assert client.get(link.removeprefix(settings.SITE_URL)).status_code == 200
        client.force_login(team[Role.TECHNICAL].user)
        assert client.get(link.removeprefix(settings.SITE_URL)).status_code == 404
