"""Proration: what a change of price in the middle of a period costs or gives back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, localcontext

from sportello.core.money import Money, currency_exponent, round_money


@dataclass(frozen=True, slots=True)
class Proration:
    # Positive: to charge now; negative: to credit to the account.
    amount: Money
    days_remaining: int
    days_in_period: int


def proration_for_change(
    *,
    old_price_minor: int,
    new_price_minor: int,
    currency: str,
    period_start: dt.date,
    period_end: dt.date,
    as_of: dt.date,
) -> Proration:
    """The charge (or credit) for moving from `old_price_minor` to `new_price_minor` per
    period on `as_of`, for the part of the period [period_start, period_end) that is left.

    Rule: (new - old) x days_remaining / days_in_period, where days_remaining counts from
    `as_of` (included) to `period_end` (excluded), held between 0 and the period's length;
    rounded once, half-up, by `round_money`. Because the fraction is at most one, the
    result never exceeds the price difference, and an upgrade is never a credit.
    """
    if period_end <= period_start:
        raise ValueError("a period ends after it starts")
    days_in_period = (period_end - period_start).days
    days_remaining = min(days_in_period, max(0, (period_end - as_of).days))
    # Enough precision that the one division is exact up to far beyond the minor unit:
    # a quotient p/q (q at most ~1100 days) is never within 1e-40 of a rounding midpoint
    # without being on it, so round_money below is the only rounding that matters.
    with localcontext(prec=80):
        minor = Decimal((new_price_minor - old_price_minor) * days_remaining) / Decimal(days_in_period)
        amount = round_money(minor.scaleb(-currency_exponent(currency)), currency)
    return Proration(amount=Money(amount, currency), days_remaining=days_remaining, days_in_period=days_in_period)
