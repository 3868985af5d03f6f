"""Reads of the accounts domain."""

from __future__ import annotations

from django.db.models import QuerySet

from sportello.accounts.models import AccountStatus, Membership, User


def memberships_of(*, user: User) -> QuerySet[Membership]:
    """The accounts `user` can act for in the client area, by account name."""
    return (
        Membership.objects.filter(user=user, account__status__in=[AccountStatus.ACTIVE, AccountStatus.SUSPENDED])
        .select_related("account")
        .order_by("account__name", "account_id")
    )


def membership_active(*, user: User, account_id: int | None) -> Membership | None:
    """The membership to act with: the chosen account if `user` belongs to it, else the first."""
    memberships = memberships_of(user=user)
    if account_id is not None:
        chosen = memberships.filter(account_id=account_id).first()
        if chosen is not None:
            return chosen
    return memberships.first()


def members_visible_to(*, membership: Membership) -> QuerySet[Membership]:
    """The acting account's members; never another account's."""
    return (
        Membership.objects.filter(account_id=membership.account_id)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )
