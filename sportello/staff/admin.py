"""The back office: Django's admin, themed, with every write routed through domain services.

Saving a form here calls the same services the client area calls, so the rules (last
owner, one billing contact, tax-id checks) and the audit log apply to staff too. A
refusal is shown as an error and the whole save is rolled back: nothing half-saved.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sportello.accounts.errors import AccountsError, InvalidAccountData
from sportello.accounts.models import Account, Contact, Invitation, Membership, User, UserSession
from sportello.accounts.services import (
    IMPERSONATION_MINUTES,
    STAFF_EDITABLE_FIELDS,
    account_create,
    account_fields_clean,
    account_reactivate,
    account_suspend,
    account_update,
    contact_create,
    contact_delete,
    contact_update,
    first_access_request,
    membership_add,
    membership_change,
    membership_remove,
    user_create,
    user_disable,
    user_enable,
)
from sportello.core.models import AuditEvent, ScheduledRun, WorkerHeartbeat
from sportello.notifications.models import EmailLog

admin.site.site_header = _("Sportello back office")
admin.site.site_title = _("Sportello back office")
admin.site.index_title = _("Customers, billing and operations")


class RefusalAwareAdmin(admin.ModelAdmin):
    """A service's refusal aborts the admin's transaction (nothing half-saved) and is shown
    as an error on the same page, instead of a server error."""

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except AccountsError as error:
            messages.error(request, _("Not saved: %(reason)s") % {"reason": error})
            return HttpResponseRedirect(request.get_full_path())


class UserAddForm(forms.ModelForm):
    send_first_access = forms.BooleanField(
        label=_("Email a first-access link now"),
        required=False,
        initial=True,
        help_text=_("The person chooses a password through it. It is sent only to people who belong to an account."),
    )

    class Meta:
        model = User
        fields = ["email", "full_name", "language"]


@admin.register(User)
class UserAdmin(RefusalAwareAdmin, DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "last_login", "date_joined"]
    list_filter = ["is_staff", "is_active", "is_superuser"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["is_active", "date_joined", "last_login"]
    change_form_template = "admin/accounts/user/change_form.html"
    actions = ["send_first_access", "disable_users", "enable_users"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal details"), {"fields": ("full_name", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_form = UserAddForm
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "language", "send_first_access")}),)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "impersonation_minutes": IMPERSONATION_MINUTES}
        return super().change_view(request, object_id, form_url, context)

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = user_create(
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data.get("full_name", ""),
            language=form.cleaned_data.get("language", ""),
            by=request.user,  # type: ignore[arg-type]
        )
        obj.pk = created.pk
        obj._state.adding = False
        if form.cleaned_data.get("send_first_access"):
            transaction.on_commit(lambda: first_access_request(email=created.email, ip_address=None))

    @admin.action(description=_("Email a first-access link"))
    def send_first_access(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        sent = sum(first_access_request(email=user.email, ip_address=None) for user in queryset)
        self.message_user(
            request,
            ngettext("%(count)d first-access email sent.", "%(count)d first-access emails sent.", sent)
            % {"count": sent},
        )

    @admin.action(description=_("Disable the login and end its sessions"))
    def disable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.exclude(pk=getattr(request.user, "pk", None) or 0):
            user_disable(user=user, by=request.user)  # type: ignore[arg-type]
        self.message_user(request, _("Disabled."))

    @admin.action(description=_("Enable the login"))
    def enable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_enable(user=user, by=request.user)  # type: ignore[arg-type]
        self.message_user(request, _("Enabled."))


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "custom_areas"]


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ["name", "email", "phone", "topics", "user", "is_billing_default"]
    readonly_fields = ["user", "is_billing_default"]


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = list(STAFF_EDITABLE_FIELDS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        fields = {name: cleaned[name] for name in STAFF_EDITABLE_FIELDS if name in cleaned}
        try:
            cleaned.update(account_fields_clean(fields))
        except InvalidAccountData as error:
            self.add_error(error.field if error.field in self.fields else None, str(error.reason))
        return cleaned


@admin.register(Account)
class AccountAdmin(RefusalAwareAdmin):
    form = AccountForm
    list_display = ["reference", "name", "country", "currency", "status", "require_mfa", "created_at"]
    list_filter = ["status", "country", "currency", "kind", "require_mfa"]
    search_fields = ["reference", "name", "vat_id", "tax_id", "contacts__email"]
    readonly_fields = ["reference", "status", "created_at", "updated_at"]
    inlines = [MembershipInline, ContactInline]
    actions = ["suspend_accounts", "reactivate_accounts"]
    fieldsets = (
        (None, {"fields": ("reference", "kind", "name", "status")}),
        (_("Address"), {"fields": ("address_line1", "address_line2", "postal_code", "city", "region", "country")}),
        (_("Tax and billing"), {"fields": ("vat_id", "tax_id", "currency")}),
        (_("Preferences"), {"fields": ("language", "time_zone")}),
        (_("Security"), {"fields": ("require_mfa",)}),
        (_("Dates"), {"fields": ("created_at", "updated_at")}),
    )

    def save_model(self, request: HttpRequest, obj: Account, form: ModelForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in STAFF_EDITABLE_FIELDS if name in form.cleaned_data}
        if change:
            account_update(account=obj, by=request.user, fields=fields)  # type: ignore[arg-type]
            return
        created = account_create(**fields, by=request.user)  # type: ignore[arg-type]
        obj.pk = created.pk
        obj.reference = created.reference
        obj._state.adding = False

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool) -> None:
        instances = formset.save(commit=False)
        account: Account = form.instance
        staff: User = request.user  # type: ignore[assignment]
        for obj in formset.deleted_objects:
            if isinstance(obj, Membership):
                membership_remove(membership=obj, acting=None, by=staff)
            elif isinstance(obj, Contact):
                contact_delete(contact=obj, acting=None, by=staff)
        for obj in instances:
            if isinstance(obj, Membership):
                if obj.pk is None:
                    membership_add(
                        account=account, user=obj.user, role=obj.role, custom_areas=obj.custom_areas, by=staff
                    )
                else:
                    membership_change(
                        membership=obj, role=obj.role, custom_areas=obj.custom_areas, acting=None, by=staff
                    )
            elif isinstance(obj, Contact):
                if obj.pk is None:
                    contact_create(
                        account=account, name=obj.name, email=obj.email, phone=obj.phone, topics=obj.topics,
                        acting=None, by=staff,
                    )  # fmt: skip
                else:
                    contact_update(
                        contact=obj, topics=obj.topics, name=obj.name, phone=obj.phone, acting=None, by=staff
                    )

    @admin.action(description=_("Suspend access (members are logged out)"))
    def suspend_accounts(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            try:
                account_suspend(account=account, by=request.user, reason="back office")  # type: ignore[arg-type]
            except AccountsError as error:
                self.message_user(request, f"{account}: {error}", level=messages.ERROR)

    @admin.action(description=_("Reactivate access"))
    def reactivate_accounts(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            try:
                account_reactivate(account=account, by=request.user)  # type: ignore[arg-type]
            except AccountsError as error:
                self.message_user(request, f"{account}: {error}", level=messages.ERROR)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "account", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at"]
    search_fields = ["email", "account__name", "account__reference"]
    exclude = ["token_hash"]


@admin.register(UserSession)
class UserSessionAdmin(ReadOnlyAdmin):
    list_display = ["user", "ip_address", "user_agent", "created_at", "last_seen", "impersonator"]
    search_fields = ["user__email", "ip_address"]
    exclude = ["session_key"]


@admin.register(EmailLog)
class EmailLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "to_email", "subject", "kind", "status", "account"]
    list_filter = ["status", "kind"]
    search_fields = ["to_email", "subject", "account__name", "account__reference"]
    date_hierarchy = "created_at"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "action_label", "actor", "account", "ip_address", "target"]
    list_filter = ["action"]
    search_fields = ["action", "actor__email", "account__name", "account__reference", "target"]
    date_hierarchy = "occurred_at"

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, event: AuditEvent) -> str:
        return event.action_label


@admin.register(ScheduledRun)
class ScheduledRunAdmin(ReadOnlyAdmin):
    list_display = ["job", "period", "enqueued_at", "task_result_id"]
    list_filter = ["job"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["worker_id", "hostname", "pid", "started_at", "last_seen"]


from sportello.staff import (  # noqa: F401,E402
    admin_api,
    admin_billing,
    admin_billing_run,
    admin_catalog,
    admin_orders,
    admin_payments,
    admin_support,
)
