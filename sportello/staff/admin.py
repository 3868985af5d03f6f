"""The back office: Django's admin, themed, with writes routed through domain services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Account, Membership, User
from sportello.accounts.services import account_create
from sportello.core.models import AuditEvent, ScheduledRun, WorkerHeartbeat

admin.site.site_header = _("Sportello back office")
admin.site.site_title = _("Sportello back office")
admin.site.index_title = _("Customers, billing and operations")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "is_superuser"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal details"), {"fields": ("full_name", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "custom_areas"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["reference", "name", "country", "currency", "status", "created_at"]
    list_filter = ["status", "country", "currency", "kind"]
    search_fields = ["reference", "name", "vat_id", "tax_id", "billing_email"]
    readonly_fields = ["reference", "created_at", "updated_at"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("reference", "kind", "name", "status")}),
        (_("Address"), {"fields": ("address_line1", "address_line2", "postal_code", "city", "region", "country")}),
        (_("Tax and billing"), {"fields": ("vat_id", "tax_id", "currency", "billing_email")}),
        (_("Preferences"), {"fields": ("language", "time_zone")}),
        (_("Dates"), {"fields": ("created_at", "updated_at")}),
    )

    def save_model(self, request: HttpRequest, obj: Account, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # New accounts go through the service, which numbers them and writes the audit log.
        fields = {
            name: form.cleaned_data[name]
            for name in (
                "kind",
                "name",
                "address_line1",
                "address_line2",
                "postal_code",
                "city",
                "region",
                "country",
                "vat_id",
                "tax_id",
                "currency",
                "billing_email",
                "language",
                "time_zone",
            )
        }
        created = account_create(**fields, by=request.user)  # type: ignore[arg-type]
        obj.pk = created.pk
        obj.reference = created.reference
        obj._state.adding = False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "action_label", "actor", "account", "ip_address", "target"]
    list_filter = ["action"]
    search_fields = ["action", "actor__email", "account__name", "account__reference", "target"]
    date_hierarchy = "occurred_at"

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, event: AuditEvent) -> str:
        return event.action_label

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ScheduledRun)
class ScheduledRunAdmin(admin.ModelAdmin):
    list_display = ["job", "period", "enqueued_at", "task_result_id"]
    list_filter = ["job"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["worker_id", "hostname", "pid", "started_at", "last_seen"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
