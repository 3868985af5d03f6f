from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.core.money import CurrencyError, Money, currency_exponent, round_money

CURRENCIES = ["JPY", "EUR", "BRL", "KWD"]  # exponents 0, 2, 2, 3


def test_it_takes_exponents_from_iso_4217():
    assert [currency_exponent(c) for c in ["JPY", "EUR", "BRL", "KWD", "CLP", "BHD"]] == [0, 2, 2, 3, 0, 3]


def test_it_refuses_unknown_currencies_and_metals():
    with pytest.raises(CurrencyError):
        currency_exponent("XXY")
    with pytest.raises(CurrencyError):
        currency_exponent("XAU")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "EUR", "2.35"),
        ("2.344", "EUR", "2.34"),
        ("-2.345", "EUR", "-2.35"),
        ("0.005", "EUR", "0.01"),
        ("2.5", "JPY", "3"),
        ("3.5", "JPY", "4"),
        ("1.0005", "KWD", "1.001"),
    ],
)
def test_it_rounds_half_up_to_the_minor_unit(amount, currency, expected):
    assert round_money(Decimal(amount), currency) == Decimal(expected)


def test_it_refuses_floats_and_excess_precision():
    with pytest.raises(TypeError):
        Money(1.1, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="more decimals"):
        Money(Decimal("1.001"), "EUR")
    with pytest.raises(ValueError, match="more decimals"):
        Money(Decimal("1.5"), "JPY")
    with pytest.raises(ValueError):
        Money(Decimal("NaN"), "EUR")


def test_it_refuses_mixing_currencies():
    with pytest.raises(CurrencyError):
        Money(Decimal(1), "EUR") + Money(Decimal(1), "BRL")


def test_it_holds_amounts_at_currency_precision():
    assert Money(Decimal("5"), "eur") == Money(Decimal("5.00"), "EUR")
    assert str(Money(Decimal("5"), "KWD")) == "5.000 KWD"
    assert Money(Decimal("12.34"), "EUR").minor == 1234
    assert Money(Decimal("1234"), "JPY").minor == 1234
    assert Money.from_minor(1234, "KWD") == Money(Decimal("1.234"), "KWD")


def test_it_multiplies_by_decimals_with_the_one_rounding():
    assert Money(Decimal("200.00"), "EUR").times(Decimal("0.19")) == Money(Decimal("38.00"), "EUR")
    assert Money(Decimal("0.10"), "EUR").times(Decimal("0.05")) == Money(Decimal("0.01"), "EUR")
    with pytest.raises(TypeError):
        Money(Decimal(1), "EUR").times(0.5)  # type: ignore[arg-type]


amounts = st.integers(min_value=-(10**12), max_value=10**12)


@given(minor=amounts, currency=st.sampled_from(CURRENCIES))
def test_minor_units_round_trip(minor, currency):
    assert Money.from_minor(minor, currency).minor == minor


@given(a=amounts, b=amounts, currency=st.sampled_from(CURRENCIES))
def test_addition_is_exact_in_minor_units(a, b, currency):
    total = Money.from_minor(a, currency) + Money.from_minor(b, currency)
    assert total.minor == a + b
    assert (total - Money.from_minor(b, currency)).minor == a


@given(
    minor=amounts,
    currency=st.sampled_from(CURRENCIES),
    weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
)
def test_allocation_never_creates_or_loses_a_minor_unit(minor, currency, weights):
    parts = Money.from_minor(minor, currency).allocate(weights)
    assert sum(p.minor for p in parts) == minor
    assert all(p.currency == currency for p in parts)
    # Each part is within one minor unit of its exact share.
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(minor) * weight / sum(weights)
        assert abs(Decimal(part.minor) - exact) < 1


@given(
    value=st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False, places=6),
    currency=st.sampled_from(CURRENCIES),
)
def test_rounding_is_within_half_a_minor_unit_and_idempotent(value, currency):
    rounded = round_money(value, currency)
    half = Decimal(1).scaleb(-currency_exponent(currency)) / 2
    assert abs(rounded - value) <= half
    assert round_money(rounded, currency) == rounded
    # Half-up is symmetric: rounding the negation gives the negated result.
    assert round_money(-value, currency) == -rounded
