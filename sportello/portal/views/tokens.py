"""API tokens of the member, under the account's Security tab.

A member lists, creates and revokes their own tokens for the account they act for. A new
token's secret is in the answer to the form that created it, and nowhere else: it is not
stored, not put in the session, not redirected through; the page says to copy it now.
A colleague's token answers 404, like anything that is not yours.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from sportello.accounts.adapters import client_ip
from sportello.accounts.errors import AccountsError, InvalidAccountData, NotAllowed
from sportello.accounts.models import ApiScope, ApiToken, Membership, scopes_allowed_to
from sportello.accounts.selectors import api_tokens_of
from sportello.accounts.services import api_token_create_member, api_token_revoke
from sportello.core.time import utc_now
from sportello.portal.access import MemberRequest, member_required

EXPIRY_DAYS = (30, 90, 180, 365)


class ScopesField(forms.MultipleChoiceField):
    """Shows the scopes the member holds, accepts every known one: a scope the member does
    not hold reaches the service and is refused there, with its reason."""

    def valid_value(self, value: str) -> bool:
        return value in ApiScope.values


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What uses it, to recognise it later: for example “monitoring script”."),
    )
    scopes = ScopesField(label=gettext_lazy("What it may do"), widget=forms.CheckboxSelectMultiple)
    expires_in = forms.TypedChoiceField(label=gettext_lazy("Expires after"), coerce=int, initial=90)

    def __init__(self, *args: Any, acting: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = scopes_allowed_to(acting)
        scopes = cast(ScopesField, self.fields["scopes"])
        scopes.choices = [(value, label) for value, label in ApiScope.choices if value in allowed]
        expires_in = cast(forms.TypedChoiceField, self.fields["expires_in"])
        expires_in.choices = [
            (days, ngettext("%(days)d day", "%(days)d days", days) % {"days": days}) for days in EXPIRY_DAYS
        ]


def _refusal(error: AccountsError) -> tuple[str | None, str]:
    """The field a refusal concerns and its translated message."""
    if isinstance(error, NotAllowed) and error.reason == "cannot_grant_more_than_own":
        return "scopes", _("A token cannot do more than you can: choose only what your role allows.")
    if isinstance(error, NotAllowed) and error.reason == "account_not_active":
        return None, _("This account cannot use the API now.")
    if isinstance(error, InvalidAccountData) and error.field == "name":
        return "name", _("Give the token a name of at most 100 characters.")
    if isinstance(error, InvalidAccountData) and error.field == "scopes":
        return "scopes", _("Choose at least one thing the token may do.")
    if isinstance(error, InvalidAccountData) and error.field == "expires_at":
        return "expires_in", _("Choose when the token expires.")
    return None, _("This could not be done.")


def _page(
    request: MemberRequest,
    *,
    form: ApiTokenForm | None = None,
    created: ApiToken | None = None,
    secret: str | None = None,
    status: int = 200,
) -> HttpResponse:
    now = utc_now()
    tokens = list(api_tokens_of(membership=request.membership))
    rows = [
        {
            "token": token,
            "state": (
                "revoked"
                if token.revoked_at is not None
                else "expired"
                if token.expires_at is not None and token.expires_at <= now
                else "active"
            ),
        }
        for token in tokens
    ]
    return render(
        request,
        "portal/tokens/index.html",
        {
            "active_nav": "account",
            "account_tab": "security",
            "rows": rows,
            "form": form or ApiTokenForm(acting=request.membership),
            "created": created,
            "secret": secret,
            "impersonated": _impersonated(request),
        },
        status=status,
    )


@member_required()
@require_safe
def tokens(request: MemberRequest) -> HttpResponse:
    return _page(request)


def _impersonated(request: MemberRequest) -> bool:
    """Staff logged in as this customer: their session ends in minutes, a token would not,
    so they may look and revoke but not create one."""
    return getattr(request, "impersonator", None) is not None


@never_cache
@member_required()
@require_POST
def token_create(request: MemberRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST, acting=request.membership)
    if _impersonated(request):
        form.add_error(None, _("Provider staff acting as you cannot create API tokens."))
    elif form.is_valid():
        now = utc_now()
        try:
            token, secret = api_token_create_member(
                acting=request.membership,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=now + dt.timedelta(days=form.cleaned_data["expires_in"]),
                now=now,
                ip_address=client_ip(request),
            )
        except AccountsError as error:
            field, message = _refusal(error)
            form.add_error(field, message)
        else:
            # The only time the secret is shown: in this answer, never cached.
            return _page(request, created=token, secret=secret)
    return _page(request, form=form, status=400)


@member_required()
@require_POST
def token_revoke(request: MemberRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(api_tokens_of(membership=request.membership), pk=token_id)
    try:
        revoked = api_token_revoke(
            token=token, by=request.user, acting=request.membership, now=utc_now(), ip_address=client_ip(request)
        )
    except AccountsError as error:
        messages.error(request, _refusal(error)[1])
        return redirect("portal:api-tokens")
    if revoked:
        messages.success(request, _("The token “%(name)s” is revoked: it no longer works.") % {"name": token.name})
    else:
        messages.info(request, _("The token “%(name)s” was already revoked.") % {"name": token.name})
    return redirect("portal:api-tokens")


urlpatterns: list[URLPattern] = [
    path("account/security/api-tokens/", tokens, name="api-tokens"),
    path("account/security/api-tokens/new/", token_create, name="api-token-create"),
    path("account/security/api-tokens/<int:token_id>/revoke/", token_revoke, name="api-token-revoke"),
]
