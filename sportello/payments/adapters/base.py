"""The one interface every payment gateway implements.

A gateway is an outside system (a card processor, a bank, PIX): Sportello asks it to start
a payment and learns the outcome from a signed notification (a webhook) or by asking it
(`confirm`), never from the customer's browser coming back. Calls to a gateway leave the
database, so services make them outside their transactions (`payment_begin`) or after
commit. Every failure is a `GatewayError` that says whether retrying can help.

Amounts cross this boundary as `Money`; ids we send are built from our own rows (so a
retried call with the same idempotency key cannot charge twice).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.utils import translation
from django.utils.functional import Promise

from sportello.core.money import Money
from sportello.payments.errors import GatewayError, WebhookRejected

# A notification older (or newer) than this is refused: a replay of a captured one fails.
WEBHOOK_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class PaymentRequest:
    """What a gateway needs to start collecting a payment."""

    payment_id: int
    # What the customer's browser returns to, and the merchant reference echoed back.
    public_id: str
    amount: Money
    description: str
    # The numbers of the documents paid, printed on the gateway's page or the transfer.
    documents: tuple[str, ...]
    return_url: str
    language: str = "en"


@dataclass(frozen=True)
class StartedPayment:
    """The gateway's answer to a start: where the customer goes next, or what they must do."""

    gateway_reference: str
    # The hosted page to send the customer to (cards), or "" when there is none.
    redirect_url: str = ""
    # What to show the customer (bank transfer: beneficiary, IBAN, BIC, reference, amount).
    instructions: dict[str, Any] = field(default_factory=dict)
    method_label: str = ""


@dataclass(frozen=True)
class SavedMethodData:
    """A payment method the gateway keeps for off-session charges: never a card number."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class GatewayOutcome:
    """What the gateway says happened to a transaction (from a webhook or when asked).

    kind: "succeeded", "failed", "requires_action", "pending" (nothing new), "refunded", or
    "method_saved" (a payment method kept for later; `saved_method` says which).
    """

    kind: str
    gateway_reference: str
    # Our own reference the gateway echoes back (a payment's public id, "setup:<customer>").
    merchant_reference: str = ""
    amount: Money | None = None
    method_label: str = ""
    failure_code: str = ""
    # The gateway's id of the notification, unique per gateway; "" when we asked ourselves.
    event_id: str = ""
    event_type: str = ""
    saved_method: SavedMethodData | None = None
    # "requires_action": the processor's page where the customer confirms with their bank
    # (3-D Secure), when it gave one.
    redirect_url: str = ""


@dataclass(frozen=True)
class RefundResult:
    refund_reference: str
    amount: Money


@dataclass(frozen=True)
class SetupStarted:
    """A page where the customer gives a method to keep for later charges."""

    gateway_reference: str
    redirect_url: str


class Gateway(ABC):
    """A payment gateway. Subclasses set the class attributes and implement what they support;
    the rest answers `GatewayError("not_supported")`."""

    code: ClassVar[str]
    label: ClassVar[str | Promise]
    # How long until the money is known to have arrived, as the customer is told.
    clearing: ClassVar[str | Promise]
    # Whether the customer is sent to the gateway's page (cards) or shown instructions.
    redirects: ClassVar[bool] = True
    # Whether it keeps cards for off-session charges (`setup_start`, `charge_saved`).
    saves_methods: ClassVar[bool] = False
    # Whether it collects part of an invoice's balance (a customer paying in instalments).
    partial_payments: ClassVar[bool] = True
    # The header its notifications carry their signature in ("Stripe-Signature").
    webhook_signature_header: ClassVar[str] = ""

    def available(self, *, currency: str) -> bool:
        """Whether this gateway is switched on and can collect `currency`."""
        return True

    def label_in(self, language: str) -> str:
        """Its label in `language` (the account's), whatever language the thread has active."""
        with translation.override(language or None):
            return str(self.label)

    def clearing_time(self) -> str:
        """How long until the money is known to have arrived, in the active language."""
        return str(self.clearing)

    @abstractmethod
    def start(self, request: PaymentRequest) -> StartedPayment:
        """Open a transaction for `request.amount`: a hosted page or instructions."""

    def confirm(self, *, gateway_reference: str) -> GatewayOutcome:
        """Ask the gateway where a transaction stands (a missed notification's fallback)."""
        raise GatewayError(reason="not_supported", retryable=False)

    def refund(self, *, gateway_reference: str, amount: Money, idempotency_key: str) -> RefundResult:
        raise GatewayError(reason="not_supported", retryable=False)

    def setup_start(self, *, customer_reference: str, return_url: str) -> SetupStarted:
        """Start saving a payment method for later off-session charges."""
        raise GatewayError(reason="not_supported", retryable=False)

    def charge_saved(
        self,
        *,
        token: str,
        amount: Money,
        description: str,
        merchant_reference: str,
        idempotency_key: str,
        return_url: str = "",
    ) -> GatewayOutcome:
        """Charge a saved method. Without `return_url` the customer is absent (auto-pay) and a
        card that needs its owner to confirm fails ("authentication_required"); with it the
        customer is paying by hand, and such a card answers "requires_action" with the page
        to confirm on (`redirect_url`), which sends the customer back to `return_url`."""
        raise GatewayError(reason="not_supported", retryable=False)

    def webhook_parse(self, *, body: bytes, headers: Mapping[str, str], now: dt.datetime) -> GatewayOutcome:
        """Verify a notification's signature and freshness and read it, or raise WebhookRejected."""
        raise WebhookRejected("not_supported")

    def webhook_parse_all(self, *, body: bytes, headers: Mapping[str, str], now: dt.datetime) -> list[GatewayOutcome]:
        """Every outcome one notification reports (PIX groups several payments in one); most
        gateways report one. Verified and read like `webhook_parse`."""
        return [self.webhook_parse(body=body, headers=headers, now=now)]

    def webhook_signature(self, *, headers: Mapping[str, str]) -> str:
        """The signature header of a notification, as received: it names one delivery, since
        the gateway signs each attempt with the time it sends it (`webhook_delivery_id`)."""
        wanted = self.webhook_signature_header.lower()
        return next((value for key, value in headers.items() if key.lower() == wanted), "")


# --- Signed notifications -------------------------------------------------------------------


def webhook_delivery_id(*, signature: str, position: int) -> str:
    """What identifies one delivery of one event: sha256 of the notification's signature header
    and the event's place in it (a PIX notification reports several).

    A gateway that sends an event again (Stripe retries for days, a PSP re-sends) signs the
    new attempt with the time it leaves, so a genuine redelivery has a new signature and a new
    id. The same id seen twice is the same captured request sent again: a replay."""
    return hashlib.sha256(f"{signature}\n{position}".encode()).hexdigest()


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the scheme Stripe uses, so that
    one verifier serves the built-in gateways and tests can sign what they send."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_verify(
    *, secret: str, body: bytes, header: str, now: dt.datetime, tolerance: int = WEBHOOK_TOLERANCE_SECONDS
) -> None:
    """Refuse a notification whose signature is missing, wrong or outside the tolerance.

    The comparison is constant-time (`hmac.compare_digest`) so that the time taken does not
    tell a forger how many characters were right; the timestamp is inside the signed text,
    so a captured notification cannot be replayed later with a fresh timestamp.
    """
    if not secret:
        raise WebhookRejected("no_secret")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise WebhookRejected("unsigned") from None
    if abs(now.timestamp() - timestamp) > tolerance:
        raise WebhookRejected("stale")
    expected = signature_header(secret=secret, body=body, timestamp=timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
        raise WebhookRejected("bad_signature")
