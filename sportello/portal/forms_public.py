"""Forms of the pages a visitor uses before logging in."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sportello.portal.forms import PasswordMeterMixin


class FirstAccessForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("The address your company gave us for you."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class SetPasswordForm(PasswordMeterMixin, forms.Form):
    password1 = forms.CharField(
        label=_("New password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label=_("New password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords are not the same."))
        elif first:
            try:
                validate_password(first, self.user)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class NewMemberForm(SetPasswordForm):
    """Accepting an invitation without a login yet: a name and a password."""

    full_name = forms.CharField(
        label=_("Your name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    field_order = ["full_name", "password1", "password2"]


def _reset_form_base() -> type:
    # Imported late: allauth's forms module reads settings that name this module.
    from allauth.account.forms import ResetPasswordKeyForm as AllauthResetPasswordKeyForm

    return AllauthResetPasswordKeyForm


class ResetPasswordKeyForm(PasswordMeterMixin, _reset_form_base()):  # type: ignore[misc]
    """The reset form of django-allauth, with the live strength meter."""
