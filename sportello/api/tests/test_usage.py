"""Reporting usage through the API: integration tokens for any service, member tokens with
usage:write for their account's; Idempotency-Key replays the first answer; every refusal
changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.test import Client

from sportello.accounts.models import Role, User
from sportello.accounts.services import api_token_create_integration, membership_add
from sportello.api.models import IdempotencyRecord
from sportello.core.time import utc_now
from sportello.services.models import UsageRecord

from .conftest import Caller, member_token

pytestmark = pytest.mark.django_db

BODY = {"metric": "traffic_gb", "quantity": "12.5", "recorded_at": "2026-01-05T10:00:00+01:00"}


def usage_rows() -> list[tuple[int, str, Decimal, dt.datetime, str]]:
    return list(
        UsageRecord.objects.order_by("id").values_list(
            "service_id", "metric", "quantity", "recorded_at", "idempotency_key"
        )
    )


def test_an_integration_token_reports_usage_of_any_account_s_service(integration_api, alice_service, bob_service):
    response = integration_api.post(f"/services/{bob_service.pk}/usage", BODY, key="report-1")
    assert response.status_code == 201
    record = UsageRecord.objects.get()
    assert response.json() == {
        "id": record.pk,
        "service_id": bob_service.pk,
        "metric": "traffic_gb",
        "quantity": "12.5",
        "recorded_at": "2026-01-05T09:00:00Z",
        "idempotency_key": "report-1",
    }
    assert "Idempotent-Replayed" not in response
    assert usage_rows() == [
        (bob_service.pk, "traffic_gb", Decimal("12.5"), dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC), "report-1")
    ]


def test_a_member_token_with_usage_write_reports_its_account_s_usage(alice_api, alice_service):
    response = alice_api.post(f"/services/{alice_service.pk}/usage", BODY)
    assert response.status_code == 201
    assert UsageRecord.objects.get().service_id == alice_service.pk


def test_the_same_key_and_body_replays_the_first_answer(alice_api, alice_service):
    first = alice_api.post(f"/services/{alice_service.pk}/usage", BODY, key="k")
    # The same request, its JSON spelled differently.
    again = alice_api.client.post(
        f"/api/v1/services/{alice_service.pk}/usage",
        data=json.dumps(dict(reversed(BODY.items())), indent=2),
        content_type="application/json",
        headers=alice_api.headers(**{"Idempotency-Key": "k"}),
    )
    assert (again.status_code, again.json()) == (201, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert UsageRecord.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_the_same_key_with_another_body_is_refused(alice_api, alice_service):
    alice_api.post(f"/services/{alice_service.pk}/usage", BODY, key="k")
    before = usage_rows()
    response = alice_api.post(f"/services/{alice_service.pk}/usage", {**BODY, "quantity": "13"}, key="k")
    assert response.status_code == 422
    assert response.json() == {
        "code": "idempotency_key_reused",
        "message": "This Idempotency-Key was already used for a different request. Use a new key for a new request.",
        "errors": [],
    }
    assert usage_rows() == before


def test_the_key_space_is_the_account_s_for_member_tokens(alice, alice_service):
    colleague = membership_add(
        account=alice.account, user=User.objects.create_user("co@example.org", "x" * 12), role=Role.TECHNICAL
    )
    mine = Caller(Client(), member_token(alice)[1])
    theirs = Caller(Client(), member_token(colleague, ["services", "usage:write"])[1])
    first = mine.post(f"/services/{alice_service.pk}/usage", BODY, key="shared")
    again = theirs.post(f"/services/{alice_service.pk}/usage", BODY, key="shared")
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert UsageRecord.objects.count() == 1


def test_two_integrations_with_one_key_and_different_usage_conflict(integration_api, staff, alice_service):
    other = Caller(Client(), api_token_create_integration(name="other", expires_at=None, by=staff, now=utc_now())[1])
    assert integration_api.post(f"/services/{alice_service.pk}/usage", BODY, key="k").status_code == 201
    before = usage_rows()
    response = other.post(f"/services/{alice_service.pk}/usage", {**BODY, "quantity": "1"}, key="k")
    assert response.status_code == 409
    assert response.json()["code"] == "usage_key_reused"
    assert usage_rows() == before
    assert IdempotencyRecord.objects.count() == 1


def test_a_refused_write_keeps_no_key_so_it_can_be_sent_again(integration_api, staff, alice_service):
    other = Caller(Client(), api_token_create_integration(name="other", expires_at=None, by=staff, now=utc_now())[1])
    integration_api.post(f"/services/{alice_service.pk}/usage", BODY, key="k")
    assert other.post(f"/services/{alice_service.pk}/usage", {**BODY, "quantity": "1"}, key="k").status_code == 409
    assert other.post(f"/services/{alice_service.pk}/usage", {**BODY, "quantity": "1"}, key="k2").status_code == 201


def test_another_account_s_service_is_not_found_and_nothing_is_recorded(alice_api, bob_service):
    response = alice_api.post(f"/services/{bob_service.pk}/usage", BODY)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert usage_rows() == []
    assert IdempotencyRecord.objects.count() == 0


def test_reporting_needs_the_usage_write_scope(alice, alice_service):
    caller = Caller(Client(), member_token(alice, ["read", "services"])[1])
    response = caller.post(f"/services/{alice_service.pk}/usage", BODY)
    assert (response.status_code, response.json()["code"]) == (403, "missing_scope")
    assert response.json()["message"] == "This token does not allow this: it needs the “usage:write” scope."
    assert usage_rows() == []


def test_a_member_made_read_only_can_no_longer_report(alice, alice_service):
    from sportello.accounts.services import membership_change

    colleague = membership_add(
        account=alice.account, user=User.objects.create_user("co@example.org", "x" * 12), role=Role.TECHNICAL
    )
    caller = Caller(Client(), member_token(colleague, ["services", "usage:write"])[1])
    membership_change(membership=colleague, role=Role.READ_ONLY, acting=alice, by=alice.user)
    assert caller.post(f"/services/{alice_service.pk}/usage", BODY).status_code == 403
    assert usage_rows() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": "-1"}, "body.quantity"),
        ({"quantity": "NaN"}, "body.quantity"),
        ({"quantity": "Infinity"}, "body.quantity"),
        ({"quantity": "1e3"}, "body.quantity"),
        ({"quantity": "1" * 19}, "body.quantity"),
        ({"quantity": "0.0000001"}, "body.quantity"),
        ({"quantity": 12.5}, "body.quantity"),
        ({"quantity": ""}, "body.quantity"),
        ({"metric": "traffic gb"}, "body.metric"),
        ({"metric": "x" * 65}, "body.metric"),
        ({"recorded_at": "2026-01-05T10:00:00"}, "body.recorded_at"),
        ({"recorded_at": "yesterday"}, "body.recorded_at"),
        ({"recorded_at": "9999-12-31T23:59:59-14:00"}, "body.recorded_at"),
        ({"recorded_at": "0001-01-01T00:00:00+14:00"}, "body.recorded_at"),
    ],
)
def test_bad_values_are_refused_with_the_field_and_change_nothing(integration_api, alice_service, change, field):
    response = integration_api.post(f"/services/{alice_service.pk}/usage", {**BODY, **change})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert [error["field"] for error in body["errors"]] == [field]
    assert usage_rows() == []
    assert IdempotencyRecord.objects.count() == 0


def test_the_largest_quantity_is_accepted(integration_api, alice_service):
    response = integration_api.post(f"/services/{alice_service.pk}/usage", {**BODY, "quantity": "9" * 17 + ".999999"})
    assert response.status_code == 201
    assert response.json()["quantity"] == "9" * 17 + ".999999"


@pytest.mark.parametrize("key", [None, "", "a" * 129, "with space", "ñ"])
def test_a_write_needs_a_valid_idempotency_key(integration_api, alice_service, key):
    headers = {}
    if key is not None:
        headers["Idempotency-Key"] = key
    response = integration_api.client.post(
        f"/api/v1/services/{alice_service.pk}/usage",
        data=BODY,
        content_type="application/json",
        headers=integration_api.headers(**headers),
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["header.Idempotency-Key"]
    assert usage_rows() == []


def test_a_body_that_is_not_json_is_a_bad_request(integration_api, alice_service):
    response = integration_api.client.post(
        f"/api/v1/services/{alice_service.pk}/usage",
        data="{not json",
        content_type="application/json",
        headers=integration_api.headers(**{"Idempotency-Key": "k"}),
    )
    assert (response.status_code, response.json()["code"]) == (400, "bad_request")
    assert usage_rows() == []
