"""Housekeeping jobs that every installation runs daily."""

from __future__ import annotations

import datetime as dt

from django.contrib.sessions.models import Session
from django.tasks import task
from django_tasks_db.models import DBTaskResult

from sportello.core.models import WorkerHeartbeat
from sportello.core.scheduler import periodic
from sportello.core.time import parse_as_of, zone

# Finished task results and dead workers' heartbeats are kept this long for inspection.
RETENTION_DAYS = 30


@periodic("core.housekeeping", every="daily")
@task
def housekeeping(as_of: str) -> dict[str, int]:
    """Delete expired sessions, old finished task results and stale heartbeats."""
    day = parse_as_of(as_of)
    start_of_day = dt.datetime.combine(day, dt.time(0), tzinfo=zone("UTC"))
    cutoff = start_of_day - dt.timedelta(days=RETENTION_DAYS)
    sessions, _ = Session.objects.filter(expire_date__lt=start_of_day).delete()
    results, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    heartbeats, _ = WorkerHeartbeat.objects.filter(last_seen__lt=cutoff).delete()
    return {"sessions": sessions, "task_results": results, "heartbeats": heartbeats}
