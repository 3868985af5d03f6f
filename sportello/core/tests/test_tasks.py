import datetime as dt

import pytest
from django.contrib.sessions.models import Session

from sportello.core.models import WorkerHeartbeat
from sportello.core.tasks import housekeeping

UTC = dt.UTC


@pytest.mark.django_db
def test_housekeeping_deletes_expired_sessions_and_dead_heartbeats():
    Session.objects.create(session_key="old", session_data="", expire_date=dt.datetime(2026, 3, 9, 23, tzinfo=UTC))
    Session.objects.create(session_key="live", session_data="", expire_date=dt.datetime(2026, 3, 10, 1, tzinfo=UTC))
    for worker_id, seen in [
        ("gone", dt.datetime(2026, 2, 1, tzinfo=UTC)),
        ("here", dt.datetime(2026, 3, 9, tzinfo=UTC)),
    ]:
        WorkerHeartbeat.objects.create(worker_id=worker_id, hostname="h", pid=1, started_at=seen, last_seen=seen)

    result = housekeeping.enqueue(as_of="2026-03-10").return_value

    assert result == {"sessions": 1, "task_results": 0, "heartbeats": 1}
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["here"]
