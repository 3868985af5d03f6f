"""An order's invoice, and what paying it does.

An order awaiting payment has one issued invoice (`Order.invoice`): made when the order is
placed, or when staff release one held for review. Each order line becomes one invoice
line billing exactly what the order priced: its period amount plus setup fee as the unit
price, its promo discount as the discount, at the tax the order decided. Both go through
`billing.calc`, so the invoice's total is the order's to the cent; a difference would be
a bug, and refuses the order rather than bill another figure.

Paying the invoice (`billing.services.on_invoice_paid`, registered in OrdersConfig.ready)
carries the order out through `order_mark_paid`, in the paying transaction.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from sportello.accounts.models import User
from sportello.billing.credit_notes import invoice_cancel
from sportello.billing.errors import InvoiceHasPayments
from sportello.billing.models import PAYABLE_STATUSES, Invoice, InvoiceSource, LineKind, TaxCategory
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.billing.taxes import TaxDecision, decision_wording
from sportello.core.formatting import date_display
from sportello.core.money import Money
from sportello.orders.errors import OrderPartlyPaid, OrdersError
from sportello.orders.models import LineKind as OrderLineKind
from sportello.orders.models import Order, OrderLine, OrderStatus

LINE_KINDS: dict[str, str] = {
    OrderLineKind.PLAN: LineKind.PLAN,
    OrderLineKind.OPTION: LineKind.OPTION,
    OrderLineKind.ADDON: LineKind.ADDON,
}


class OrderInvoiceMismatch(OrdersError):
    """The invoice computed for an order does not total what the order does."""

    code = "invoice_mismatch"


def _tax_of(line: OrderLine) -> TaxDecision:
    category = line.tax_category or TaxCategory.STANDARD
    label = TaxCategory(category).label if category in TaxCategory.values else category
    rate = line.tax_rate.normalize()
    name = f"{label} {rate:f}%" if category == TaxCategory.STANDARD else label
    return TaxDecision(
        rate=line.tax_rate,
        category=category,
        name=name,
        reverse_charge=line.reverse_charge,
        # Stored in the language of the cart; printed in the invoice's.
        exemption_text=decision_wording(line.tax_exemption),
    )


def _description(line: OrderLine, order: Order) -> str:
    parts = [line.description]
    if line.setup_fee_minor:
        parts.append(
            gettext("including a setup fee of %(amount)s")
            % {"amount": Money.from_minor(line.setup_fee_minor, order.currency)}
        )
    parts.append(gettext("order %(number)s") % {"number": order.number})
    return " · ".join(parts)


def _new_line(line: OrderLine, order: Order) -> NewLine:
    gross = line.amount_minor + line.setup_fee_minor
    return NewLine(
        description=_description(line, order),
        quantity=Decimal(1),
        unit_price=Money.from_minor(gross, order.currency).amount,
        discount_minor=line.discount_minor,
        kind=LINE_KINDS.get(line.kind, LineKind.OTHER),
        tax=_tax_of(line),
        period_start=line.period_start,
        period_end=line.period_end,
        service_id=line.service_id,
    )


def order_invoice_issue(*, order: Order, by: User | None) -> Invoice:
    """Issue the invoice of an order that now awaits payment. Runs in the caller's transaction
    (placing or releasing the order), after the order and its lines are written."""
    with translation.override(order.account.language):
        lines = [_new_line(line, order) for line in order.lines.order_by("position")]
        notes = gettext("Order %(number)s of %(date)s") % {
            "number": order.number,
            "date": date_display(order.as_of, order.account.language),
        }
    invoice = invoice_create(
        account=order.account,
        lines=lines,
        as_of=order.as_of,
        source=InvoiceSource.ORDER,
        currency=order.currency,
        prices_include_tax=bool(settings.BILLING_PRICES_INCLUDE_TAX),
        notes=notes,
        by=by,
    )
    if (invoice.net_minor, invoice.tax_minor, invoice.total_minor) != (
        order.net_minor,
        order.tax_minor,
        order.total_minor,
    ):
        raise OrderInvoiceMismatch(
            f"order {order.number}: {order.total_minor} but its invoice {invoice.total_minor} ({order.currency})"
        )
    order.invoice = invoice
    order.save(update_fields=["invoice", "updated_at"])
    return invoice_issue(invoice=invoice, as_of=order.as_of, by=by)


def order_invoice_paid(invoice: Invoice) -> None:
    """The `on_invoice_paid` handler: a paid order invoice carries its order out, once."""
    from sportello.orders.services import order_mark_paid

    order = Order.objects.filter(invoice_id=invoice.pk).first()
    if order is None or order.status != OrderStatus.AWAITING_PAYMENT:
        return
    assert invoice.paid_date is not None  # set by the transition that calls this handler
    order_mark_paid(order=order, as_of=invoice.paid_date)


def order_invoice_cancel(*, order: Order, reason: str, by: User | None) -> dict[str, str]:
    """Cancel the invoice of an order being cancelled, in the same transaction: by a full
    credit note when it carries a fiscal number (`billing.credit_notes.invoice_cancel`).
    Refused (OrderPartlyPaid, and the whole cancellation with it) once money was received.
    Returns what the order's event records."""
    invoice = order.invoice
    if invoice is None or invoice.status not in PAYABLE_STATUSES:
        return {}
    try:
        cancellation = invoice_cancel(
            invoice=invoice,
            reason=reason or gettext("Order %(number)s cancelled") % {"number": order.number},
            as_of=order.cancelled_at.date() if order.cancelled_at else order.as_of,
            by=by,
        )
    except InvoiceHasPayments as error:
        raise OrderPartlyPaid(received_minor=error.received_minor, currency=error.currency) from None
    note = cancellation.credit_note
    return {"invoice_cancelled": invoice.display_number, **({"credit_note": note.number} if note else {})}
