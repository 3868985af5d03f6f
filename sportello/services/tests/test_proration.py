import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.core.money import Money, currency_exponent
from sportello.services.proration import proration_for_change

CURRENCIES = ["JPY", "EUR", "KWD"]  # exponents 0, 2 and 3
prices = st.integers(min_value=0, max_value=10**12)


@st.composite
def changes(draw):
    start = draw(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)))
    length = draw(st.integers(min_value=1, max_value=1100))  # up to a triennial period
    end = start + dt.timedelta(days=length)
    as_of = start + dt.timedelta(days=draw(st.integers(min_value=-5, max_value=length + 5)))
    return {
        "old_price_minor": draw(prices),
        "new_price_minor": draw(prices),
        "currency": draw(st.sampled_from(CURRENCIES)),
        "period_start": start,
        "period_end": end,
        "as_of": as_of,
    }


def half_up(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero: the oracle for round_money."""
    magnitude = abs(value)
    rounded = int(magnitude + Fraction(1, 2))
    return rounded if value >= 0 else -rounded


JANUARY = (dt.date(2026, 1, 1), dt.date(2026, 2, 1))  # 31 days


@pytest.mark.parametrize(
    ("old", "new", "currency", "period", "as_of", "expected", "remaining"),
    [
        # Basic 10.00 -> Pro 25.00 with 15 of January's 31 days left: 15.00 x 15/31 = 7.258...
        (1000, 2500, "EUR", JANUARY, dt.date(2026, 1, 17), "7.26", 15),
        # The downgrade back gives the same back.
        (2500, 1000, "EUR", JANUARY, dt.date(2026, 1, 17), "-7.26", 15),
        # 100 yen with 1 of 31 days left: 3.2258 -> 3 yen.
        (0, 100, "JPY", JANUARY, dt.date(2026, 1, 31), "3", 1),
        # 1.000 KWD with 16 of 31 days left: 0.516129 -> 0.516.
        (1000, 2000, "KWD", JANUARY, dt.date(2026, 1, 16), "0.516", 16),
        # On the first day, the whole difference; on the period end (or after), nothing.
        (1000, 2500, "EUR", JANUARY, dt.date(2026, 1, 1), "15.00", 31),
        (1000, 2500, "EUR", JANUARY, dt.date(2026, 2, 1), "0.00", 0),
        (1000, 2500, "EUR", JANUARY, dt.date(2026, 3, 1), "0.00", 0),
        # Before the period starts, the whole difference too.
        (1000, 2500, "EUR", JANUARY, dt.date(2025, 12, 1), "15.00", 31),
        # Exactly half a cent rounds up, half a cent of credit rounds away from zero:
        # 1 cent over 62 days with 31 left is 0.005.
        (0, 1, "EUR", (dt.date(2026, 1, 1), dt.date(2026, 3, 4)), dt.date(2026, 2, 1), "0.01", 31),
        (1, 0, "EUR", (dt.date(2026, 1, 1), dt.date(2026, 3, 4)), dt.date(2026, 2, 1), "-0.01", 31),
    ],
)
def test_it_prorates_by_days_left(old, new, currency, period, as_of, expected, remaining):
    proration = proration_for_change(
        old_price_minor=old,
        new_price_minor=new,
        currency=currency,
        period_start=period[0],
        period_end=period[1],
        as_of=as_of,
    )
    assert proration.amount == Money(Decimal(expected), currency)
    assert (proration.days_remaining, proration.days_in_period) == (remaining, (period[1] - period[0]).days)


def test_it_refuses_an_empty_period():
    with pytest.raises(ValueError):
        proration_for_change(
            old_price_minor=1,
            new_price_minor=2,
            currency="EUR",
            period_start=dt.date(2026, 1, 1),
            period_end=dt.date(2026, 1, 1),
            as_of=dt.date(2026, 1, 1),
        )


@given(changes())
def test_it_is_exact_to_the_minor_unit(change):
    proration = proration_for_change(**change)
    total = (change["period_end"] - change["period_start"]).days
    remaining = min(total, max(0, (change["period_end"] - change["as_of"]).days))
    exact = Fraction(change["new_price_minor"] - change["old_price_minor"]) * remaining / total
    assert proration.amount.minor == half_up(exact)
    assert proration.amount.currency == change["currency"]
    assert proration.amount.amount.as_tuple().exponent == -currency_exponent(change["currency"])
    assert (proration.days_remaining, proration.days_in_period) == (remaining, total)


@given(changes())
def test_an_upgrade_is_never_a_credit_nor_more_than_the_difference(change):
    proration = proration_for_change(**change)
    difference = change["new_price_minor"] - change["old_price_minor"]
    if difference >= 0:
        assert 0 <= proration.amount.minor <= difference
    else:
        assert difference <= proration.amount.minor <= 0


@given(changes())
def test_an_upgrade_and_its_reverse_cancel_out(change):
    there = proration_for_change(**change)
    back = proration_for_change(
        **{**change, "old_price_minor": change["new_price_minor"], "new_price_minor": change["old_price_minor"]}
    )
    assert there.amount + back.amount == Money.zero(change["currency"])
