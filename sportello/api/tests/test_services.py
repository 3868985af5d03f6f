"""Services through the API: the token's account's services only, paginated by cursor,
with usage per quota; another account's service is 404 and a missing scope 403."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from sportello.accounts.models import Role, User
from sportello.accounts.services import membership_add, membership_change
from sportello.catalog.models import Cycle
from sportello.services.models import Service, ServiceStatus
from sportello.services.services import usage_record
from sportello.services.tests.conftest import service_in

from .conftest import Caller, member_token

pytestmark = pytest.mark.django_db


def test_it_shows_a_service_with_its_price_as_a_string(alice_api, alice_service):
    response = alice_api.get(f"/services/{alice_service.pk}")
    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in body if key != "created_at"} == {
        "id": alice_service.pk,
        "label": "alice.example",
        "status": "active",
        "plan": {"code": "basic", "name": "Basic", "product": "Linux Hosting"},
        "cycle": "monthly",
        "quantity": 1,
        "auto_renew": True,
        "cancel_at_period_end": False,
        "current_period_start": "2026-01-01",
        "current_period_end": "2026-02-01",
        "next_due_date": "2026-02-01",
        "price": {"amount": "10.00", "currency": "EUR"},
    }


def test_another_account_s_service_is_not_found(alice_api, bob_service):
    for path in (f"/services/{bob_service.pk}", f"/services/{bob_service.pk}/usage"):
        response = alice_api.get(path)
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Not found.", "errors": []}


def test_the_list_never_shows_another_account_s_services(alice_api, alice_service, bob_service):
    body = alice_api.get("/services").json()
    assert [item["id"] for item in body["items"]] == [alice_service.pk]
    assert body["next_cursor"] is None


def test_it_pages_with_a_cursor_newest_first(alice, alice_api, catalog):
    price = catalog.prices[("basic", "EUR", Cycle.MONTHLY)]
    services = [service_in(alice.account, price, ServiceStatus.ACTIVE, label=f"s{n}") for n in range(5)]
    # Two services created in the same instant are ordered by id.
    same = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    Service.objects.filter(pk__in=[s.pk for s in services[1:3]]).update(created_at=same)
    expected = [s.pk for s in sorted(Service.objects.all(), key=lambda s: (s.created_at, s.pk), reverse=True)]
    seen, cursor = [], None
    for _ in range(3):
        query = "/services?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = alice_api.get(query).json()
        seen.extend(item["id"] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert cursor is None


def test_a_service_added_between_pages_does_not_shift_them(alice, alice_api, catalog):
    price = catalog.prices[("basic", "EUR", Cycle.MONTHLY)]
    first = [service_in(alice.account, price, ServiceStatus.ACTIVE) for _ in range(3)]
    page = alice_api.get("/services?limit=2").json()
    service_in(alice.account, price, ServiceStatus.ACTIVE)
    rest = alice_api.get(f"/services?limit=2&cursor={page['next_cursor']}").json()
    assert [item["id"] for item in page["items"] + rest["items"]] == [s.pk for s in reversed(first)]


@pytest.mark.parametrize("cursor", ["nonsense", "W10:1tV:abc", "a" * 300])
def test_a_tampered_cursor_is_refused(alice_api, alice_service, cursor):
    response = alice_api.get(f"/services?cursor={cursor}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_a_cursor_from_another_listing_is_refused(alice_api, alice_service):
    from sportello.api.pagination import cursor_encode

    cursor = cursor_encode(listing="invoices", created_at=alice_service.created_at, pk=alice_service.pk)
    assert alice_api.get(f"/services?cursor={cursor}").status_code == 400


@pytest.mark.parametrize("limit", ["0", "101", "-1", "two"])
def test_page_size_is_limited(alice_api, limit):
    response = alice_api.get(f"/services?limit={limit}")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert [error["field"] for error in body["errors"]] == ["query.limit"]


def test_services_need_the_services_scope(alice, alice_service):
    caller = Caller(Client(), member_token(alice, ["read"])[1])
    for path in ("/services", f"/services/{alice_service.pk}", f"/services/{alice_service.pk}/usage"):
        response = caller.get(path)
        assert response.status_code == 403
        assert response.json()["code"] == "missing_scope"


def test_an_integration_token_cannot_read_services(integration_api, alice_service):
    assert integration_api.get("/services").status_code == 403
    assert integration_api.get(f"/services/{alice_service.pk}").status_code == 403


def test_a_member_who_loses_the_services_area_loses_it_through_the_token(alice, alice_service):
    colleague = membership_add(
        account=alice.account, user=User.objects.create_user("co@example.org", "x" * 12), role=Role.TECHNICAL
    )
    caller = Caller(Client(), member_token(colleague, ["read", "services"])[1])
    assert caller.get(f"/services/{alice_service.pk}").status_code == 200
    membership_change(membership=colleague, role=Role.FINANCE, acting=alice, by=alice.user)
    assert caller.get(f"/services/{alice_service.pk}").status_code == 403


def test_usage_per_quota_in_the_current_period(alice_api, alice_service):
    at = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    usage_record(service=alice_service, metric="traffic_gb", quantity=Decimal("40.5"), at=at, idempotency_key="a")
    usage_record(service=alice_service, metric="traffic_gb", quantity=Decimal("45"), at=at, idempotency_key="b")
    usage_record(service=alice_service, metric="storage_gb", quantity=Decimal("2.25"), at=at, idempotency_key="c")
    # Outside the period: not counted.
    usage_record(
        service=alice_service,
        metric="traffic_gb",
        quantity=Decimal("99"),
        at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        idempotency_key="d",
    )
    response = alice_api.get(f"/services/{alice_service.pk}/usage")
    assert response.status_code == 200
    assert response.json() == {
        "service_id": alice_service.pk,
        "period_start": "2026-01-01",
        "period_end": "2026-02-01",
        "quotas": [
            {
                "metric": "storage_gb",
                "name": "Storage",
                "unit": "GB",
                "used": "2.25",
                "limit": "10",
                "percent": "22.5",
                "near_limit": False,
                "over_limit": False,
            },
            {
                "metric": "traffic_gb",
                "name": "Traffic",
                "unit": "GB",
                "used": "85.5",
                "limit": "100",
                "percent": "85.5",
                "near_limit": True,
                "over_limit": False,
            },
        ],
    }


@pytest.mark.parametrize(
    ("service_id", "status", "code"),
    [
        ("0", 422, "invalid"),
        ("-1", 422, "invalid"),
        ("abc", 422, "invalid"),
        (str(2**63), 422, "invalid"),
        ("99999999", 404, "not_found"),
    ],
)
def test_bad_or_unknown_ids_are_refused_cleanly(alice_api, service_id, status, code):
    response = alice_api.get(f"/services/{service_id}")
    assert (response.status_code, response.json()["code"]) == (status, code)
