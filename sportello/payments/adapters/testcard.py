"""Sportello's client of the built-in simulated card processor (`sportello.payments.testcard`).

It talks to the processor the way a real gateway adapter talks to its provider's API: it
opens a checkout session and sends the customer there, reads signed notifications, asks
for a session's state, and refunds. Only the processor's module touches its rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _

from sportello.core.money import CurrencyError, Money
from sportello.core.time import utc_now
from sportello.payments import testcard
from sportello.payments.adapters.base import (
    Gateway,
    GatewayOutcome,
    PaymentRequest,
    RefundResult,
    SavedMethodData,
    SetupStarted,
    StartedPayment,
    signature_verify,
)
from sportello.payments.errors import GatewayError, WebhookRejected
from sportello.payments.models import TestcardCheckout, TestcardMode, TestcardStatus

OUTCOME_OF_EVENT = {
    "checkout.succeeded": "succeeded",
    "checkout.failed": "failed",
    "checkout.requires_action": "requires_action",
    "setup.succeeded": "method_saved",
    # Saving a card that failed or waits for authentication: nothing for the merchant to do.
    "setup.failed": "pending",
    "setup.requires_action": "pending",
}


def _label(brand: str, last4: str) -> str:
    return f"{brand} •••• {last4}" if last4 else str(TestcardGateway.label)


class TestcardGateway(Gateway):
    __test__ = False  # not a test class, whatever its name says to pytest

    code = "testcard"
    label = _("Card")
    clearing = _("Immediately")
    saves_methods = True
    webhook_signature_header = testcard.SIGNATURE_HEADER

    def available(self, *, currency: str) -> bool:
        return testcard.enabled()

    def start(self, request: PaymentRequest) -> StartedPayment:
        if not testcard.enabled():
            raise GatewayError(reason="disabled", retryable=False)
        checkout = testcard.checkout_open(
            amount_minor=request.amount.minor,
            currency=request.amount.currency,
            description=request.description,
            merchant_reference=request.public_id,
            return_url=request.return_url,
        )
        return StartedPayment(gateway_reference=checkout.token, redirect_url=testcard.checkout_url(checkout))

    def confirm(self, *, gateway_reference: str) -> GatewayOutcome:
        checkout = TestcardCheckout.objects.filter(token=gateway_reference).first()
        if checkout is None:
            raise GatewayError(reason="unknown_transaction", retryable=False)
        kind = {
            TestcardStatus.SUCCEEDED: "succeeded",
            TestcardStatus.FAILED: "failed",
            TestcardStatus.REQUIRES_ACTION: "requires_action",
        }.get(TestcardStatus(checkout.status), "pending")
        return GatewayOutcome(
            kind=kind,
            gateway_reference=checkout.token,
            amount=Money.from_minor(checkout.amount_minor, checkout.currency),
            method_label=_label(checkout.card_brand, checkout.card_last4),
            failure_code=checkout.failure_code,
        )

    def refund(self, *, gateway_reference: str, amount: Money, idempotency_key: str) -> RefundResult:
        refunded = testcard.checkout_refund(token=gateway_reference, amount_minor=amount.minor)
        if refunded is None:
            raise GatewayError(reason="refund_refused", retryable=False)
        return RefundResult(refund_reference=f"re_{idempotency_key}", amount=amount)

    def setup_start(self, *, customer_reference: str, return_url: str) -> SetupStarted:
        if not testcard.enabled():
            raise GatewayError(reason="disabled", retryable=False)
        checkout = testcard.checkout_open(
            amount_minor=0,
            currency="EUR",
            description=str(_("Save a card for automatic payments")),
            merchant_reference=f"setup:{customer_reference}",
            return_url=return_url,
            mode=TestcardMode.SETUP,
        )
        return SetupStarted(gateway_reference=checkout.token, redirect_url=testcard.checkout_url(checkout))

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
        if not testcard.enabled():
            raise GatewayError(reason="disabled", retryable=False)
        charge = testcard.card_charge(
            card_token=token,
            amount_minor=amount.minor,
            currency=amount.currency,
            description=description,
            merchant_reference=merchant_reference,
            idempotency_key=idempotency_key,
            today=utc_now().date(),
            return_url=return_url,
        )
        kind = {TestcardStatus.SUCCEEDED: "succeeded", TestcardStatus.REQUIRES_ACTION: "requires_action"}
        return GatewayOutcome(
            kind=kind.get(TestcardStatus(charge.status), "failed"),
            redirect_url=testcard.authenticate_url(charge) if charge.status == TestcardStatus.REQUIRES_ACTION else "",
            gateway_reference=charge.token,
            amount=Money.from_minor(charge.amount_minor, charge.currency),
            method_label=_label(charge.card_brand, charge.card_last4),
            failure_code=charge.failure_code,
            merchant_reference=merchant_reference,
        )

    def webhook_parse(self, *, body: bytes, headers: Mapping[str, str], now: dt.datetime) -> GatewayOutcome:
        signature_verify(
            secret=testcard.webhook_secret(), body=body, header=self.webhook_signature(headers=headers), now=now
        )
        try:
            event = json.loads(body)
            data = event["data"]
            kind = OUTCOME_OF_EVENT[event["type"]]
            amount = Money.from_minor(int(data["amount_minor"]), str(data["currency"]))
            card = data.get("card") or {}
            saved = None
            if kind == "method_saved":
                saved = SavedMethodData(
                    token=str(card["token"]),
                    brand=str(card["brand"]),
                    last4=str(card["last4"]),
                    exp_month=int(card["exp_month"]),
                    exp_year=int(card["exp_year"]),
                )
            return GatewayOutcome(
                kind=kind,
                merchant_reference=str(data.get("merchant_reference") or ""),
                saved_method=saved,
                gateway_reference=str(data["checkout"]),
                amount=amount,
                method_label=_label(str(card.get("brand", "")), str(card.get("last4", ""))),
                failure_code=str(data.get("failure_code") or ""),
                event_id=str(event["id"]),
                event_type=str(event["type"]),
            )
        except (ValueError, KeyError, TypeError, CurrencyError):
            raise WebhookRejected("malformed") from None
