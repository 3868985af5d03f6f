"""Forms of the "Users and contacts" pages and the account details page.

The forms check the shape of the input (a known role, known areas, an email address);
who may grant what is decided by the accounts services alone. The choices a form
*shows* are narrowed to what the acting member may grant, but every known value is
accepted, so that an over-grant reaches the service and is refused there, with the
service's reason, instead of being hidden by a "not a valid choice" from the form.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from sportello.accounts.errors import (
    AccountsError,
    AlreadyMember,
    BillingContactRequired,
    InvalidAccountData,
    LastOwner,
    NotAllowed,
)
from sportello.accounts.models import DEFAULT_TOPICS, ROLE_AREAS, Account, Area, Contact, EmailTopic, Membership, Role

# --- What the acting member may grant ----------------------------------------------------


def grantable_roles(acting: Membership) -> list[tuple[str, str]]:
    """The roles the services would let `acting` grant: never more than its own areas,
    the owner role only by an owner. Custom is offered whenever any area can be given."""
    if not acting.can_change or not acting.has_area(Area.CONTACTS):
        return []
    roles = []
    for value, label in Role.choices:
        if value == Role.OWNER and not acting.is_owner:
            continue
        if value != Role.CUSTOM and not ROLE_AREAS[value] <= acting.areas:
            continue
        roles.append((value, str(label)))
    return roles


def grantable_areas(acting: Membership) -> list[tuple[str, str]]:
    """The areas `acting` holds, in the menu's order: a custom role may open only these."""
    if not acting.can_change:
        return []
    return [(value, str(label)) for value, label in Area.choices if acting.has_area(value)]


class RoleFieldsMixin:
    """A role select and the areas of a custom role, shown as the acting member may grant."""

    fields: dict[str, forms.Field]

    def _limit_role_choices(self, acting: Membership) -> None:
        # Validation keeps every known value (field.choices); only the widget is narrowed.
        self.fields["role"].widget.choices = grantable_roles(acting)
        self.fields["custom_areas"].widget.choices = grantable_areas(acting)


class InvitationForm(RoleFieldsMixin, forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    custom_areas = forms.MultipleChoiceField(
        label=_("Areas of the custom role"),
        choices=Area.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only for the custom role: the parts of the customer area the person may use."),
    )

    def __init__(self, *args: Any, acting: Membership, **kwargs: Any) -> None:
        # Least privilege first: read-only when the member may give it, else a custom role.
        roles = [value for value, _label in grantable_roles(acting)]
        kwargs.setdefault("initial", {"role": Role.READ_ONLY if Role.READ_ONLY in roles else Role.CUSTOM})
        # It shares the page with the contact form: distinct ids, same field names.
        kwargs.setdefault("auto_id", "invite_%s")
        super().__init__(*args, **kwargs)
        self._limit_role_choices(acting)
        self.fields["email"].widget.attrs["autocomplete"] = "off"


class MemberChangeForm(RoleFieldsMixin, forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    custom_areas = forms.MultipleChoiceField(
        label=_("Areas of the custom role"),
        choices=Area.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only for the custom role: the parts of the customer area the person may use."),
    )

    def __init__(self, *args: Any, acting: Membership, member: Membership, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"role": member.role, "custom_areas": sorted(member.areas)})
        super().__init__(*args, **kwargs)
        self._limit_role_choices(acting)
        offered = self.fields["role"].widget.choices
        if member.role not in {value for value, _label in offered}:
            # Keep the current role on the list, so that the select never silently shows
            # another one; saving it unchanged is then refused with the service's reason.
            self.fields["role"].widget.choices = [
                (value, str(label)) for value, label in Role.choices if value == member.role or value in dict(offered)
            ]


class TopicsField(forms.MultipleChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            label=_("Emails received"),
            choices=EmailTopic.choices,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            **kwargs,
        )


class ContactCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    email = forms.EmailField(label=_("Email address"), max_length=254)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    topics = TopicsField(initial=list(DEFAULT_TOPICS))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "contact_%s")
        super().__init__(*args, **kwargs)
        self.fields["phone"].widget.input_type = "tel"
        self.fields["phone"].widget.attrs["autocomplete"] = "off"


class ContactEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    topics = TopicsField()

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"name": contact.name, "phone": contact.phone, "topics": contact.topics})
        super().__init__(*args, **kwargs)
        self.fields["phone"].widget.input_type = "tel"
        if contact.user_id is not None:
            # A member's name is their profile's; the contact row follows it.
            self.fields["name"].disabled = True
            self.fields["name"].required = False
            self.fields["name"].help_text = _("The name of a person with a login is the one in their profile.")


# Every IANA zone this server knows; the input suggests them, the service validates.
TIME_ZONES = sorted(available_timezones())


class AccountDetailsForm(forms.Form):
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    address_line2 = forms.CharField(label=_("Address (line 2)"), max_length=200, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    region = forms.CharField(label=_("Region or province"), max_length=100, required=False)
    language = forms.ChoiceField(label=_("Language of documents and emails"), choices=settings.LANGUAGES, required=True)
    time_zone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        help_text=_("An IANA time zone, such as Europe/Madrid or America/Sao_Paulo."),
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {name: getattr(account, name) for name in self.base_fields})
        super().__init__(*args, **kwargs)
        autocomplete = {
            "address_line1": "address-line1",
            "address_line2": "address-line2",
            "postal_code": "postal-code",
            "city": "address-level2",
            "region": "address-level1",
        }
        for name, token in autocomplete.items():
            self.fields[name].widget.attrs["autocomplete"] = token
        self.fields["time_zone"].widget.attrs.update(
            {"list": "time-zones", "autocomplete": "off", "spellcheck": "false"}
        )


# --- Refusals, in the member's language -------------------------------------------------------

_NOT_ALLOWED: dict[str, Promise] = {
    "contacts_right_required": _("You cannot manage users and contacts of this account."),
    "only_owner_grants_owner": _("Only an owner can make someone an owner."),
    "only_owner_changes_owner": _("Only an owner can change or remove another owner."),
    "cannot_grant_more_than_own": _("You cannot give access to areas you do not have yourself."),
    "cannot_change_self": _("You cannot change your own role; ask another owner."),
    "billing_right_required": _("Only a member with access to billing can choose who receives invoices."),
    "remove_the_member_instead": _("This contact has a login: remove the person from the members instead."),
}

_INVALID: dict[str, Promise] = {
    "name": _("Enter a name."),
    "email": _("A contact with this email address already exists."),
    "role": _("Choose a role from the list."),
    "custom_areas": _("Choose at least one area for a custom role."),
    "topics": _("Choose emails from the list."),
    "language": _("Choose one of the available languages."),
    "time_zone": _("Enter a time zone such as Europe/Madrid."),
}

# The form field a refusal belongs next to; other refusals are shown as an alert.
_NOT_ALLOWED_FIELD = {"only_owner_grants_owner": "role", "cannot_grant_more_than_own": "custom_areas"}


def refusal_message(error: AccountsError) -> str:
    """A translated sentence for a refusal of the accounts services."""
    if isinstance(error, NotAllowed):
        return str(_NOT_ALLOWED.get(error.reason, _("You are not allowed to do this.")))
    if isinstance(error, InvalidAccountData):
        if error.reason == "too_long":
            return str(_("This value is too long."))
        return str(_INVALID.get(error.field, _("This value is not valid.")))
    if isinstance(error, LastOwner):
        return str(_("An account must keep at least one owner."))
    if isinstance(error, BillingContactRequired):
        return str(_("This person receives the invoices: choose another default billing contact first."))
    if isinstance(error, AlreadyMember):
        return str(_("This person is already a member of the account."))
    return str(_("This could not be done."))


def add_refusal(form: forms.Form, error: AccountsError, *, role: str | None = None) -> None:
    """Put a refusal next to the field it concerns, or at the top of the form."""
    field: str | None = None
    if isinstance(error, InvalidAccountData):
        field = error.field
    elif isinstance(error, NotAllowed):
        field = _NOT_ALLOWED_FIELD.get(error.reason)
        if field == "custom_areas" and role != Role.CUSTOM:
            # A fixed role opens areas the member lacks: the role is what was refused.
            field = "role"
    elif isinstance(error, AlreadyMember):
        field = "email"
    if field is not None and field not in form.fields:
        field = None
    form.add_error(field, refusal_message(error))
