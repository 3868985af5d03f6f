"""Back office for the catalog and the customers' services.

Products, categories, plans, options, add-ons and metrics are configuration that staff
edit directly. Prices are versions: they are added through the catalog services and
never edited. Services are never edited either: staff move them with the actions of
the list (activate, suspend, unsuspend, terminate, cancel, reactivate), each one the
domain's transition, with the reason staff type next to the action.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sportello.accounts.models import User
from sportello.catalog.errors import CatalogError, InvalidCatalogData
from sportello.catalog.models import (
    AddOn,
    AddOnPriceVersion,
    ConfigurableOption,
    OptionPriceVersion,
    Plan,
    PriceVersion,
    Product,
    ProductCategory,
    UsageMetric,
)
from sportello.catalog.services import addon_price_create, option_price_create, price_create, quotas_clean
from sportello.core.time import today_utc, utc_now
from sportello.services.errors import ServicesError
from sportello.services.models import (
    ProvisioningAttempt,
    ProvisioningTask,
    Service,
    ServiceEvent,
    StaffTask,
    UsageRecord,
)
from sportello.services.provisioning import provisioning_retry
from sportello.services.services import (
    service_activate,
    service_cancel,
    service_reactivate,
    service_suspend,
    service_terminate,
    service_unsuspend,
)


class _ViewOnly:
    """Rows staff may look at but never add, change or delete here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Catalog: configuration --------------------------------------------------------------


@admin.register(ProductCategory)
class ProductCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    prepopulated_fields = {"slug": ("name",)}


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = ["product", "name", "code", "description", "quotas", "is_active", "position"]

    def clean_quotas(self) -> dict[str, str]:
        try:
            return quotas_clean(self.cleaned_data.get("quotas") or {})
        except InvalidCatalogData as error:
            raise forms.ValidationError(error.reason) from None


class PlanInline(admin.TabularInline):
    model = Plan
    form = PlanForm
    extra = 0
    fields = ["name", "code", "quotas", "is_active", "position"]
    show_change_link = True


class ConfigurableOptionInline(admin.TabularInline):
    model = ConfigurableOption
    extra = 0
    fields = ["code", "name", "unit", "min_quantity", "max_quantity", "is_active"]
    show_change_link = True


class AddOnInline(admin.TabularInline):
    model = AddOn
    extra = 0
    fields = ["code", "name", "is_active"]
    show_change_link = True


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "kind", "provisioning_module", "tax_class", "is_active"]
    list_filter = ["category", "kind", "provisioning_module", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [PlanInline, ConfigurableOptionInline, AddOnInline]
    fieldsets = (
        (None, {"fields": ("category", "name", "slug", "description", "kind", "is_active")}),
        (_("Provisioning and tax"), {"fields": ("provisioning_module", "tax_class")}),
        (
            _("Lifecycle rules"),
            {
                "fields": (
                    "invoice_lead_days",
                    "grace_days_before_suspension",
                    "days_before_termination",
                    "reactivation_window_days",
                    "customers_may_cancel_immediately",
                    "prorate_upgrades",
                )
            },
        ),
    )


class PriceVersionInline(_ViewOnly, admin.TabularInline):
    model = PriceVersion
    extra = 0
    fields = readonly_fields = ("currency", "cycle", "amount_minor", "setup_fee_minor", "valid_from", "created_at")
    ordering = ["currency", "cycle", "-valid_from"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    form = PlanForm
    list_display = ["name", "product", "code", "is_active", "position"]
    list_filter = ["product", "is_active"]
    search_fields = ["name", "code", "product__name"]
    inlines = [PriceVersionInline]


@admin.register(UsageMetric)
class UsageMetricAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "unit", "aggregation"]


@admin.register(ConfigurableOption)
class ConfigurableOptionAdmin(admin.ModelAdmin):
    list_display = ["name", "product", "code", "unit", "min_quantity", "max_quantity", "is_active"]
    list_filter = ["product", "is_active"]


@admin.register(AddOn)
class AddOnAdmin(admin.ModelAdmin):
    list_display = ["name", "product", "code", "is_active"]
    list_filter = ["product", "is_active"]


# --- Catalog: price versions, added through the services ---------------------------------


class PriceVersionAdminBase(admin.ModelAdmin):
    """Adding a version calls the catalog service (validation, audit); nothing is ever
    changed or deleted. A refusal is shown as an error and nothing is saved."""

    date_hierarchy = "valid_from"
    list_filter = ["currency", "cycle"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"valid_from": utc_now(), **super().get_changeform_initial_data(request)}

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except CatalogError as error:
            messages.error(request, _("Not saved: %(reason)s") % {"reason": error})
            return HttpResponseRedirect(request.get_full_path())

    def create(self, obj: Any, by: User) -> Any:
        """Each price admin below creates its rows through its own catalog service."""
        raise TypeError(f"{type(self).__name__} must define create() with its catalog service")

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        created = self.create(obj, request.user)  # type: ignore[arg-type]
        obj.pk = created.pk
        obj.created_at = created.created_at
        obj._state.adding = False


@admin.register(PriceVersion)
class PriceVersionAdmin(PriceVersionAdminBase):
    list_display = ["plan", "currency", "cycle", "amount_minor", "setup_fee_minor", "valid_from", "created_at"]
    list_filter = ["plan__product", "currency", "cycle"]
    fields = ["plan", "currency", "cycle", "amount_minor", "setup_fee_minor", "valid_from"]

    def create(self, obj: PriceVersion, by: User) -> PriceVersion:
        return price_create(
            plan=obj.plan,
            currency=obj.currency,
            cycle=obj.cycle,
            amount_minor=obj.amount_minor,
            setup_fee_minor=obj.setup_fee_minor,
            valid_from=obj.valid_from,
            by=by,
        )


@admin.register(OptionPriceVersion)
class OptionPriceVersionAdmin(PriceVersionAdminBase):
    list_display = ["option", "currency", "cycle", "unit_price", "valid_from", "created_at"]
    fields = ["option", "currency", "cycle", "unit_price", "valid_from"]

    def create(self, obj: OptionPriceVersion, by: User) -> OptionPriceVersion:
        return option_price_create(
            option=obj.option,
            currency=obj.currency,
            cycle=obj.cycle,
            unit_price=obj.unit_price,
            valid_from=obj.valid_from,
            by=by,
        )


@admin.register(AddOnPriceVersion)
class AddOnPriceVersionAdmin(PriceVersionAdminBase):
    list_display = ["addon", "currency", "cycle", "amount_minor", "setup_fee_minor", "valid_from", "created_at"]
    fields = ["addon", "currency", "cycle", "amount_minor", "setup_fee_minor", "valid_from"]

    def create(self, obj: AddOnPriceVersion, by: User) -> AddOnPriceVersion:
        return addon_price_create(
            addon=obj.addon,
            currency=obj.currency,
            cycle=obj.cycle,
            amount_minor=obj.amount_minor,
            setup_fee_minor=obj.setup_fee_minor,
            valid_from=obj.valid_from,
            by=by,
        )


# --- Services: read-only, moved by transitions --------------------------------------------


class ReasonActionForm(ActionForm):
    """The list's action bar, with the reason every manual transition records."""

    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class ServiceEventInline(_ViewOnly, admin.TabularInline):
    model = ServiceEvent
    extra = 0
    fields = readonly_fields = ("at", "transition", "from_status", "to_status", "reason", "actor", "data")
    ordering = ["at", "id"]


Transition = Callable[[Service, str, User], Service]


@admin.register(Service)
class ServiceAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "account",
        "plan",
        "label",
        "status",
        "cycle",
        "current_period_end",
        "next_due_date",
        "auto_renew",
        "cancel_at_period_end",
    ]
    list_filter = ["status", "cycle", "plan__product", "auto_renew", "cancel_at_period_end"]
    search_fields = ["label", "account__name", "account__reference"]
    list_select_related = ["account", "plan__product"]
    date_hierarchy = "next_due_date"
    inlines = [ServiceEventInline]
    action_form = ReasonActionForm
    actions = [
        "activate",
        "suspend",
        "unsuspend",
        "terminate",
        "cancel_now",
        "cancel_at_period_end",
        "reactivate",
    ]

    def has_transition_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("services.change_service"))

    def _transition(self, request: HttpRequest, queryset: QuerySet[Service], move: Transition) -> None:
        reason = str(request.POST.get("reason", "")).strip()
        if not reason:
            self.message_user(request, _("Type the reason for this change next to the action."), messages.ERROR)
            return
        done = 0
        for service in queryset.order_by("pk"):
            try:
                move(service, reason, request.user)  # type: ignore[arg-type]
            except ServicesError as error:
                self.message_user(request, f"{service} (#{service.pk}): {error}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request, ngettext("%(count)d service changed.", "%(count)d services changed.", done) % {"count": done}
            )

    @admin.action(description=_("Activate (first period starts today)"), permissions=["transition"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._transition(
            request, queryset, lambda s, r, by: service_activate(service=s, as_of=today_utc(), by=by, reason=r)
        )

    @admin.action(description=_("Suspend"), permissions=["transition"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._transition(request, queryset, lambda s, r, by: service_suspend(service=s, reason=r, by=by))

    @admin.action(description=_("Unsuspend"), permissions=["transition"])
    def unsuspend(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._transition(request, queryset, lambda s, r, by: service_unsuspend(service=s, reason=r, by=by))

    @admin.action(description=_("Terminate (final)"), permissions=["transition"])
    def terminate(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._transition(request, queryset, lambda s, r, by: service_terminate(service=s, reason=r, by=by))

    @admin.action(description=_("Cancel now"), permissions=["transition"])
    def cancel_now(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._transition(
            request, queryset, lambda s, r, by: service_cancel(service=s, reason=r, immediately=True, by=by)
        )

    @admin.action(description=_("Cancel at the end of the period"), permissions=["transition"])
    def cancel_at_period_end(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._transition(
            request, queryset, lambda s, r, by: service_cancel(service=s, reason=r, immediately=False, by=by)
        )

    @admin.action(description=_("Reactivate (new period starts today)"), permissions=["transition"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._transition(
            request, queryset, lambda s, r, by: service_reactivate(service=s, as_of=today_utc(), by=by, reason=r)
        )


@admin.register(ServiceEvent)
class ServiceEventAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["at", "service", "transition", "from_status", "to_status", "reason", "actor"]
    list_filter = ["transition", "to_status"]
    search_fields = ["reason", "service__label", "account__name", "account__reference"]
    date_hierarchy = "at"


@admin.register(UsageRecord)
class UsageRecordAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["recorded_at", "service", "metric", "quantity", "idempotency_key"]
    list_filter = ["metric"]
    search_fields = ["idempotency_key", "service__label", "account__reference"]
    date_hierarchy = "recorded_at"


class ProvisioningAttemptInline(_ViewOnly, admin.TabularInline):
    model = ProvisioningAttempt
    extra = 0
    fields = readonly_fields = ("number", "started_at", "outcome", "status_code", "duration_ms", "error")
    ordering = ["number"]


@admin.register(ProvisioningTask)
class ProvisioningTaskAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = [
        "created_at",
        "service",
        "module",
        "action",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = ["status", "module", "action"]
    search_fields = ["service__label", "service__account__reference"]
    inlines = [ProvisioningAttemptInline]
    actions = ["retry_now"]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("services.change_provisioningtask"))

    @admin.action(description=_("Retry now"), permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[ProvisioningTask]) -> None:
        retried = 0
        for task_id in queryset.order_by("pk").values_list("pk", flat=True):
            retried += provisioning_retry(task_id=task_id, now=utc_now())
        skipped = queryset.count() - retried
        if retried:
            self.message_user(
                request,
                ngettext("%(count)d task queued again.", "%(count)d tasks queued again.", retried) % {"count": retried},
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d task is running or done and was left alone.",
                    "%(count)d tasks are running or done and were left alone.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


@admin.register(ProvisioningAttempt)
class ProvisioningAttemptAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["started_at", "task", "number", "outcome", "status_code", "duration_ms", "error"]
    list_filter = ["outcome", "task__module"]
    search_fields = ["error", "task__service__account__reference"]
    date_hierarchy = "started_at"


@admin.register(StaffTask)
class StaffTaskAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["created_at", "title", "account", "service", "action", "status"]
    list_filter = ["status", "action"]
    search_fields = ["title", "account__reference", "service__label"]
    list_select_related = ["account", "service__plan__product"]
