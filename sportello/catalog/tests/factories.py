"""A small catalog for tests: web hosting with two plans, a storage option and an add-on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sportello.catalog.models import (
    AddOn,
    ConfigurableOption,
    Cycle,
    MetricAggregation,
    OptionPriceVersion,
    Plan,
    PriceVersion,
    Product,
    ProductCategory,
    UsageMetric,
)
from sportello.catalog.services import addon_price_create, option_price_create, plan_create, price_create

# Every test price starts here, well before any date the tests use.
SINCE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


@dataclass
class Catalog:
    product: Product
    basic: Plan
    pro: Plan
    storage: ConfigurableOption
    backups: AddOn
    # (plan code, currency, cycle) -> price version
    prices: dict[tuple[str, str, str], PriceVersion]
    storage_prices: dict[tuple[str, str], OptionPriceVersion]


def hosting_catalog(**product_fields: object) -> Catalog:
    category = ProductCategory.objects.create(name="Web hosting", slug="web-hosting")
    fields: dict[str, object] = {"reactivation_window_days": 60, "customers_may_cancel_immediately": False}
    fields.update(product_fields)
    product = Product.objects.create(category=category, name="Linux Hosting", slug="linux-hosting", **fields)
    UsageMetric.objects.create(code="storage_gb", name="Storage", unit="GB", aggregation=MetricAggregation.LAST)
    UsageMetric.objects.create(code="traffic_gb", name="Traffic", unit="GB", aggregation=MetricAggregation.SUM)
    basic = plan_create(
        product=product, name="Basic", code="basic", quotas={"storage_gb": 10, "traffic_gb": "100"}, position=1
    )
    pro = plan_create(product=product, name="Pro", code="pro", quotas={"storage_gb": 50, "traffic_gb": 500}, position=2)
    table = {
        ("basic", "EUR", Cycle.MONTHLY): 1000,
        ("basic", "EUR", Cycle.QUARTERLY): 2800,
        ("basic", "EUR", Cycle.ANNUAL): 10000,
        ("basic", "BRL", Cycle.MONTHLY): 5000,
        ("pro", "EUR", Cycle.MONTHLY): 2500,
        ("pro", "EUR", Cycle.QUARTERLY): 7000,
        ("pro", "EUR", Cycle.ANNUAL): 25000,
    }
    plans = {"basic": basic, "pro": pro}
    prices = {
        key: price_create(
            plan=plans[key[0]],
            currency=key[1],
            cycle=key[2],
            amount_minor=amount,
            setup_fee_minor=500,
            valid_from=SINCE,
        )
        for key, amount in table.items()
    }
    storage = ConfigurableOption.objects.create(
        product=product, code="storage_gb", name="Extra storage", unit="GB", max_quantity=1000
    )
    storage_prices = {
        (currency, cycle): option_price_create(
            option=storage, currency=currency, cycle=cycle, unit_price=Decimal(unit), valid_from=SINCE
        )
        for currency, cycle, unit in [
            ("EUR", Cycle.MONTHLY, "0.045"),
            ("EUR", Cycle.QUARTERLY, "0.13"),
            ("EUR", Cycle.ANNUAL, "0.5"),
        ]
    }
    backups = AddOn.objects.create(product=product, code="backups", name="Daily backups")
    for cycle, amount in [(Cycle.MONTHLY, 300), (Cycle.QUARTERLY, 800), (Cycle.ANNUAL, 3000)]:
        addon_price_create(
            addon=backups, currency="EUR", cycle=cycle, amount_minor=amount, setup_fee_minor=100, valid_from=SINCE
        )
    return Catalog(
        product=product,
        basic=basic,
        pro=pro,
        storage=storage,
        backups=backups,
        prices=prices,
        storage_prices=storage_prices,
    )
