"""Background work of billing: the daily billing run, whole or one partition of it."""

from __future__ import annotations

from typing import Any

from django.tasks import task

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
