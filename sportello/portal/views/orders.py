"""My orders: the list (Aruba's: number, type, date, total, status, quantity, years), the
order page with its lines and totals, and cancelling an order awaiting payment.

Orders are found by number through `orders_visible_to(membership=...)`: another account's
order answers 404, whether its number was guessed or seen.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_safe

from sportello.accounts.models import Area
from sportello.core.money import Money
from sportello.orders.errors import IllegalOrderTransition, OrderNotAllowed, OrderNotFound, OrderPartlyPaid
from sportello.orders.models import Order, OrderLine, OrderStatus
from sportello.orders.selectors import order_events_of, order_lines_of, order_money, order_summaries, orders_visible_to
from sportello.orders.services import order_cancel
from sportello.payments.selectors import invoices_payable_by
from sportello.portal.access import MemberRequest, member_required
from sportello.portal.views.payments import pay_confirmed_earlier, pay_page
from sportello.portal.views.store import line_rows

PAGE_SIZE = 25


def period_text(months: int) -> str:
    """How long an order's period is, as the list shows it: "1 year", "3 months", "one-time"."""
    if months == 0:
        return _("One-time")
    if months % 12 == 0:
        years = months // 12
        return ngettext("%(count)d year", "%(count)d years", years) % {"count": years}
    return ngettext("%(count)d month", "%(count)d months", months) % {"count": months}


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), required=False, choices=[("", gettext_lazy("All")), *OrderStatus.choices]
    )


@member_required(Area.ORDERS)
@require_safe
def order_list(request: MemberRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    orders = orders_visible_to(membership=request.membership)
    has_orders = orders.exists()
    if status:
        orders = orders.filter(status=status)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    listed = list(page)
    summaries = order_summaries(orders=listed)
    rows = [
        {
            "order": order,
            "money": order_money(order),
            "quantity": summaries[order.pk].quantity,
            "period": period_text(summaries[order.pk].months),
        }
        for order in listed
    ]
    context = {
        "form": form,
        "status": status,
        "status_label": OrderStatus(status).label if status else "",
        "page": page,
        "rows": rows,
        "has_orders": has_orders,
        # Orders awaiting payment offer Pay to members who may pay (billing, and not read-only).
        "may_pay": request.membership.has_area(Area.BILLING) and request.membership.can_change,
        "active_nav": "orders",
    }
    return render(request, "portal/orders/list.html", context)


def order_taxes(order: Order, lines: list[OrderLine]) -> list[dict[str, Any]]:
    """The order's tax per rate: the lines' shares of each rate add up to it."""
    groups: dict[tuple[str, Decimal], dict[str, Any]] = {}
    for line in lines:
        key = (line.tax_category, line.tax_rate)
        group = groups.setdefault(
            key, {"name": "", "rate": line.tax_rate.normalize(), "minor": 0, "exemption_text": line.tax_exemption}
        )
        group["minor"] += line.tax_minor
    return [
        {**group, "tax": Money.from_minor(group["minor"], order.currency)}
        for group in sorted(groups.values(), key=lambda g: -g["rate"])
    ]


def _order(request: MemberRequest, number: str) -> Order:
    return get_object_or_404(orders_visible_to(membership=request.membership), number=number)


@member_required(Area.ORDERS)
@require_safe
def order_detail(request: MemberRequest, number: str) -> HttpResponse:
    order = _order(request, number)
    lines = list(order_lines_of(order=order))
    context = {
        "order": order,
        "rows": line_rows(lines, order.currency),
        "taxes": order_taxes(order, lines),
        "periods": [line for line in lines if line.period_start],
        "money": order_money(order),
        "events": order_events_of(order=order),
        "may_cancel": order.status == OrderStatus.AWAITING_PAYMENT and request.membership.can_change,
        "active_nav": "orders",
    }
    return render(request, "portal/orders/detail.html", context)


def _why_not_payable(order: Order) -> str:
    """Why this order cannot be paid now, in the member's words; "" when it can."""
    if order.status in (OrderStatus.PAID, OrderStatus.ACTIVE):
        return _("Order %(number)s is already paid.") % {"number": order.number}
    if order.status != OrderStatus.AWAITING_PAYMENT or order.invoice is None:
        return _("This order cannot be paid: it is “%(status)s”.") % {"status": order.get_status_display()}
    return ""


@member_required(Area.ORDERS)
@require_http_methods(["GET", "HEAD", "POST"])
def order_pay(request: MemberRequest, number: str) -> HttpResponse:
    """Pay an order awaiting payment: the pay page of its invoice (amount, methods with how long
    each takes to clear), reached from the order and leading back to it. Paying the invoice
    carries the order out (orders.invoicing.order_invoice_paid)."""
    order = _order(request, number)
    if not request.membership.has_area(Area.BILLING):
        # Paying is billing's: without it the member is told on the order page who can pay.
        raise Http404
    earlier = pay_confirmed_earlier(request, order=order)
    if earlier is not None:
        return earlier
    refusal = _why_not_payable(order)
    if refusal:
        messages.error(request, refusal)
        return redirect("portal:order-detail", number=order.number)
    invoice = order.invoice
    assert invoice is not None  # checked by _why_not_payable
    payable = invoices_payable_by(membership=request.membership)
    if invoice.pk not in {candidate.pk for candidate in payable}:
        messages.error(
            request,
            _("Order %(number)s has nothing left to pay: its invoice %(invoice)s is settled.")
            % {"number": order.number, "invoice": invoice.display_number},
        )
        return redirect("portal:order-detail", number=order.number)
    return pay_page(request, payable=payable, single=invoice, order=order)


class CancelOrderForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why are you cancelling? (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


@member_required(Area.ORDERS)
@require_http_methods(["GET", "HEAD", "POST"])
def order_cancel_view(request: MemberRequest, number: str) -> HttpResponse:
    """The confirmation step: what cancelling means; the POST is the confirmation."""
    order = _order(request, number)
    if order.status != OrderStatus.AWAITING_PAYMENT:
        messages.error(
            request,
            _("This order cannot be cancelled: it is “%(status)s”.") % {"status": order.get_status_display()},
        )
        return redirect("portal:order-detail", number=order.number)
    if not request.membership.can_change:
        messages.error(request, _("Your role lets you see orders, but not cancel them."))
        return redirect("portal:order-detail", number=order.number)
    form = CancelOrderForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            order_cancel(order=order, by=request.user, reason=form.cleaned_data["reason"], acting=request.membership)
        except OrderNotFound:
            raise Http404 from None
        except OrderNotAllowed:
            messages.error(request, _("Your role lets you see orders, but not cancel them."))
        except OrderPartlyPaid:
            messages.error(
                request,
                _("This order cannot be cancelled: part of it is already paid. Please contact us to be refunded."),
            )
        except IllegalOrderTransition as error:
            messages.error(
                request,
                _("This order cannot be cancelled: it is “%(status)s”.")
                % {"status": OrderStatus(error.from_status).label},
            )
        else:
            messages.success(request, _("Order %(number)s is cancelled.") % {"number": order.number})
        return redirect("portal:order-detail", number=order.number)
    context = {
        "order": order,
        "money": order_money(order),
        "rows": line_rows(list(order_lines_of(order=order)), order.currency),
        "form": form,
        "active_nav": "orders",
    }
    return render(request, "portal/orders/cancel.html", context)


urlpatterns: list[URLPattern] = [
    path("orders/", order_list, name="orders"),
    path("orders/<str:number>/", order_detail, name="order-detail"),
    path("orders/<str:number>/cancel/", order_cancel_view, name="order-cancel"),
    path("orders/<str:number>/pay/", order_pay, name="order-pay"),
]
