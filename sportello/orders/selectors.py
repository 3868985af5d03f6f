"""Reads of the orders domain, scoped to the acting membership: another account's order
is simply not found (404), whether asked by number or by guessing one."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, IntegerField, QuerySet, Sum, Value, When

from sportello.core.money import Money
from sportello.core.tenancy import ActingMembership
from sportello.orders.models import Order, OrderEvent, OrderLine, OrderStatus, PromoRedemption


def orders_visible_to(*, membership: ActingMembership) -> QuerySet[Order]:
    return Order.objects.visible_to(membership).order_by("-placed_at", "-id")


def orders_billed_on(*, membership: ActingMembership, invoice_ids: list[int]) -> list[Order]:
    """The account's orders whose invoice is one of these (a payment's page links back to them)."""
    return list(orders_visible_to(membership=membership).filter(invoice_id__in=invoice_ids))


def order_lines_of(*, order: Order) -> QuerySet[OrderLine]:
    return order.lines.select_related("service", "plan", "addon", "option").order_by("position")


def order_events_of(*, order: Order) -> QuerySet[OrderEvent]:
    return OrderEvent.objects.filter(order=order).select_related("actor").order_by("at", "id")


@dataclass(frozen=True)
class OrderSummary:
    """What the orders list shows besides the order's own columns (Aruba: quantity, years)."""

    quantity: int
    # The longest period a line pays for, in months (0: one-time).
    months: int


def order_summaries(*, orders: list[Order]) -> dict[int, OrderSummary]:
    """Quantity (of the main lines: plans, or the option or add-on ordered) and period length per order."""
    summaries: dict[int, OrderSummary] = {}
    rows = (
        OrderLine.objects.filter(order__in=orders)
        .exclude(action="")
        .values("order_id")
        .annotate(quantity=Sum("quantity"))
    )
    quantities = {row["order_id"]: int(row["quantity"] or 0) for row in rows}
    months: dict[int, int] = {}
    for order_id, line_months in OrderLine.objects.filter(order__in=orders).values_list("order_id", "months"):
        months[order_id] = max(months.get(order_id, 0), line_months)
    for order in orders:
        summaries[order.pk] = OrderSummary(quantity=quantities.get(order.pk, 0), months=months.get(order.pk, 0))
    return summaries


def order_money(order: Order) -> dict[str, Money]:
    """The order's totals as Money, for pages."""
    figures = {
        "subtotal": order.subtotal_minor,
        "setup": order.setup_minor,
        "discount": order.discount_minor,
        "net": order.net_minor,
        "tax": order.tax_minor,
        "total": order.total_minor,
    }
    return {name: Money.from_minor(minor, order.currency) for name, minor in figures.items()}


def orders_queue_urgency() -> Case:
    """How soon an order needs someone: under review, then awaiting payment, then paid."""
    return Case(
        When(status=OrderStatus.FRAUD_REVIEW, then=Value(0)),
        When(status=OrderStatus.AWAITING_PAYMENT, then=Value(1)),
        When(status=OrderStatus.PAID, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )


def orders_queue() -> QuerySet[Order]:
    """Staff's queue: orders waiting for payment or review first, then the newest."""
    return Order.objects.select_related("account").order_by(orders_queue_urgency().asc(), "-placed_at", "-id")


def promo_uses(*, order: Order) -> PromoRedemption | None:
    return PromoRedemption.objects.filter(order=order).first()
