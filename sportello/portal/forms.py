from django import forms
from django.conf import settings
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class ProfileForm(forms.Form):
    full_name = forms.CharField(
        label=_("Full name"), max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("As my browser prefers")), *settings.LANGUAGES],
        required=False,
        help_text=_("Pages and emails to you are in this language."),
    )


class AccountSwitchForm(forms.Form):
    account = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class MeterBoundField(forms.BoundField):
    """A password field described by the live meter as well as by its help and errors."""

    @property
    def aria_describedby(self) -> str:
        own = super().aria_describedby
        return f"password-meter {own}" if own else "password-meter"


class PasswordMeterMixin:
    """Adds the live strength meter to a form's `password1` field.

    While the user types, htmx posts the field to `password-strength`, which answers the
    meter (portal/_password_meter.html) scored by the same zxcvbn rules the server
    enforces. Templates render `{% include "portal/_password_meter_slot.html" %}` under the
    field, where the answer goes.
    """

    meter_field = "password1"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get(self.meter_field)  # type: ignore[attr-defined]
        if field is not None:
            field.bound_field_class = MeterBoundField
            field.widget.attrs.update(
                {
                    "hx-post": str(reverse_lazy("password-strength")),
                    "hx-trigger": "input changed delay:250ms",
                    "hx-target": "#password-meter",
                    "hx-swap": "innerHTML",
                    "hx-include": "this",
                    "autocomplete": "new-password",
                }
            )
