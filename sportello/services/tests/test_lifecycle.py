"""The lifecycle's own rules, beyond the table: windows, period ends, cycles, plans, who may act."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sportello.accounts.models import Role
from sportello.catalog.errors import PriceNotAvailable
from sportello.catalog.models import Cycle
from sportello.conftest import make_member
from sportello.core.money import Money
from sportello.services.errors import (
    CancelNotAllowed,
    IllegalTransition,
    InvalidServiceData,
    NotAllowed,
    OutsideReactivationWindow,
    PeriodNotEnded,
    RenewalRefused,
    ServiceNotFound,
)
from sportello.services.models import ProvisioningTask, Service, ServiceEvent, ServiceStatus
from sportello.services.selectors import forward_schedule, service_charge, service_next_charge
from sportello.services.services import (
    plan_change_preview,
    reactivation_last_day,
    service_activate,
    service_cancel,
    service_cancel_apply,
    service_cancel_withdraw,
    service_change_cycle,
    service_change_plan,
    service_create,
    service_expire,
    service_reactivate,
    service_renew,
    service_set_auto_renew,
    service_suspend,
)

from .conftest import service_in
from .test_transitions import snapshot

pytestmark = pytest.mark.django_db


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def monthly(catalog, plan="basic"):
    return catalog.prices[(plan, "EUR", Cycle.MONTHLY)]


def transitions_of(service):
    return list(ServiceEvent.objects.filter(service=service).order_by("id").values_list("transition", "to_status"))


# --- Creation and activation --------------------------------------------------------------


def test_an_ordered_service_is_pending_until_activated_then_runs_a_period(alice, catalog, staff):
    service = service_create(
        account=alice.account,
        price_version=monthly(catalog),
        quantity=2,
        options={"storage_gb": 50},
        as_of=dt.date(2026, 1, 20),
        label=" www.alice.example ",
        by=staff,
    )
    assert (service.status, service.label, service.current_period_start, service.next_due_date) == (
        "pending",
        "www.alice.example",
        None,
        None,
    )
    storage_price = catalog.storage_prices[("EUR", Cycle.MONTHLY)]
    assert service.options == {
        "storage_gb": {"quantity": 50, "unit_price": "0.045000", "price_version": storage_price.pk}
    }
    # 2 x 10.00 + 50 GB x 0.045 = 22.25
    assert service_charge(service=service) == eur("22.25")

    service = service_activate(service=service, as_of=dt.date(2026, 1, 31), by=staff)
    assert (service.anchor_day, service.current_period_start, service.current_period_end, service.next_due_date) == (
        31,
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 28),
        dt.date(2026, 2, 28),
    )
    assert transitions_of(service) == [("create", "pending"), ("activate", "active")]


def test_it_refuses_orders_in_another_currency_or_with_bad_options(alice, bob, catalog):
    cases = [
        ({"account": bob.account, "price_version": monthly(catalog)}, InvalidServiceData),
        ({"account": alice.account, "price_version": monthly(catalog), "quantity": 0}, InvalidServiceData),
        ({"account": alice.account, "price_version": monthly(catalog), "quantity": True}, InvalidServiceData),
        ({"account": alice.account, "price_version": monthly(catalog), "options": {"ram_gb": 1}}, InvalidServiceData),
        (
            {"account": alice.account, "price_version": monthly(catalog), "options": {"storage_gb": -1}},
            InvalidServiceData,
        ),
        (
            {"account": alice.account, "price_version": monthly(catalog), "options": {"storage_gb": 1001}},
            InvalidServiceData,
        ),
        (
            {"account": alice.account, "price_version": monthly(catalog), "options": {"storage_gb": "5"}},
            InvalidServiceData,
        ),
        # No storage price in the biennial cycle.
        (
            {"account": alice.account, "price_version": _biennial(catalog), "options": {"storage_gb": 5}},
            PriceNotAvailable,
        ),
    ]
    for arguments, error in cases:
        with pytest.raises(error):
            service_create(as_of=dt.date(2026, 1, 20), **arguments)
    assert Service.objects.count() == 0
    assert ServiceEvent.objects.count() == 0


def _biennial(catalog):
    from sportello.catalog.services import price_create
    from sportello.catalog.tests.factories import SINCE

    return price_create(plan=catalog.basic, currency="EUR", cycle=Cycle.BIENNIAL, amount_minor=18000, valid_from=SINCE)


def test_a_price_change_leaves_existing_services_at_their_version(alice, catalog):
    from sportello.catalog.selectors import price_current
    from sportello.catalog.services import price_create

    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    dearer = price_create(
        plan=catalog.basic,
        currency="EUR",
        cycle=Cycle.MONTHLY,
        amount_minor=1500,
        valid_from=dt.datetime(2026, 1, 15, tzinfo=dt.UTC),
    )
    service = service_renew(service=service, period_start=dt.date(2026, 2, 1))
    assert (service.price_version, service_charge(service=service)) == (monthly(catalog), eur("10.00"))
    assert {c.amount for c in forward_schedule(account=alice.account, as_of=dt.date(2026, 2, 1))} == {eur("10.00")}
    # A new order is sold at the new version.
    current = price_current(plan=catalog.basic, currency="EUR", cycle=Cycle.MONTHLY, as_of=dt.date(2026, 2, 1))
    assert current == dearer
    newcomer = service_create(account=alice.account, price_version=current, as_of=dt.date(2026, 2, 1))
    assert service_charge(service=newcomer) == eur("15.00")


# --- Reactivation window --------------------------------------------------------------------


def test_it_reactivates_on_the_last_day_of_the_window_and_refuses_the_day_after(alice, catalog, staff):
    expired = service_in(alice.account, monthly(catalog), ServiceStatus.EXPIRED)  # period ended 1 February 2026
    late = service_in(alice.account, monthly(catalog), ServiceStatus.EXPIRED)
    # 1 February + 60 days
    assert reactivation_last_day(service=expired) == dt.date(2026, 4, 2)

    before = snapshot(late)
    with pytest.raises(OutsideReactivationWindow) as refused:
        service_reactivate(service=late, as_of=dt.date(2026, 4, 3), by=staff)
    assert (refused.value.expired_on, refused.value.last_day, refused.value.as_of) == (
        dt.date(2026, 2, 1),
        dt.date(2026, 4, 2),
        dt.date(2026, 4, 3),
    )
    assert snapshot(late) == before

    service = service_reactivate(service=expired, as_of=dt.date(2026, 4, 2), by=staff, reason="paid the renewal")
    assert (service.status, service.current_period_start, service.current_period_end, service.expired_at) == (
        "active",
        dt.date(2026, 4, 2),
        dt.date(2026, 5, 2),
        None,
    )
    event = ServiceEvent.objects.get(service=service)
    assert event.data == {
        "expired_on": "2026-02-01",
        "period_start": "2026-04-02",
        "period_end": "2026-05-02",
        "cycle": "monthly",
        "provisioning": {"module": "manual", "action": "unsuspend"},
    }


def test_the_window_is_the_products(alice, catalog, staff):
    catalog.product.reactivation_window_days = 0
    catalog.product.save()
    expired = service_in(alice.account, monthly(catalog), ServiceStatus.EXPIRED)
    with pytest.raises(OutsideReactivationWindow):
        service_reactivate(service=expired, as_of=dt.date(2026, 2, 2), by=staff)
    assert service_reactivate(service=expired, as_of=dt.date(2026, 2, 1), by=staff).status == "active"


def test_it_expires_only_once_the_period_has_ended(alice, catalog):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    before = snapshot(service)
    with pytest.raises(PeriodNotEnded) as refused:
        service_expire(service=service, as_of=dt.date(2026, 1, 31))
    assert (refused.value.period_end, refused.value.as_of) == (dt.date(2026, 2, 1), dt.date(2026, 1, 31))
    assert snapshot(service) == before
    service = service_expire(service=service, as_of=dt.date(2026, 2, 1))
    assert service.status == "expired"
    assert ServiceEvent.objects.get(service=service).actor is None


def test_a_one_time_service_never_expires_nor_renews(alice, catalog, staff):
    from sportello.catalog.services import price_create
    from sportello.catalog.tests.factories import SINCE

    once = price_create(plan=catalog.basic, currency="EUR", cycle=Cycle.ONE_TIME, amount_minor=9900, valid_from=SINCE)
    service = service_activate(
        service=service_create(account=alice.account, price_version=once, as_of=SINCE.date()), as_of=dt.date(2026, 1, 1)
    )
    assert (service.current_period_end, service.next_due_date) == (None, None)
    before = snapshot(service)
    with pytest.raises(PeriodNotEnded):
        service_expire(service=service, as_of=dt.date(2099, 1, 1))
    with pytest.raises(RenewalRefused, match="one_time"):
        service_renew(service=service, period_start=dt.date(2026, 1, 1))
    with pytest.raises(CancelNotAllowed, match="no_period_end"):
        service_cancel(service=service, reason="", immediately=False, by=staff)
    with pytest.raises(InvalidServiceData):
        service_change_cycle(service=service, cycle=Cycle.MONTHLY, as_of=dt.date(2026, 1, 1))
    assert snapshot(service) == before


# --- Cancellation ----------------------------------------------------------------------------


def test_a_cancellation_at_period_end_is_scheduled_then_applied(alice, catalog):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    service = service_cancel(
        service=service, reason="moving to another provider", immediately=False, by=alice.user, acting=alice
    )
    assert (service.status, service.cancel_at_period_end, service.cancellation_reason) == (
        "active",
        True,
        "moving to another provider",
    )
    scheduled = ServiceEvent.objects.get(service=service)
    assert (scheduled.transition, scheduled.actor, scheduled.data) == (
        "cancel_schedule",
        alice.user,
        {"effective_on": "2026-02-01", "as_customer": True},
    )
    # It will not renew: no charge in the schedule, no renewal, no expiry instead of the cancellation.
    assert forward_schedule(account=alice.account, as_of=dt.date(2026, 1, 15)) == []
    before = snapshot(service)
    with pytest.raises(RenewalRefused, match="cancellation_scheduled"):
        service_renew(service=service, period_start=dt.date(2026, 2, 1))
    with pytest.raises(IllegalTransition, match="cancellation_scheduled"):
        service_expire(service=service, as_of=dt.date(2026, 2, 1))
    with pytest.raises(PeriodNotEnded):
        service_cancel_apply(service=service, as_of=dt.date(2026, 1, 31))
    with pytest.raises(CancelNotAllowed, match="already_scheduled"):
        service_cancel(service=service, reason="again", immediately=False, acting=alice)
    assert snapshot(service) == before

    service = service_cancel_apply(service=service, as_of=dt.date(2026, 2, 1))
    assert (service.status, service.cancel_at_period_end, service.next_due_date) == ("cancelled", False, None)
    assert transitions_of(service) == [("cancel_schedule", "active"), ("cancel_apply", "cancelled")]
    assert ServiceEvent.objects.filter(service=service).last().reason == "moving to another provider"


def test_a_scheduled_cancellation_can_be_withdrawn(alice, catalog):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    service_cancel(service=service, reason="too expensive", immediately=False, acting=alice, by=alice.user)
    service = service_cancel_withdraw(service=service, acting=alice, by=alice.user)
    assert (service.cancel_at_period_end, service.cancellation_reason) == (False, "")
    assert service_renew(service=service, period_start=dt.date(2026, 2, 1)).current_period_end == dt.date(2026, 3, 1)


def test_customers_cancel_immediately_only_where_the_product_allows_it(alice, catalog, staff):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    before = snapshot(service)
    with pytest.raises(CancelNotAllowed, match="immediate_cancellation_not_allowed"):
        service_cancel(service=service, reason="now", immediately=True, acting=alice, by=alice.user)
    assert snapshot(service) == before

    # Staff always may.
    assert service_cancel(service=service, reason="now", immediately=True, by=staff).status == "cancelled"

    catalog.product.customers_may_cancel_immediately = True
    catalog.product.save()
    other = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    other = service_cancel(service=other, reason="now", immediately=True, acting=alice, by=alice.user)
    assert (other.status, other.cancellation_reason) == ("cancelled", "now")


def test_a_customer_acts_only_on_their_accounts_services_and_with_the_right(alice, bob, catalog):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    reader = make_member("rita@example.org", "Rita", role=Role.READ_ONLY)
    reader.account = alice.account
    reader.save()
    finance = make_member("fede@example.org", "Fede", role=Role.FINANCE)
    finance.account = alice.account
    finance.save()
    before = snapshot(service)
    attempts = [
        lambda acting: service_cancel(service=service, reason="x", immediately=False, acting=acting),
        lambda acting: service_set_auto_renew(service=service, enabled=False, acting=acting),
        lambda acting: service_change_cycle(
            service=service, cycle=Cycle.ANNUAL, as_of=dt.date(2026, 1, 5), acting=acting
        ),
        lambda acting: service_change_plan(service=service, plan=catalog.pro, as_of=dt.date(2026, 1, 5), acting=acting),
    ]
    for attempt in attempts:
        with pytest.raises(ServiceNotFound):
            attempt(bob)
        for member in (reader, finance):
            with pytest.raises(NotAllowed):
                attempt(member)
    assert snapshot(service) == before


# --- Auto-renew, cycles, renewals ----------------------------------------------------------


def test_auto_renew_toggles_and_records_only_changes(alice, catalog):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    service = service_set_auto_renew(service=service, enabled=False, acting=alice, by=alice.user)
    assert service.auto_renew is False
    assert forward_schedule(account=alice.account, as_of=dt.date(2026, 1, 15)) == []
    service_set_auto_renew(service=service, enabled=False, acting=alice, by=alice.user)
    service = service_set_auto_renew(service=service, enabled=True, acting=alice, by=alice.user)
    assert service.auto_renew is True
    assert len(forward_schedule(account=alice.account, as_of=dt.date(2026, 1, 15))) == 12
    assert list(ServiceEvent.objects.filter(service=service).values_list("data__auto_renew", flat=True)) == [
        False,
        True,
    ]


def test_a_change_of_cycle_takes_effect_at_the_next_renewal(alice, catalog):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE, start=dt.date(2026, 1, 10))
    service = service_change_cycle(service=service, cycle=Cycle.ANNUAL, as_of=dt.date(2026, 1, 20), acting=alice)
    annual = catalog.prices[("basic", "EUR", Cycle.ANNUAL)]
    assert (service.cycle, service.price_version, service.pending_cycle, service.pending_price_version) == (
        "monthly",
        monthly(catalog),
        "annual",
        annual,
    )
    assert (service_charge(service=service), service_next_charge(service=service)) == (eur("10.00"), eur("100.00"))
    assert ServiceEvent.objects.get(service=service).data == {
        "cycle": "annual",
        "price_version": annual.pk,
        "effective_on": "2026-02-10",
        "as_customer": True,
    }

    service = service_renew(service=service, period_start=dt.date(2026, 2, 10))
    assert (service.cycle, service.price_version, service.pending_cycle, service.pending_price_version) == (
        "annual",
        annual,
        "",
        None,
    )
    assert (service.current_period_start, service.current_period_end, service.next_due_date) == (
        dt.date(2026, 2, 10),
        dt.date(2027, 2, 10),
        dt.date(2027, 2, 10),
    )


def test_asking_for_the_current_cycle_withdraws_a_pending_change(alice, catalog):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    assert service_change_cycle(service=service, cycle=Cycle.MONTHLY, as_of=dt.date(2026, 1, 5)).pending_cycle == ""
    assert ServiceEvent.objects.filter(service=service).count() == 0
    service_change_cycle(service=service, cycle=Cycle.QUARTERLY, as_of=dt.date(2026, 1, 5))
    service = service_change_cycle(service=service, cycle=Cycle.MONTHLY, as_of=dt.date(2026, 1, 6))
    assert (service.pending_cycle, service.pending_price_version, service.pending_options) == ("", None, {})
    assert ServiceEvent.objects.filter(service=service).count() == 2
    before = snapshot(service)
    # No triennial price, no one-time change.
    with pytest.raises(PriceNotAvailable):
        service_change_cycle(service=service, cycle=Cycle.TRIENNIAL, as_of=dt.date(2026, 1, 6))
    with pytest.raises(InvalidServiceData):
        service_change_cycle(service=service, cycle=Cycle.ONE_TIME, as_of=dt.date(2026, 1, 6))
    assert snapshot(service) == before


def test_options_are_repriced_for_the_new_cycle(alice, catalog):
    service = service_create(
        account=alice.account, price_version=monthly(catalog), options={"storage_gb": 20}, as_of=dt.date(2026, 1, 1)
    )
    service = service_activate(service=service, as_of=dt.date(2026, 1, 1))
    service = service_change_cycle(service=service, cycle=Cycle.QUARTERLY, as_of=dt.date(2026, 1, 2))
    # 10.00 + 20 x 0.045 now; 28.00 + 20 x 0.13 from the renewal.
    assert (service_charge(service=service), service_next_charge(service=service)) == (eur("10.90"), eur("30.60"))


def test_a_renewal_is_applied_once_per_period(alice, catalog):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE, start=dt.date(2026, 1, 31))
    service = service_renew(service=service, period_start=dt.date(2026, 2, 28), reason="invoice 2026-0042 paid")
    assert (service.current_period_start, service.current_period_end) == (dt.date(2026, 2, 28), dt.date(2026, 3, 31))
    # The same payment processed again renews nothing more.
    again = service_renew(service=service, period_start=dt.date(2026, 2, 28))
    assert (again.current_period_start, again.current_period_end) == (dt.date(2026, 2, 28), dt.date(2026, 3, 31))
    assert ServiceEvent.objects.filter(service=service).count() == 1
    before = snapshot(service)
    with pytest.raises(RenewalRefused) as refused:
        service_renew(service=service, period_start=dt.date(2026, 5, 31))
    assert (refused.value.reason, refused.value.expected, refused.value.given) == (
        "period_mismatch",
        dt.date(2026, 3, 31),
        dt.date(2026, 5, 31),
    )
    assert snapshot(service) == before


def test_a_paid_renewal_extends_a_suspended_service_which_then_is_unsuspended(alice, catalog):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    service = service_suspend(service=service, reason="renewal unpaid after 7 days")
    service = service_renew(service=service, period_start=dt.date(2026, 2, 1))
    assert (service.status, service.current_period_end) == ("suspended", dt.date(2026, 3, 1))


# --- Plan changes --------------------------------------------------------------------------


def test_an_upgrade_is_prorated_and_provisioned(alice, catalog, django_capture_on_commit_callbacks):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    assert plan_change_preview(service=service, plan=catalog.pro, as_of=dt.date(2026, 1, 17)).amount == eur("7.26")
    with django_capture_on_commit_callbacks(execute=True):
        change = service_change_plan(service=service, plan=catalog.pro, as_of=dt.date(2026, 1, 17), acting=alice)
    assert change.proration.amount == eur("7.26")
    assert (change.service.plan, change.service.price_version) == (catalog.pro, monthly(catalog, "pro"))
    event = ServiceEvent.objects.get(service=service)
    assert event.data["proration_minor"] == 726
    assert (event.data["days_remaining"], event.data["days_in_period"]) == (15, 31)
    assert list(ProvisioningTask.objects.values_list("action", "module", "event")) == [
        ("change_plan", "manual", event.pk)
    ]
    downgrade = service_change_plan(service=change.service, plan=catalog.basic, as_of=dt.date(2026, 1, 17))
    assert downgrade.proration.amount == eur("-7.26")


def test_without_proration_a_plan_change_costs_nothing_until_renewal(alice, catalog):
    catalog.product.prorate_upgrades = False
    catalog.product.save()
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE, quantity=3)
    change = service_change_plan(service=service, plan=catalog.pro, as_of=dt.date(2026, 1, 17))
    assert change.proration.amount == eur("0.00")
    assert service_charge(service=change.service) == eur("75.00")


def test_a_plan_change_follows_a_pending_cycle_and_refuses_other_products(alice, catalog):
    service = service_in(alice.account, monthly(catalog), ServiceStatus.ACTIVE)
    service_change_cycle(service=service, cycle=Cycle.ANNUAL, as_of=dt.date(2026, 1, 5))
    service = service_change_plan(service=service, plan=catalog.pro, as_of=dt.date(2026, 1, 5)).service
    assert service.pending_price_version == catalog.prices[("pro", "EUR", Cycle.ANNUAL)]
    before = snapshot(service)
    with pytest.raises(InvalidServiceData, match="already on this plan"):
        service_change_plan(service=service, plan=catalog.pro, as_of=dt.date(2026, 1, 5))
    from sportello.catalog.models import Plan, Product

    other = Plan.objects.create(
        product=Product.objects.create(category=catalog.product.category, name="VPS", slug="vps"), name="S", code="s"
    )
    with pytest.raises(InvalidServiceData, match="same product"):
        service_change_plan(service=service, plan=other, as_of=dt.date(2026, 1, 5))
    assert snapshot(service) == before
