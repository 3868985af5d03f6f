"""Errors of the orders domain. Each carries a code and the figures a message needs; the
interface translates them. A refused operation has changed nothing."""

from __future__ import annotations


class OrdersError(Exception):
    """Base of the orders domain's refusals."""

    code = "refused"


class InvalidCartItem(OrdersError):
    """A choice the catalog does not offer: `field` names it (plan, cycle, quantity, options,
    addons, label), `reason` says what is wrong, as a code."""

    code = "invalid_item"

    def __init__(self, field: str, reason: str, **figures: object) -> None:
        super().__init__(f"{field}: {reason} {figures or ''}".strip())
        self.field = field
        self.reason = reason
        self.figures = figures


class CartEmpty(OrdersError):
    code = "cart_empty"


class CartItemNotFound(OrdersError):
    code = "not_found"


class PromoRefused(OrdersError):
    """A promo code that does not exist, is not valid now, is used up, or applies to
    nothing in the cart. `reason` is one of the codes below."""

    code = "promo_refused"
    REASONS = ("unknown", "not_started", "expired", "used_up", "used_up_for_account", "not_applicable", "currency")

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PriceChanged(OrdersError):
    """What the customer confirmed is not what the server computes now (tampered or changed)."""

    code = "price_changed"

    def __init__(self, *, shown_minor: int | None, computed_minor: int, shown_currency: str, currency: str) -> None:
        super().__init__(f"shown {shown_minor} {shown_currency}, computed {computed_minor} {currency}")
        self.shown_minor = shown_minor
        self.computed_minor = computed_minor
        self.shown_currency = shown_currency
        self.currency = currency


class IllegalOrderTransition(OrdersError):
    code = "illegal_transition"

    def __init__(self, *, transition: str, from_status: str) -> None:
        super().__init__(f"{transition} is not allowed from {from_status}")
        self.transition = transition
        self.from_status = from_status


class OrderNotAllowed(OrdersError):
    """The acting member may not do this (no orders or services right, or read-only)."""

    code = "not_allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OrderPartlyPaid(OrdersError):
    """Money was already received on the order's invoice: it is refunded before cancelling."""

    code = "partly_paid"

    def __init__(self, *, received_minor: int, currency: str) -> None:
        super().__init__(f"{received_minor} {currency} already received")
        self.received_minor = received_minor
        self.currency = currency


class OrderNotFound(OrdersError):
    """Not one of the acting member's account's orders: the interface answers 404."""

    code = "not_found"


class OrderAlreadyOpen(OrdersError):
    """The service already has an order awaiting payment (or under review)."""

    code = "already_open"

    def __init__(self, number: str) -> None:
        super().__init__(f"order {number} is still open for this service")
        self.number = number


class NothingToOrder(OrdersError):
    """The change costs nothing now: it is made at once, not through an order."""

    code = "nothing_to_order"


class InvalidPromo(OrdersError):
    """A promo code's figures that cannot be saved: `field` names what is wrong."""

    code = "invalid_promo"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
