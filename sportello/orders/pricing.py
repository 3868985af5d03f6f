"""Pricing of carts and orders: every figure recomputed on the server, from the catalog's
price versions valid on the order's date, in the account's currency.

Nothing the browser sends is a price: a cart item is a plan, a cycle, quantities and
add-on codes, validated here against the catalog; the order's lines are priced from the
versions found, and the customer's confirmation carries only the total they saw, which
must still be the total computed (else `PriceChanged`).

Rules, each applied once and in this order:
1. Line amounts: plan price x quantity, option unit price x quantity, add-on price, each
   rounded half-up by itself (`round_money`), as the invoice will round its lines.
   Setup fees are separate figures of their lines.
2. Promo discount, on the period amounts of the lines it applies to (never on setup
   fees): a percentage is rounded per line; a fixed amount is capped at what it applies
   to and split over those lines in proportion to their amounts (`Money.allocate`, so no
   cent is created or lost).
3. Tax, through the billing domain's tax engine (`tax_decision_for`, the one place that
   calls it) and its document figures (`billing.calc.document_figures`, what the invoice
   computes): per rate on the whole order, rounded once per rate (EU practice), then split
   over the lines of that rate in proportion to their amounts, so each line carries its
   share and the lines add up to the order's tax to the cent. Each line goes in as one
   amount (its period amount + setup fee - discount), as the invoice made from the order
   will bill it, so the cart, the order and the invoice agree to the cent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.conf import settings

from sportello.accounts.models import Account
from sportello.billing.calc import RATE_QUANTUM, LineInput, document_figures
from sportello.billing.selectors import seller_current
from sportello.billing.taxes import tax_decide
from sportello.catalog.errors import PriceNotAvailable
from sportello.catalog.models import (
    CYCLE_MONTHS,
    AddOn,
    AddOnPriceVersion,
    ConfigurableOption,
    Cycle,
    OptionPriceVersion,
    Plan,
    PriceVersion,
)
from sportello.catalog.selectors import addon_price_current, option_price_current, price_current
from sportello.core.money import Money
from sportello.orders.errors import InvalidCartItem, PromoRefused
from sportello.orders.models import LineAction, LineKind, PromoCode, PromoKind

# Beyond these a quantity is a typing mistake or a tampered form, not an order.
MAX_QUANTITY = 100
MAX_OPTION_QUANTITY = 100_000
MAX_LABEL = 200


# --- Tax: the one call into the billing domain's tax engine ------------------------------------


@dataclass(frozen=True, slots=True)
class LineTax:
    # Percent, e.g. Decimal("21.00").
    rate: Decimal
    # EN 16931 category code (S, Z, E, AE, O).
    category: str
    # The rate's printed name ("IVA 21%").
    name: str
    reverse_charge: bool
    exemption_text: str


def tax_decision_for(*, account: Account, tax_class: str, as_of: dt.date) -> LineTax:
    """The tax a line of `tax_class` sold to `account` on `as_of` bears, as the billing
    domain decides it for the seller's country. Orders read tax from here only."""
    decision = tax_decide(seller_country=seller_current().country, buyer=account, tax_class=tax_class, as_of=as_of)
    return LineTax(
        rate=Decimal(decision.rate),
        category=str(decision.category),
        name=str(decision.name),
        reverse_charge=bool(decision.reverse_charge),
        exemption_text=str(decision.exemption_text or ""),
    )


# --- Lines ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedLine:
    kind: str
    description: str
    cycle: str
    quantity: int
    # Per unit and period, in the major unit.
    unit_price: Decimal
    amount_minor: int
    tax_class: str
    action: str = LineAction.NONE
    setup_fee_minor: int = 0
    discount_minor: int = 0
    # Which cart item (or service) the line belongs to: lines of one group make one service.
    group: int = 0
    plan: Plan | None = None
    price_version: PriceVersion | None = None
    addon: AddOn | None = None
    addon_price_version: AddOnPriceVersion | None = None
    option: ConfigurableOption | None = None
    option_price_version: OptionPriceVersion | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    # The product the line sells, for a promo's product restriction.
    product_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    tax: LineTax | None = None
    # Set by `quote_finish`: the line's tax-exclusive amount and its share of its rate's tax.
    net_minor: int = 0
    tax_minor: int = 0

    @property
    def months(self) -> int:
        return CYCLE_MONTHS.get(self.cycle, 0)

    @property
    def gross_minor(self) -> int:
        """What the line charges as priced: amount + setup fee - discount (tax included
        when catalog prices include it, BILLING_PRICES_INCLUDE_TAX)."""
        return self.amount_minor + self.setup_fee_minor - self.discount_minor

    @property
    def total_minor(self) -> int:
        return self.net_minor + self.tax_minor


@dataclass(frozen=True)
class TaxSummary:
    rate: Decimal
    category: str
    name: str
    exemption_text: str
    net: Money
    tax: Money


@dataclass(frozen=True)
class Quote:
    """Priced lines and their totals, in minor units of `currency` (total = net + tax)."""

    currency: str
    lines: list[PricedLine]
    promo: PromoCode | None = None
    taxes: list[TaxSummary] = field(default_factory=list)
    net_minor: int = 0
    tax_minor: int = 0
    total_minor: int = 0

    def _sum(self, name: str) -> int:
        return sum(int(getattr(line, name)) for line in self.lines)

    @property
    def subtotal_minor(self) -> int:
        return self._sum("amount_minor")

    @property
    def setup_minor(self) -> int:
        return self._sum("setup_fee_minor")

    @property
    def discount_minor(self) -> int:
        return self._sum("discount_minor")

    def money(self, minor: int) -> Money:
        return Money.from_minor(minor, self.currency)

    @property
    def subtotal(self) -> Money:
        return self.money(self.subtotal_minor)

    @property
    def setup(self) -> Money:
        return self.money(self.setup_minor)

    @property
    def discount(self) -> Money:
        return self.money(self.discount_minor)

    @property
    def net(self) -> Money:
        return self.money(self.net_minor)

    @property
    def tax(self) -> Money:
        return self.money(self.tax_minor)

    @property
    def total(self) -> Money:
        return self.money(self.total_minor)


def _whole(value: object, field_name: str, *, low: int, high: int, **figures: object) -> int:
    """A whole number between low and high; anything else (text, floats, booleans) is refused."""
    if isinstance(value, bool):
        raise InvalidCartItem(field_name, "not_a_number", **figures)
    if isinstance(value, str):
        text = value.strip()
        if not text or not (text.isdigit() or (text.startswith("-") and text[1:].isdigit())) or len(text) > 9:
            raise InvalidCartItem(field_name, "not_a_number", **figures)
        value = int(text)
    if not isinstance(value, int):
        raise InvalidCartItem(field_name, "not_a_number", **figures)
    if value < low or value > high:
        raise InvalidCartItem(field_name, "out_of_range", low=low, high=high, **figures)
    return value


def clean_label(label: object) -> str:
    if not isinstance(label, str):
        raise InvalidCartItem("label", "not_text")
    text = " ".join(label.split())
    if len(text) > MAX_LABEL or any(ord(char) < 32 for char in text):
        raise InvalidCartItem("label", "too_long", high=MAX_LABEL)
    return text


@dataclass(frozen=True)
class ItemChoice:
    """A cart item, validated: the plan on sale, a cycle it is priced in, sane quantities."""

    plan: Plan
    cycle: str
    quantity: int
    options: dict[str, int]
    addons: list[str]
    label: str


def clean_choice(
    *,
    plan: Plan,
    cycle: object,
    quantity: object,
    options: Mapping[str, object],
    addons: Collection[object],
    label: object,
    currency: str,
    as_of: dt.date,
) -> ItemChoice:
    """Validate a customer's choice against the catalog on `as_of`; InvalidCartItem names what is wrong."""
    if not plan.is_active or not plan.product.is_active:
        raise InvalidCartItem("plan", "not_on_sale")
    if not isinstance(cycle, str) or cycle not in Cycle.values:
        raise InvalidCartItem("cycle", "unknown")
    try:
        price_current(plan=plan, currency=currency, cycle=cycle, as_of=as_of)
    except PriceNotAvailable:
        raise InvalidCartItem("cycle", "not_priced", currency=currency) from None
    count = _whole(quantity, "quantity", low=1, high=MAX_QUANTITY)
    if not isinstance(options, Mapping):
        raise InvalidCartItem("options", "unknown")
    known = {option.code: option for option in ConfigurableOption.objects.filter(product=plan.product, is_active=True)}
    chosen: dict[str, int] = {}
    for code, raw in options.items():
        option = known.get(str(code))
        if option is None:
            raise InvalidCartItem("options", "unknown", code=str(code)[:50])
        high = min(option.max_quantity if option.max_quantity is not None else MAX_OPTION_QUANTITY, MAX_OPTION_QUANTITY)
        value = _whole(raw, "options", low=option.min_quantity, high=high, option=option.name)
        if value:
            try:
                option_price_current(option=option, currency=currency, cycle=cycle, as_of=as_of)
            except PriceNotAvailable:
                raise InvalidCartItem("options", "not_priced", option=option.name, currency=currency) from None
            chosen[option.code] = value
    for code, option in known.items():
        if code not in chosen and option.min_quantity > 0:
            raise InvalidCartItem(
                "options", "out_of_range", low=option.min_quantity, high=option.max_quantity, option=option.name
            )
    known_addons = {addon.code: addon for addon in AddOn.objects.filter(product=plan.product, is_active=True)}
    codes: list[str] = []
    for wanted in addons:
        addon = known_addons.get(str(wanted))
        if addon is None or addon.code in codes:
            raise InvalidCartItem("addons", "unknown", code=str(wanted)[:50])
        try:
            addon_price_current(addon=addon, currency=currency, cycle=cycle, as_of=as_of)
        except PriceNotAvailable:
            raise InvalidCartItem("addons", "not_priced", addon=addon.name, currency=currency) from None
        codes.append(addon.code)
    return ItemChoice(
        plan=plan,
        cycle=cycle,
        quantity=count,
        options=dict(sorted(chosen.items())),
        addons=sorted(codes),
        label=clean_label(label),
    )


def _cycle_name(cycle: str) -> str:
    return str(Cycle(cycle).label)


def lines_for_new(*, choice: ItemChoice, currency: str, as_of: dt.date, group: int) -> list[PricedLine]:
    """The lines of a new service: the plan (with its setup fee), each option, each add-on."""
    plan, cycle = choice.plan, choice.cycle
    product = plan.product
    price = price_current(plan=plan, currency=currency, cycle=cycle, as_of=as_of)
    name = f"{product.name} {plan.name}" + (f" ({choice.label})" if choice.label else "")
    common: dict[str, Any] = {"cycle": cycle, "tax_class": product.tax_class, "group": group, "product_id": product.pk}
    lines = [
        PricedLine(
            kind=LineKind.PLAN,
            action=LineAction.ACTIVATE,
            description=name,
            quantity=choice.quantity,
            unit_price=Money.from_minor(price.amount_minor, currency).amount,
            amount_minor=price.amount_minor * choice.quantity,
            setup_fee_minor=price.setup_fee_minor,
            plan=plan,
            price_version=price,
            **common,
        )
    ]
    options = {option.code: option for option in ConfigurableOption.objects.filter(product=product)}
    for code, quantity in choice.options.items():
        option = options[code]
        version = option_price_current(option=option, currency=currency, cycle=cycle, as_of=as_of)
        lines.append(
            PricedLine(
                kind=LineKind.OPTION,
                description=f"{option.name}" + (f" ({option.unit})" if option.unit else ""),
                quantity=quantity,
                unit_price=version.unit_price,
                amount_minor=Money.rounded(version.unit_price * quantity, currency).minor,
                option=option,
                option_price_version=version,
                **common,
            )
        )
    addons = {addon.code: addon for addon in AddOn.objects.filter(product=product)}
    for code in choice.addons:
        addon = addons[code]
        addon_version = addon_price_current(addon=addon, currency=currency, cycle=cycle, as_of=as_of)
        lines.append(
            PricedLine(
                kind=LineKind.ADDON,
                description=addon.name,
                quantity=1,
                unit_price=Money.from_minor(addon_version.amount_minor, currency).amount,
                amount_minor=addon_version.amount_minor,
                setup_fee_minor=addon_version.setup_fee_minor,
                addon=addon,
                addon_price_version=addon_version,
                **common,
            )
        )
    return lines


# --- Promo codes ----------------------------------------------------------------------------


def promo_applies_to(promo: PromoCode, line: PricedLine, product_ids: frozenset[int] | None) -> bool:
    if line.amount_minor <= 0:
        return False
    if product_ids is not None and line.product_id not in product_ids:
        return False
    return not promo.cycles or line.cycle in promo.cycles


def promo_discounts(*, promo: PromoCode, lines: list[PricedLine], currency: str) -> list[PricedLine]:
    """`lines` with the promo's discount on those it applies to (rule 2 of the module);
    PromoRefused("not_applicable") when it applies to none, ("currency") for a fixed
    code without an amount in this currency."""
    restricted = frozenset(promo.products.values_list("pk", flat=True))
    product_ids = restricted or None
    eligible = [i for i, line in enumerate(lines) if promo_applies_to(promo, line, product_ids)]
    if not eligible:
        raise PromoRefused("not_applicable")
    discounts: dict[int, int] = {}
    if promo.kind == PromoKind.PERCENT:
        assert promo.percent is not None  # database constraint
        for i in eligible:
            amount = Money.from_minor(lines[i].amount_minor, currency)
            discounts[i] = amount.times(Decimal(promo.percent) / 100).minor
    else:
        fixed = promo.amounts.get(currency)
        if fixed is None:
            raise PromoRefused("currency")
        base = sum(lines[i].amount_minor for i in eligible)
        total = Money.from_minor(min(int(fixed), base), currency)
        shares = total.allocate([lines[i].amount_minor for i in eligible])
        discounts = {i: share.minor for i, share in zip(eligible, shares, strict=True)}
    return [replace(line, discount_minor=min(discounts.get(i, 0), line.amount_minor)) for i, line in enumerate(lines)]


# --- Tax and the quote ----------------------------------------------------------------------


def quote_finish(*, account: Account, lines: list[PricedLine], as_of: dt.date, promo: PromoCode | None = None) -> Quote:
    """Tax every line (rule 3 of the module) through the billing domain's document figures,
    the same computation the invoice makes, and return the quote."""
    currency = account.currency
    decisions: dict[str, LineTax] = {}
    taxed = []
    for line in lines:
        if line.tax_class not in decisions:
            decisions[line.tax_class] = tax_decision_for(account=account, tax_class=line.tax_class, as_of=as_of)
        taxed.append(replace(line, tax=decisions[line.tax_class]))
    inputs = [
        LineInput(
            quantity=Decimal(1),
            unit_price=Money.from_minor(line.gross_minor, currency).amount,
            tax_rate=line.tax.rate if line.tax else Decimal(0),
            tax_category=line.tax.category if line.tax else "",
            tax_name=line.tax.name if line.tax else "",
            exemption_text=line.tax.exemption_text if line.tax else "",
        )
        for line in taxed
    ]
    included = bool(settings.BILLING_PRICES_INCLUDE_TAX)
    figures = document_figures(inputs, currency=currency, prices_include_tax=included)
    shares: dict[int, int] = {}
    for group in figures.taxes:
        positions = [
            i
            for i, line in enumerate(taxed)
            if line.tax is not None
            and (line.tax.category, line.tax.rate.quantize(RATE_QUANTUM)) == (group.category, group.rate)
        ]
        if included:
            # The tax is inside each line's amount: its share is what its net share leaves.
            shares.update({i: taxed[i].gross_minor - figures.lines[i].net_minor for i in positions})
        else:
            weights = [taxed[i].gross_minor for i in positions]
            parts = (
                Money.from_minor(group.tax_minor, currency).allocate(weights)
                if sum(weights)
                else [Money.zero(currency)] * len(positions)
            )
            shares.update({i: part.minor for i, part in zip(positions, parts, strict=True)})
    final = [
        replace(line, net_minor=figures.lines[i].net_minor, tax_minor=shares.get(i, 0)) for i, line in enumerate(taxed)
    ]
    summaries = [
        TaxSummary(
            rate=group.rate,
            category=group.category,
            name=group.name,
            exemption_text=group.exemption_text,
            net=Money.from_minor(group.taxable_minor, currency),
            tax=Money.from_minor(group.tax_minor, currency),
        )
        for group in figures.taxes
    ]
    return Quote(
        currency=currency,
        lines=final,
        promo=promo,
        taxes=summaries,
        net_minor=figures.net_minor,
        tax_minor=figures.tax_minor,
        total_minor=figures.total_minor,
    )


# --- Lines of orders on an existing service -----------------------------------------------------


def lines_for_period(
    *, service: Any, period_start: dt.date, period_end: dt.date | None, action: str
) -> list[PricedLine]:
    """One more period of `service` at the prices it keeps (a pending cycle change applies
    from the next period, so its prices are the ones billed): plan, options, add-ons."""
    pending = bool(service.pending_cycle)
    price = service.pending_price_version if pending else service.price_version
    options = service.pending_options if pending else service.options
    addons = service.pending_addons if pending else service.addons
    cycle = price.cycle
    currency = price.currency
    product = service.plan.product
    name = f"{product.name} {service.plan.name}" + (f" ({service.label})" if service.label else "")
    common: dict[str, Any] = {
        "cycle": cycle,
        "tax_class": product.tax_class,
        "product_id": product.pk,
        "period_start": period_start,
        "period_end": period_end,
    }
    lines = [
        PricedLine(
            kind=LineKind.PLAN,
            action=action,
            description=name,
            quantity=service.quantity,
            unit_price=Money.from_minor(price.amount_minor, currency).amount,
            amount_minor=price.amount_minor * service.quantity,
            plan=service.plan,
            price_version=price,
            **common,
        )
    ]
    known_options = {option.code: option for option in ConfigurableOption.objects.filter(product=product)}
    for code, stored in sorted(options.items()):
        option = known_options.get(code)
        quantity = int(stored["quantity"])
        unit_price = Decimal(stored["unit_price"])
        lines.append(
            PricedLine(
                kind=LineKind.OPTION,
                description=option.name if option else code,
                quantity=quantity,
                unit_price=unit_price,
                amount_minor=Money.rounded(unit_price * quantity, currency).minor,
                option=option,
                option_price_version=OptionPriceVersion.objects.filter(pk=stored.get("price_version")).first(),
                **common,
            )
        )
    known_addons = {addon.code: addon for addon in AddOn.objects.filter(product=product)}
    for code, stored in sorted(addons.items()):
        addon = known_addons.get(code)
        lines.append(
            PricedLine(
                kind=LineKind.ADDON,
                description=addon.name if addon else code,
                quantity=1,
                unit_price=Money.from_minor(int(stored["amount_minor"]), currency).amount,
                amount_minor=int(stored["amount_minor"]),
                addon=addon,
                addon_price_version=AddOnPriceVersion.objects.filter(pk=stored.get("price_version")).first(),
                **common,
            )
        )
    return lines
