"""Token authentication through the API: every refused token answers the same 401, a
burst of failures from one address is throttled, and errors speak the caller's language."""

from __future__ import annotations

import pytest
from django.test import Client

from sportello.accounts.models import ApiToken, Role, User
from sportello.accounts.services import account_suspend, api_token_revoke, membership_add, user_disable
from sportello.api.auth import AUTH_FAILURES_ALLOWED
from sportello.core.time import utc_now

from .conftest import Caller, member_token

pytestmark = pytest.mark.django_db

TOKEN_INVALID = {
    "code": "token_invalid",
    "message": (
        "The API token is missing, unknown, expired or revoked, or whoever it acts for can no longer use the API."
    ),
    "errors": [],
}


def test_me_tells_the_token_its_account_and_scopes(alice_api, alice):
    response = alice_api.get("/me")
    assert response.status_code == 200
    body = response.json()
    assert body["token"]["kind"] == "member"
    assert body["token"]["scopes"] == ["billing", "read", "services", "usage:write"]
    assert body["account"] == {
        "reference": alice.account.reference,
        "name": "Alice Servicios S.L.",
        "status": "active",
        "currency": "EUR",
        "language": "en",
        "time_zone": "Europe/Madrid",
    }
    assert (body["user"], body["role"]) == ("alice@example.org", "owner")
    assert body["billing"]["vat_id"] == "ESB12345674"


def test_billing_details_need_the_billing_scope(alice):
    caller = Caller(Client(), member_token(alice, ["read"])[1])
    body = caller.get("/me").json()
    assert (body["token"]["scopes"], body["billing"]) == (["read"], None)


def test_me_for_an_integration_token_has_no_account(integration_api):
    body = integration_api.get("/me").json()
    assert (body["token"]["kind"], body["token"]["scopes"], body["account"], body["user"]) == (
        "integration",
        ["usage:write"],
        None,
        None,
    )


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer spt_nothing", "Basic YWxpY2U6eA==", "Token spt_abc"],
)
def test_missing_and_malformed_tokens_get_401(db, client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json() == TOKEN_INVALID
    assert response["WWW-Authenticate"] == 'Bearer realm="sportello"'


def test_a_revoked_token_gets_401_at_once(alice, alice_api):
    assert alice_api.get("/me").status_code == 200
    api_token_revoke(token=ApiToken.objects.get(), by=alice.user, acting=alice, now=utc_now())
    response = alice_api.get("/me")
    assert (response.status_code, response.json()) == (401, TOKEN_INVALID)


def test_a_suspended_account_s_tokens_stop_at_once(alice, alice_api, alice_service, staff):
    assert alice_api.get("/services").status_code == 200
    account_suspend(account=alice.account, by=staff)
    for response in (alice_api.get("/services"), alice_api.get(f"/services/{alice_service.pk}"), alice_api.get("/me")):
        assert (response.status_code, response.json()) == (401, TOKEN_INVALID)
    response = alice_api.post(
        f"/services/{alice_service.pk}/usage",
        {"metric": "traffic_gb", "quantity": "1", "recorded_at": "2026-01-05T10:00:00Z"},
    )
    assert response.status_code == 401
    assert alice_service.usage.count() == 0


def test_a_disabled_login_s_tokens_stop_at_once(alice, alice_api, staff):
    user_disable(user=alice.user, by=staff)
    assert alice_api.get("/me").status_code == 401


def test_failures_from_one_address_are_throttled(alice_api):
    stranger = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(AUTH_FAILURES_ALLOWED):
        assert stranger.get("/api/v1/me", headers={"Authorization": "Bearer spt_guess"}).status_code == 401
    response = stranger.get("/api/v1/me", headers={"Authorization": f"Bearer {alice_api.secret}"})
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert response["Retry-After"] == "600"
    # Another address is not affected.
    assert alice_api.get("/me").status_code == 200


def test_errors_follow_accept_language(db, client):
    response = client.get("/api/v1/me", headers={"Accept-Language": "es"})
    assert response.status_code == 401
    assert response["Content-Language"] == "es"
    assert response.json()["code"] == "token_invalid"


def test_a_member_token_never_acts_for_another_account_of_the_same_person(alice, bob):
    membership_add(account=bob.account, user=alice.user, role=Role.OWNER)
    caller = Caller(Client(), member_token(alice)[1])
    assert caller.get("/me").json()["account"]["reference"] == alice.account.reference
    assert User.objects.get(email="alice@example.org").memberships.count() == 2
