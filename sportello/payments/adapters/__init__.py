"""The payment gateways Sportello knows, by code. Stripe and PIX plug in here the same way."""

from __future__ import annotations

from sportello.payments.adapters.bank_transfer import BankTransferGateway
from sportello.payments.adapters.base import Gateway
from sportello.payments.adapters.pix import PixGateway
from sportello.payments.adapters.stripe import StripeGateway
from sportello.payments.adapters.testcard import TestcardGateway
from sportello.payments.errors import MethodUnavailable

GATEWAYS: dict[str, type[Gateway]] = {
    StripeGateway.code: StripeGateway,
    TestcardGateway.code: TestcardGateway,
    BankTransferGateway.code: BankTransferGateway,
    PixGateway.code: PixGateway,
}


def gateway_get(code: str) -> Gateway:
    try:
        return GATEWAYS[code]()
    except KeyError:
        raise MethodUnavailable(gateway=code) from None


def gateways_available(*, currency: str) -> list[Gateway]:
    """The gateways a customer may choose for `currency`, in the order they are offered."""
    return [gateway for gateway in (cls() for cls in GATEWAYS.values()) if gateway.available(currency=currency)]


def gateway_saving_methods(*, currency: str) -> Gateway | None:
    """The gateway that keeps cards for auto-pay, if one is available for `currency`."""
    return next((gateway for gateway in gateways_available(currency=currency) if gateway.saves_methods), None)
