"""Background work of the billing app."""

from __future__ import annotations

import datetime as dt

from django.tasks import task

from sportello.billing.quotes import quotes_expire_due
from sportello.core.scheduler import periodic


@periodic("billing.quotes_expire", every="daily")
@task
def quotes_expire(as_of: str) -> dict[str, int]:
    """Expire the sent quotes whose validity ended before the day (idempotent per date)."""
    return {"expired": quotes_expire_due(as_of=dt.date.fromisoformat(as_of))}
