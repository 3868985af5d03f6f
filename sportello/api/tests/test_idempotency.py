"""The Idempotency-Key store: one result per (owner, key), also when requests race on
PostgreSQL, and kept at least 24 hours before the daily job forgets it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from sportello.accounts.models import ApiToken
from sportello.api.idempotency import (
    IdempotencyKeyReused,
    idempotency_owner,
    idempotent_write,
    request_fingerprint,
)
from sportello.api.models import IdempotencyRecord
from sportello.api.tasks import prune_idempotency_keys
from sportello.core.models import AuditEvent
from sportello.core.services import audit_record
from sportello.services.models import UsageRecord

from .conftest import Caller

T0 = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


def race(count: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(work(n))
        except BaseException as exc:  # pragma: no cover - reported by the assertions
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def note(token: ApiToken) -> Callable[[], tuple[int, dict[str, Any]]]:
    """An effect with no unique constraint of its own: only the key store keeps it single."""

    def effect() -> tuple[int, dict[str, Any]]:
        event = audit_record(action="test.effect", data={"token": token.pk})
        return 201, {"event": event.pk}

    return effect


@pytest.mark.django_db
def test_the_owner_of_member_tokens_is_their_account_and_of_integrations_the_token(alice, alice_api, integration_api):
    member, integration = ApiToken.objects.order_by("-kind")
    assert idempotency_owner(integration) == f"integration:{integration.pk}"
    assert idempotency_owner(member) == f"account:{alice.account_id}"


@pytest.mark.django_db
def test_a_repeat_replays_and_another_request_is_refused(alice_api):
    token = ApiToken.objects.get()
    fingerprint = request_fingerprint(method="POST", path="/x", payload={"a": 1})
    first = idempotent_write(token=token, key="k", fingerprint=fingerprint, now=T0, effect=note(token))
    again = idempotent_write(token=token, key="k", fingerprint=fingerprint, now=T0, effect=note(token))
    assert (first.replayed, again.replayed, again.status, again.body) == (False, True, 201, first.body)
    with pytest.raises(IdempotencyKeyReused):
        idempotent_write(
            token=token,
            key="k",
            fingerprint=request_fingerprint(method="POST", path="/y", payload={"a": 1}),
            now=T0,
            effect=note(token),
        )
    assert AuditEvent.objects.filter(action="test.effect").count() == 1


def test_the_fingerprint_ignores_key_order_but_not_values():
    assert request_fingerprint(method="post", path="/p", payload={"a": 1, "b": "2"}) == request_fingerprint(
        method="POST", path="/p", payload={"b": "2", "a": 1}
    )
    assert request_fingerprint(method="POST", path="/p", payload={"a": 1}) != request_fingerprint(
        method="POST", path="/p", payload={"a": 2}
    )


@pytest.mark.django_db
def test_keys_are_kept_at_least_24_hours_then_pruned_daily(alice_api):
    token = ApiToken.objects.get()
    fingerprint = request_fingerprint(method="POST", path="/x", payload={})
    for key, hours_before_midnight in (("old", 25), ("day-old", 24), ("recent", 23)):
        idempotent_write(
            token=token,
            key=key,
            fingerprint=fingerprint,
            now=dt.datetime(2026, 3, 11, tzinfo=dt.UTC) - dt.timedelta(hours=hours_before_midnight),
            effect=note(token),
        )
    assert prune_idempotency_keys.call(as_of="2026-03-11") == 1
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["day-old", "recent"]
    assert prune_idempotency_keys.call(as_of="2026-03-11") == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_writes_with_one_key_have_one_effect(on_postgresql, alice_api):
    token = ApiToken.objects.get()
    fingerprint = request_fingerprint(method="POST", path="/x", payload={"a": 1})

    def write(_n: int) -> tuple[int, dict[str, Any], bool]:
        outcome = idempotent_write(token=token, key="same", fingerprint=fingerprint, now=T0, effect=note(token))
        return outcome.status, outcome.body, outcome.replayed

    results, errors = race(8, write)
    assert errors == []
    assert AuditEvent.objects.filter(action="test.effect").count() == 1
    event = AuditEvent.objects.get(action="test.effect")
    assert (
        sorted(results, key=lambda r: r[2])
        == [(201, {"event": event.pk}, False)] + [(201, {"event": event.pk}, True)] * 7
    )
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_usage_reports_through_the_api_record_once(on_postgresql, integration_api, alice_service):
    body = {"metric": "traffic_gb", "quantity": "3", "recorded_at": "2026-01-05T10:00:00Z"}

    def send(_n: int) -> tuple[int, dict[str, Any], str | None]:
        caller = Caller(Client(), integration_api.secret)
        response = caller.post(f"/services/{alice_service.pk}/usage", body, key="race")
        return response.status_code, response.json(), response.headers.get("Idempotent-Replayed")

    results, errors = race(6, send)
    assert errors == []
    record = UsageRecord.objects.get()
    expected = {
        "id": record.pk,
        "service_id": alice_service.pk,
        "metric": "traffic_gb",
        "quantity": "3",
        "recorded_at": "2026-01-05T10:00:00Z",
        "idempotency_key": "race",
    }
    assert sorted(results, key=lambda r: r[2] or "") == [(201, expected, None)] + [(201, expected, "true")] * 5
    assert IdempotencyRecord.objects.count() == 1
