"""Cursor pagination: an opaque, signed cursor that names the last row of the page.

Lists are ordered newest first by (created_at, id); the next page starts strictly after
the cursor's row, so rows added meanwhile never shift a page (as offsets would). The
cursor is signed with the site's secret, so a tampered one is refused, not followed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core import signing
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from sportello.api.errors import ApiError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_SALT = "sportello.api.cursor"

M = TypeVar("M", bound=Model)


@dataclass(frozen=True, slots=True)
class Page[T]:
    items: list[T]
    next_cursor: str | None


def cursor_encode(*, listing: str, created_at: dt.datetime, pk: int) -> str:
    return signing.dumps([listing, created_at.isoformat(), pk], salt=_SALT, compress=True)


def cursor_decode(*, listing: str, cursor: str) -> tuple[dt.datetime, int]:
    """The (created_at, id) a cursor names; 400 if it is not one this listing issued."""
    try:
        name, created_at, pk = signing.loads(cursor, salt=_SALT)
        moment = dt.datetime.fromisoformat(created_at)
        if name != listing or not isinstance(pk, int) or moment.tzinfo is None:
            raise ValueError(name)
    except (signing.BadSignature, ValueError, TypeError):
        raise ApiError(
            400, "invalid_cursor", _("The cursor is not valid: use the next_cursor of the page before.")
        ) from None
    return moment, pk


def paginate(
    queryset: QuerySet[Any], *, listing: str, cursor: str | None, limit: int, moment: str = "created_at"
) -> Page[Any]:
    """One page of `queryset`, newest first by (`moment`, id), after `cursor`. `moment` is
    the row's time field: created_at, or the time of a ledger entry."""
    rows = queryset.order_by(f"-{moment}", "-id")
    if cursor:
        created_at, pk = cursor_decode(listing=listing, cursor=cursor)
        rows = rows.filter(Q(**{f"{moment}__lt": created_at}) | Q(**{moment: created_at, "id__lt": pk}))
    items = list(rows[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    next_cursor = None
    if more and items:
        last = items[-1]
        next_cursor = cursor_encode(listing=listing, created_at=getattr(last, moment), pk=last.pk)
    return Page(items=items, next_cursor=next_cursor)
