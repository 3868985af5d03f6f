"""Reads of the accounts domain."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from sportello.accounts.models import (
    AccountStatus,
    ApiToken,
    ApiTokenKind,
    Contact,
    Invitation,
    Membership,
    User,
    UserSession,
)


def memberships_of(*, user: User) -> QuerySet[Membership]:
    """The accounts `user` can act for in the client area (active ones), by account name."""
    return (
        Membership.objects.filter(user=user, account__status=AccountStatus.ACTIVE)
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


def billing_contact_of(*, account_id: int) -> Contact | None:
    return Contact.objects.filter(account_id=account_id, is_billing_default=True).first()


def contacts_visible_to(*, membership: Membership) -> QuerySet[Contact]:
    return Contact.objects.filter(account_id=membership.account_id).select_related("user")


def invitations_pending_for(*, membership: Membership, now: dt.datetime) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        account_id=membership.account_id, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).select_related("invited_by")


def sessions_of(*, user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user).order_by("-last_seen")


def api_tokens_of(*, membership: Membership) -> QuerySet[ApiToken]:
    """The member's own API tokens for the account they act for, newest first."""
    return ApiToken.objects.filter(kind=ApiTokenKind.MEMBER, membership=membership).order_by("-created_at", "-id")
