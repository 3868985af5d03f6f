"""How django-allauth's two-factor part fits Sportello."""

from __future__ import annotations

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator

from sportello.accounts.middleware_security import SECOND_FACTOR_TYPES, mfa_required_for
from sportello.accounts.models import User


class MFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """Where two factors are required, the last second factor cannot be removed;
        another one must be added first."""
        user = authenticator.user
        if authenticator.type not in SECOND_FACTOR_TYPES or not isinstance(user, User):
            return True
        if not mfa_required_for(user=user):
            return True
        others = Authenticator.objects.filter(user=user, type__in=SECOND_FACTOR_TYPES).exclude(pk=authenticator.pk)
        return others.exists()
