"""Daily upkeep of the API."""

from __future__ import annotations

import datetime as dt

from django.tasks import task

from sportello.api.idempotency import idempotency_records_prune
from sportello.core.scheduler import periodic
from sportello.core.time import parse_as_of


@periodic("api.prune_idempotency_keys", every="daily")
@task
def prune_idempotency_keys(as_of: str) -> int:
    """Forget Idempotency-Key results older than the retention (at least 24 hours); return how many."""
    start_of_day = dt.datetime.combine(parse_as_of(as_of), dt.time(0), tzinfo=dt.UTC)
    return idempotency_records_prune(now=start_of_day)
