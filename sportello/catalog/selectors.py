"""Reads of the catalog: what is on sale, and which price version applies at a moment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from sportello.catalog.errors import PriceNotAvailable
from sportello.catalog.models import (
    AddOn,
    AddOnPriceVersion,
    ConfigurableOption,
    OptionPriceVersion,
    Plan,
    PriceVersion,
    Product,
)
from sportello.core.time import UTC, ensure_aware


def as_moment(as_of: dt.date | dt.datetime) -> dt.datetime:
    """A date stands for its first moment, 00:00 UTC: a price valid from a day applies on that day."""
    if isinstance(as_of, dt.datetime):
        return ensure_aware(as_of)
    return dt.datetime.combine(as_of, dt.time.min, tzinfo=UTC)


def _current(versions: QuerySet[Any], *, item: str, currency: str, cycle: str, as_of: dt.date | dt.datetime) -> Any:
    moment = as_moment(as_of)
    # The newest version that had started by `as_of`; later versions are not yet valid.
    version = (
        versions.filter(currency=currency.upper(), cycle=cycle, valid_from__lte=moment).order_by("-valid_from").first()
    )
    if version is None:
        raise PriceNotAvailable(item=item, currency=currency.upper(), cycle=cycle, as_of=moment)
    return version


def price_current(*, plan: Plan, currency: str, cycle: str, as_of: dt.date | dt.datetime) -> PriceVersion:
    """The version of `plan`'s price in `currency` and `cycle` valid at `as_of`; PriceNotAvailable if none."""
    version: PriceVersion = _current(
        PriceVersion.objects.filter(plan=plan), item=f"plan:{plan.pk}", currency=currency, cycle=cycle, as_of=as_of
    )
    return version


def option_price_current(
    *, option: ConfigurableOption, currency: str, cycle: str, as_of: dt.date | dt.datetime
) -> OptionPriceVersion:
    version: OptionPriceVersion = _current(
        OptionPriceVersion.objects.filter(option=option),
        item=f"option:{option.code}",
        currency=currency,
        cycle=cycle,
        as_of=as_of,
    )
    return version


def addon_price_current(*, addon: AddOn, currency: str, cycle: str, as_of: dt.date | dt.datetime) -> AddOnPriceVersion:
    version: AddOnPriceVersion = _current(
        AddOnPriceVersion.objects.filter(addon=addon),
        item=f"addon:{addon.code}",
        currency=currency,
        cycle=cycle,
        as_of=as_of,
    )
    return version


def prices_current_of(*, plan: Plan, currency: str, as_of: dt.date | dt.datetime) -> dict[str, PriceVersion]:
    """Every cycle `plan` is sold in, in `currency`, with its version valid at `as_of` (the store's cycle picker)."""
    moment = as_moment(as_of)
    current: dict[str, PriceVersion] = {}
    versions = PriceVersion.objects.filter(plan=plan, currency=currency.upper(), valid_from__lte=moment)
    for version in versions.order_by("cycle", "-valid_from"):
        current.setdefault(version.cycle, version)
    return current


def products_on_sale() -> QuerySet[Product]:
    return Product.objects.filter(is_active=True).select_related("category")


def plans_on_sale(*, product: Product) -> QuerySet[Plan]:
    return Plan.objects.filter(product=product, is_active=True).order_by("position", "name")


def plan_quotas(*, plan: Plan) -> dict[str, Decimal]:
    """The plan's quotas as Decimals, by metric code."""
    return {metric: Decimal(limit) for metric, limit in sorted(plan.quotas.items())}
