"""Who may grant, change and remove what: the membership, invitation and contact rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail

from sportello.accounts.errors import (
    BillingContactRequired,
    InvalidAccountData,
    InvitationInvalid,
    LastOwner,
    NotAllowed,
)
from sportello.accounts.models import Account, Contact, Invitation, Membership, Role, User
from sportello.accounts.services import (
    account_update,
    contact_create,
    contact_delete,
    contact_set_billing_default,
    invitation_accept,
    invitation_create,
    invitation_find,
    membership_add,
    membership_change,
    membership_remove,
)
from sportello.notifications.models import EmailLog

NOW = dt.datetime(2025, 3, 10, 9, 30, tzinfo=dt.UTC)

# The acting members of the table: a role, and for the custom role its areas.
ACTING = {
    "owner": (Role.OWNER, []),
    "finance_with_contacts": (Role.CUSTOM, ["billing", "contacts", "orders", "support"]),
    "technical_with_contacts": (Role.CUSTOM, ["contacts", "domains", "orders", "services", "support"]),
    "everything_but_owner": (Role.CUSTOM, ["billing", "contacts", "domains", "orders", "services", "support"]),
    "finance": (Role.FINANCE, []),
    "read_only": (Role.READ_ONLY, []),
}

# What the acting member grants: a role, and for the custom role its areas.
GRANTED = {
    "owner": (Role.OWNER, []),
    "finance": (Role.FINANCE, []),
    "technical": (Role.TECHNICAL, []),
    "read_only": (Role.READ_ONLY, []),
    "custom_billing": (Role.CUSTOM, ["billing"]),
    "custom_services": (Role.CUSTOM, ["services"]),
    "custom_contacts": (Role.CUSTOM, ["contacts"]),
}

OK = None
CANNOT = "cannot_grant_more_than_own"
NO_RIGHT = "contacts_right_required"
OWNER_ONLY = "only_owner_grants_owner"

# acting -> granted -> None (allowed) or the NotAllowed reason.
GRANTING_RULES: dict[str, dict[str, str | None]] = {
    "owner": dict.fromkeys(GRANTED, OK),
    "finance_with_contacts": {
        "owner": OWNER_ONLY,
        "finance": OK,
        "technical": CANNOT,
        "read_only": CANNOT,
        "custom_billing": OK,
        "custom_services": CANNOT,
        "custom_contacts": OK,
    },
    "technical_with_contacts": {
        "owner": OWNER_ONLY,
        "finance": CANNOT,
        "technical": OK,
        "read_only": CANNOT,
        "custom_billing": CANNOT,
        "custom_services": OK,
        "custom_contacts": OK,
    },
    "everything_but_owner": {**dict.fromkeys(GRANTED, OK), "owner": OWNER_ONLY},
    "finance": dict.fromkeys(GRANTED, NO_RIGHT),
    "read_only": dict.fromkeys(GRANTED, NO_RIGHT),
}

GRANTING_CASES = [(acting, granted, GRANTING_RULES[acting][granted]) for acting in ACTING for granted in GRANTED]


def member(account: Account, email: str, role: str, areas: list[str] | None = None) -> Membership:
    user = User.objects.create_user(email, "x" * 12, full_name=email.split("@")[0].title())
    return membership_add(account=account, user=user, role=role, custom_areas=areas or [])


def memberships_of(account: Account) -> list[tuple[Any, ...]]:
    return list(
        Membership.objects.filter(account=account).order_by("pk").values_list("pk", "user_id", "role", "custom_areas")
    )


def contacts_of(account: Account) -> list[tuple[Any, ...]]:
    return list(
        Contact.objects.filter(account=account)
        .order_by("pk")
        .values_list("pk", "user_id", "name", "email", "phone", "topics", "is_billing_default")
    )


def test_the_table_covers_every_acting_and_granted_role():
    assert len(GRANTING_CASES) == 42
    assert {reason for _a, _g, reason in GRANTING_CASES} == {OK, CANNOT, NO_RIGHT, OWNER_ONLY}


@pytest.mark.django_db
@pytest.mark.parametrize(("acting_key", "granted_key", "reason"), GRANTING_CASES)
def test_an_invitation_grants_at_most_the_inviters_rights(alice, acting_key, granted_key, reason):
    acting_role, acting_areas = ACTING[acting_key]
    acting = alice if acting_key == "owner" else member(alice.account, "acting@example.org", acting_role, acting_areas)
    role, areas = GRANTED[granted_key]
    if reason is None:
        invitation, _secret = invitation_create(
            acting=acting, email="new@example.org", role=role, custom_areas=areas, now=NOW
        )
        assert (invitation.role, invitation.custom_areas, invitation.invited_by) == (role, areas, acting.user)
        assert invitation.expires_at == dt.datetime(2025, 3, 17, 9, 30, tzinfo=dt.UTC)
        assert Invitation.objects.count() == 1
        assert EmailLog.objects.filter(to_email="new@example.org").count() == 1
    else:
        with pytest.raises(NotAllowed) as refused:
            invitation_create(acting=acting, email="new@example.org", role=role, custom_areas=areas, now=NOW)
        assert refused.value.reason == reason
        assert Invitation.objects.count() == 0
        assert EmailLog.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("acting_key", "granted_key", "reason"), GRANTING_CASES)
def test_a_role_change_grants_at_most_the_changers_rights(alice, acting_key, granted_key, reason):
    acting_role, acting_areas = ACTING[acting_key]
    acting = alice if acting_key == "owner" else member(alice.account, "acting@example.org", acting_role, acting_areas)
    target = member(alice.account, "target@example.org", Role.CUSTOM, ["support"])
    role, areas = GRANTED[granted_key]
    if reason is None:
        changed = membership_change(membership=target, role=role, custom_areas=areas, acting=acting, by=acting.user)
        target.refresh_from_db()
        assert (changed.role, target.role, target.custom_areas) == (role, role, areas)
    else:
        before = memberships_of(alice.account)
        with pytest.raises(NotAllowed) as refused:
            membership_change(membership=target, role=role, custom_areas=areas, acting=acting, by=acting.user)
        assert refused.value.reason == reason
        assert memberships_of(alice.account) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("acting_key", "target_role", "reason"),
    [
        ("owner", Role.OWNER, OK),
        ("owner", Role.FINANCE, OK),
        ("everything_but_owner", Role.OWNER, "only_owner_changes_owner"),
        ("everything_but_owner", Role.FINANCE, OK),
        ("finance_with_contacts", Role.OWNER, "only_owner_changes_owner"),
        ("finance", Role.FINANCE, NO_RIGHT),
        ("read_only", Role.FINANCE, NO_RIGHT),
    ],
)
def test_only_an_owner_changes_or_removes_an_owner(alice, acting_key, target_role, reason):
    acting_role, acting_areas = ACTING[acting_key]
    acting = alice if acting_key == "owner" else member(alice.account, "acting@example.org", acting_role, acting_areas)
    target = member(alice.account, "target@example.org", target_role)
    if reason is None:
        membership_change(membership=target, role=Role.CUSTOM, custom_areas=["billing"], acting=acting, by=acting.user)
        membership_remove(membership=target, acting=acting, by=acting.user)
        assert not Membership.objects.filter(pk=target.pk).exists()
        assert not Contact.objects.filter(user=target.user).exists()
    else:
        before = (memberships_of(alice.account), contacts_of(alice.account))
        with pytest.raises(NotAllowed) as changing:
            membership_change(
                membership=target, role=Role.CUSTOM, custom_areas=["billing"], acting=acting, by=acting.user
            )
        with pytest.raises(NotAllowed) as removing:
            membership_remove(membership=target, acting=acting, by=acting.user)
        assert (changing.value.reason, removing.value.reason) == (reason, reason)
        assert (memberships_of(alice.account), contacts_of(alice.account)) == before


@pytest.mark.django_db
def test_nobody_changes_their_own_membership(alice):
    finance = member(alice.account, "fiona@example.org", *ACTING["finance_with_contacts"])
    before = memberships_of(alice.account)
    for acting in (alice, finance):
        with pytest.raises(NotAllowed) as refused:
            membership_change(membership=acting, role=Role.OWNER, acting=acting, by=acting.user)
        assert refused.value.reason == "cannot_change_self"
    assert memberships_of(alice.account) == before


@pytest.mark.django_db
def test_the_last_owner_stays(alice):
    before = (memberships_of(alice.account), contacts_of(alice.account))
    with pytest.raises(LastOwner):
        membership_change(membership=alice, role=Role.FINANCE, acting=None, by=alice.user)
    with pytest.raises(LastOwner):
        membership_remove(membership=alice, acting=alice, by=alice.user)
    assert (memberships_of(alice.account), contacts_of(alice.account)) == before


@pytest.mark.django_db
def test_the_default_billing_contact_is_moved_before_its_member_goes(alice):
    olga = member(alice.account, "olga@example.org", Role.OWNER)
    olga_contact = Contact.objects.get(user=olga.user)
    contact_set_billing_default(contact=olga_contact, acting=alice, by=alice.user)
    before = (memberships_of(alice.account), contacts_of(alice.account))
    with pytest.raises(BillingContactRequired):
        membership_remove(membership=olga, acting=alice, by=alice.user)
    with pytest.raises(NotAllowed) as refused:
        contact_delete(contact=olga_contact, acting=alice, by=alice.user)
    assert refused.value.reason == "remove_the_member_instead"
    assert (memberships_of(alice.account), contacts_of(alice.account)) == before
    accountant = contact_create(
        account=alice.account, name="Ana", email="ana@example.org", topics=["invoices"], acting=alice, by=alice.user
    )
    contact_set_billing_default(contact=accountant, acting=alice, by=alice.user)
    membership_remove(membership=olga, acting=alice, by=alice.user)
    assert list(Contact.objects.filter(account=alice.account).values_list("email", "is_billing_default")) == [
        ("ana@example.org", True),
        ("alice@example.org", False),
    ]


@pytest.mark.django_db
def test_a_member_of_another_account_adds_nobody_here(alice, bob):
    carla = User.objects.create_user("carla@example.org", "x" * 12)
    with pytest.raises(NotAllowed) as refused:
        membership_add(account=alice.account, user=carla, role=Role.FINANCE, acting=bob, by=bob.user)
    assert refused.value.reason == "other_account"
    assert memberships_of(alice.account) == [(alice.pk, alice.user_id, Role.OWNER, [])]


@pytest.mark.django_db
def test_members_of_another_account_change_remove_and_revoke_nothing(alice, bob):
    carla = member(alice.account, "carla@example.org", Role.FINANCE)
    before = (memberships_of(alice.account), contacts_of(alice.account))
    with pytest.raises(NotAllowed):
        membership_change(membership=carla, role=Role.READ_ONLY, acting=bob, by=bob.user)
    with pytest.raises(NotAllowed):
        membership_remove(membership=carla, acting=bob, by=bob.user)
    with pytest.raises(NotAllowed):
        contact_set_billing_default(contact=Contact.objects.get(user=carla.user), acting=bob, by=bob.user)
    assert (memberships_of(alice.account), contacts_of(alice.account)) == before


@pytest.mark.django_db
def test_an_invitation_dies_when_its_inviter_no_longer_holds_what_it_grants(alice):
    olga = member(alice.account, "olga@example.org", Role.OWNER)
    _invitation, secret = invitation_create(acting=olga, email="new@example.org", role=Role.FINANCE, now=NOW)
    assert invitation_find(secret=secret, now=NOW).email == "new@example.org"
    membership_change(membership=olga, role=Role.TECHNICAL, acting=alice, by=alice.user)
    newcomer = User.objects.create_user("new@example.org", "x" * 12)
    with pytest.raises(InvitationInvalid):
        invitation_find(secret=secret, now=NOW)
    with pytest.raises(InvitationInvalid):
        invitation_accept(secret=secret, user=newcomer, now=NOW)
    assert not Membership.objects.filter(user=newcomer).exists()
    assert Invitation.objects.get().accepted_at is None


@pytest.mark.django_db
def test_an_invitation_from_someone_who_left_is_void(alice, django_capture_on_commit_callbacks):
    olga = member(alice.account, "olga@example.org", Role.OWNER)
    with django_capture_on_commit_callbacks(execute=True):
        _invitation, secret = invitation_create(acting=olga, email="new@example.org", role=Role.FINANCE, now=NOW)
    assert [message.to for message in mail.outbox] == [["new@example.org"]]
    membership_remove(membership=olga, acting=alice, by=alice.user)
    with pytest.raises(InvitationInvalid):
        invitation_find(secret=secret, now=NOW)


@pytest.mark.django_db
def test_a_valid_invitation_becomes_a_membership(alice):
    _invitation, secret = invitation_create(
        acting=alice, email="New@Example.org ", role=Role.CUSTOM, custom_areas=["support", "billing"], now=NOW
    )
    newcomer = User.objects.create_user("new@example.org", "x" * 12)
    joined = invitation_accept(secret=secret, user=newcomer, now=NOW + dt.timedelta(days=6))
    assert (joined.account, joined.role, joined.custom_areas) == (alice.account, Role.CUSTOM, ["billing", "support"])


@pytest.mark.django_db
def test_account_details_refuse_values_the_database_would_not_hold(alice):
    before = Account.objects.filter(pk=alice.account_id).values().get()
    with pytest.raises(InvalidAccountData) as refused:
        account_update(account=alice.account, by=alice.user, fields={"city": "M" * 101}, acting=alice)
    assert (refused.value.field, refused.value.reason) == ("city", "too_long")
    assert Account.objects.filter(pk=alice.account_id).values().get() == before


@pytest.mark.django_db
def test_members_edit_only_their_address_and_preferences(alice):
    finance = member(alice.account, "fiona@example.org", Role.FINANCE)
    before = Account.objects.filter(pk=alice.account_id).values().get()
    with pytest.raises(NotAllowed) as legal:
        account_update(account=alice.account, by=alice.user, fields={"name": "Other S.L."}, acting=alice)
    with pytest.raises(NotAllowed) as no_right:
        account_update(account=alice.account, by=finance.user, fields={"city": "Sevilla"}, acting=finance)
    assert (legal.value.reason, no_right.value.reason) == ("fields_not_editable:name", "contacts_right_required")
    assert Account.objects.filter(pk=alice.account_id).values().get() == before
