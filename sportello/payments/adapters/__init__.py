"""The payment gateways Sportello knows, by code. Stripe and PIX plug in here the same way."""

from __future__ import annotations

from sportello.payments.adapters.bank_transfer import BankTransferGateway
from sportello.payments.adapters.base import Gateway
from sportello.payments.adapters.pix import PixGateway
from sportello.payments.adapters.testcard import TestcardGateway
from sportello.payments.errors import MethodUnavailable

GATEWAYS: dict[str, type[Gateway]] = {
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
