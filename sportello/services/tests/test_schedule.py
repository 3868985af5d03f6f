"""The forward billing schedule: every charge of the next twelve months, exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sportello.catalog.models import Cycle
from sportello.core.money import Money
from sportello.services.models import ServiceStatus
from sportello.services.selectors import forward_schedule
from sportello.services.services import service_activate, service_change_cycle, service_create

from .conftest import service_in

pytestmark = pytest.mark.django_db


def test_it_lists_a_monthly_and_an_annual_service_over_twelve_months(alice, bob, catalog):
    hosting = service_create(
        account=alice.account,
        price_version=catalog.prices[("basic", "EUR", Cycle.MONTHLY)],
        options={"storage_gb": 50},
        as_of=dt.date(2026, 1, 30),
    )
    hosting = service_activate(service=hosting, as_of=dt.date(2026, 1, 31))
    yearly = service_in(
        alice.account, catalog.prices[("pro", "EUR", Cycle.ANNUAL)], ServiceStatus.ACTIVE, start=dt.date(2025, 3, 15)
    )
    # None of these brings a charge by itself.
    service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE, auto_renew=False)
    service_in(
        alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE, cancel_at_period_end=True
    )
    for status in (ServiceStatus.PENDING, ServiceStatus.SUSPENDED, ServiceStatus.EXPIRED, ServiceStatus.CANCELLED):
        service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], status)
    service_in(bob.account, catalog.prices[("basic", "BRL", Cycle.MONTHLY)], ServiceStatus.ACTIVE)

    schedule = forward_schedule(account=alice.account, as_of=dt.date(2026, 2, 1))

    monthly_dates = [
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 30),
        dt.date(2026, 5, 31),
        dt.date(2026, 6, 30),
        dt.date(2026, 7, 31),
        dt.date(2026, 8, 31),
        dt.date(2026, 9, 30),
        dt.date(2026, 10, 31),
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 31),
        dt.date(2027, 1, 31),
    ]
    # 10.00 + 50 GB x 0.045 = 12.25 a month; 250.00 a year.
    expected = [
        (day, hosting.pk, day, end, Money(Decimal("12.25"), "EUR"), "EUR")
        for day, end in zip(monthly_dates, [*monthly_dates[1:], dt.date(2027, 2, 28)], strict=True)
    ]
    expected.append(
        (
            dt.date(2026, 3, 15),
            yearly.pk,
            dt.date(2026, 3, 15),
            dt.date(2027, 3, 15),
            Money(Decimal("250.00"), "EUR"),
            "EUR",
        )
    )
    expected.sort(key=lambda row: (row[0], row[1]))
    assert [(c.date, c.service.pk, c.period_start, c.period_end, c.amount, c.currency) for c in schedule] == expected
    assert sum((c.amount for c in schedule), Money.zero("EUR")) == Money(Decimal("397.00"), "EUR")


def test_a_pending_cycle_applies_from_the_next_renewal(alice, catalog):
    service = service_in(
        alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE, start=dt.date(2026, 1, 10)
    )
    service_change_cycle(service=service, cycle=Cycle.QUARTERLY, as_of=dt.date(2026, 1, 12))
    schedule = forward_schedule(account=alice.account, as_of=dt.date(2026, 1, 12))
    assert [(c.date, c.period_end, c.amount) for c in schedule] == [
        (dt.date(2026, 2, 10), dt.date(2026, 5, 10), Money(Decimal("28.00"), "EUR")),
        (dt.date(2026, 5, 10), dt.date(2026, 8, 10), Money(Decimal("28.00"), "EUR")),
        (dt.date(2026, 8, 10), dt.date(2026, 11, 10), Money(Decimal("28.00"), "EUR")),
        (dt.date(2026, 11, 10), dt.date(2027, 2, 10), Money(Decimal("28.00"), "EUR")),
    ]


def test_the_window_includes_its_first_day_and_excludes_its_last(alice, catalog):
    service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)  # due 1 Feb
    schedule = forward_schedule(account=alice.account, as_of=dt.date(2026, 2, 1), months=3)
    assert [c.date for c in schedule] == [dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)]
