"""Errors of the accounts domain. Each carries a code; the interface translates it."""

from __future__ import annotations


class AccountsError(Exception):
    """Base of the accounts domain's refusals."""

    code = "refused"


class InvalidAccountData(AccountsError):
    code = "invalid"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class AlreadyMember(AccountsError):
    code = "already_member"


class NotAllowed(AccountsError):
    """The acting member may not do this (missing right, over-granting, self-promotion)."""

    code = "not_allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LastOwner(AccountsError):
    """The change would leave the account without an owner."""

    code = "last_owner"


class BillingContactRequired(AccountsError):
    """The change would leave the account without a default billing contact."""

    code = "billing_contact_required"


class InvitationInvalid(AccountsError):
    """The invitation link is unknown, used, revoked, expired or meant for another email."""

    code = "invitation_invalid"


class ApiTokenInvalid(AccountsError):
    """The API token is malformed, unknown, revoked or expired, or whoever it acts for can
    no longer act (account not active, login disabled, membership removed). One error for
    all of these: the API never tells a caller which part of a bad token was wrong."""

    code = "token_invalid"
