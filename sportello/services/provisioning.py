"""The seam between the service lifecycle and the provisioning adapters.

A transition that the provider's systems must hear about (activate, suspend, unsuspend,
terminate, change plan; and cancel and expire, which stop or pause the service) records
in its event which module and action apply, and asks, after commit, for a
`ProvisioningTask` row. The adapters (manual: a staff task; webhook: a signed POST) will
consume those rows. The row is created after commit, never inside the transaction, so a
rolled-back transition asks for nothing; it is unique per (service, action, event), so
recording it again (a retried hook, `provisioning_tasks_backfill`) changes nothing.

A new row is handed to a worker (`provisioning_run_task`); `provisioning_run` claims it
with a conditional update (pending -> running), so two workers never run it twice, calls
the module's adapter outside any transaction, and logs the attempt. A failure worth
retrying puts the task back to pending with a backoff of 1, 5, 25, ... minutes, up to
`MAX_ATTEMPTS`; then, or at once for a failure retrying cannot fix, the task is failed
and waits for staff ("retry now" in the back office). The hourly `provisioning_due` job
runs what is due and records what a lost hook never recorded, so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.db import IntegrityError, transaction
from django.db.models import Q

from sportello.core.effects import after_commit
from sportello.core.time import ensure_aware
from sportello.services.adapters import AdapterResult, ProvisioningError, ProvisioningRequest, adapter_for
from sportello.services.models import (
    AttemptOutcome,
    ProvisioningAction,
    ProvisioningAttempt,
    ProvisioningStatus,
    ProvisioningTask,
    ServiceEvent,
    Transition,
)

logger = logging.getLogger(__name__)

# Tries before a task is failed for staff; the waits between them grow fivefold from a minute.
MAX_ATTEMPTS = 6
FIRST_RETRY = dt.timedelta(minutes=1)
# A claim older than this belongs to a worker that died mid-run (an adapter call takes at
# most the webhook's 10-second timeout); the task goes back to pending.
STALE_CLAIM = dt.timedelta(minutes=15)

# The provisioning action each transition asks for; transitions not listed ask for none.
PROVISIONING_ACTIONS: dict[str, str] = {
    Transition.ACTIVATE: ProvisioningAction.CREATE,
    Transition.SUSPEND: ProvisioningAction.SUSPEND,
    Transition.UNSUSPEND: ProvisioningAction.UNSUSPEND,
    Transition.TERMINATE: ProvisioningAction.TERMINATE,
    Transition.CANCEL: ProvisioningAction.TERMINATE,
    Transition.CANCEL_APPLY: ProvisioningAction.TERMINATE,
    # An expired service is kept, switched off, for the reactivation window.
    Transition.EXPIRE: ProvisioningAction.SUSPEND,
    Transition.REACTIVATE: ProvisioningAction.UNSUSPEND,
    Transition.CHANGE_PLAN: ProvisioningAction.CHANGE_PLAN,
    # More space or an add-on changes what the provider's systems must deliver, like a new plan.
    Transition.CHANGE_OPTIONS: ProvisioningAction.CHANGE_PLAN,
    Transition.ADD_ADDON: ProvisioningAction.CHANGE_PLAN,
}


def provisioning_task_record(*, service_id: int, event_id: int, module: str, action: str) -> ProvisioningTask:
    """The pending task for (service, action, event): created once, found the next times."""
    try:
        # Insert, then catch the violation: a concurrent or repeated call finds the first row.
        with transaction.atomic():
            task = ProvisioningTask.objects.create(
                service_id=service_id, event_id=event_id, module=module, action=action
            )
    except IntegrityError:
        return ProvisioningTask.objects.get(service_id=service_id, event_id=event_id, action=action)
    # A lost enqueue is not lost work: the hourly job runs every due pending task.
    after_commit(_enqueue_run, task_id=task.pk)
    return task


def provisioning_tasks_backfill(*, since: dt.datetime) -> int:
    """Record the tasks of events since `since` whose after-commit hook never ran (the
    process died between the commit and the hook). Returns how many were missing."""
    created = 0
    events = ServiceEvent.objects.filter(at__gte=ensure_aware(since), data__has_key="provisioning").order_by("id")
    for event in events.iterator():
        wanted = event.data["provisioning"]
        if ProvisioningTask.objects.filter(event=event, action=wanted["action"]).exists():
            continue
        provisioning_task_record(
            service_id=event.service_id, event_id=event.pk, module=wanted["module"], action=wanted["action"]
        )
        created += 1
    return created


def _enqueue_run(*, task_id: int, run_after: dt.datetime | None = None) -> None:
    from sportello.services.tasks import provisioning_run_task

    if run_after is None:
        provisioning_run_task.enqueue(task_id=task_id)
    elif provisioning_run_task.get_backend().supports_defer:
        provisioning_run_task.using(run_after=run_after).enqueue(task_id=task_id)
    # Otherwise (tasks run inline) the hourly job picks the retry up.


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed try: 1, 5, 25, 125, ... minutes."""
    return FIRST_RETRY * 5 ** max(attempts - 1, 0)


def provisioning_request(task: ProvisioningTask) -> ProvisioningRequest:
    service = task.service
    return ProvisioningRequest(
        task_id=task.pk,
        event_id=task.event_id,
        action=task.action,
        service_id=service.pk,
        account_id=service.account_id,
        account_reference=service.account.reference,
        product=service.plan.product.slug,
        plan=service.plan.code,
        status=service.status,
        period_start=service.current_period_start,
        period_end=service.current_period_end,
        label=service.label,
    )


def provisioning_run(*, task_id: int, now: dt.datetime) -> ProvisioningTask:
    """Run a due pending task through its module's adapter, once; return it as it ends up.
    A task that is not pending, not yet due or claimed by another worker is left alone."""
    now = ensure_aware(now)
    claimed = (
        ProvisioningTask.objects.filter(pk=task_id, status=ProvisioningStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=ProvisioningStatus.RUNNING, claimed_at=now, updated_at=now)
    )
    task = ProvisioningTask.objects.select_related("service__account", "service__plan__product").get(pk=task_id)
    if not claimed:
        return task

    started = time.monotonic()
    result: AdapterResult | None = None
    failure: ProvisioningError | None = None
    try:
        result = adapter_for(task.module).run(provisioning_request(task), now=now)
    except ProvisioningError as error:
        failure = error
    except Exception as error:  # a bug in an adapter: log it, keep the task for a retry
        logger.exception("provisioning adapter crashed", extra={"task_id": task_id, "module": task.module})
        failure = ProvisioningError(f"{type(error).__name__}: {error}", retryable=True)
    duration_ms = int((time.monotonic() - started) * 1000)

    attempts = task.attempts + 1
    if failure is None:
        outcome, status, error_text, next_at = AttemptOutcome.SUCCEEDED, ProvisioningStatus.DONE, "", None
    elif failure.retryable and attempts < MAX_ATTEMPTS:
        outcome, status, error_text = AttemptOutcome.RETRYABLE, ProvisioningStatus.PENDING, str(failure)
        next_at = now + retry_delay(attempts)
    else:
        outcome, status, error_text, next_at = AttemptOutcome.FAILED, ProvisioningStatus.FAILED, str(failure), None
    with transaction.atomic():
        ProvisioningAttempt.objects.create(
            task=task,
            number=attempts,
            started_at=now,
            duration_ms=duration_ms,
            outcome=outcome,
            status_code=(failure.status_code if failure else result.status_code if result else None),
            error=error_text,
        )
        ProvisioningTask.objects.filter(pk=task.pk, status=ProvisioningStatus.RUNNING).update(
            status=status,
            attempts=attempts,
            last_error=error_text,
            next_attempt_at=next_at,
            claimed_at=None,
            finished_at=now if status != ProvisioningStatus.PENDING else None,
            updated_at=now,
        )
        if next_at is not None:
            after_commit(_enqueue_run, task_id=task.pk, run_after=next_at)
    if status == ProvisioningStatus.FAILED:
        logger.warning("provisioning task failed", extra={"task_id": task.pk, "error": error_text})
    task.refresh_from_db()
    return task


def provisioning_run_due(*, now: dt.datetime) -> dict[str, int]:
    """Release dead workers' claims, then run every pending task that is due at `now`."""
    now = ensure_aware(now)
    released = ProvisioningTask.objects.filter(
        status=ProvisioningStatus.RUNNING, claimed_at__lt=now - STALE_CLAIM
    ).update(status=ProvisioningStatus.PENDING, claimed_at=None, updated_at=now)
    due = (
        ProvisioningTask.objects.filter(status=ProvisioningStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("id")
        .values_list("id", flat=True)
    )
    counts = {"released": released, "done": 0, "pending": 0, "failed": 0, "skipped": 0}
    for task_id in list(due):
        status = provisioning_run(task_id=task_id, now=now).status
        counts[status if status in counts else "skipped"] += 1
    return counts


def provisioning_retry(*, task_id: int, now: dt.datetime) -> bool:
    """Staff's "retry now": a failed or waiting task becomes due at once and is enqueued.
    Returns False for a task that is running or done."""
    now = ensure_aware(now)
    with transaction.atomic():
        changed = ProvisioningTask.objects.filter(
            pk=task_id, status__in=[ProvisioningStatus.FAILED, ProvisioningStatus.PENDING]
        ).update(status=ProvisioningStatus.PENDING, next_attempt_at=now, finished_at=None, updated_at=now)
        if changed:
            after_commit(_enqueue_run, task_id=task_id)
    return bool(changed)
