"""Reads of the core app."""

from __future__ import annotations

from django.db.models import QuerySet

from sportello.core.models import AuditEvent
from sportello.core.tenancy import ActingMembership


def audit_events_visible_to(*, membership: ActingMembership) -> QuerySet[AuditEvent]:
    """The acting account's audit log, newest first."""
    return (
        AuditEvent.objects.filter(account_id=membership.account_id)
        .select_related("actor")
        .order_by("-occurred_at", "-id")
    )
