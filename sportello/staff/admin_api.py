"""Back office for API tokens.

Staff see every token (never a secret: only hashes are stored), create integration tokens
for the provider's provisioning systems, and revoke any token. Creating and revoking go
through the accounts services, so both are audited; the secret of a new token is shown
on the page that answers the form, once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sportello.accounts.adapters import client_ip
from sportello.accounts.errors import AccountsError
from sportello.accounts.models import ApiToken, User
from sportello.accounts.services import api_token_create_integration, api_token_revoke
from sportello.core.time import utc_now


class IntegrationTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("The system that will use it, e.g. “hosting panel usage reporter”."),
    )
    expires_in_days = forms.IntegerField(
        label=_("Expires after (days)"),
        required=False,
        min_value=1,
        max_value=3660,
        help_text=_("Leave empty for a token that does not expire; revoke it when the system is retired."),
    )


class RevokedFilter(admin.SimpleListFilter):
    title = _("revoked")
    parameter_name = "revoked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("no", _("No")), ("yes", _("Yes"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "display_prefix",
        "account",
        "user",
        "scopes",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["kind", RevokedFilter]
    search_fields = ["name", "key_id", "account__reference", "account__name", "user__email"]
    actions = ["revoke_tokens"]
    readonly_fields = (
        "kind",
        "name",
        "key_id",
        "scopes",
        "account",
        "user",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
        "revoked_by",
    )
    fields = readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked, never deleted: the audit log names them

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.change_apitoken")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """Only integration tokens are created here; members create theirs in the client area."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = IntegrationTokenForm(request.POST if request.method == "POST" else None)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form}
        if request.method == "POST" and form.is_valid():
            now = utc_now()
            days = form.cleaned_data["expires_in_days"]
            try:
                token, secret = api_token_create_integration(
                    name=form.cleaned_data["name"],
                    expires_at=now + dt.timedelta(days=days) if days else None,
                    by=request.user,  # type: ignore[arg-type]
                    now=now,
                    ip_address=client_ip(request),
                )
            except AccountsError as error:
                form.add_error(None, _("Not created: %(reason)s") % {"reason": error})
            else:
                response = TemplateResponse(
                    request,
                    "admin/accounts/apitoken/created.html",
                    {**context, "title": _("Integration token created"), "token": token, "secret": secret},
                )
                response["Cache-Control"] = "no-store"
                return response
        return TemplateResponse(
            request, "admin/accounts/apitoken/add_integration.html", {**context, "title": _("Add integration token")}
        )

    @admin.action(description=_("Revoke the selected tokens"), permissions=["revoke"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        staff: User = request.user  # type: ignore[assignment]
        revoked = sum(
            api_token_revoke(token=token, by=staff, acting=None, now=utc_now(), ip_address=client_ip(request))
            for token in queryset
        )
        messages.success(
            request, ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", revoked) % {"count": revoked}
        )
