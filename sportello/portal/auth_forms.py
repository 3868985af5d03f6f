"""django-allauth's password forms with the live strength meter (settings.ACCOUNT_FORMS).

A new password also ends the user's other sessions. Django already makes them useless
(each session carries a hash of the password), but their rows would stay in "Where you
are logged in" and their Session rows in the database until they expire; the service
removes both at once.

Why here: allauth's PasswordChangeView calls `form.save()` and then rotates the current
session id (`update_session_auth_hash`); the view is allauth's own URL, the adapter's
hooks get no session to keep, and allauth's `password_changed` signal would hide the
rule in a receiver (DESIGN: no rules in signals). The form is the one piece of this
flow we own. It keeps no rule of its own: it hands the request's session, which allauth
exposes to its forms as `allauth.core.context.request` (its MFA forms do the same), to
the service. SessionTrackingMiddleware then moves the kept row to the rotated id.
"""

from __future__ import annotations

from typing import Any

from allauth.account import forms as allauth_forms
from allauth.core import context as allauth_context
from django import forms
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from sportello.accounts.adapters import client_ip
from sportello.accounts.models import User
from sportello.accounts.services import user_sessions_end_others
from sportello.portal.forms import PasswordMeterMixin


def _end_other_sessions(user: object) -> None:
    request = allauth_context.request
    keep = request.session.session_key if request is not None else None
    if not isinstance(user, User) or not keep:
        return
    user_sessions_end_others(user=user, keep_session_key=keep, by=user, ip_address=client_ip(request))


def _relabel(form: forms.Form, labels: dict[str, Any]) -> None:
    """Our wording, in sentence case like the rest of the client area; the labels are
    shown, so allauth's placeholders (which repeat them) go."""
    for name, label in labels.items():
        form.fields[name].label = label
        form.fields[name].widget.attrs.pop("placeholder", None)


class ChangePasswordForm(PasswordMeterMixin, allauth_forms.ChangePasswordForm):
    meter_field = "password1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _relabel(
            self,
            {
                "oldpassword": _("Current password"),
                "password1": _("New password"),
                "password2": _("New password, again"),
            },
        )

    def save(self) -> None:
        with transaction.atomic():
            super().save()
            _end_other_sessions(self.user)


class SetPasswordForm(PasswordMeterMixin, allauth_forms.SetPasswordForm):
    """For a user without a usable password yet (allauth's "set password" page)."""

    meter_field = "password1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _relabel(self, {"password1": _("Password"), "password2": _("Password, again")})

    def save(self) -> None:
        with transaction.atomic():
            super().save()
            _end_other_sessions(self.user)
