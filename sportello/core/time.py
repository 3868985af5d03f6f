"""Time helpers. Timestamps are aware UTC; money-relevant dates are explicit `as_of` arguments.

Services never read the clock for a date that decides money: the caller passes `as_of`.
Interfaces (views, commands, the scheduler) are the only places that call `utc_now()`.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC


def utc_now() -> dt.datetime:
    return dt.datetime.now(tz=UTC)


def today_utc() -> dt.date:
    return utc_now().date()


def ensure_aware(value: dt.datetime) -> dt.datetime:
    """Refuse naive datetimes: a time without a zone is a bug waiting for daylight saving."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} where an aware one is required")
    return value.astimezone(UTC)


def parse_as_of(value: str) -> dt.date:
    """A date argument in ISO form (YYYY-MM-DD), as the CLI and API take it."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date in the form YYYY-MM-DD") from None


def local_date(moment: dt.datetime, time_zone: str) -> dt.date:
    """The calendar date of `moment` in `time_zone` (an account's zone)."""
    return ensure_aware(moment).astimezone(zone(time_zone)).date()


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def is_time_zone(name: str) -> bool:
    try:
        zone(name)
    except ValueError:
        return False
    return True
