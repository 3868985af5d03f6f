"""Writes of the catalog: plans with their quotas, and price versions.

Products, categories, options and add-ons are plain configuration edited by staff. Prices
are different: they are inserted as new versions, never edited, so these functions are
the only way to create them, and they validate what the database cannot (ISO currency,
known metric codes, sub-unit precision).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from sportello.accounts.models import User
from sportello.catalog.errors import InvalidCatalogData
from sportello.catalog.models import (
    AddOn,
    AddOnPriceVersion,
    ConfigurableOption,
    Cycle,
    OptionPriceVersion,
    OveragePrice,
    Plan,
    PriceVersion,
    Product,
)
from sportello.core.money import is_currency
from sportello.core.services import audit_record
from sportello.core.time import ensure_aware

# Unit prices of options keep at most this many decimals (the column's scale).
UNIT_PRICE_DECIMALS = 6


def quotas_clean(quotas: dict[str, Any]) -> dict[str, str]:
    """Quotas as stored: metric code -> non-negative limit as a decimal string."""
    if not isinstance(quotas, dict):
        raise InvalidCatalogData("quotas", "a mapping of metric code to limit")
    cleaned: dict[str, str] = {}
    for metric, limit in quotas.items():
        if not isinstance(metric, str) or not metric or len(metric) > 64:
            raise InvalidCatalogData("quotas", f"bad metric code {metric!r}")
        if isinstance(limit, (bool, float)):
            raise InvalidCatalogData("quotas", f"{metric}: the limit must be an integer or a decimal string")
        try:
            value = Decimal(str(limit))
        except InvalidOperation:
            raise InvalidCatalogData("quotas", f"{metric}: {limit!r} is not a number") from None
        if not value.is_finite() or value < 0:
            raise InvalidCatalogData("quotas", f"{metric}: the limit must be zero or more")
        cleaned[metric] = str(value)
    return cleaned


@transaction.atomic
def plan_create(
    *,
    product: Product,
    name: str,
    code: str,
    quotas: dict[str, Any] | None = None,
    description: str = "",
    position: int = 0,
    by: User | None = None,
) -> Plan:
    try:
        with transaction.atomic():
            plan = Plan.objects.create(
                product=product,
                name=name.strip(),
                code=code,
                quotas=quotas_clean(quotas or {}),
                description=description,
                position=position,
            )
    except IntegrityError:
        raise InvalidCatalogData("code", "taken") from None
    audit_record(action="catalog.plan_created", actor=by, target=plan, data={"product": product.slug, "code": code})
    return plan


def _currency_clean(currency: str) -> str:
    code = str(currency).strip().upper()
    if not is_currency(code):
        raise InvalidCatalogData("currency", "an ISO 4217 currency code such as EUR")
    return code


def _cycle_clean(cycle: str) -> str:
    if cycle not in Cycle.values:
        raise InvalidCatalogData("cycle", f"one of {', '.join(Cycle.values)}")
    return str(cycle)


def _minor_clean(field: str, amount: int) -> int:
    # bool is an int to Python; a price of True cents is a bug, not a price.
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidCatalogData(field, "an integer number of minor units")
    if amount < 0:
        raise InvalidCatalogData(field, "zero or more")
    return amount


def _insert_version(model: type[Any], **fields: Any) -> Any:
    """Insert a price version; a second version of the same item, currency, cycle and
    start is refused by the unique constraint (insert, then catch the violation)."""
    try:
        with transaction.atomic():
            return model.objects.create(**fields)
    except IntegrityError:
        raise InvalidCatalogData("valid_from", "a version of this price already starts at that moment") from None


@transaction.atomic
def price_create(
    *,
    plan: Plan,
    currency: str,
    cycle: str,
    amount_minor: int,
    valid_from: dt.datetime,
    setup_fee_minor: int = 0,
    by: User | None = None,
) -> PriceVersion:
    """A new version of a plan's price. Earlier versions, and whatever points at them, stay as they were."""
    price: PriceVersion = _insert_version(
        PriceVersion,
        plan=plan,
        currency=_currency_clean(currency),
        cycle=_cycle_clean(cycle),
        amount_minor=_minor_clean("amount_minor", amount_minor),
        setup_fee_minor=_minor_clean("setup_fee_minor", setup_fee_minor),
        valid_from=ensure_aware(valid_from),
    )
    audit_record(
        action="catalog.price_created",
        actor=by,
        target=price,
        data={
            "plan": plan.pk,
            "currency": price.currency,
            "cycle": price.cycle,
            "amount_minor": price.amount_minor,
            "setup_fee_minor": price.setup_fee_minor,
            "valid_from": price.valid_from.isoformat(),
        },
    )
    return price


@transaction.atomic
def option_price_create(
    *,
    option: ConfigurableOption,
    currency: str,
    cycle: str,
    unit_price: Decimal,
    valid_from: dt.datetime,
    by: User | None = None,
) -> OptionPriceVersion:
    """A new version of an option's unit price (in the major unit, up to six decimals)."""
    if isinstance(unit_price, float):
        raise InvalidCatalogData("unit_price", "a Decimal or a string, never a float")
    try:
        value = Decimal(unit_price)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidCatalogData("unit_price", "a decimal number") from None
    if not value.is_finite() or value < 0:
        raise InvalidCatalogData("unit_price", "zero or more")
    if value != value.quantize(Decimal(1).scaleb(-UNIT_PRICE_DECIMALS)) or value >= Decimal(10) ** 12:
        raise InvalidCatalogData("unit_price", f"at most twelve digits and {UNIT_PRICE_DECIMALS} decimals")
    price: OptionPriceVersion = _insert_version(
        OptionPriceVersion,
        option=option,
        currency=_currency_clean(currency),
        cycle=_cycle_clean(cycle),
        unit_price=value,
        valid_from=ensure_aware(valid_from),
    )
    audit_record(
        action="catalog.option_price_created",
        actor=by,
        target=price,
        data={"option": option.pk, "currency": price.currency, "cycle": price.cycle, "unit_price": str(value)},
    )
    return price


@transaction.atomic
def addon_price_create(
    *,
    addon: AddOn,
    currency: str,
    cycle: str,
    amount_minor: int,
    valid_from: dt.datetime,
    setup_fee_minor: int = 0,
    by: User | None = None,
) -> AddOnPriceVersion:
    price: AddOnPriceVersion = _insert_version(
        AddOnPriceVersion,
        addon=addon,
        currency=_currency_clean(currency),
        cycle=_cycle_clean(cycle),
        amount_minor=_minor_clean("amount_minor", amount_minor),
        setup_fee_minor=_minor_clean("setup_fee_minor", setup_fee_minor),
        valid_from=ensure_aware(valid_from),
    )
    audit_record(
        action="catalog.addon_price_created",
        actor=by,
        target=price,
        data={"addon": addon.pk, "currency": price.currency, "cycle": price.cycle, "amount_minor": price.amount_minor},
    )
    return price


@transaction.atomic
def overage_price_create(
    *, plan: Plan, metric: str, currency: str, unit_price: Decimal, valid_from: dt.datetime, by: User | None = None
) -> OveragePrice:
    """A new version of what one unit of `metric` above `plan`'s quota costs (major unit, six decimals)."""
    if isinstance(unit_price, float):
        raise InvalidCatalogData("unit_price", "a Decimal or a string, never a float")
    try:
        value = Decimal(unit_price)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidCatalogData("unit_price", "a decimal number") from None
    if not value.is_finite() or value < 0:
        raise InvalidCatalogData("unit_price", "zero or more")
    if value != value.quantize(Decimal(1).scaleb(-UNIT_PRICE_DECIMALS)) or value >= Decimal(10) ** 12:
        raise InvalidCatalogData("unit_price", f"at most twelve digits and {UNIT_PRICE_DECIMALS} decimals")
    code = str(metric).strip()
    if not code or len(code) > 64 or not code.replace("_", "").replace("-", "").isalnum():
        raise InvalidCatalogData("metric", "a metric code such as traffic_gb")
    price: OveragePrice = _insert_version(
        OveragePrice,
        plan=plan,
        metric=code,
        currency=_currency_clean(currency),
        unit_price=value,
        valid_from=ensure_aware(valid_from),
    )
    audit_record(
        action="catalog.overage_price_created",
        actor=by,
        target=price,
        data={"plan": plan.pk, "metric": code, "currency": price.currency, "unit_price": str(value)},
    )
    return price
