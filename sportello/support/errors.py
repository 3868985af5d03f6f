"""Errors of the support domain. Each carries a code and the figures its message needs;
the interface translates them (see `portal.views.support.refusal_message`)."""

from __future__ import annotations


class SupportError(Exception):
    """Base of the support domain's refusals."""

    code = "refused"


class IllegalTransition(SupportError):
    code = "illegal_transition"

    def __init__(self, transition: str, status: str) -> None:
        super().__init__(f"{transition} is not allowed from {status}")
        self.transition = transition
        self.status = status


class NotAllowed(SupportError):
    """The acting member may not do this to this request (read-only, not theirs)."""

    code = "not_allowed"


class ReopenWindowClosed(SupportError):
    code = "reopen_window_closed"

    def __init__(self, days: int) -> None:
        super().__init__(f"closed more than {days} days ago")
        self.days = days


class InvalidRequestData(SupportError):
    """A field is missing or wrong; `field` names it, `reason` says why (in English, for logs)."""

    code = "invalid"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RelatedNotFound(SupportError):
    """The object to link (`kind`: a `RelatedKind` value) is not one the member may see in
    their account: another account's, an invoice still in draft, an invoice for a member
    without the billing area, or an id that does not exist — one answer for all of them."""

    code = "related_not_found"

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind} not found")
        self.kind = kind


class AttachmentRefused(SupportError):
    """An uploaded file breaks a limit or is of a refused type. `reason` is one of
    too_large, too_many, empty, type_refused; `limit` carries the figure."""

    code = "attachment_refused"

    def __init__(self, reason: str, *, filename: str = "", limit: int = 0) -> None:
        super().__init__(f"{filename}: {reason}")
        self.reason = reason
        self.filename = filename
        self.limit = limit


class InboundRefused(SupportError):
    """An inbound email that changes nothing. `reason`: no_reference, bad_signature,
    unknown_sender, closed, empty, malformed."""

    code = "inbound_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MergeWouldChangeAccess(SupportError):
    """Merging would take a conversation away from someone who sees it now, or show it to
    someone who does not: the two requests' requesters differ and `requester` (an email
    address) does not see and answer every request of the account."""

    code = "merge_would_change_access"

    def __init__(self, requester: str) -> None:
        super().__init__(f"{requester} does not see both requests")
        self.requester = requester
