"""Start-up check of the orders settings: a malformed rule stops the start with one line."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from sportello.orders.rules import ReviewRuleError, parse_thresholds


@checks.register(checks.Tags.compatibility)
def review_rule_check(**kwargs: Any) -> list[checks.CheckMessage]:
    try:
        parse_thresholds(list(getattr(settings, "ORDERS_REVIEW_FIRST_ORDER_OVER", [])))
    except ReviewRuleError as error:
        return [checks.Error(str(error), id="orders.E001")]
    return []
