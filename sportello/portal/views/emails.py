"""The account's emails: what each person receives, the log of what was sent, the activity log."""

from __future__ import annotations

from typing import Any

import nh3
from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from sportello.accounts.errors import InvalidAccountData
from sportello.accounts.models import Area, Contact, EmailTopic
from sportello.accounts.services import contact_for_member, contact_update
from sportello.core.selectors import audit_events_visible_to
from sportello.notifications.selectors import emails_visible_to
from sportello.notifications.topics import topics_allowed
from sportello.portal.access import MemberRequest, member_required

PAGE_SIZE = 25
NOT_YOUR_TOPICS = gettext_lazy("Your role does not include these emails: choose among those listed.")


class EmailPreferencesForm(forms.Form):
    topics = forms.MultipleChoiceField(
        label=gettext_lazy("Emails I receive"),
        choices=EmailTopic.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": NOT_YOUR_TOPICS},
    )

    def __init__(self, *args: Any, allowed: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["topics"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(value, label) for value, label in EmailTopic.choices if value in allowed]


@member_required()
@require_http_methods(["GET", "HEAD", "POST"])
def email_preferences(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    contact = Contact.objects.filter(account_id=membership.account_id, user_id=membership.user_id).first()
    form = EmailPreferencesForm(
        request.POST or None,
        initial={"topics": contact.topics if contact else []},
        allowed=topics_allowed(membership),
    )
    if request.method == "POST" and form.is_valid():
        contact = contact or contact_for_member(account=membership.account, user=membership.user)
        try:
            contact_update(contact=contact, topics=form.cleaned_data["topics"], acting=membership, by=request.user)
        except InvalidAccountData:
            form.add_error("topics", NOT_YOUR_TOPICS)
        else:
            messages.success(request, _("Your email preferences are saved."))
            return redirect("portal:email-preferences")
    return render(
        request,
        "portal/emails/preferences.html",
        {"form": form, "contact": contact, "active_nav": "account", "account_tab": "email-preferences"},
    )


@member_required()
@require_safe
def email_log(request: MemberRequest) -> HttpResponse:
    page = Paginator(emails_visible_to(membership=request.membership).select_related("recipient"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "portal/emails/log.html",
        {
            "page": page,
            "sees_all": request.membership.has_area(Area.CONTACTS),
            "active_nav": "account",
            "account_tab": "email-log",
        },
    )


@member_required()
@require_safe
def email_detail(request: MemberRequest, email_id: int) -> HttpResponse:
    email = get_object_or_404(emails_visible_to(membership=request.membership), pk=email_id)
    return render(
        request,
        "portal/emails/detail.html",
        {"email": email, "active_nav": "account", "account_tab": "email-log"},
    )


# What the HTML of a logged email may use when shown again: no script, no event handler,
# no form, no remote load (images only as data: URIs), links kept but opened outside.
_EMAIL_TAGS = {
    "a", "b", "blockquote", "br", "caption", "div", "em", "h1", "h2", "h3", "h4", "hr", "i", "li", "ol", "p",
    "span", "strong", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "img", "center", "small",
}  # fmt: skip
_EMAIL_ATTRIBUTES = {
    "*": {"style", "align", "width", "height", "cellpadding", "cellspacing", "role", "border", "bgcolor", "valign"},
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
}


def _only_inline_images(tag: str, attribute: str, value: str) -> str | None:
    """Remote images are tracking pixels: only images carried inside the email stay."""
    if tag == "img" and attribute == "src" and not value.startswith("data:image/"):
        return None
    return value


@member_required()
@require_safe
def email_body(request: MemberRequest, email_id: int) -> HttpResponse:
    """The HTML body, sanitised, for the sandboxed frame of the detail page.

    Served with its own CSP (nothing may load, no script may run) and rendered inside an
    <iframe sandbox>, so even a hostile body cannot act on the client area.
    """
    email = get_object_or_404(emails_visible_to(membership=request.membership), pk=email_id)
    clean = nh3.clean(
        email.body_html,
        tags=_EMAIL_TAGS,
        attributes=_EMAIL_ATTRIBUTES,
        url_schemes={"https", "http", "mailto", "data"},
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=_only_inline_images,
    )
    document = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><base target="_blank"></head><body>{clean}</body></html>'
    )
    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"
    )
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response


@member_required(Area.CONTACTS)
@require_safe
def activity(request: MemberRequest) -> HttpResponse:
    page = Paginator(audit_events_visible_to(membership=request.membership), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request, "portal/emails/activity.html", {"page": page, "active_nav": "account", "account_tab": "activity"}
    )


urlpatterns = [
    path("account/email-preferences/", email_preferences, name="email-preferences"),
    path("account/email-log/", email_log, name="email-log"),
    path("account/email-log/<int:email_id>/", email_detail, name="email-detail"),
    path("account/email-log/<int:email_id>/body/", email_body, name="email-body"),
    path("account/activity/", activity, name="activity"),
]
