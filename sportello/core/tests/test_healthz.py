import datetime as dt

import pytest

from sportello.core.models import WorkerHeartbeat
from sportello.core.time import utc_now


@pytest.mark.django_db
def test_it_reports_the_database_and_that_no_worker_is_needed(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok", "worker": {"status": "not-needed"}}


@pytest.mark.django_db
def test_it_reports_a_missing_worker_as_degraded(client, settings):
    settings.TASKS_BACKEND = "database"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "worker": {"status": "missing"}}


@pytest.mark.django_db
@pytest.mark.parametrize(("age", "status", "overall"), [(10, "ok", "ok"), (600, "stale", "degraded")])
def test_it_reads_the_newest_heartbeat(client, settings, age, status, overall):
    settings.TASKS_BACKEND = "database"
    settings.WORKER_HEARTBEAT_TIMEOUT = 90
    seen = utc_now() - dt.timedelta(seconds=age)
    WorkerHeartbeat.objects.create(worker_id="w", hostname="h", pid=1, started_at=seen, last_seen=seen)
    response = client.get("/healthz")
    assert response.json() == {
        "status": overall,
        "database": "ok",
        "worker": {"status": status, "last_seen": seen.isoformat()},
    }


@pytest.mark.django_db
def test_it_answers_head_and_refuses_writes(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
