"""Document numbers: gapless and unique per series and year, also under concurrency.

The next number is taken inside the transaction that issues the document, by locking the
series' `DocumentCounter` row for that year (SELECT ... FOR UPDATE; SQLite's IMMEDIATE
transactions serialise writers anyway). Whoever holds the lock gets the next numbers; a
rollback gives them back with everything else, so no number is ever skipped or reused.
The unique constraint on (series, year, sequence) is the last guard.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from sportello.billing.models import DocumentCounter


def series_of(kind: str) -> str:
    """The series code documents of `kind` (invoice, credit_note, proforma, quote) are numbered in."""
    return str(settings.BILLING_SERIES[kind])


def number_format(*, series: str, year: int, sequence: int) -> str:
    """The number as printed, from BILLING_NUMBER_FORMAT (default `{series}-{year}-{seq:05}`)."""
    return str(settings.BILLING_NUMBER_FORMAT).format(series=series, year=year, seq=sequence)


def numbers_take(*, series: str, year: int, count: int = 1) -> int:
    """Reserve `count` consecutive numbers of `series` in `year`; return the first.

    Must run inside the transaction that writes the documents, which keeps the counter
    locked until it commits: documents issued concurrently queue here and get the next
    numbers in turn.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("numbers are taken inside the transaction that issues the documents")
    counter = DocumentCounter.objects.select_for_update().filter(series=series, year=year).first()
    if counter is None:
        # First document of the year: create the row; if another transaction created it
        # meanwhile, the unique constraint says so and we lock theirs.
        try:
            with transaction.atomic():
                DocumentCounter.objects.create(series=series, year=year, last_sequence=0)
        except IntegrityError:
            pass
        counter = DocumentCounter.objects.select_for_update().get(series=series, year=year)
    first = counter.last_sequence + 1
    counter.last_sequence += count
    counter.save(update_fields=["last_sequence"])
    return first
