"""Background work of billing: the daily billing run, whole or one partition of it, and the
daily expiry of quotes.

With BILLING_RUN_PARTITIONS = n above 1, the daily job does not bill: it enqueues the n
partitions ("0/n" ... "n-1/n", accounts by id modulo n) as `billing_run_partition` tasks
on the task queue, in one transaction, and every worker that is free takes one. Each
partition is idempotent per date like the whole run, so a task run twice changes nothing;
`run.billing_run_report` adds the partitions' reports up into the day's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.tasks import task

from sportello.billing.quotes import quotes_expire_due
from sportello.billing.run import Partition, billing_run
from sportello.core.scheduler import periodic
from sportello.core.time import parse_as_of


@periodic("billing.run", every="daily")
@task
def billing_run_daily(as_of: str) -> dict[str, Any]:
    """The day's billing run over all accounts, or, with BILLING_RUN_PARTITIONS above 1,
    one `billing_run_partition` task per partition for the workers to share."""
    day = parse_as_of(as_of)
    count = settings.BILLING_RUN_PARTITIONS
    if count == 1:
        return billing_run(as_of=day).as_dict()
    return billing_run_partitions_enqueue(as_of=day, count=count)


def billing_run_partitions_enqueue(*, as_of: dt.date, count: int) -> dict[str, Any]:
    """Enqueue the `count` partitions of `as_of`'s run, all or none (one transaction)."""
    partitions = [Partition(index=index, count=count).label for index in range(count)]
    with transaction.atomic():
        results = [billing_run_partition.enqueue(as_of=as_of.isoformat(), partition=label) for label in partitions]
    return {"as_of": as_of.isoformat(), "partitions": partitions, "tasks": [str(result.id) for result in results]}


@task
def billing_run_partition(as_of: str, partition: str) -> dict[str, Any]:
    """One partition ("i/n") of a day's run, for spreading a large run over several workers."""
    return billing_run(as_of=parse_as_of(as_of), partition=Partition.parse(partition)).as_dict()


@periodic("billing.quotes_expire", every="daily")
@task
def quotes_expire(as_of: str) -> dict[str, int]:
    """Expire the sent quotes whose validity ended before the day (idempotent per date)."""
    return {"expired": quotes_expire_due(as_of=dt.date.fromisoformat(as_of))}
