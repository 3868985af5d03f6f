"""The seam between the service lifecycle and the provisioning adapters.

A transition that the provider's systems must hear about (activate, suspend, unsuspend,
terminate, change plan; and cancel and expire, which stop or pause the service) records
in its event which module and action apply, and asks, after commit, for a
`ProvisioningTask` row. The adapters (manual: a staff task; webhook: a signed POST) will
consume those rows. The row is created after commit, never inside the transaction, so a
rolled-back transition asks for nothing; it is unique per (service, action, event), so
recording it again (a retried hook, `provisioning_tasks_backfill`) changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from sportello.core.time import ensure_aware
from sportello.services.models import ProvisioningAction, ProvisioningTask, ServiceEvent, Transition

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
}


def provisioning_task_record(*, service_id: int, event_id: int, module: str, action: str) -> ProvisioningTask:
    """The pending task for (service, action, event): created once, found the next times."""
    try:
        # Insert, then catch the violation: a concurrent or repeated call finds the first row.
        with transaction.atomic():
            return ProvisioningTask.objects.create(
                service_id=service_id, event_id=event_id, module=module, action=action
            )
    except IntegrityError:
        return ProvisioningTask.objects.get(service_id=service_id, event_id=event_id, action=action)


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
