"""Background work of billing: the daily billing run, whole or one partition of it, and the
daily expiry of quotes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.tasks import task

from sportello.billing.quotes import quotes_expire_due
from sportello.billing.run import Partition, billing_run
from sportello.core.scheduler import periodic
from sportello.core.time import parse_as_of


@periodic("billing.run", every="daily")
@task
def billing_run_daily(as_of: str) -> dict[str, Any]:
    """The day's billing run over all accounts (a second worker may share it by partitions)."""
    return billing_run(as_of=parse_as_of(as_of)).as_dict()


@task
def billing_run_partition(as_of: str, partition: str) -> dict[str, Any]:
    """One partition ("i/n") of a day's run, for spreading a large run over several workers."""
    return billing_run(as_of=parse_as_of(as_of), partition=Partition.parse(partition)).as_dict()


@periodic("billing.quotes_expire", every="daily")
@task
def quotes_expire(as_of: str) -> dict[str, int]:
    """Expire the sent quotes whose validity ended before the day (idempotent per date)."""
    return {"expired": quotes_expire_due(as_of=dt.date.fromisoformat(as_of))}
