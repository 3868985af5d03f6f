"""Idempotency-Key on API writes.

A client sends a write with a key of its choosing and may send it again (after a timeout,
a crash, a lost answer) without doing it twice. The first request's result is stored with
the key, in the write's own transaction; the same key with the same request replays that
result; the same key with a different request is refused (422), since one of them is a
mistake. Keys are kept for IDEMPOTENCY_KEEP (at least 24 hours), then pruned daily.

Concurrency: the record is inserted before the effect, and the unique (owner, key)
constraint decides. On PostgreSQL a second insert with the key waits for the first
transaction: if it commits, the insert fails and the stored result is replayed; if it
rolls back, the second request performs the write. Never check-then-insert.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from sportello.accounts.models import ApiToken, ApiTokenKind
from sportello.api.models import IdempotencyRecord
from sportello.core.time import ensure_aware

# Results are kept this long at least (Stripe's practice is 24 hours).
IDEMPOTENCY_KEEP = dt.timedelta(hours=24)


class IdempotencyKeyReused(Exception):
    """The key already names another request of the same owner."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    body: dict[str, Any]
    # True when this is the stored result of an earlier request with the key.
    replayed: bool


def idempotency_owner(token: ApiToken) -> str:
    """The key space of a token: its account's for member tokens, its own for integrations."""
    if token.kind == ApiTokenKind.MEMBER:
        return f"account:{token.account_id}"
    return f"integration:{token.pk}"


def request_fingerprint(*, method: str, path: str, payload: dict[str, Any]) -> str:
    """The same request, whatever the JSON's spacing or key order, has the same fingerprint."""
    canonical = json.dumps([method.upper(), path, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_write(
    *,
    token: ApiToken,
    key: str,
    fingerprint: str,
    now: dt.datetime,
    effect: Callable[[], tuple[int, dict[str, Any]]],
) -> Outcome:
    """Run `effect` once per (owner, key) and store its result; replay it for a repeat.

    `effect` runs inside this transaction; if it raises, nothing is stored (neither the
    effect nor the key), so the client may send the request again.
    """
    owner = idempotency_owner(token)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    owner=owner,
                    key=key,
                    fingerprint=fingerprint,
                    token=token,
                    status_code=0,
                    body={},
                    created_at=ensure_aware(now),
                )
        except IntegrityError:
            # The row is committed (the insert waited for its transaction): replay it.
            first = IdempotencyRecord.objects.get(owner=owner, key=key)
            if first.fingerprint != fingerprint:
                raise IdempotencyKeyReused(key) from None
            return Outcome(status=first.status_code, body=first.body, replayed=True)
        status, body = effect()
        record.status_code = status
        record.body = body
        record.save(update_fields=["status_code", "body"])
        return Outcome(status=status, body=body, replayed=False)


def idempotency_records_prune(*, now: dt.datetime) -> int:
    """Delete the results older than IDEMPOTENCY_KEEP before `now`; return how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=ensure_aware(now) - IDEMPOTENCY_KEEP).delete()
    return deleted
