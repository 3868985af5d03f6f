"""Tenancy: every customer-owned row carries its account, and is reached through it.

Customer-owned models inherit `AccountOwnedModel`; portal and API code read them only
through selectors that take the acting membership and start from
`Model.objects.visible_to(membership)`, so another account's row is simply not found
(404), never forbidden (403) and never counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Self

from django.db import models

if TYPE_CHECKING:
    from sportello.accounts.models import Account


class ActingMembership(Protocol):
    """What tenancy needs to know about whoever acts: the account they act for."""

    account_id: int

    def has_area(self, area: str) -> bool: ...


class AccountOwnedQuerySet(models.QuerySet):
    def visible_to(self, membership: ActingMembership) -> Self:
        return self.filter(account_id=membership.account_id)

    def of_account(self, account: Account) -> Self:
        return self.filter(account_id=account.pk)


class AccountOwnedModel(models.Model):
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")

    objects = AccountOwnedQuerySet.as_manager()

    class Meta:
        abstract = True
