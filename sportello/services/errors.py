"""Errors of the services domain. Each carries a code and the figures a message needs;
the interface translates them. A refused transition has changed nothing."""

from __future__ import annotations

import datetime as dt


class ServicesError(Exception):
    """Base of the services domain's refusals."""

    code = "refused"


class IllegalTransition(ServicesError):
    """The transition table does not allow `transition` from the service's status."""

    code = "illegal_transition"

    def __init__(self, *, transition: str, from_status: str, to_status: str, reason: str = "") -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(f"{transition}: {from_status} -> {to_status} is not allowed{detail}")
        self.transition = transition
        self.from_status = from_status
        self.to_status = to_status
        self.reason = reason


class OutsideReactivationWindow(ServicesError):
    """The service expired too long ago to be reactivated."""

    code = "outside_reactivation_window"

    def __init__(self, *, expired_on: dt.date, last_day: dt.date, as_of: dt.date) -> None:
        super().__init__(f"expired on {expired_on}, reactivable until {last_day}, asked on {as_of}")
        self.expired_on = expired_on
        self.last_day = last_day
        self.as_of = as_of


class CancelNotAllowed(ServicesError):
    """A cancellation that the product's rules or the service's state refuse."""

    code = "cancel_not_allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PeriodNotEnded(ServicesError):
    """Something that happens at the end of the period was asked for before it (or the period never ends)."""

    code = "period_not_ended"

    def __init__(self, *, period_end: dt.date | None, as_of: dt.date) -> None:
        super().__init__(f"the period ends on {period_end or 'never'}, asked on {as_of}")
        self.period_end = period_end
        self.as_of = as_of


class RenewalRefused(ServicesError):
    code = "renewal_refused"

    def __init__(self, reason: str, *, expected: dt.date | None = None, given: dt.date | None = None) -> None:
        super().__init__(f"{reason} (next period starts {expected}, renewal for {given})" if expected else reason)
        self.reason = reason
        self.expected = expected
        self.given = given


class InvalidServiceData(ServicesError):
    code = "invalid"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotAllowed(ServicesError):
    """The acting member may not change services (no services right, or read-only)."""

    code = "not_allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServiceNotFound(ServicesError):
    """The service is not one of the acting member's account: the interface answers 404."""

    code = "not_found"


class UsageKeyReused(ServicesError):
    """An idempotency key already names a different usage record of the service."""

    code = "usage_key_reused"

    def __init__(self, idempotency_key: str) -> None:
        super().__init__(f"idempotency key {idempotency_key!r} already used for a different record")
        self.idempotency_key = idempotency_key
