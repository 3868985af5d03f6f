"""The manual module, built in and offline: each provisioning action becomes a task for staff."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from sportello.services.adapters import AdapterResult, ProvisioningRequest
from sportello.services.models import StaffTask


class ManualAdapter:
    def run(self, request: ProvisioningRequest, *, now: dt.datetime) -> AdapterResult:
        title = f"{request.action.replace('_', ' ').capitalize()} {request.product} {request.plan}"
        title += f" for {request.account_reference} (service #{request.service_id})"
        try:
            # Insert, then catch the violation: a second run finds the first staff task.
            with transaction.atomic():
                staff_task = StaffTask.objects.create(
                    provisioning_task_id=request.task_id,
                    account_id=request.account_id,
                    service_id=request.service_id,
                    action=request.action,
                    title=title[:300],
                )
        except IntegrityError:
            staff_task = StaffTask.objects.get(provisioning_task_id=request.task_id)
        return AdapterResult(detail=f"staff task #{staff_task.pk}")
