"""Users and contacts of the acting account: members, invitations, contacts without a
login, and the account's own details.

Every object is looked up through a selector scoped to the acting membership, so another
account's member, invitation or contact answers 404. Who may do what is decided by the
accounts services; the pages only hide the actions those services would refuse
(`MemberActions`, `ContactActions`) and turn every refusal into a translated message.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from sportello.accounts.errors import AccountsError, InvalidAccountData
from sportello.accounts.models import Area, Contact, Membership
from sportello.accounts.selectors import contacts_visible_to, invitations_pending_for, members_visible_to
from sportello.accounts.services import (
    INVITATION_DAYS,
    MEMBER_EDITABLE_FIELDS,
    account_update,
    contact_create,
    contact_delete,
    contact_set_billing_default,
    contact_update,
    invitation_create,
    invitation_revoke,
    membership_change,
    membership_remove,
)
from sportello.core.time import utc_now
from sportello.portal.access import MemberRequest, member_required
from sportello.portal.forms_people import (
    TIME_ZONES,
    AccountDetailsForm,
    ContactCreateForm,
    ContactEditForm,
    InvitationForm,
    MemberChangeForm,
    add_refusal,
    refusal_message,
)

# --- What the acting member may do right now --------------------------------------------------


@dataclass(frozen=True)
class MemberActions:
    """The actions on one member that the membership services would accept from `acting`."""

    change: bool
    remove: bool
    make_billing_default: bool


@dataclass(frozen=True)
class ContactActions:
    edit: bool
    delete: bool
    make_billing_default: bool


def member_actions(*, acting: Membership, member: Membership, contact: Contact | None) -> MemberActions:
    """Mirror of membership_change / membership_remove / contact_set_billing_default:
    nobody acts on their own membership, only an owner acts on an owner, read-only
    members act on nobody, and the default billing contact is moved before removal."""
    manages = acting.can_change and acting.has_area(Area.CONTACTS)
    may_touch = manages and member.pk != acting.pk and (not member.is_owner or acting.is_owner)
    is_billing_default = contact is not None and contact.is_billing_default
    return MemberActions(
        change=may_touch,
        remove=may_touch and not is_billing_default,
        make_billing_default=(
            manages and acting.has_area(Area.BILLING) and contact is not None and not is_billing_default
        ),
    )


def contact_actions(*, acting: Membership, contact: Contact) -> ContactActions:
    manages = acting.can_change and acting.has_area(Area.CONTACTS)
    return ContactActions(
        edit=manages,
        delete=manages and contact.user_id is None and not contact.is_billing_default,
        make_billing_default=manages and acting.has_area(Area.BILLING) and not contact.is_billing_default,
    )


@dataclass(frozen=True)
class MemberRow:
    membership: Membership
    contact: Contact | None
    actions: MemberActions
    is_you: bool


@dataclass(frozen=True)
class ContactRow:
    contact: Contact
    actions: ContactActions


# --- The people page ------------------------------------------------------------------------


def _people_page(
    request: MemberRequest,
    *,
    invitation_form: InvitationForm | None = None,
    contact_form: ContactCreateForm | None = None,
) -> HttpResponse:
    acting = request.membership
    contacts = list(contacts_visible_to(membership=acting))
    contact_of_user = {contact.user_id: contact for contact in contacts if contact.user_id is not None}
    members = [
        MemberRow(
            membership=member,
            contact=contact_of_user.get(member.user_id),
            actions=member_actions(acting=acting, member=member, contact=contact_of_user.get(member.user_id)),
            is_you=member.pk == acting.pk,
        )
        for member in members_visible_to(membership=acting)
    ]
    others = [
        ContactRow(contact=contact, actions=contact_actions(acting=acting, contact=contact))
        for contact in contacts
        if contact.user_id is None
    ]
    manages = acting.can_change
    context = {
        "members": members,
        "invitations": invitations_pending_for(membership=acting, now=utc_now()),
        "contacts": others,
        "manages": manages,
        "invitation_form": (invitation_form or InvitationForm(acting=acting)) if manages else None,
        "contact_form": (contact_form or ContactCreateForm()) if manages else None,
        "active_nav": "account",
        "account_tab": "people",
    }
    return render(request, "portal/people/index.html", context)


@member_required(Area.CONTACTS)
@require_http_methods(["GET", "HEAD"])
def people(request: MemberRequest) -> HttpResponse:
    return _people_page(request)


def _refused(request: MemberRequest, error: AccountsError, *, to: str = "portal:people") -> HttpResponse:
    """A refusal of a button (no form to put it in): an alert on the page it came from."""
    messages.error(request, refusal_message(error))
    return redirect(to)


@member_required(Area.CONTACTS)
@require_POST
def invitation_new(request: MemberRequest) -> HttpResponse:
    form = InvitationForm(request.POST, acting=request.membership)
    if form.is_valid():
        try:
            invitation = invitation_create(
                acting=request.membership,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                custom_areas=form.cleaned_data["custom_areas"],
                now=utc_now(),
            )[0]
        except AccountsError as error:
            if not request.membership.can_change:
                return _refused(request, error)
            add_refusal(form, error, role=form.cleaned_data["role"])
        else:
            sent = ngettext(
                "Invitation sent to %(email)s. It is valid for %(days)d day.",
                "Invitation sent to %(email)s. It is valid for %(days)d days.",
                INVITATION_DAYS,
            )
            messages.success(request, sent % {"email": invitation.email, "days": INVITATION_DAYS})
            return redirect("portal:people")
    return _people_page(request, invitation_form=form)


@member_required(Area.CONTACTS)
@require_POST
def invitation_revoke_view(request: MemberRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(
        invitations_pending_for(membership=request.membership, now=utc_now()), pk=invitation_id
    )
    try:
        invitation_revoke(invitation=invitation, acting=request.membership, now=utc_now())
    except AccountsError as error:
        return _refused(request, error)
    messages.success(request, _("The invitation to %(email)s was revoked.") % {"email": invitation.email})
    return redirect("portal:people")


# --- Members ----------------------------------------------------------------------------------


def _member(request: MemberRequest, membership_id: int) -> tuple[Membership, Contact | None]:
    member = get_object_or_404(members_visible_to(membership=request.membership), pk=membership_id)
    contact = contacts_visible_to(membership=request.membership).filter(user_id=member.user_id).first()
    return member, contact


@member_required(Area.CONTACTS)
@require_http_methods(["GET", "HEAD", "POST"])
def member_edit(request: MemberRequest, membership_id: int) -> HttpResponse:
    acting = request.membership
    member, contact = _member(request, membership_id)
    form = MemberChangeForm(request.POST or None, acting=acting, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            membership_change(
                membership=member,
                role=form.cleaned_data["role"],
                custom_areas=form.cleaned_data["custom_areas"],
                acting=acting,
                by=request.user,
            )
        except AccountsError as error:
            if not member_actions(acting=acting, member=member, contact=contact).change:
                # Nothing on this page could fix it (oneself, an owner, no right): say why.
                return _refused(request, error)
            add_refusal(form, error, role=form.cleaned_data["role"])
        else:
            messages.success(request, _("The role of %(name)s was changed.") % {"name": member.user.get_full_name()})
            return redirect("portal:people")
    context = {
        "member": member,
        "form": form,
        "actions": member_actions(acting=acting, member=member, contact=contact),
        "is_you": member.pk == acting.pk,
        "active_nav": "account",
        "account_tab": "people",
    }
    return render(request, "portal/people/member_edit.html", context)


@member_required(Area.CONTACTS)
@require_http_methods(["GET", "HEAD", "POST"])
def member_remove(request: MemberRequest, membership_id: int) -> HttpResponse:
    acting = request.membership
    member, contact = _member(request, membership_id)
    if request.method == "POST":
        try:
            membership_remove(membership=member, acting=acting, by=request.user)
        except AccountsError as error:
            return _refused(request, error)
        messages.success(
            request,
            _("%(name)s no longer has access to this account.") % {"name": member.user.get_full_name()},
        )
        return redirect("portal:people")
    context = {
        "member": member,
        "contact": contact,
        "actions": member_actions(acting=acting, member=member, contact=contact),
        "is_you": member.pk == acting.pk,
        "active_nav": "account",
        "account_tab": "people",
    }
    return render(request, "portal/people/member_remove.html", context)


# --- Contacts ---------------------------------------------------------------------------------


def _contact(request: MemberRequest, contact_id: int) -> Contact:
    return get_object_or_404(contacts_visible_to(membership=request.membership), pk=contact_id)


@member_required(Area.CONTACTS)
@require_POST
def contact_new(request: MemberRequest) -> HttpResponse:
    form = ContactCreateForm(request.POST)
    if form.is_valid():
        try:
            contact = contact_create(
                account=request.membership.account,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                phone=form.cleaned_data["phone"],
                topics=form.cleaned_data["topics"],
                acting=request.membership,
                by=request.user,
            )
        except AccountsError as error:
            if not request.membership.can_change:
                return _refused(request, error)
            add_refusal(form, error)
        else:
            messages.success(request, _("%(name)s was added to the contacts.") % {"name": contact.name})
            return redirect("portal:people")
    return _people_page(request, contact_form=form)


@member_required(Area.CONTACTS)
@require_http_methods(["GET", "HEAD", "POST"])
def contact_edit(request: MemberRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    form = ContactEditForm(request.POST or None, contact=contact)
    if request.method == "POST" and form.is_valid():
        try:
            contact = contact_update(
                contact=contact,
                name=form.cleaned_data["name"] if contact.user_id is None else None,
                phone=form.cleaned_data["phone"],
                topics=form.cleaned_data["topics"],
                acting=request.membership,
                by=request.user,
            )
        except AccountsError as error:
            if not request.membership.can_change:
                return _refused(request, error)
            add_refusal(form, error)
        else:
            messages.success(request, _("The contact %(name)s was saved.") % {"name": contact.name})
            return redirect("portal:people")
    context = {
        "contact": contact,
        "form": form,
        "actions": contact_actions(acting=request.membership, contact=contact),
        "active_nav": "account",
        "account_tab": "people",
    }
    return render(request, "portal/people/contact_edit.html", context)


@member_required(Area.CONTACTS)
@require_http_methods(["GET", "HEAD", "POST"])
def contact_remove(request: MemberRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    if request.method == "POST":
        try:
            contact_delete(contact=contact, acting=request.membership, by=request.user)
        except AccountsError as error:
            return _refused(request, error)
        messages.success(request, _("The contact %(name)s was deleted.") % {"name": contact.name})
        return redirect("portal:people")
    context = {
        "contact": contact,
        "actions": contact_actions(acting=request.membership, contact=contact),
        "active_nav": "account",
        "account_tab": "people",
    }
    return render(request, "portal/people/contact_delete.html", context)


@member_required(Area.CONTACTS)
@require_POST
def contact_billing_default(request: MemberRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    try:
        contact = contact_set_billing_default(contact=contact, acting=request.membership, by=request.user)
    except AccountsError as error:
        return _refused(request, error)
    messages.success(request, _("Invoices will now be sent to %(name)s.") % {"name": contact.name})
    return redirect("portal:people")


# --- The account's details --------------------------------------------------------------------


@member_required(Area.CONTACTS)
@require_http_methods(["GET", "HEAD", "POST"])
def account_edit(request: MemberRequest) -> HttpResponse:
    acting = request.membership
    form = AccountDetailsForm(request.POST or None, account=acting.account)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in MEMBER_EDITABLE_FIELDS}
        try:
            account_update(account=acting.account, by=request.user, fields=fields, acting=acting)
        except InvalidAccountData as error:
            add_refusal(form, error)
        except AccountsError as error:
            return _refused(request, error, to="portal:account-edit")
        else:
            messages.success(request, _("The account details were saved."))
            return redirect("portal:account-edit")
    context = {
        "form": form if acting.can_change else None,
        "account": acting.account,
        "time_zones": TIME_ZONES,
        "active_nav": "account",
        "account_tab": "overview",
    }
    return render(request, "portal/people/account_edit.html", context)


urlpatterns: list[URLPattern] = [
    path("account/people/", people, name="people"),
    path("account/people/<int:membership_id>/", member_edit, name="member-edit"),
    path("account/people/<int:membership_id>/remove/", member_remove, name="member-remove"),
    path("account/invitations/", invitation_new, name="invitation-create"),
    path("account/invitations/<int:invitation_id>/revoke/", invitation_revoke_view, name="invitation-revoke"),
    path("account/contacts/", contact_new, name="contact-create"),
    path("account/contacts/<int:contact_id>/", contact_edit, name="contact-edit"),
    path("account/contacts/<int:contact_id>/delete/", contact_remove, name="contact-delete"),
    path("account/contacts/<int:contact_id>/billing-default/", contact_billing_default, name="contact-billing-default"),
    path("account/details/", account_edit, name="account-edit"),
]
