"""Prices are versions: created through the catalog services, valid from a moment, never edited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from sportello.catalog.errors import InvalidCatalogData, PriceNotAvailable
from sportello.catalog.models import Cycle, OptionPriceVersion, PriceVersion
from sportello.catalog.selectors import plan_quotas, price_current, prices_current_of
from sportello.catalog.services import option_price_create, plan_create, price_create, quotas_clean
from sportello.catalog.tests.factories import SINCE, hosting_catalog
from sportello.core.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db

MARCH = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def catalog():
    return hosting_catalog()


def test_a_price_change_is_a_new_version_and_the_old_one_stays(catalog):
    old = catalog.prices[("basic", "EUR", Cycle.MONTHLY)]
    new = price_create(plan=catalog.basic, currency="eur", cycle=Cycle.MONTHLY, amount_minor=1200, valid_from=MARCH)
    assert (new.currency, new.amount_minor, new.setup_fee_minor) == ("EUR", 1200, 0)
    current = lambda as_of: price_current(plan=catalog.basic, currency="EUR", cycle=Cycle.MONTHLY, as_of=as_of)  # noqa: E731
    assert current(dt.date(2026, 2, 28)) == old
    assert current(dt.datetime(2026, 2, 28, 23, 59, 59, tzinfo=dt.UTC)) == old
    # A date stands for its first moment: a price valid from 1 March at 00:00 applies on 1 March.
    assert current(dt.date(2026, 3, 1)) == new
    assert current(MARCH) == new
    old.refresh_from_db()
    assert old.amount_minor == 1000
    assert AuditEvent.objects.filter(action="catalog.price_created", target=f"catalog.priceversion:{new.pk}").exists()


def test_a_version_cannot_be_edited_or_deleted(catalog):
    price = catalog.prices[("basic", "EUR", Cycle.MONTHLY)]
    price.amount_minor = 1
    with pytest.raises(AppendOnlyError):
        price.save()
    with pytest.raises(AppendOnlyError):
        PriceVersion.objects.filter(pk=price.pk).update(amount_minor=1)
    with pytest.raises(AppendOnlyError):
        PriceVersion.objects.filter(pk=price.pk).delete()
    assert PriceVersion.objects.get(pk=price.pk).amount_minor == 1000


def test_no_price_before_the_first_version_nor_in_other_currencies_or_cycles(catalog):
    for currency, cycle, as_of in [
        ("EUR", Cycle.MONTHLY, dt.date(2019, 12, 31)),
        ("USD", Cycle.MONTHLY, dt.date(2026, 1, 1)),
        ("EUR", Cycle.TRIENNIAL, dt.date(2026, 1, 1)),
    ]:
        with pytest.raises(PriceNotAvailable) as missing:
            price_current(plan=catalog.basic, currency=currency, cycle=cycle, as_of=as_of)
        assert (missing.value.currency, missing.value.cycle) == (currency, cycle)


def test_the_store_sees_every_cycle_at_its_current_version(catalog):
    newer = price_create(plan=catalog.basic, currency="EUR", cycle=Cycle.ANNUAL, amount_minor=9000, valid_from=MARCH)
    price_create(
        plan=catalog.basic,
        currency="EUR",
        cycle=Cycle.ANNUAL,
        amount_minor=8000,
        valid_from=MARCH + dt.timedelta(days=30),
    )
    current = prices_current_of(plan=catalog.basic, currency="EUR", as_of=dt.date(2026, 3, 15))
    assert {cycle: price.amount_minor for cycle, price in current.items()} == {
        "monthly": 1000,
        "quarterly": 2800,
        "annual": 9000,
    }
    assert current["annual"] == newer


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"currency": "EUX"}, "currency"),
        ({"currency": "XAU"}, "currency"),
        ({"currency": ""}, "currency"),
        ({"cycle": "weekly"}, "cycle"),
        ({"amount_minor": -1}, "amount_minor"),
        ({"amount_minor": 10.5}, "amount_minor"),
        ({"amount_minor": True}, "amount_minor"),
        ({"amount_minor": "1000"}, "amount_minor"),
        ({"setup_fee_minor": -1}, "setup_fee_minor"),
        # Already a version of basic EUR monthly starting then.
        ({"valid_from": SINCE}, "valid_from"),
    ],
)
def test_it_refuses_bad_prices_and_creates_nothing(catalog, arguments, field):
    values = {"currency": "EUR", "cycle": Cycle.MONTHLY, "amount_minor": 1000, "valid_from": MARCH, **arguments}
    count = PriceVersion.objects.count()
    with pytest.raises(InvalidCatalogData) as refused:
        price_create(plan=catalog.basic, **values)
    assert refused.value.field == field
    assert PriceVersion.objects.count() == count


def test_the_database_refuses_negative_amounts_and_duplicate_versions(catalog):
    row = {"plan": catalog.basic, "currency": "EUR", "cycle": Cycle.MONTHLY, "valid_from": MARCH}
    for fields in [{"amount_minor": -1}, {"amount_minor": 1, "setup_fee_minor": -1}, {"amount_minor": 1, "cycle": "x"}]:
        with pytest.raises(IntegrityError), transaction.atomic():
            PriceVersion.objects.create(**{**row, **fields})
    PriceVersion.objects.create(**row, amount_minor=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceVersion.objects.create(**row, amount_minor=2)


@pytest.mark.parametrize("unit_price", [Decimal("-0.01"), Decimal("0.0000001"), 0.05, Decimal("Infinity"), "x"])
def test_option_prices_keep_sub_cent_precision_within_bounds(catalog, unit_price):
    count = OptionPriceVersion.objects.count()
    with pytest.raises(InvalidCatalogData):
        option_price_create(
            option=catalog.storage, currency="EUR", cycle=Cycle.MONTHLY, unit_price=unit_price, valid_from=MARCH
        )
    assert OptionPriceVersion.objects.count() == count
    kept = option_price_create(
        option=catalog.storage, currency="EUR", cycle=Cycle.MONTHLY, unit_price=Decimal("0.000125"), valid_from=MARCH
    )
    assert OptionPriceVersion.objects.get(pk=kept.pk).unit_price == Decimal("0.000125")


def test_quotas_are_stored_as_decimal_strings(catalog):
    assert catalog.basic.quotas == {"storage_gb": "10", "traffic_gb": "100"}
    assert plan_quotas(plan=catalog.basic) == {"storage_gb": Decimal(10), "traffic_gb": Decimal(100)}
    for bad in [{"storage_gb": -1}, {"storage_gb": 1.5}, {"storage_gb": "lots"}, {"": 1}, ["storage_gb"]]:
        with pytest.raises(InvalidCatalogData):
            quotas_clean(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidCatalogData, match="taken"):
        plan_create(product=catalog.product, name="Basic again", code="basic")
