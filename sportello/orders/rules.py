"""Rules staff configure through settings: when an order is held for review.

ORDERS_REVIEW_FIRST_ORDER_OVER (environment, read by `core.env`): a comma-separated list
of CURRENCY:AMOUNT, e.g. "EUR:500,BRL:2500". An account's first order (no order of it
paid before) whose total is above the amount set for its currency goes to review
(fraud_review) instead of awaiting payment; staff accept or cancel it. Unset, or no
amount for a currency: no order of that currency is held.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings

from sportello.core.money import Money


class ReviewRuleError(ValueError):
    """The setting is malformed; the message names it."""


def parse_thresholds(entries: list[str]) -> dict[str, Money]:
    thresholds: dict[str, Money] = {}
    for entry in entries:
        currency, _, amount = entry.partition(":")
        try:
            money = Money(Decimal(amount.strip()), currency.strip().upper())
        except (InvalidOperation, ValueError) as error:
            raise ReviewRuleError(
                f"ORDERS_REVIEW_FIRST_ORDER_OVER: {entry!r} is not CURRENCY:AMOUNT such as EUR:500 ({error})"
            ) from None
        if money.amount < 0:
            raise ReviewRuleError(f"ORDERS_REVIEW_FIRST_ORDER_OVER: {entry!r} is negative")
        thresholds[money.currency] = money
    return thresholds


def review_threshold(currency: str) -> Money | None:
    """The amount above which an account's first order in `currency` is held for review."""
    return parse_thresholds(list(getattr(settings, "ORDERS_REVIEW_FIRST_ORDER_OVER", []))).get(currency.upper())
