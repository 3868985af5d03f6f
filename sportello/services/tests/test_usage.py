"""Usage records: idempotent per key, summed or read against the plan's quotas."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sportello.catalog.models import Cycle
from sportello.services.errors import InvalidServiceData, UsageKeyReused
from sportello.services.models import ServiceStatus, UsageRecord
from sportello.services.selectors import QuotaUsage, quota_usage, usage_in_period, usage_latest
from sportello.services.services import usage_record

from .conftest import service_in

pytestmark = pytest.mark.django_db


def at(day: int, month: int = 1, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def hosting(alice, catalog):
    return service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)


def test_a_repeated_key_returns_the_first_record(hosting):
    first = usage_record(service=hosting, metric="traffic_gb", quantity=Decimal("1.5"), at=at(3), idempotency_key="k1")
    again = usage_record(
        service=hosting, metric="traffic_gb", quantity=Decimal("1.500000"), at=at(3), idempotency_key="k1"
    )
    assert again.pk == first.pk
    assert UsageRecord.objects.count() == 1
    assert (first.account_id, first.quantity) == (hosting.account_id, Decimal("1.5"))


@pytest.mark.parametrize(
    "change",
    [{"quantity": Decimal("2")}, {"metric": "storage_gb"}, {"at": at(4)}],
)
def test_a_key_reused_for_different_content_is_refused(hosting, change):
    usage_record(service=hosting, metric="traffic_gb", quantity=Decimal("1.5"), at=at(3), idempotency_key="k1")
    arguments = {"service": hosting, "metric": "traffic_gb", "quantity": Decimal("1.5"), "at": at(3)}
    with pytest.raises(UsageKeyReused):
        usage_record(**{**arguments, **change}, idempotency_key="k1")
    assert list(UsageRecord.objects.values_list("metric", "quantity")) == [("traffic_gb", Decimal("1.5"))]


def test_the_same_key_on_another_service_is_another_record(alice, catalog, hosting):
    other = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    usage_record(service=hosting, metric="traffic_gb", quantity=Decimal(1), at=at(3), idempotency_key="k1")
    usage_record(service=other, metric="traffic_gb", quantity=Decimal(1), at=at(3), idempotency_key="k1")
    assert UsageRecord.objects.count() == 2


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"quantity": Decimal("-1")}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": Decimal("NaN")}, "quantity"),
        ({"quantity": Decimal("0.0000001")}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"metric": "storage gb"}, "metric"),
        ({"metric": ""}, "metric"),
        ({"idempotency_key": " "}, "idempotency_key"),
        ({"idempotency_key": "k" * 129}, "idempotency_key"),
    ],
)
def test_it_refuses_bad_usage_and_records_nothing(hosting, arguments, field):
    values = {"metric": "traffic_gb", "quantity": Decimal(1), "at": at(3), "idempotency_key": "k1", **arguments}
    with pytest.raises(InvalidServiceData) as refused:
        usage_record(service=hosting, **values)
    assert refused.value.field == field
    assert UsageRecord.objects.count() == 0


def test_it_refuses_a_naive_time(hosting):
    with pytest.raises(ValueError, match="naive"):
        usage_record(
            service=hosting,
            metric="traffic_gb",
            quantity=Decimal(1),
            at=dt.datetime(2026, 1, 3),  # noqa: DTZ001
            idempotency_key="k1",
        )


def test_usage_in_a_period_includes_its_start_and_excludes_its_end(hosting):
    for key, moment, quantity in [
        ("a", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "1"),
        ("b", at(15), "2.25"),
        ("c", dt.datetime(2026, 1, 31, 23, 59, 59, tzinfo=dt.UTC), "3"),
        ("d", dt.datetime(2026, 2, 1, tzinfo=dt.UTC), "100"),
        ("e", dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC), "100"),
    ]:
        usage_record(service=hosting, metric="traffic_gb", quantity=Decimal(quantity), at=moment, idempotency_key=key)
    january = usage_in_period(service=hosting, metric="traffic_gb", start=dt.date(2026, 1, 1), end=dt.date(2026, 2, 1))
    assert january == Decimal("6.25")
    assert (
        usage_in_period(service=hosting, metric="storage_gb", start=dt.date(2026, 1, 1), end=dt.date(2026, 2, 1)) == 0
    )


def test_quotas_show_counters_summed_and_gauges_latest(hosting):
    records = [
        ("storage_gb", "9", at(3)),
        ("storage_gb", "8.5", at(20)),
        ("traffic_gb", "30", at(5)),
        ("traffic_gb", "12.5", at(25)),
        ("traffic_gb", "40", dt.datetime(2025, 12, 20, tzinfo=dt.UTC)),  # last period
        ("traffic_gb", "5", at(1, month=2)),  # next period
    ]
    for index, (metric, quantity, moment) in enumerate(records):
        usage_record(service=hosting, metric=metric, quantity=Decimal(quantity), at=moment, idempotency_key=str(index))
    assert usage_latest(service=hosting, metric="storage_gb") == Decimal("8.5")
    usage = quota_usage(service=hosting)
    assert usage == [
        QuotaUsage("storage_gb", "Storage", "GB", Decimal("8.5"), Decimal(10), Decimal("85.0")),
        QuotaUsage("traffic_gb", "Traffic", "GB", Decimal("42.5"), Decimal(100), Decimal("42.5")),
    ]
    assert [(q.near_limit, q.over_limit) for q in usage] == [(True, False), (False, False)]


def test_a_quota_at_zero_and_one_exceeded(alice, catalog):
    catalog.basic.quotas = {"storage_gb": "0", "traffic_gb": "10"}
    catalog.basic.save()
    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    usage_record(service=service, metric="storage_gb", quantity=Decimal(1), at=at(2), idempotency_key="s")
    usage_record(service=service, metric="traffic_gb", quantity=Decimal("12.345"), at=at(2), idempotency_key="t")
    storage, traffic = quota_usage(service=service)
    assert (storage.percent, storage.near_limit, storage.over_limit) == (None, True, True)
    assert (traffic.percent, traffic.near_limit, traffic.over_limit) == (Decimal("123.5"), True, True)
