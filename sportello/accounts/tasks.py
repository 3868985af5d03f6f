"""Daily upkeep of the accounts domain."""

from __future__ import annotations

import datetime as dt

from django.contrib.sessions.models import Session
from django.tasks import task

from sportello.accounts.models import UserSession
from sportello.core.scheduler import periodic
from sportello.core.time import parse_as_of


@periodic("accounts.prune_sessions", every="daily")
@task
def prune_sessions(as_of: str) -> int:
    """Forget the rows of browsers whose session expired or was ended; return how many."""
    start_of_day = dt.datetime.combine(parse_as_of(as_of), dt.time(0), tzinfo=dt.UTC)
    live = Session.objects.filter(expire_date__gte=start_of_day).values("session_key")
    deleted, _ = UserSession.objects.exclude(session_key__in=live).delete()
    return deleted
