"""Reads of the email log, always through the acting membership."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from sportello.accounts.models import Area, Membership
from sportello.notifications.models import EmailLog


def emails_visible_to(*, membership: Membership) -> QuerySet[EmailLog]:
    """Emails the member may read: their own, and with the contacts right every email of the account."""
    own = Q(recipient_id=membership.user_id) & (Q(account_id=membership.account_id) | Q(account__isnull=True))
    condition = own | Q(account_id=membership.account_id) if membership.has_area(Area.CONTACTS) else own
    return EmailLog.objects.filter(condition).order_by("-created_at", "-id")
