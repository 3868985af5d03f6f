"""Document numbers: gapless and unique per series and year, also under concurrency.

The next number is taken inside the transaction that issues the document, by locking the
series' `DocumentCounter` row for that year (`core.counters.counter_take`: SELECT ... FOR
UPDATE; SQLite's IMMEDIATE transactions serialise writers anyway). Whoever holds the lock gets the next numbers; a
rollback gives them back with everything else, so no number is ever skipped or reused.
The unique constraint on (series, year, sequence) is the last guard.
"""

from __future__ import annotations

from django.conf import settings

from sportello.billing.models import DocumentCounter
from sportello.core.counters import counter_take


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
    return counter_take(DocumentCounter, key={"series": series, "year": year}, field="last_sequence", count=count)
