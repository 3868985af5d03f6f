"""Errors of the catalog domain. Each carries a code and the figures a message needs;
the interface translates them."""

from __future__ import annotations

import datetime as dt


class CatalogError(Exception):
    """Base of the catalog's refusals."""

    code = "refused"


class InvalidCatalogData(CatalogError):
    code = "invalid"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class PriceNotAvailable(CatalogError):
    """No price of this plan (option, add-on) in that currency and cycle is valid at that moment."""

    code = "price_not_available"

    def __init__(self, *, item: str, currency: str, cycle: str, as_of: dt.datetime) -> None:
        super().__init__(f"no price for {item} in {currency} {cycle} as of {as_of.isoformat()}")
        self.item = item
        self.currency = currency
        self.cycle = cycle
        self.as_of = as_of
