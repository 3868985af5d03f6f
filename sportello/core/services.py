"""Writes of the core app."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import models

from sportello.core.models import AuditEvent
from sportello.core.time import ensure_aware, utc_now

if TYPE_CHECKING:
    from sportello.accounts.models import Account, User


def target_label(obj: models.Model) -> str:
    return f"{obj._meta.label_lower}:{obj.pk}"


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    account: Account | None = None,
    target: models.Model | None = None,
    ip_address: str | None = None,
    data: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event to the audit log, inside the caller's transaction."""
    return AuditEvent.objects.create(
        occurred_at=ensure_aware(at) if at else utc_now(),
        actor=actor if actor is not None and actor.pk else None,
        account=account,
        action=action,
        target=target_label(target) if target is not None else "",
        ip_address=ip_address,
        data=data or {},
    )
