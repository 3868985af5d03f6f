"""API tokens: created within the member's rights, stored hashed, audited, and dead as soon
as the token, the account, the login or the membership can no longer act."""

from __future__ import annotations

import datetime as dt

import pytest

from sportello.accounts.errors import ApiTokenInvalid, InvalidAccountData, NotAllowed
from sportello.accounts.models import ApiToken, Role, User
from sportello.accounts.services import (
    account_reactivate,
    account_suspend,
    api_token_authenticate,
    api_token_create_integration,
    api_token_create_member,
    api_token_revoke,
    api_token_scopes,
    membership_add,
    membership_change,
    membership_remove,
    user_disable,
)
from sportello.conftest import make_member
from sportello.core.models import AuditEvent

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


@pytest.fixture
def staff():
    return User.objects.create_user("ops@provider.example", "x" * 12, is_staff=True)


def create(membership, scopes=("read", "services"), *, days=30, name="backup script"):
    return api_token_create_member(
        acting=membership, name=name, scopes=scopes, expires_at=NOW + dt.timedelta(days=days), now=NOW
    )


def test_it_returns_the_secret_once_and_stores_only_its_hash(alice):
    token, secret = create(alice)
    assert secret.startswith(f"spt_{token.key_id}_")
    assert len(secret) == 4 + 12 + 1 + 43
    row = ApiToken.objects.get()
    assert secret not in {row.secret_hash, row.key_id, row.name}
    assert len(row.secret_hash) == 64
    assert (row.kind, row.scopes, row.account_id, row.user_id, row.membership_id) == (
        "member",
        ["read", "services"],
        alice.account_id,
        alice.user_id,
        alice.pk,
    )
    assert row.expires_at == NOW + dt.timedelta(days=30)
    assert api_token_authenticate(secret=secret, now=NOW).pk == token.pk


def test_creation_and_revocation_are_audited_without_the_secret(alice):
    token, secret = create(alice)
    api_token_revoke(token=token, by=alice.user, acting=alice, now=NOW)
    events = list(AuditEvent.objects.filter(action__startswith="api_token").order_by("id"))
    assert [(e.action, e.account_id, e.actor_id, e.target) for e in events] == [
        ("api_token.created", alice.account_id, alice.user_id, f"accounts.apitoken:{token.pk}"),
        ("api_token.revoked", alice.account_id, alice.user_id, f"accounts.apitoken:{token.pk}"),
    ]
    assert events[0].data["key_id"] == token.key_id
    assert secret not in str([e.data for e in events])


def test_a_member_cannot_give_a_token_more_than_their_role(alice):
    finance = make_member("fin@example.org", "Fin Co", role=Role.FINANCE)
    with pytest.raises(NotAllowed, match="cannot_grant_more_than_own"):
        create(finance, scopes=["read", "services"])
    read_only = membership_add(
        account=alice.account, user=User.objects.create_user("ro@example.org", "x" * 12), role=Role.READ_ONLY
    )
    with pytest.raises(NotAllowed, match="cannot_grant_more_than_own"):
        create(read_only, scopes=["services", "usage:write"])
    assert ApiToken.objects.count() == 0
    assert not AuditEvent.objects.filter(action="api_token.created").exists()
    assert create(read_only, scopes=["read", "services", "billing"])[0].scopes == ["billing", "read", "services"]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["read", "admin"]}, "scopes"),
        ({"days": 0}, "expires_at"),
        ({"days": 367}, "expires_at"),
    ],
)
def test_it_refuses_bad_input_and_creates_nothing(alice, arguments, field):
    with pytest.raises(InvalidAccountData) as refused:
        create(alice, **arguments)
    assert refused.value.field == field
    assert ApiToken.objects.count() == 0


def test_only_staff_create_integration_tokens_which_only_report_usage(alice, staff):
    with pytest.raises(NotAllowed):
        api_token_create_integration(name="panel", expires_at=None, by=alice.user, now=NOW)
    token, secret = api_token_create_integration(name="panel", expires_at=None, by=staff, now=NOW)
    assert (token.kind, token.scopes, token.account_id, token.user_id, token.expires_at) == (
        "integration",
        ["usage:write"],
        None,
        None,
        None,
    )
    assert api_token_scopes(token=api_token_authenticate(secret=secret, now=NOW)) == {"usage:write"}
    assert AuditEvent.objects.filter(action="api_token.created", actor=staff, account=None).count() == 1


def test_a_member_revokes_only_their_own_tokens(alice):
    token, _secret = create(alice)
    colleague = membership_add(
        account=alice.account, user=User.objects.create_user("co@example.org", "x" * 12), role=Role.OWNER
    )
    with pytest.raises(NotAllowed):
        api_token_revoke(token=token, by=colleague.user, acting=colleague, now=NOW)
    assert ApiToken.objects.get().revoked_at is None
    assert api_token_revoke(token=token, by=alice.user, acting=alice, now=NOW) is True
    assert api_token_revoke(token=token, by=alice.user, acting=alice, now=NOW) is False
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_staff_revoke_any_token(alice, staff):
    token, secret = create(alice)
    assert api_token_revoke(token=token, by=staff, acting=None, now=NOW) is True
    with pytest.raises(ApiTokenInvalid):
        api_token_authenticate(secret=secret, now=NOW)


@pytest.mark.parametrize(
    "secret",
    ["", "spt_", "Bearer x", "spt_000000000000_" + "a" * 43, "spt_zzzzzzzzzzzz_" + "a" * 43, "x" * 5000],
)
def test_malformed_and_unknown_secrets_are_refused(alice, secret):
    create(alice)
    with pytest.raises(ApiTokenInvalid):
        api_token_authenticate(secret=secret, now=NOW)


def test_a_wrong_secret_with_a_known_key_id_is_refused(alice):
    _token, secret = create(alice)
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with pytest.raises(ApiTokenInvalid):
        api_token_authenticate(secret=forged, now=NOW)
    assert ApiToken.objects.get().last_used_at is None


def test_it_stops_at_expiry(alice):
    _token, secret = create(alice, days=1)
    api_token_authenticate(secret=secret, now=NOW + dt.timedelta(hours=23))
    with pytest.raises(ApiTokenInvalid):
        api_token_authenticate(secret=secret, now=NOW + dt.timedelta(days=1))


def test_it_stops_while_the_account_is_suspended(alice, staff):
    _token, secret = create(alice)
    account_suspend(account=alice.account, by=staff)
    with pytest.raises(ApiTokenInvalid):
        api_token_authenticate(secret=secret, now=NOW)
    account_reactivate(account=alice.account, by=staff)
    api_token_authenticate(secret=secret, now=NOW)


def test_it_stops_when_the_login_is_disabled(alice, staff):
    _token, secret = create(alice)
    user_disable(user=alice.user, by=staff)
    with pytest.raises(ApiTokenInvalid):
        api_token_authenticate(secret=secret, now=NOW)


def test_it_stops_for_good_when_the_membership_is_removed(alice):
    colleague = membership_add(
        account=alice.account, user=User.objects.create_user("co@example.org", "x" * 12), role=Role.TECHNICAL
    )
    _token, secret = create(colleague)
    membership_remove(membership=colleague, acting=alice, by=alice.user)
    with pytest.raises(ApiTokenInvalid):
        api_token_authenticate(secret=secret, now=NOW)
    # Let back in later, the person gets a new membership; the old token stays dead.
    membership_add(account=alice.account, user=colleague.user, role=Role.TECHNICAL)
    with pytest.raises(ApiTokenInvalid):
        api_token_authenticate(secret=secret, now=NOW)


def test_it_loses_at_once_the_scopes_the_member_loses(alice):
    colleague = membership_add(
        account=alice.account, user=User.objects.create_user("co@example.org", "x" * 12), role=Role.TECHNICAL
    )
    _token, secret = create(colleague, scopes=["read", "services", "usage:write"])
    assert api_token_scopes(token=api_token_authenticate(secret=secret, now=NOW)) == {"read", "services", "usage:write"}
    membership_change(membership=colleague, role=Role.READ_ONLY, acting=alice, by=alice.user)
    assert api_token_scopes(token=api_token_authenticate(secret=secret, now=NOW)) == {"read", "services"}
    membership_change(membership=colleague, role=Role.FINANCE, acting=alice, by=alice.user)
    assert api_token_scopes(token=api_token_authenticate(secret=secret, now=NOW)) == {"read"}
    assert ApiToken.objects.get().scopes == ["read", "services", "usage:write"]


def test_last_use_is_written_at_most_once_a_minute(alice):
    _token, secret = create(alice)
    api_token_authenticate(secret=secret, now=NOW, ip_address="203.0.113.9")
    api_token_authenticate(secret=secret, now=NOW + dt.timedelta(seconds=59), ip_address="203.0.113.10")
    row = ApiToken.objects.get()
    assert (row.last_used_at, row.last_used_ip) == (NOW, "203.0.113.9")
    api_token_authenticate(secret=secret, now=NOW + dt.timedelta(seconds=61), ip_address="203.0.113.10")
    row.refresh_from_db()
    assert (row.last_used_at, row.last_used_ip) == (NOW + dt.timedelta(seconds=61), "203.0.113.10")
