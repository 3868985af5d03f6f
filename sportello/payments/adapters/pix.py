"""PIX: Brazil's instant payments, for invoices in BRL.

The customer is shown a BR Code ("copia e cola", and its QR) for the seller's PIX key, with
the exact amount and a txid of its own; their banking app pays it at once, at any hour. The
payment is known to have arrived when the seller's PSP (the bank that holds the key) sends
its signed notification, or when staff register it from the PSP's statement.

- The payload is the one printed on BRL invoices (`billing.payment_codes.pix_payload`):
  EMV MPM fields with CRC16-CCITT. A static code (key in field 26) carries a txid of at most
  25 letters and digits (BCB, "Manual de Padrões para Iniciação do Pix"); ours are 25
  random upper-case letters and digits, so a txid cannot be guessed and the unique
  (gateway, gateway transaction id) of payments refuses the rare collision.
- The notification follows the BCB PIX API's webhook (`POST <url>/pix`): a JSON body
  `{"pix": [{"endToEndId", "txid", "valor", "horario", ...}, ...]}`, one entry per PIX
  received, here signed like every gateway's (`Pix-Signature: t=<unix time>,v1=<HMAC-SHA256
  of "<t>.<body>">` with PAYMENTS_PIX_WEBHOOK_SECRET). Each entry's endToEndId (the id the
  PIX system gives the transfer, unique) is its event id: one entry acts once however often
  it is delivered. "valor" is the amount in reais, a decimal string ("110.00").
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sportello.billing.payment_codes import PIX_NO_TXID, PIX_TXID_MAX, PaymentCodeError, pix_payload
from sportello.billing.selectors import seller_current
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.payments.adapters.base import Gateway, GatewayOutcome, PaymentRequest, StartedPayment, signature_verify
from sportello.payments.errors import GatewayError, WebhookRejected

SIGNATURE_HEADER = "Pix-Signature"
CURRENCY = "BRL"
TXID_ALPHABET = string.ascii_uppercase + string.digits
# A PIX transfer's id (BCB): "E", the payer PSP's ISPB (8 digits), the date and time
# (yyyyMMddHHmm), and 11 letters or digits: 32 characters.
END_TO_END_ID = re.compile(r"E\d{8}\d{12}[A-Za-z0-9]{11}")
# The largest amount a BR Code can carry (field 54 holds at most 13 characters).
MAX_MINOR = 999_999_999_999
# A city the payload must carry when the seller has not given one (the BCB's own example).
DEFAULT_CITY = "BRASILIA"


def pix_txid_new() -> str:
    """A fresh txid: 25 random upper-case letters and digits (36^25 possibilities)."""
    return "".join(secrets.choice(TXID_ALPHABET) for _ in range(PIX_TXID_MAX))


def end_to_end_id_valid(value: str) -> bool:
    return bool(END_TO_END_ID.fullmatch(value))


def webhook_secret() -> str:
    """The secret the PSP's notifications are signed with; empty: notifications are refused
    (payments are then registered by staff)."""
    return str(settings.PAYMENTS_PIX_WEBHOOK_SECRET)


class PixGateway(Gateway):
    code = "pix"
    label = _("PIX")
    clearing = _("Instantly, at any hour")
    redirects = False
    webhook_signature_header = SIGNATURE_HEADER

    def available(self, *, currency: str) -> bool:
        return bool(currency == CURRENCY and settings.PAYMENTS_PIX_ENABLED and seller_current().pix_key)

    def start(self, request: PaymentRequest) -> StartedPayment:
        seller = seller_current()
        if request.amount.currency != CURRENCY:
            raise GatewayError(reason="currency", retryable=False)
        if not seller.pix_key:
            raise GatewayError(reason="no_pix_key", retryable=False)
        txid = pix_txid_new()
        city = seller.pix_city or seller.city or DEFAULT_CITY
        try:
            code = pix_payload(key=seller.pix_key, name=seller.name, city=city, amount=request.amount.amount, txid=txid)
        except PaymentCodeError as error:
            raise GatewayError(reason=f"pix_{error.field}", retryable=False) from None
        expires_at = utc_now() + dt.timedelta(minutes=settings.PAYMENTS_PIX_EXPIRY_MINUTES)
        instructions: dict[str, Any] = {
            "beneficiary": seller.name,
            "key": seller.pix_key,
            "txid": txid,
            "code": code,
            "amount": str(request.amount.amount),
            "currency": CURRENCY,
            "expires_at": expires_at.isoformat(),
            "documents": list(request.documents),
        }
        return StartedPayment(
            gateway_reference=txid, instructions=instructions, method_label=self.label_in(request.language)
        )

    def confirm(self, *, gateway_reference: str) -> GatewayOutcome:
        # Nobody to ask: the PSP tells us, or staff see it on the PSP's statement.
        return GatewayOutcome(kind="pending", gateway_reference=gateway_reference)

    def webhook_parse(self, *, body: bytes, headers: Mapping[str, str], now: dt.datetime) -> GatewayOutcome:
        outcomes = self.webhook_parse_all(body=body, headers=headers, now=now)
        if len(outcomes) != 1:
            raise WebhookRejected("malformed")
        return outcomes[0]

    def webhook_parse_all(self, *, body: bytes, headers: Mapping[str, str], now: dt.datetime) -> list[GatewayOutcome]:
        """Every PIX a notification reports, each as a success for its txid; nothing is read
        before the signature and its freshness are checked, and one unreadable entry refuses
        the whole notification (the PSP sends it again; the entries already acted on are
        then duplicates)."""
        signature_verify(secret=webhook_secret(), body=body, header=self.webhook_signature(headers=headers), now=now)
        try:
            entries = json.loads(body, parse_float=Decimal)["pix"]
            if not isinstance(entries, list) or not entries:
                raise WebhookRejected("malformed")
            return [self._outcome(entry) for entry in entries]
        except (ValueError, KeyError, TypeError, ArithmeticError):
            raise WebhookRejected("malformed") from None

    def _outcome(self, entry: dict[str, Any]) -> GatewayOutcome:
        end_to_end_id = entry["endToEndId"]
        if not isinstance(end_to_end_id, str) or not end_to_end_id_valid(end_to_end_id):
            raise ValueError("endToEndId")
        value = entry["valor"]
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise TypeError("valor")
        amount = Money(Decimal(str(value)), CURRENCY)  # more than two decimals: ValueError
        if not 0 < amount.minor <= MAX_MINOR:
            raise ValueError("valor")
        # A PIX paid without our txid (a code with "***", a transfer to the bare key) still
        # reaches staff, under a reference no payment has.
        txid = entry.get("txid") or PIX_NO_TXID
        if not isinstance(txid, str) or len(txid) > 35:
            raise ValueError("txid")
        return GatewayOutcome(
            kind="succeeded",
            gateway_reference=txid,
            amount=amount,
            method_label=str(self.label),
            event_id=end_to_end_id,
            event_type="pix",
        )
