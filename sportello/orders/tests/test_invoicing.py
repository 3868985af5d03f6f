"""An order's invoice: issued with the order's own figures, and paying it carries the order out."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from sportello.billing.models import Invoice, InvoiceSource, InvoiceStatus
from sportello.billing.services import invoice_settle
from sportello.conftest import make_member
from sportello.core.money import Money
from sportello.orders.errors import OrderPartlyPaid
from sportello.orders.models import Order, OrderStatus
from sportello.orders.services import order_accept, order_cancel
from sportello.services.models import ServiceStatus

from .conftest import AS_OF, fill_cart
from .test_cart_and_place import place

pytestmark = pytest.mark.django_db


def test_placing_an_order_issues_its_invoice_with_the_same_figures(alice, catalog):
    fill_cart(alice, catalog)
    order = place(alice)
    invoice = order.invoice
    assert invoice is not None
    assert (invoice.status, invoice.source, invoice.issue_date, invoice.number) == (
        InvoiceStatus.OPEN,
        InvoiceSource.ORDER,
        AS_OF,
        "INV-2026-00001",
    )
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (
        order.net_minor,
        order.tax_minor,
        order.total_minor,
    )
    assert [(line.amount_minor, line.discount_minor, str(line.tax_rate)) for line in invoice.lines.all()] == [
        (line.amount_minor + line.setup_fee_minor - line.discount_minor, line.discount_minor, str(line.tax_rate))
        for line in order.lines.order_by("position")
    ]
    assert all(order.number in line.description for line in invoice.lines.all())


def test_paying_the_invoice_activates_what_was_ordered(alice, catalog):
    fill_cart(alice, catalog)
    order = place(alice)
    assert order.invoice is not None
    service = order.lines.get(position=1).service
    assert service.status == ServiceStatus.PENDING
    paid_on = AS_OF + dt.timedelta(days=2)
    invoice_settle(
        invoice=order.invoice,
        amount=Money.from_minor(order.total_minor - 1, "EUR"),
        kind="payment",
        reference="part",
        settled_on=paid_on,
    )
    order.refresh_from_db()
    # A partial payment does nothing to the order.
    assert order.status == OrderStatus.AWAITING_PAYMENT
    invoice_settle(
        invoice=order.invoice, amount=Money.from_minor(1, "EUR"), kind="payment", reference="rest", settled_on=paid_on
    )
    order.refresh_from_db()
    service.refresh_from_db()
    assert (order.status, service.status, service.current_period_start) == (
        OrderStatus.ACTIVE,
        ServiceStatus.ACTIVE,
        paid_on,
    )


def test_an_order_under_review_gets_its_invoice_when_staff_release_it(alice, catalog, settings, staff):
    settings.ORDERS_REVIEW_FIRST_ORDER_OVER = ["EUR:10"]
    fill_cart(alice, catalog)
    order = place(alice)
    assert (order.status, order.invoice, Invoice.objects.count()) == (OrderStatus.FRAUD_REVIEW, None, 0)
    order = order_accept(order=order, as_of=AS_OF, by=staff)
    assert order.status == OrderStatus.AWAITING_PAYMENT
    assert order.invoice is not None and order.invoice.total_minor == order.total_minor
    assert Order.objects.get(pk=order.pk).invoice_id == order.invoice.pk


def test_cancelling_the_order_cancels_its_invoice_by_a_credit_note(alice, catalog):
    fill_cart(alice, catalog)
    order = place(alice)
    invoice = order.invoice
    order = order_cancel(order=order, by=alice.user, acting=alice, reason="Ordered by mistake.")
    invoice.refresh_from_db()
    note = invoice.credit_notes.get()
    assert (order.status, invoice.status, note.total_minor, note.number) == (
        OrderStatus.CANCELLED,
        InvoiceStatus.CANCELLED,
        invoice.total_minor,
        "CN-2026-00001",
    )
    assert order.events.last().data["credit_note"] == "CN-2026-00001"


def test_an_order_with_money_received_is_not_cancelled(alice, catalog):
    fill_cart(alice, catalog)
    order = place(alice)
    invoice_settle(invoice=order.invoice, amount=Money("1.00", "EUR"), kind="payment", reference="p", settled_on=AS_OF)
    before = (Order.objects.get(pk=order.pk).status, Invoice.objects.count(), order.invoice.events.count())
    with pytest.raises(OrderPartlyPaid) as error:
        order_cancel(order=order, by=alice.user, acting=alice)
    assert (error.value.received_minor, error.value.currency) == (100, "EUR")
    assert (Order.objects.get(pk=order.pk).status, Invoice.objects.count(), order.invoice.events.count()) == before
    assert order.lines.get(position=1).service.status == ServiceStatus.PENDING


def test_the_invoice_of_an_order_placed_in_another_language_prints_its_notes_in_the_accounts(catalog):
    member = make_member("cliente@example.com", "Cliente Inc.", country="US", language="it")
    with translation.override("en"):
        fill_cart(member, catalog)
        order = place(member)
    assert order.lines.first().tax_exemption == (
        "Not subject to EU VAT: services supplied outside the EU (art. 44 and 59, Directive 2006/112/EC)."
    )
    invoice = order.invoice
    note = "Operazione non soggetta a IVA UE: servizi resi fuori dall'UE (artt. 44 e 59, direttiva 2006/112/CE)."
    assert invoice.legal_notes == note
    assert list(invoice.taxes.values_list("name", "exemption_text")) == [("Operazione non soggetta a IVA", note)]
