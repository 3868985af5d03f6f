"""Back office for orders and promo codes.

Orders are never edited here: staff move them with the actions of the queue (accept,
cancel, mark for review), each one the orders domain's transition with the reason staff
type next to the action. The queue shows what waits for someone first: orders under
review, then awaiting payment, then paid ones still to carry out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sportello.accounts.models import User
from sportello.core.time import today_utc
from sportello.orders.errors import InvalidPromo, OrdersError
from sportello.orders.models import Order, OrderEvent, OrderLine, PromoCode, PromoRedemption
from sportello.orders.selectors import orders_queue, orders_queue_urgency
from sportello.orders.services import order_accept, order_cancel, order_mark_fraud, promo_values_clean
from sportello.services.errors import ServicesError
from sportello.staff.admin_catalog import ReasonActionForm, _ViewOnly


class PromoCodeForm(forms.ModelForm):
    class Meta:
        model = PromoCode
        fields = [
            "code",
            "description",
            "kind",
            "percent",
            "amounts",
            "duration",
            "valid_from",
            "valid_until",
            "max_redemptions",
            "max_per_account",
            "products",
            "cycles",
            "is_active",
        ]

    def clean_code(self) -> str:
        code = " ".join(str(self.cleaned_data["code"]).split())
        taken = PromoCode.objects.filter(code__iexact=code).exclude(pk=self.instance.pk)
        if not code or taken.exists():
            raise forms.ValidationError(_("Another promo code has this code (codes ignore upper and lower case)."))
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            percent, amounts, cycles = promo_values_clean(
                kind=data.get("kind", ""),
                percent=data.get("percent"),
                amounts=data.get("amounts") if data.get("amounts") is not None else {},
                cycles=data.get("cycles") if data.get("cycles") is not None else [],
            )
        except InvalidPromo as error:
            self.add_error(error.field if error.field in self.fields else None, error.reason)
            return data
        data.update(percent=percent, amounts=amounts, cycles=cycles)
        return data


@admin.register(PromoCode)
class PromoCodeAdmin(admin.ModelAdmin):
    form = PromoCodeForm
    list_display = [
        "code",
        "kind",
        "percent",
        "duration",
        "valid_from",
        "valid_until",
        "max_redemptions",
        "uses",
        "is_active",
    ]
    list_filter = ["kind", "duration", "is_active"]
    search_fields = ["code", "description"]
    filter_horizontal = ["products"]

    @admin.display(description=_("uses"))
    def uses(self, obj: PromoCode) -> int:
        from sportello.orders.services import promo_redemptions_counted

        return promo_redemptions_counted(promo=obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A used code stays: its orders point at it. Deactivate it instead.
        return obj is None or not obj.redemptions.exists()


@admin.register(PromoRedemption)
class PromoRedemptionAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["redeemed_at", "promo", "account", "order", "amount_minor", "currency"]
    list_filter = ["promo"]
    search_fields = ["promo__code", "account__reference", "order__number"]


class OrderLineInline(_ViewOnly, admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = readonly_fields = (
        "position",
        "description",
        "kind",
        "action",
        "service",
        "cycle",
        "quantity",
        "months",
        "period_start",
        "period_end",
        "amount_minor",
        "setup_fee_minor",
        "discount_minor",
        "tax_rate",
        "tax_minor",
        "total_minor",
        "fulfilled_at",
    )
    ordering = ["position"]


class OrderEventInline(_ViewOnly, admin.TabularInline):
    model = OrderEvent
    extra = 0
    fields = readonly_fields = ("at", "transition", "from_status", "to_status", "reason", "actor", "data")
    ordering = ["at", "id"]


Move = Callable[[Order, str, User], Order]


@admin.register(Order)
class OrderAdmin(_ViewOnly, admin.ModelAdmin):
    """The orders queue: under review and awaiting payment first."""

    list_display = ["number", "account", "type", "status", "placed_at", "total", "currency", "review_reason"]
    list_filter = ["status", "type", "currency"]
    search_fields = ["number", "account__name", "account__reference"]
    list_select_related = ["account"]
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline, OrderEventInline]
    action_form = ReasonActionForm
    actions = ["accept", "cancel", "mark_fraud"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return orders_queue()

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        # An expression, not an annotation's name: other pages (a promo use's order
        # field) order plain order querysets with it too.
        return [orders_queue_urgency().asc(), "-placed_at", "-id"]

    @admin.display(description=_("total"))
    def total(self, obj: Order) -> str:
        from sportello.core.formatting import money_display
        from sportello.core.money import Money

        return money_display(Money.from_minor(obj.total_minor, obj.currency))

    def has_transition_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("orders.change_order"))

    def _move(self, request: HttpRequest, queryset: QuerySet[Order], move: Move, *, need_reason: bool) -> None:
        reason = str(request.POST.get("reason", "")).strip()
        if need_reason and not reason:
            self.message_user(request, _("Type the reason for this change next to the action."), messages.ERROR)
            return
        done = 0
        for order in queryset.order_by("pk"):
            try:
                move(order, reason, request.user)  # type: ignore[arg-type]
            except (OrdersError, ServicesError) as error:
                self.message_user(request, f"{order.number}: {error}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request, ngettext("%(count)d order changed.", "%(count)d orders changed.", done) % {"count": done}
            )

    @admin.action(description=_("Accept (release from review, or finish a paid order)"), permissions=["transition"])
    def accept(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._move(
            request,
            queryset,
            lambda o, r, by: order_accept(order=o, as_of=today_utc(), by=by, reason=r),
            need_reason=False,
        )

    @admin.action(description=_("Cancel"), permissions=["transition"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._move(request, queryset, lambda o, r, by: order_cancel(order=o, by=by, reason=r), need_reason=True)

    @admin.action(description=_("Hold for review (fraud)"), permissions=["transition"])
    def mark_fraud(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._move(request, queryset, lambda o, r, by: order_mark_fraud(order=o, by=by, reason=r), need_reason=True)
