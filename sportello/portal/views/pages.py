"""Client-area pages. Each view: access decorator, one selector or service, a render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sportello.accounts.models import Area
from sportello.accounts.selectors import members_visible_to, membership_active
from sportello.accounts.services import user_update_profile
from sportello.core.selectors import audit_events_visible_to
from sportello.portal.access import SESSION_ACCOUNT_KEY, MemberRequest, member_required
from sportello.portal.forms import AccountSwitchForm, ProfileForm
from sportello.portal.navigation import navigation_for


@member_required()
@require_safe
def dashboard(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    areas = [item for item in navigation_for(membership) if item.area is not None]
    return render(
        request,
        "portal/dashboard.html",
        {
            "areas": areas,
            "team_size": members_visible_to(membership=membership).count(),
            "recent_events": audit_events_visible_to(membership=membership)[:5]
            if membership.has_area(Area.CONTACTS)
            else None,
            "active_nav": "dashboard",
        },
    )


@member_required(Area.DOMAINS)
@require_safe
def domains(request: MemberRequest) -> HttpResponse:
    return render(request, "portal/domains.html", {"active_nav": "domains"})


@member_required()
@require_safe
def account(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    return render(
        request,
        "portal/account.html",
        {
            "members": members_visible_to(membership=membership) if membership.has_area(Area.CONTACTS) else None,
            "active_nav": "account",
            "account_tab": "overview",
        },
    )


@member_required()
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request: MemberRequest) -> HttpResponse:
    """My details: name and language. The email is changed through its own confirmed flow."""
    user = request.user
    form = ProfileForm(request.POST or None, initial={"full_name": user.full_name, "language": user.language})
    if request.method == "POST" and form.is_valid():
        user_update_profile(user=user, full_name=form.cleaned_data["full_name"], language=form.cleaned_data["language"])
        if form.cleaned_data["language"]:
            translation.activate(form.cleaned_data["language"])
        messages.success(request, _("Your details are saved."))
        return redirect("portal:profile")
    return render(request, "portal/profile.html", {"form": form, "active_nav": "account", "account_tab": "profile"})


@member_required()
@require_POST
def account_switch(request: MemberRequest) -> HttpResponse:
    form = AccountSwitchForm(request.POST)
    # An account the user does not belong to is ignored as if it did not exist.
    if form.is_valid():
        chosen = membership_active(user=request.user, account_id=form.cleaned_data["account"])
        if chosen is not None and chosen.account_id == form.cleaned_data["account"]:
            request.session[SESSION_ACCOUNT_KEY] = chosen.account_id
            messages.success(request, _("You are now working in %(account)s.") % {"account": chosen.account.name})
            return redirect("portal:dashboard")
    messages.error(request, _("That account is not available to you."))
    return redirect("portal:dashboard")
