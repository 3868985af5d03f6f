"""Billing periods: calendar arithmetic, pure.

A period is half-open, [start, end): `end` is the first day of the next period, so
consecutive periods tile without a gap or an overlap. Months are calendar months: a
period that starts on a day the target month lacks ends on that month's last day, and
the `anchor_day` (the day the service first started) brings later periods back to it:
31 January -> 28 February -> 31 March, never drifting to the 28th.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator

from sportello.catalog.models import CYCLE_MONTHS


def add_months(start: dt.date, months: int, *, anchor_day: int | None = None) -> dt.date:
    """The date `months` calendar months after `start`, on `anchor_day` (default: start's
    day) or on the last day of the month when the month is shorter."""
    day = anchor_day or start.day
    if not 1 <= day <= 31:
        raise ValueError(f"anchor day {day} is not a day of a month")
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def period_after(start: dt.date, cycle: str, *, anchor_day: int | None = None) -> dt.date:
    """The end (exclusive) of the period of `cycle` that starts on `start`.

    Raises ValueError for a one-time cycle, which has no period.
    """
    months = CYCLE_MONTHS.get(cycle)
    if months is None:
        raise ValueError(f"the {cycle} cycle has no period")
    return add_months(start, months, anchor_day=anchor_day)


def periods_from(
    start: dt.date, cycle: str, *, anchor_day: int | None = None, until: dt.date
) -> Iterator[tuple[dt.date, dt.date]]:
    """Consecutive periods of `cycle` from `start`, each as (start, end), while start < `until`.

    They fall on `anchor_day`, by default `start`'s day, so they never drift to the 28th.
    """
    anchor_day = anchor_day or start.day
    while start < until:
        end = period_after(start, cycle, anchor_day=anchor_day)
        yield start, end
        start = end
