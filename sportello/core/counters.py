"""Sequential numbers taken from a locked counter row: unique, gapless and never reused, also
under concurrency.

A counter is a row (one per series and year for documents, one per year for orders) whose
integer column holds the last number given. `counter_take` locks that row (SELECT ... FOR
UPDATE; SQLite's IMMEDIATE transactions serialise writers anyway) inside the caller's
transaction and moves it on: whoever holds the lock gets the next numbers, the others
queue, and a rollback gives the numbers back with everything else the transaction wrote.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, models, transaction


def counter_take(model: type[models.Model], *, key: dict[str, Any], field: str, count: int = 1) -> int:
    """Reserve `count` consecutive numbers of the `model` row found by `key`; return the first.

    `field` is the row's "last number given" column. The row is created (at 0) the first
    time a key is used; if another transaction creates it meanwhile, the unique constraint
    (or primary key) on `key` says so and we lock theirs (insert, then catch the violation).
    Must run inside the transaction that writes what is numbered, which keeps the row locked
    until it commits.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("numbers are taken inside the transaction that uses them")
    manager = model._default_manager
    counter = manager.select_for_update().filter(**key).first()
    if counter is None:
        try:
            with transaction.atomic():
                manager.create(**key, **{field: 0})
        except IntegrityError:
            pass
        counter = manager.select_for_update().get(**key)
    first = int(getattr(counter, field)) + 1
    setattr(counter, field, first - 1 + count)
    counter.save(update_fields=[field])
    return first
