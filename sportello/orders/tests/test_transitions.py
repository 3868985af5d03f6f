"""The order state machine, pair by pair, and what a paid order carries out.

The expected table is written out here by hand, independently of `TRANSITIONS`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sportello.catalog.models import Cycle
from sportello.orders.errors import IllegalOrderTransition, NothingToOrder, OrderAlreadyOpen, OrderNotFound
from sportello.orders.models import TRANSITIONS, Order, OrderEvent, OrderStatus, OrderTransition
from sportello.orders.services import (
    order_accept,
    order_addon_create,
    order_cancel,
    order_mark_fraud,
    order_mark_paid,
    order_options_create,
    order_place,
    order_renewal_create,
    order_upgrade_create,
)
from sportello.services.errors import OutsideReactivationWindow
from sportello.services.models import Service, ServiceEvent, ServiceStatus
from sportello.services.tests.conftest import service_in

from .conftest import AS_OF, AT, fill_cart, snapshot

pytestmark = pytest.mark.django_db

AW, PA, AC, CA, FR = (
    OrderStatus.AWAITING_PAYMENT,
    OrderStatus.PAID,
    OrderStatus.ACTIVE,
    OrderStatus.CANCELLED,
    OrderStatus.FRAUD_REVIEW,
)

EXPECTED = {
    "accept": (OrderTransition.ACCEPT, {FR: AW, PA: AC}),
    "cancel": (OrderTransition.CANCEL, {AW: CA, FR: CA}),
    "mark_fraud": (OrderTransition.MARK_FRAUD, {AW: FR}),
    "pay": (OrderTransition.PAY, {AW: AC}),  # pay, then carry out: active
}
OPERATIONS = {
    "accept": lambda order, staff: order_accept(order=order, as_of=AS_OF, by=staff, reason="checked"),
    "cancel": lambda order, staff: order_cancel(order=order, by=staff, reason="asked by phone"),
    "mark_fraud": lambda order, staff: order_mark_fraud(order=order, by=staff, reason="card mismatch"),
    "pay": lambda order, staff: order_mark_paid(order=order, as_of=AS_OF, by=staff),
}


def test_the_expected_table_is_the_code_table():
    code = {k: v for k, v in TRANSITIONS.items() if k not in (OrderTransition.PAY, OrderTransition.FULFIL)}
    mine = {transition: legal for name, (transition, legal) in EXPECTED.items() if name != "pay"}
    assert code == mine
    assert TRANSITIONS[OrderTransition.PAY] == {AW: PA}
    assert TRANSITIONS[OrderTransition.FULFIL] == {PA: AC}


def placed(membership: Any, catalog: Any) -> Order:
    fill_cart(membership, catalog)
    from sportello.orders.models import Cart
    from sportello.orders.services import cart_quote

    cart = Cart.objects.get(account=membership.account, user=membership.user)
    total = cart_quote(cart=cart, account=membership.account, as_of=AS_OF).total_minor
    return order_place(acting=membership, as_of=AS_OF, at=AT, shown_total_minor=total, shown_currency="EUR")


CASES = [(status, name) for name in OPERATIONS for status in OrderStatus.values]


@pytest.mark.parametrize(("from_status", "operation"), CASES, ids=[f"{s}-{o}" for s, o in CASES])
def test_every_transition_from_every_status(from_status, operation, alice, catalog, staff):
    order = placed(alice, catalog)
    Order.objects.filter(pk=order.pk).update(status=from_status)  # the table needs every starting point
    transition, legal = EXPECTED[operation]
    before = snapshot(alice.account)
    if from_status not in legal:
        with pytest.raises(IllegalOrderTransition) as refused:
            OPERATIONS[operation](order, staff)
        assert (refused.value.transition, refused.value.from_status) == (transition, from_status)
        assert snapshot(alice.account) == before
        return
    OPERATIONS[operation](order, staff)
    order.refresh_from_db()
    assert order.status == legal[from_status]
    event = OrderEvent.objects.filter(order=order).exclude(pk__in=before["events"]).first()
    assert event is not None
    assert (event.transition, event.from_status, event.actor) == (transition, from_status, staff)


def test_a_paid_new_order_activates_its_services_once(alice, catalog, staff):
    order = placed(alice, catalog)
    order = order_mark_paid(order=order, as_of=dt.date(2026, 1, 22), by=None)
    assert order.status == "active"
    service = Service.objects.get(account=alice.account)
    assert (service.status, service.current_period_start, service.current_period_end) == (
        "active",
        dt.date(2026, 1, 22),
        dt.date(2026, 2, 22),
    )
    assert list(order.events.values_list("transition", flat=True)) == ["place", "pay", "fulfil"]
    before = snapshot(alice.account)
    assert order_mark_paid(order=order, as_of=dt.date(2026, 1, 23)).status == "active"  # paid twice: acts once
    assert snapshot(alice.account) == before


def test_the_customer_cancels_an_awaiting_order_and_its_pending_services(alice, catalog):
    order = placed(alice, catalog)
    order_cancel(order=order, by=alice.user, acting=alice, reason="changed my mind")
    order.refresh_from_db()
    service = Service.objects.get(account=alice.account)
    assert (order.status, service.status) == ("cancelled", "cancelled")
    assert order.events.latest("id").data == {
        "services_cancelled": [service.pk],
        "invoice_cancelled": "INV-2026-00001",
        "credit_note": "CN-2026-00001",
        "as_customer": True,
    }


def test_the_customer_cannot_cancel_an_order_under_review_nor_another_accounts(alice, bob, catalog):
    order = placed(alice, catalog)
    before = snapshot(alice.account)
    with pytest.raises(OrderNotFound):
        order_cancel(order=order, by=bob.user, acting=bob)
    Order.objects.filter(pk=order.pk).update(status=FR)
    before = snapshot(alice.account)
    with pytest.raises(IllegalOrderTransition):
        order_cancel(order=order, by=alice.user, acting=alice)
    assert snapshot(alice.account) == before


# --- Orders on an existing service --------------------------------------------------------------


def hosting(alice: Any, catalog: Any, status: str = ServiceStatus.ACTIVE, **fields: Any) -> Service:
    return service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], status, **fields)


def test_a_renewal_order_renews_the_period_it_billed_when_paid(alice, catalog):
    service = hosting(alice, catalog, auto_renew=False)  # 1 Jan - 1 Feb
    order = order_renewal_create(service=service, as_of=AS_OF, at=AT, acting=alice, by=alice.user)
    line = order.lines.get()
    assert (order.type, line.action, line.period_start, line.period_end, line.amount_minor, order.total_minor) == (
        "renewal",
        "renew",
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
        1000,
        1210,
    )
    with pytest.raises(OrderAlreadyOpen) as refused:
        order_renewal_create(service=service, as_of=AS_OF, at=AT, acting=alice)
    assert refused.value.number == order.number
    order_mark_paid(order=order, as_of=dt.date(2026, 1, 25))
    service.refresh_from_db()
    assert (service.current_period_start, service.current_period_end) == (dt.date(2026, 2, 1), dt.date(2026, 3, 1))


def test_a_reactivation_is_a_renewal_order_from_today(alice, catalog):
    service = hosting(alice, catalog, status=ServiceStatus.EXPIRED)
    order = order_renewal_create(service=service, as_of=dt.date(2026, 3, 1), at=AT, acting=alice)
    line = order.lines.get()
    assert (line.action, line.period_start, line.period_end) == ("reactivate", dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    assert Service.objects.get(pk=service.pk).status == "expired"  # nothing happens before payment
    order_mark_paid(order=order, as_of=dt.date(2026, 3, 2))
    service.refresh_from_db()
    assert (service.status, service.current_period_start) == ("active", dt.date(2026, 3, 2))
    late = hosting(alice, catalog, status=ServiceStatus.EXPIRED, label="late")
    with pytest.raises(OutsideReactivationWindow):
        order_renewal_create(service=late, as_of=dt.date(2026, 4, 3), at=AT, acting=alice)


def test_an_upgrade_order_charges_the_proration_and_changes_the_plan_when_paid(alice, catalog):
    service = hosting(alice, catalog)
    with pytest.raises(NothingToOrder):
        order_upgrade_create(service=service, plan=catalog.pro, as_of=dt.date(2026, 2, 1), at=AT, shown_minor=None)
    order = order_upgrade_create(service=service, plan=catalog.pro, as_of=AS_OF, at=AT, shown_minor=581, acting=alice)
    assert (order.type, order.subtotal_minor, order.tax_minor, order.total_minor) == ("upgrade", 581, 122, 703)
    assert Service.objects.get(pk=service.pk).plan_id == catalog.basic.pk
    order_mark_paid(order=order, as_of=AS_OF)
    assert Service.objects.get(pk=service.pk).plan_id == catalog.pro.pk
    assert ServiceEvent.objects.filter(service=service).latest("id").transition == "change_plan"


def test_more_space_and_an_add_on_are_add_on_orders(alice, catalog):
    service = hosting(alice, catalog)
    # 30 GB more at 0.045 = 1.35 a month; 12 of 31 days left -> 0.52
    order = order_options_create(
        service=service, option=catalog.storage, quantity=30, as_of=AS_OF, at=AT, shown_minor=52, acting=alice
    )
    assert (order.type, order.lines.get().quantity, order.subtotal_minor) == ("addon", 30, 52)
    order_mark_paid(order=order, as_of=AS_OF)
    service.refresh_from_db()
    assert service.options["storage_gb"]["quantity"] == 30
    # Backups: 3.00 a month, 12 of 31 days -> 1.16, plus the 1.00 setup fee.
    order = order_addon_create(service=service, addon=catalog.backups, as_of=AS_OF, at=AT, shown_minor=216)
    assert (order.subtotal_minor, order.setup_minor, order.total_minor) == (116, 100, 261)
    order_mark_paid(order=order, as_of=AS_OF)
    service.refresh_from_db()
    assert service.addons["backups"]["amount_minor"] == 300


def test_a_line_the_services_domain_refuses_leaves_the_order_paid_for_staff(alice, catalog, staff):
    service = hosting(alice, catalog, auto_renew=False)
    order = order_renewal_create(service=service, as_of=AS_OF, at=AT)
    Service.objects.filter(pk=service.pk).update(status=ServiceStatus.TERMINATED)
    order = order_mark_paid(order=order, as_of=AS_OF)
    assert order.status == "paid"
    failed = order.events.latest("id")
    assert (failed.transition, failed.data["failures"][0]["error"]) == ("fulfil_failed", "illegal_transition")
    order = order_accept(order=order, as_of=AS_OF, by=staff, reason="refunded by hand")
    assert order.status == "active"
    assert order.events.latest("id").data["not_carried_out"][0]["line"] == 1
