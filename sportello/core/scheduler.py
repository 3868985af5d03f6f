"""The periodic-job scheduler.

Django's Tasks API runs tasks but has no schedules. Each periodic job is registered here
with a period ("daily" from DAILY_JOBS_HOUR UTC, or "hourly"); every worker process runs
`scheduler_tick` every few seconds. A tick enqueues a job for its current period by
inserting a `ScheduledRun(job, period)` row first: the unique constraint lets exactly one
of several racing workers win, and the losers' inserts fail and are ignored.

The daily task receives the period's date as `as_of`, so a late or repeated run
computes the same result as an on-time one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.tasks import Task

from sportello.core.models import ScheduledRun, WorkerHeartbeat
from sportello.core.time import ensure_aware

logger = logging.getLogger(__name__)

Period = Literal["daily", "hourly"]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Task[..., Any]
    every: Period

    def period_due(self, now: dt.datetime) -> tuple[str, dict[str, str]] | None:
        """The period that is due at `now` and the task's arguments for it, or None."""
        now = ensure_aware(now)
        if self.every == "hourly":
            return now.strftime("%Y-%m-%dT%H"), {"now": now.replace(minute=0, second=0, microsecond=0).isoformat()}
        if now.hour < settings.DAILY_JOBS_HOUR:
            return None
        day = now.date().isoformat()
        return day, {"as_of": day}


_registry: dict[str, PeriodicJob] = {}


def periodic(name: str, *, every: Period):  # type: ignore[no-untyped-def]
    """Register a task as a periodic job: `@periodic("billing.run", every="daily")` above `@task`."""

    def register(task: Task[..., Any]) -> Task[..., Any]:
        if name in _registry and _registry[name].task.module_path != task.module_path:
            raise ValueError(f"periodic job {name!r} registered twice")
        _registry[name] = PeriodicJob(name=name, task=task, every=every)
        return task

    return register


def periodic_jobs() -> list[PeriodicJob]:
    return sorted(_registry.values(), key=lambda job: job.name)


def scheduler_tick(*, now: dt.datetime) -> list[ScheduledRun]:
    """Enqueue every job whose current period has not been enqueued yet; return the new runs."""
    enqueued = []
    for job in periodic_jobs():
        due = job.period_due(now)
        if due is None:
            continue
        period, kwargs = due
        try:
            # The insert and the enqueue commit together: with the database task backend
            # both rows are in this transaction, so a crash never leaves a period marked
            # as enqueued without its task (or the reverse).
            with transaction.atomic():
                run = ScheduledRun.objects.create(job=job.name, period=period, enqueued_at=ensure_aware(now))
                result = job.task.enqueue(**kwargs)
                run.task_result_id = str(result.id)
                run.save(update_fields=["task_result_id"])
        except IntegrityError:
            continue  # another worker enqueued this period first
        logger.info("enqueued periodic job", extra={"job": job.name, "period": period})
        enqueued.append(run)
    return enqueued


def heartbeat(*, worker_id: str, now: dt.datetime, started_at: dt.datetime) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": ensure_aware(started_at),
            "last_seen": ensure_aware(now),
        },
    )
