"""Errors of the accounts domain. Messages are translated at the interface."""

from __future__ import annotations


class AccountsError(Exception):
    """Base of the accounts domain's refusals."""


class InvalidAccountData(AccountsError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class AlreadyMember(AccountsError):
    pass
