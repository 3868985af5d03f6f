"""Background work of the services app: running provisioning tasks."""

from __future__ import annotations

import datetime as dt

from django.tasks import task

from sportello.core.scheduler import periodic
from sportello.core.time import ensure_aware, utc_now
from sportello.services.provisioning import provisioning_run, provisioning_run_due, provisioning_tasks_backfill

# How far back the hourly job looks for transitions whose after-commit hook never ran.
BACKFILL_WINDOW = dt.timedelta(days=2)


@task
def provisioning_run_task(task_id: int) -> str:
    """Run one provisioning task (enqueued after commit when the task is recorded)."""
    return provisioning_run(task_id=task_id, now=utc_now()).status


@periodic("services.provisioning_due", every="hourly")
@task
def provisioning_due(now: str) -> dict[str, int]:
    """Record the tasks lost hooks never recorded, then run every due pending task."""
    at = ensure_aware(dt.datetime.fromisoformat(now))
    backfilled = provisioning_tasks_backfill(since=at - BACKFILL_WINDOW)
    return {"backfilled": backfilled, **provisioning_run_due(now=at)}
