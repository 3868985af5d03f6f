"""Single-use, expiring password links (first access and reset).

A link's token is Django's HMAC token over the user's id, password hash, last login,
email and `password_link_generation`, with its timestamp. It therefore dies when:
- it is older than PASSWORD_RESET_TIMEOUT (one hour);
- it has been used (the password changed, and with it the hash);
- the user logged in since (last_login changed);
- the email changed;
- a newer link was issued: issuing bumps `password_link_generation`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db.models import F

from sportello.accounts.models import User


class PasswordLinkTokenGenerator(PasswordResetTokenGenerator):
    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        base = super()._make_hash_value(user, timestamp)
        return f"{base}|{user.email}|{getattr(user, 'password_link_generation', 0)}"

    def make_token(self, user: Any) -> str:
        """Issue a token; every token issued before it for this user stops working."""
        User.objects.filter(pk=user.pk).update(password_link_generation=F("password_link_generation") + 1)
        user.password_link_generation = User.objects.values_list("password_link_generation", flat=True).get(pk=user.pk)
        return str(super().make_token(user))


password_link_tokens = PasswordLinkTokenGenerator()
