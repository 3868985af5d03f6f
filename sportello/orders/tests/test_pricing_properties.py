"""Properties of order figures, for any lines, discounts and currencies (0, 2 and 3 decimals):
the lines add up to the order to the minor unit, and a discount never exceeds what it discounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.accounts.models import Account
from sportello.core.money import Money
from sportello.orders.models import LineKind, PromoCode
from sportello.orders.pricing import PricedLine, promo_discounts, quote_finish

from .conftest import AS_OF

pytestmark = pytest.mark.django_db

line_strategy = st.tuples(
    st.integers(min_value=0, max_value=10_000_000),  # amount in minor units
    st.integers(min_value=0, max_value=100_000),  # setup fee
    st.sampled_from(["monthly", "annual"]),
)


def promo(kind: str, percent: Decimal | None, amounts: dict[str, int]) -> PromoCode:
    """A saved code for every product, given this example's figures in memory (never saved)."""
    code, _ = PromoCode.objects.get_or_create(code="P", defaults={"percent": Decimal(1)})
    code.kind, code.percent, code.amounts = kind, percent, amounts
    return code


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    lines=st.lists(line_strategy, min_size=1, max_size=6),
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
    country=st.sampled_from(["ES", "BR"]),
    discount=st.one_of(
        st.none(),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2).map(lambda p: ("percent", p)),
        st.integers(min_value=1, max_value=20_000_000).map(lambda a: ("fixed", a)),
    ),
)
def test_order_figures_add_up_in_every_currency(lines, currency, country, discount):
    account = Account(name="Buyer", country=country, currency=currency)
    priced = [
        PricedLine(
            kind=LineKind.PLAN,
            description=f"line {i}",
            cycle=cycle,
            quantity=1,
            unit_price=Money.from_minor(amount, currency).amount,
            amount_minor=amount,
            setup_fee_minor=setup,
            tax_class="standard",
        )
        for i, (amount, setup, cycle) in enumerate(lines)
    ]
    if discount is not None and any(line.amount_minor for line in priced):
        kind, value = discount
        code = promo(kind, value if kind == "percent" else None, {currency: value} if kind == "fixed" else {})
        priced = promo_discounts(promo=code, lines=priced, currency=currency)
    quote = quote_finish(account=account, lines=priced, as_of=AS_OF)
    assert all(0 <= line.discount_minor <= line.amount_minor for line in quote.lines)
    if discount is not None and discount[0] == "fixed":
        assert quote.discount_minor == min(discount[1], sum(amount for amount, _, _ in lines))
    assert quote.total_minor == quote.net_minor + quote.tax_minor
    assert sum(line.total_minor for line in quote.lines) == quote.total_minor
    assert sum(line.tax_minor for line in quote.lines) == quote.tax_minor
    assert sum(summary.tax.minor for summary in quote.taxes) == quote.tax_minor
    assert quote.net_minor == quote.subtotal_minor + quote.setup_minor - quote.discount_minor
    rate = Decimal(21) if country == "ES" else Decimal(0)
    assert quote.tax == Money.rounded(quote.net.amount * rate / 100, currency)
