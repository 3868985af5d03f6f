"""Stripe, through its official SDK: hosted Checkout for payments and for saving cards,
off-session PaymentIntents for auto-pay, refunds, and signed webhooks.

Card data only ever goes to Stripe's own page (PCI DSS SAQ-A): a payment opens a Checkout
Session in `payment` mode and sends the customer to its URL; saving a card opens one in
`setup` mode. Sportello keeps the PaymentMethod id, brand, last four digits and expiry.

Which notifications settle what (each event is processed once per event id, services.py):
- checkout.session.completed (mode payment, payment_status paid) settles a portal payment,
  whose gateway reference is the Checkout Session id. The PaymentIntent behind the session
  reports the same money in payment_intent.succeeded: that event is ignored for Checkout
  payments (their intents carry metadata sportello_flow=checkout), so one payment is never
  recorded from two events.
- payment_intent.succeeded / payment_intent.payment_failed settle or fail an off-session
  charge (auto-pay), whose gateway reference is the PaymentIntent id.
- setup_intent.succeeded lists a saved card (its details asked from the PaymentMethod).
- checkout.session.expired gives up on an abandoned payment; charge.refunded reports a refund.
Any other event is acknowledged and changes nothing.

Amounts: Stripe counts in its own minor units, which are ISO 4217's except for a few
currencies (https://docs.stripe.com/currencies): zero-decimal ones (JPY, KRW, MGA...),
ISK (two decimals in the API, whole krónur only), and the three-decimal ones (BHD, JOD, KWD,
OMR, TND) whose last digit must be 0. An amount Stripe cannot carry exactly is refused
before anything is sent, never rounded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import stripe as stripe_sdk
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sportello.core.money import CurrencyError, Money, currency_exponent
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

SIGNATURE_HEADER = "Stripe-Signature"

# Stripe's zero-decimal currencies: the API amount is in whole units.
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
# Three decimals in the API, and the last digit must be 0 (5.120 KWD, never 5.124 KWD).
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# Zero-decimal in practice, two decimals in the API for backwards compatibility: 5 ISK is 500.
TWO_DECIMAL_WHOLE_UNITS = frozenset({"ISK"})

# Checkout's page languages that Sportello speaks; others let Stripe pick ("auto").
CHECKOUT_LOCALES = {"en": "en", "es": "es", "it": "it", "pt-br": "pt-BR"}

CARD_BRANDS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "jcb": "JCB",
    "link": "Link",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}

# Decline codes that say "try again later" rather than "this card will not do": kept as the
# failure code so that the saved card is not flagged for replacement.
TRANSIENT_DECLINES = frozenset({"insufficient_funds", "processing_error", "try_again_later"})

# What the HTTP requests are sent through: None is the SDK's own client (requests). Tests put
# a client here that replays recorded responses, so that no test reaches the network.
http_client: stripe_sdk.HTTPClient | None = None


# --- Amounts --------------------------------------------------------------------------------


def stripe_exponent(currency: str) -> int:
    """The decimals of `currency`'s amounts in Stripe's API; CurrencyError when Stripe's
    treatment of it is not known (a three-decimal currency Stripe does not list, funds codes)."""
    currency = currency.upper()
    iso = currency_exponent(currency)
    if currency in ZERO_DECIMAL:
        return 0
    if currency in TWO_DECIMAL_WHOLE_UNITS:
        return 2
    if iso == 3 and currency not in THREE_DECIMAL:
        raise CurrencyError(f"Stripe does not take {currency}")
    return iso


def stripe_amount(money: Money) -> int:
    """`money` as the integer Stripe's API expects; GatewayError when Stripe cannot carry it
    exactly (a fraction of a zero-decimal unit, a last digit other than 0 in KWD...)."""
    try:
        exponent = stripe_exponent(money.currency)
    except CurrencyError:
        raise GatewayError(reason="currency_not_supported", retryable=False) from None
    units = money.amount.scaleb(exponent)
    whole = units == units.to_integral_value()
    if not whole or (money.currency in THREE_DECIMAL and int(units) % 10):
        raise GatewayError(reason="amount_not_supported", retryable=False)
    return int(units)


def money_from_stripe(amount: object, currency: object) -> Money | None:
    """The Money an amount in Stripe's units stands for; None when it is not one Sportello can
    hold (an unknown currency, more precision than ISO 4217 allows): such a notification
    matches no payment and is flagged for staff, never rounded."""
    if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(currency, str):
        return None
    try:
        code = currency.upper()
        return Money(Decimal(amount).scaleb(-stripe_exponent(code)), code)
    except (CurrencyError, ValueError):
        return None


# --- Talking to Stripe ----------------------------------------------------------------------


def configured() -> bool:
    return bool(settings.PAYMENTS_STRIPE_SECRET_KEY and settings.PAYMENTS_STRIPE_WEBHOOK_SECRET)


def client() -> stripe_sdk.StripeClient:
    if not configured():
        raise GatewayError(reason="disabled", retryable=False)
    return stripe_sdk.StripeClient(
        settings.PAYMENTS_STRIPE_SECRET_KEY,
        http_client=http_client,
        # The SDK retries connection errors, 409s and 5xx itself, with the same idempotency key.
        max_network_retries=settings.PAYMENTS_STRIPE_NETWORK_RETRIES,
    )


def _error_body(error: stripe_sdk.StripeError) -> dict[str, Any]:
    body = error.json_body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return dict(body["error"])
    return {}


def gateway_error(error: stripe_sdk.StripeError) -> GatewayError:
    """What a failed call means to Sportello: whether trying again later can help."""
    code = _error_body(error).get("code") or error.code or ""
    if isinstance(error, stripe_sdk.APIConnectionError | stripe_sdk.RateLimitError):
        return GatewayError(reason="unreachable", retryable=True, message=str(error))
    if isinstance(error, stripe_sdk.AuthenticationError | stripe_sdk.PermissionError):
        return GatewayError(reason="not_authorised", retryable=False, message=str(error))
    if isinstance(error, stripe_sdk.IdempotencyError):
        return GatewayError(reason="idempotency_conflict", retryable=False, message=str(error))
    if error.http_status is not None and error.http_status >= 500:
        return GatewayError(reason="unavailable", retryable=True, message=str(error))
    return GatewayError(reason=str(code or "refused")[:64], retryable=False, message=str(error))


def _dict(value: Any) -> dict[str, Any]:
    if isinstance(value, stripe_sdk.StripeObject):
        return value.to_dict()
    return dict(value) if isinstance(value, Mapping) else {}


def _id(value: Any) -> str:
    """An object's id whether the API gave the id or the expanded object."""
    if isinstance(value, str):
        return value
    return str(_dict(value).get("id") or "")


def _card_label(card: Mapping[str, Any]) -> str:
    brand = CARD_BRANDS.get(str(card.get("brand") or ""), str(card.get("brand") or "").title())
    last4 = str(card.get("last4") or "")
    return f"{brand} •••• {last4}" if brand and last4 else ""


def _failure_code(error: Mapping[str, Any]) -> str:
    """Sportello's failure code for a Stripe card error: the decline code when it says to try
    again later, else the error code (card_declined, expired_card, authentication_required...)."""
    decline = str(error.get("decline_code") or "")
    if decline in TRANSIENT_DECLINES:
        return decline
    return str(error.get("code") or "card_declined")[:64]


class StripeGateway(Gateway):
    code = "stripe"
    label = _("Card")
    clearing = _("Immediately")
    webhook_signature_header = SIGNATURE_HEADER
    saves_methods = True

    def available(self, *, currency: str) -> bool:
        if not configured():
            return False
        try:
            stripe_exponent(currency)
        except CurrencyError:
            return False
        return True

    # --- Paying on Stripe's page ------------------------------------------------------------

    def start(self, request: PaymentRequest) -> StartedPayment:
        amount = stripe_amount(request.amount)
        metadata = {"sportello_payment": request.public_id}
        params: dict[str, Any] = {
            "mode": "payment",
            "payment_method_types": ["card"],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.amount.currency.lower(),
                        "unit_amount": amount,
                        "product_data": {"name": request.description[:250] or request.public_id},
                    },
                }
            ],
            "client_reference_id": request.public_id,
            "metadata": metadata,
            "payment_intent_data": {
                "description": request.description[:1000],
                "metadata": {**metadata, "sportello_flow": "checkout"},
            },
            "success_url": request.return_url,
            "cancel_url": request.return_url,
            "locale": CHECKOUT_LOCALES.get(request.language.lower(), "auto"),
        }
        try:
            session = client().v1.checkout.sessions.create(
                params,  # type: ignore[arg-type]
                # The payment's own random id: a retried start gets the same session back, never a
                # second one, and no other installation sharing the Stripe account has this key.
                options={"idempotency_key": f"sportello-checkout-{request.public_id}"},
            )
        except stripe_sdk.StripeError as error:
            raise gateway_error(error) from None
        data = _dict(session)
        if not data.get("id") or not data.get("url"):
            raise GatewayError(reason="malformed_answer", retryable=True)
        return StartedPayment(gateway_reference=str(data["id"]), redirect_url=str(data["url"]))

    def confirm(self, *, gateway_reference: str) -> GatewayOutcome:
        try:
            if gateway_reference.startswith("pi_"):
                return self._intent_outcome(_dict(client().v1.payment_intents.retrieve(gateway_reference)))
            session = _dict(client().v1.checkout.sessions.retrieve(gateway_reference))
        except stripe_sdk.StripeError as error:
            raise gateway_error(error) from None
        return self._session_outcome(session)

    def _session_outcome(self, session: Mapping[str, Any]) -> GatewayOutcome:
        status, paid = session.get("status"), session.get("payment_status")
        if status == "complete" and paid in ("paid", "no_payment_required"):
            kind, failure = "succeeded", ""
        elif status == "expired":
            kind, failure = "failed", "expired"
        else:
            kind, failure = "pending", ""
        return GatewayOutcome(
            kind=kind,
            gateway_reference=str(session.get("id") or ""),
            merchant_reference=str(session.get("client_reference_id") or ""),
            amount=money_from_stripe(session.get("amount_total"), session.get("currency")),
            failure_code=failure,
        )

    def _intent_outcome(
        self, intent: Mapping[str, Any], *, merchant_reference: str = "", method_label: str = ""
    ) -> GatewayOutcome:
        status = intent.get("status")
        error = _dict(intent.get("last_payment_error"))
        if status == "succeeded":
            kind, failure = "succeeded", ""
        elif status == "requires_action":
            kind, failure = "requires_action", ""
        elif status in ("requires_payment_method", "canceled") and (error or status == "canceled"):
            kind, failure = "failed", _failure_code(error) if error else "canceled"
        else:
            kind, failure = "pending", ""
        received = intent.get("amount_received") if kind == "succeeded" else intent.get("amount")
        metadata = _dict(intent.get("metadata"))
        redirect = _dict(_dict(intent.get("next_action")).get("redirect_to_url")).get("url")
        return GatewayOutcome(
            redirect_url=str(redirect or "") if kind == "requires_action" else "",
            kind=kind,
            gateway_reference=str(intent.get("id") or ""),
            merchant_reference=merchant_reference or str(metadata.get("sportello_payment") or ""),
            amount=money_from_stripe(received, intent.get("currency")),
            method_label=method_label,
            failure_code=failure,
        )

    # --- Refunds ------------------------------------------------------------------------------

    def refund(self, *, gateway_reference: str, amount: Money, idempotency_key: str) -> RefundResult:
        """Give back part or all of a payment. The Idempotency-Key header makes a retried refund
        (a timeout, a task run twice) the same refund at Stripe, never a second one."""
        try:
            intent = gateway_reference
            if not intent.startswith("pi_"):
                session = _dict(client().v1.checkout.sessions.retrieve(gateway_reference))
                intent = _id(session.get("payment_intent"))
                if not intent:
                    raise GatewayError(reason="not_paid", retryable=False)
            refund = _dict(
                client().v1.refunds.create(
                    {"payment_intent": intent, "amount": stripe_amount(amount), "reason": "requested_by_customer"},
                    options={"idempotency_key": idempotency_key},
                )
            )
        except stripe_sdk.StripeError as error:
            raise gateway_error(error) from None
        if refund.get("status") in ("failed", "canceled"):
            raise GatewayError(reason=str(refund.get("failure_reason") or "refund_refused"), retryable=False)
        refunded = money_from_stripe(refund.get("amount"), refund.get("currency"))
        if refunded is None or refunded != amount:
            raise GatewayError(reason="malformed_answer", retryable=False)
        return RefundResult(refund_reference=str(refund["id"]), amount=refunded)

    # --- Saved cards and off-session charges --------------------------------------------------

    def _customer_for(self, customer_reference: str) -> str:
        """The Stripe Customer the account's cards are attached to: the one of a card saved
        before, else a new one. (No idempotency key of ours: account references are not unique
        across installations that might share a Stripe account, and a customer too many is
        harmless where someone else's would not be.)"""
        from sportello.payments.models import SavedPaymentMethod

        earlier = (
            SavedPaymentMethod.objects.filter(gateway=self.code, account__reference=customer_reference)
            .order_by("-created_at", "-id")
            .values_list("token", flat=True)
            .first()
        )
        stripe = client()
        if earlier:
            try:
                customer = _id(_dict(stripe.v1.payment_methods.retrieve(earlier)).get("customer"))
            except stripe_sdk.InvalidRequestError:
                customer = ""  # that card is gone at Stripe: start afresh
            if customer:
                return customer
        created = stripe.v1.customers.create(
            {"description": customer_reference, "metadata": {"sportello_account": customer_reference}}
        )
        return _id(created)

    def setup_start(self, *, customer_reference: str, return_url: str) -> SetupStarted:
        from sportello.accounts.models import Account

        account = Account.objects.filter(reference=customer_reference).first()
        merchant_reference = f"setup:{customer_reference}"
        params: dict[str, Any] = {
            "mode": "setup",
            "payment_method_types": ["card"],
            "currency": (account.currency if account else "EUR").lower(),
            "client_reference_id": merchant_reference,
            "metadata": {"sportello_setup": merchant_reference},
            "setup_intent_data": {
                "description": str(_("Save a card for automatic payments")),
                "metadata": {"sportello_setup": merchant_reference},
            },
            "success_url": return_url,
            "cancel_url": return_url,
            "locale": CHECKOUT_LOCALES.get((account.language if account else "").lower(), "auto"),
        }
        try:
            # The card is attached to the account's Stripe customer, as off-session charges need.
            params["customer"] = self._customer_for(customer_reference)
            session = _dict(client().v1.checkout.sessions.create(params))  # type: ignore[arg-type]
        except stripe_sdk.StripeError as error:
            raise gateway_error(error) from None
        if not session.get("id") or not session.get("url"):
            raise GatewayError(reason="malformed_answer", retryable=True)
        return SetupStarted(gateway_reference=str(session["id"]), redirect_url=str(session["url"]))

    def _payment_method(self, token: str) -> dict[str, Any]:
        return _dict(client().v1.payment_methods.retrieve(token))

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
        """Charge a saved card: a PaymentIntent confirmed at once, with off_session=true when
        the customer is absent (auto-pay); with the customer present (`return_url`), a bank that
        wants 3-D Secure answers requires_action and the page to confirm on. A refusal is an
        outcome (the card's problem, flagged by auto-pay), not an error; an error is Stripe not
        answering or refusing the request itself."""
        units = stripe_amount(amount)
        try:
            method = self._payment_method(token)
        except stripe_sdk.InvalidRequestError as error:
            if _error_body(error).get("code") == "resource_missing":
                # No transaction was opened at Stripe: our own key stands for it.
                return GatewayOutcome(
                    kind="failed",
                    gateway_reference=idempotency_key,
                    merchant_reference=merchant_reference,
                    failure_code="no_such_card",
                    amount=amount,
                )
            raise gateway_error(error) from None
        except stripe_sdk.StripeError as error:
            raise gateway_error(error) from None
        label = _card_label(_dict(method.get("card")))
        params: dict[str, Any] = {
            "amount": units,
            "currency": amount.currency.lower(),
            "payment_method": token,
            "payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
            "description": description[:1000],
            "metadata": {"sportello_payment": merchant_reference, "sportello_flow": "off_session"},
        }
        if return_url:
            del params["off_session"]
            params["return_url"] = return_url
            params["metadata"]["sportello_flow"] = "on_session"
        customer = _id(method.get("customer"))
        if customer:
            params["customer"] = customer
        try:
            intent = _dict(
                client().v1.payment_intents.create(
                    params,  # type: ignore[arg-type]
                    options={"idempotency_key": idempotency_key},
                )
            )
        except stripe_sdk.CardError as error:
            body = _error_body(error)
            failed = _dict(body.get("payment_intent"))
            return GatewayOutcome(
                kind="failed",
                gateway_reference=str(failed.get("id") or idempotency_key),
                merchant_reference=merchant_reference,
                amount=amount,
                method_label=label,
                failure_code=_failure_code(body),
            )
        except stripe_sdk.StripeError as error:
            raise gateway_error(error) from None
        return self._intent_outcome(intent, merchant_reference=merchant_reference, method_label=label)

    # --- Webhooks -------------------------------------------------------------------------------

    def webhook_parse(self, *, body: bytes, headers: Mapping[str, str], now: dt.datetime) -> GatewayOutcome:
        """Verify `Stripe-Signature` (HMAC-SHA256 of "<t>.<body>" with the endpoint's signing
        secret, constant-time compare, t within 5 minutes of `now`), then read the event."""
        signature_verify(
            secret=settings.PAYMENTS_STRIPE_WEBHOOK_SECRET,
            body=body,
            header=self.webhook_signature(headers=headers),
            now=now,
        )
        try:
            event = json.loads(body)
            event_id, event_type = str(event["id"]), str(event["type"])
            obj = event["data"]["object"]
            if not isinstance(obj, dict) or not event_id:
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise WebhookRejected("malformed") from None
        return dataclasses.replace(self._event_outcome(event_type, obj), event_id=event_id, event_type=event_type)

    def _event_outcome(self, event_type: str, obj: Mapping[str, Any]) -> GatewayOutcome:
        if event_type in ("checkout.session.completed", "checkout.session.expired") and obj.get("mode") == "payment":
            return self._session_outcome(obj)
        if event_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
            if _dict(obj.get("metadata")).get("sportello_flow") == "checkout":
                # Settled from checkout.session.completed, which names our session: counting this
                # one too would record the same money twice.
                return GatewayOutcome(kind="pending", gateway_reference=str(obj.get("id") or ""))
            return self._intent_outcome(obj)
        if event_type == "setup_intent.succeeded":
            return self._setup_outcome(obj)
        if event_type == "charge.refunded":
            return GatewayOutcome(
                kind="refunded",
                gateway_reference=_id(obj.get("payment_intent")) or str(obj.get("id") or ""),
                merchant_reference=str(_dict(obj.get("metadata")).get("sportello_payment") or ""),
                amount=money_from_stripe(obj.get("amount_refunded"), obj.get("currency")),
            )
        return GatewayOutcome(kind="pending", gateway_reference=str(obj.get("id") or ""))

    def _setup_outcome(self, intent: Mapping[str, Any]) -> GatewayOutcome:
        """A card saved on Stripe's page: its brand, last four digits and expiry are asked from
        the PaymentMethod (the event names it, without details)."""
        merchant_reference = str(_dict(intent.get("metadata")).get("sportello_setup") or "")
        token = _id(intent.get("payment_method"))
        if not merchant_reference or not token:
            return GatewayOutcome(kind="pending", gateway_reference=str(intent.get("id") or ""))
        try:
            method = self._payment_method(token)
        except stripe_sdk.InvalidRequestError as error:
            if _error_body(error).get("code") == "resource_missing":
                # Detached or deleted since: nothing to keep, and nothing for Stripe to resend.
                return GatewayOutcome(kind="pending", gateway_reference=str(intent.get("id") or ""))
            raise gateway_error(error) from None
        except stripe_sdk.StripeError as error:
            raise gateway_error(error) from None
        card = _dict(method.get("card"))
        try:
            saved = SavedMethodData(
                token=token,
                brand=CARD_BRANDS.get(str(card["brand"]), str(card["brand"]).title())[:20],
                last4=str(card["last4"])[-4:],
                exp_month=int(card["exp_month"]),
                exp_year=int(card["exp_year"]),
            )
        except (KeyError, TypeError, ValueError):
            raise WebhookRejected("malformed") from None
        return GatewayOutcome(
            kind="method_saved",
            gateway_reference=str(intent.get("id") or ""),
            merchant_reference=merchant_reference,
            saved_method=saved,
        )
