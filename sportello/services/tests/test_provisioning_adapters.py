"""Provisioning adapters: the run loop (claim, retries, backoff), the manual module and the
webhook module against a real local HTTP server, and the SSRF guard."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sportello.catalog.models import Cycle
from sportello.core.time import utc_now
from sportello.services.adapters import ADAPTERS, AdapterResult, ProvisioningRequest
from sportello.services.adapters.manual import ManualAdapter
from sportello.services.models import ProvisioningTask, ServiceEvent, ServiceStatus, StaffTask
from sportello.services.provisioning import (
    MAX_ATTEMPTS,
    provisioning_request,
    provisioning_retry,
    provisioning_run,
    provisioning_task_record,
)
from sportello.services.services import service_suspend
from sportello.services.tasks import provisioning_due

from .conftest import service_in

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
SECRET = "provisioning-test-secret"


def suspended_task(alice: Any, catalog: Any, module: str) -> ProvisioningTask:
    """A pending task, recorded as the after-commit hook would (whose enqueue never runs:
    the test's transaction never commits)."""
    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    service_suspend(service=service, reason="late payment")
    event = ServiceEvent.objects.get(service=service, transition="suspend")
    return provisioning_task_record(service_id=service.pk, event_id=event.pk, module=module, action="suspend")


class Endpoint:
    """A real HTTP server on 127.0.0.1 that answers with the queued statuses and checks
    every request's signature the way a receiver would."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fields = dict(part.split("=", 1) for part in self.headers["Sportello-Signature"].split(","))
                expected = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
                endpoint.requests.append(
                    {
                        "valid": hmac.compare_digest(expected, fields["v1"]),
                        "t": int(fields["t"]),
                        "key": self.headers["Idempotency-Key"],
                        "body": json.loads(body),
                    }
                )
                status = endpoint.answers.pop(0) if endpoint.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/provision"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Endpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def endpoint(settings: Any) -> Iterator[Endpoint]:
    with Endpoint() as server:
        settings.PROVISIONING_WEBHOOK_URL = server.url
        settings.PROVISIONING_WEBHOOK_SECRET = SECRET
        settings.PROVISIONING_ALLOW_PRIVATE_URLS = True
        yield server


def attempts_of(task: ProvisioningTask) -> list[tuple[int, str, int | None]]:
    return list(task.attempt_log.order_by("number").values_list("number", "outcome", "status_code"))


# --- Webhook --------------------------------------------------------------------------------


def test_webhook_is_signed_retried_after_a_500_and_done(alice, catalog, endpoint):
    task = suspended_task(alice, catalog, "webhook")
    endpoint.answers = [500, 200]

    task = provisioning_run(task_id=task.pk, now=T0)
    assert (task.status, task.attempts, task.next_attempt_at) == ("pending", 1, T0 + dt.timedelta(minutes=1))
    assert "HTTP 500" in task.last_error
    # Not due yet: nothing is sent.
    assert provisioning_run(task_id=task.pk, now=T0 + dt.timedelta(seconds=59)).attempts == 1
    assert len(endpoint.requests) == 1

    task = provisioning_run(task_id=task.pk, now=T0 + dt.timedelta(minutes=1))
    assert (task.status, task.attempts, task.last_error, task.next_attempt_at) == ("done", 2, "", None)
    assert attempts_of(task) == [(1, "retryable", 500), (2, "succeeded", 200)]

    assert [r["valid"] for r in endpoint.requests] == [True, True]
    assert [r["key"] for r in endpoint.requests] == [str(task.pk)] * 2
    assert [r["t"] for r in endpoint.requests] == [int(T0.timestamp()), int(T0.timestamp()) + 60]
    body = endpoint.requests[1]["body"]
    service = task.service
    assert body == {
        "event_id": task.event_id,
        "task_id": task.pk,
        "action": "suspend",
        "service_id": service.pk,
        "account_reference": alice.account.reference,
        "product": service.plan.product.slug,
        "plan": service.plan.code,
        "label": service.label,
        "status": "suspended",
        "period": {"start": "2026-01-01", "end": "2026-02-01"},
    }
    # Done is final: another run sends nothing.
    assert provisioning_run(task_id=task.pk, now=T0 + dt.timedelta(hours=1)).attempts == 2
    assert len(endpoint.requests) == 2


@pytest.mark.parametrize("status", [400, 404, 410])
def test_a_4xx_answer_fails_at_once(alice, catalog, endpoint, status):
    task = suspended_task(alice, catalog, "webhook")
    endpoint.answers = [status]
    task = provisioning_run(task_id=task.pk, now=T0)
    assert (task.status, task.attempts, task.next_attempt_at) == ("failed", 1, None)
    assert attempts_of(task) == [(1, "failed", status)]
    assert f"HTTP {status}" in task.last_error


def test_retries_back_off_and_end_failed_for_staff(alice, catalog, endpoint):
    task = suspended_task(alice, catalog, "webhook")
    endpoint.answers = [503] * MAX_ATTEMPTS
    now, waits = T0, []
    for _ in range(MAX_ATTEMPTS - 1):
        task = provisioning_run(task_id=task.pk, now=now)
        assert task.status == "pending"
        waits.append(task.next_attempt_at - now)
        now = task.next_attempt_at
    assert waits[:3] == [dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=25)]
    task = provisioning_run(task_id=task.pk, now=now)
    assert (task.status, task.attempts) == ("failed", MAX_ATTEMPTS)
    assert [outcome for _, outcome, _ in attempts_of(task)] == ["retryable"] * (MAX_ATTEMPTS - 1) + ["failed"]

    # Staff's "retry now" gives it another try, which the endpoint now accepts.
    assert provisioning_retry(task_id=task.pk, now=now) is True
    task = provisioning_run(task_id=task.pk, now=now)
    assert (task.status, task.attempts) == ("done", MAX_ATTEMPTS + 1)
    assert provisioning_retry(task_id=task.pk, now=now) is False  # done stays done


def test_an_unreachable_endpoint_is_retried(alice, catalog, settings):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nobody listens there
    settings.PROVISIONING_WEBHOOK_URL = f"http://127.0.0.1:{port}/"
    settings.PROVISIONING_WEBHOOK_SECRET = SECRET
    settings.PROVISIONING_ALLOW_PRIVATE_URLS = True
    task = provisioning_run(task_id=suspended_task(alice, catalog, "webhook").pk, now=T0)
    assert (task.status, task.attempts) == ("pending", 1)
    assert attempts_of(task) == [(1, "retryable", None)]
    assert "cannot reach" in task.last_error


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://127.0.0.1:8000/",
        "http://localhost/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:192.168.1.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
    ],
)
def test_private_addresses_are_refused_without_connecting(alice, catalog, settings, monkeypatch, url):
    settings.PROVISIONING_WEBHOOK_URL = url
    settings.PROVISIONING_WEBHOOK_SECRET = SECRET
    settings.PROVISIONING_ALLOW_PRIVATE_URLS = False

    def no_connection(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a refused address must not be connected to")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    task = provisioning_run(task_id=suspended_task(alice, catalog, "webhook").pk, now=T0)
    assert (task.status, task.attempts) == ("failed", 1)
    assert task.last_error.startswith("refused:")
    assert "PROVISIONING_ALLOW_PRIVATE_URLS" in task.last_error


def test_an_unconfigured_webhook_fails_clearly(alice, catalog, settings):
    settings.PROVISIONING_WEBHOOK_URL = ""
    task = provisioning_run(task_id=suspended_task(alice, catalog, "webhook").pk, now=T0)
    assert (task.status, task.last_error) == ("failed", "PROVISIONING_WEBHOOK_URL is not set")


# --- Manual ---------------------------------------------------------------------------------


def test_manual_creates_one_staff_task_even_if_run_twice(alice, catalog):
    task = suspended_task(alice, catalog, "manual")
    task = provisioning_run(task_id=task.pk, now=T0)
    assert (task.status, task.attempts) == ("done", 1)
    # Run again (staff's retry), and the adapter called once more directly.
    assert provisioning_retry(task_id=task.pk, now=T0) is False
    ProvisioningTask.objects.filter(pk=task.pk).update(status="pending")
    assert provisioning_run(task_id=task.pk, now=T0).status == "done"
    ManualAdapter().run(provisioning_request(task), now=T0)
    staff_task = StaffTask.objects.get()
    assert (staff_task.provisioning_task, staff_task.service, staff_task.account) == (
        task,
        task.service,
        alice.account,
    )
    assert (staff_task.action, staff_task.status) == ("suspend", "open")
    assert alice.account.reference in staff_task.title


# --- Claim ----------------------------------------------------------------------------------


def test_the_claim_prevents_a_second_run(alice, catalog, monkeypatch):
    task = suspended_task(alice, catalog, "manual")
    calls: list[int] = []

    class Reentrant:
        def run(self, request: ProvisioningRequest, *, now: dt.datetime) -> AdapterResult:
            calls.append(request.task_id)
            # A second worker picks the same task while the first is running it.
            second = provisioning_run(task_id=request.task_id, now=now)
            assert second.status == "running"
            return AdapterResult()

    monkeypatch.setitem(ADAPTERS, "manual", Reentrant)
    task = provisioning_run(task_id=task.pk, now=T0)
    assert calls == [task.pk]
    assert (task.status, task.attempts) == ("done", 1)

    # A task another worker holds is left alone.
    other = suspended_task(alice, catalog, "manual")
    ProvisioningTask.objects.filter(pk=other.pk).update(status="running", claimed_at=T0)
    assert provisioning_run(task_id=other.pk, now=T0).attempts == 0
    assert calls == [task.pk]


# --- The hourly job -------------------------------------------------------------------------


def test_the_hourly_job_backfills_runs_due_tasks_and_releases_dead_claims(alice, catalog):
    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    # The hook never runs (the test's transaction never commits): only the job can find it.
    service_suspend(service=service, reason="late payment")
    stuck = suspended_task(alice, catalog, "manual")
    ProvisioningTask.objects.filter(pk=stuck.pk).update(status="running", claimed_at=T0 - dt.timedelta(hours=1))
    later = suspended_task(alice, catalog, "manual")

    # Event times are the real clock's; the job looks back from the hour it is given.
    hour = utc_now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    ProvisioningTask.objects.filter(pk=later.pk).update(next_attempt_at=hour + dt.timedelta(minutes=5))
    result = provisioning_due.call(now=hour.isoformat())
    assert result == {"backfilled": 1, "released": 1, "done": 2, "pending": 0, "failed": 0, "skipped": 0}
    assert ProvisioningTask.objects.get(service=service).status == "done"
    assert ProvisioningTask.objects.get(pk=stuck.pk).status == "done"
    assert ProvisioningTask.objects.get(pk=later.pk).status == "pending"
