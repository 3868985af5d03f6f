"""The simulated card processor behind the `testcard` gateway: a stand-in for a provider's
hosted payment page, for the demo and the tests. Off unless SPORTELLO_DEMO or
PAYMENTS_TESTCARD_ENABLED is set.

It behaves like a real provider where it matters to Sportello:
- the card number is typed on its own pages (under /testcard/), never on the client area's;
  it keeps only a random token and the last four digits, and nothing logs the number;
- it tells Sportello the outcome in a signed server-to-server notification (HMAC-SHA256 over
  timestamp and body, the `Testcard-Signature` header), which Sportello verifies like any
  other gateway's webhook. The notification is delivered in-process after the provider's
  own transaction commits, through the same entry point as the HTTP webhook view, so the
  demo works without a public address; the customer's browser only comes back to a result
  page that reads Sportello's own records.

The well-known test numbers (as at Stripe):
  4242 4242 4242 4242  success            4000 0000 0000 0002  declined
  4000 0000 0000 9995  insufficient funds 4000 0000 0000 0069  expired card
  4000 0025 0000 3155  needs authentication (an extra confirmation step)
Any other number that passes the Luhn check is declined.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from sportello.core.effects import after_commit
from sportello.core.time import utc_now
from sportello.payments.adapters.base import signature_header
from sportello.payments.models import TestcardCard, TestcardCheckout, TestcardMode, TestcardStatus

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Testcard-Signature"

SUCCESS = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
EXPIRED = "4000000000000069"
NEEDS_AUTHENTICATION = "4000002500003155"
# number -> what the processor does with it.
TEST_CARDS: dict[str, str] = {
    SUCCESS: "succeeded",
    "5555555555554444": "succeeded",
    DECLINED: "card_declined",
    INSUFFICIENT_FUNDS: "insufficient_funds",
    EXPIRED: "expired_card",
    NEEDS_AUTHENTICATION: "requires_action",
}


def enabled() -> bool:
    return bool(settings.PAYMENTS_TESTCARD_ENABLED or settings.SPORTELLO_DEMO)


def webhook_secret() -> str:
    """The secret notifications are signed with: the setting, or one derived from SECRET_KEY
    (so the demo works unconfigured and no two installations share one)."""
    configured: str = settings.PAYMENTS_TESTCARD_WEBHOOK_SECRET
    if configured:
        return configured
    return hmac.new(settings.SECRET_KEY.encode(), b"sportello.testcard.webhook", hashlib.sha256).hexdigest()


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "Mastercard"
    if number[:2] in {"34", "37"}:
        return "American Express"
    return "Card"


# --- The processor's operations -------------------------------------------------------------


def checkout_open(
    *,
    amount_minor: int,
    currency: str,
    description: str,
    merchant_reference: str,
    return_url: str,
    mode: str = TestcardMode.PAYMENT,
) -> TestcardCheckout:
    """The provider's "create checkout session" call (a payment, or saving a card)."""
    return TestcardCheckout.objects.create(
        token=secrets.token_urlsafe(24),
        mode=mode,
        amount_minor=amount_minor,
        currency=currency,
        description=description[:300],
        merchant_reference=merchant_reference,
        return_url=return_url,
    )


def checkout_url(checkout: TestcardCheckout) -> str:
    """The hosted page's address, on the host the customer came from (the merchant's return URL)."""
    parts = urlsplit(checkout.return_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else settings.SITE_URL
    return f"{origin}{reverse('payments:testcard-checkout', args=[checkout.token])}"


def authenticate_path(checkout: TestcardCheckout) -> str:
    return reverse("payments:testcard-authenticate", args=[checkout.token])


def authenticate_url(checkout: TestcardCheckout) -> str:
    """The extra confirmation step's address, on the host the customer came from."""
    parts = urlsplit(checkout.return_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else settings.SITE_URL
    return f"{origin}{authenticate_path(checkout)}"


@dataclass(frozen=True)
class CardEntered:
    """What the hosted page's form read. Lives only for the request: never stored or logged."""

    number: str
    exp_month: int
    exp_year: int


def card_behaviour(card: CardEntered, *, today: dt.date) -> str:
    """What the processor does with this card: "succeeded", "requires_action" or a decline code."""
    if (card.exp_year, card.exp_month) < (today.year, today.month):
        return "expired_card"
    return TEST_CARDS.get(card.number, "card_declined")


def _lock(checkout: TestcardCheckout) -> TestcardCheckout:
    return TestcardCheckout.objects.select_for_update().get(pk=checkout.pk)


@transaction.atomic
def checkout_pay(*, checkout: TestcardCheckout, card: CardEntered, today: dt.date) -> TestcardCheckout:
    """Charge `card` for the session: succeed, fail, or ask for authentication; notify the merchant.

    A card past its expiry month fails as expired whatever its number. Only the last four
    digits and a token are kept.
    """
    checkout = _lock(checkout)
    if checkout.status != TestcardStatus.OPEN or checkout.mode != TestcardMode.PAYMENT:
        return checkout
    behaviour = card_behaviour(card, today=today)
    checkout.card_brand = card_brand(card.number)
    checkout.card_last4 = card.number[-4:]
    checkout.card_token = f"tok_{secrets.token_hex(12)}"
    if behaviour == "succeeded":
        checkout.status = TestcardStatus.SUCCEEDED
    elif behaviour == "requires_action":
        checkout.status = TestcardStatus.REQUIRES_ACTION
    else:
        checkout.status = TestcardStatus.FAILED
        checkout.failure_code = behaviour
    checkout.save()
    _notify(checkout)
    return checkout


@transaction.atomic
def checkout_save_card(
    *, checkout: TestcardCheckout, card: CardEntered, today: dt.date
) -> tuple[TestcardCheckout, str]:
    """Keep `card` for later off-session charges; return the session and the refusal code
    ("" when accepted). A card the processor would decline, or an expired one, is refused on
    the page; a card that needs authentication is kept after the extra step."""
    checkout = _lock(checkout)
    if checkout.status != TestcardStatus.OPEN or checkout.mode != TestcardMode.SETUP:
        return checkout, ""
    behaviour = card_behaviour(card, today=today)
    if behaviour in ("card_declined", "expired_card"):
        return checkout, behaviour
    saved = TestcardCard.objects.create(
        token=f"card_{secrets.token_hex(12)}",
        brand=card_brand(card.number),
        last4=card.number[-4:],
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        behaviour=behaviour,
    )
    checkout.card_brand, checkout.card_last4, checkout.card_token = saved.brand, saved.last4, saved.token
    if behaviour == "requires_action":
        checkout.status = TestcardStatus.REQUIRES_ACTION
    else:
        checkout.status = TestcardStatus.SUCCEEDED
    checkout.save()
    _notify(checkout)
    return checkout, ""


@transaction.atomic
def card_charge(
    *,
    card_token: str,
    amount_minor: int,
    currency: str,
    description: str,
    merchant_reference: str,
    idempotency_key: str,
    today: dt.date,
    return_url: str = "",
) -> TestcardCheckout:
    """Charge a kept card. The same idempotency key returns the first charge's result, never a
    second charge. A card that needs authentication cannot be charged with the customer absent
    ("authentication_required"); with the customer present (`return_url`, where the extra step
    sends them back) the charge waits for that step, whose result is notified like a checkout's.
    Otherwise the answer is synchronous: no notification."""
    token = "ch_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    existing = TestcardCheckout.objects.filter(token=token).first()
    if existing is not None:
        return existing
    card = TestcardCard.objects.filter(token=card_token).first()
    checkout = TestcardCheckout(
        token=token,
        mode=TestcardMode.CHARGE,
        amount_minor=amount_minor,
        currency=currency,
        description=description[:300],
        merchant_reference=merchant_reference,
        return_url=return_url,
    )
    if card is None:
        checkout.status, checkout.failure_code = TestcardStatus.FAILED, "no_such_card"
    else:
        checkout.card_brand, checkout.card_last4, checkout.card_token = card.brand, card.last4, card.token
        behaviour = card.behaviour
        if (card.exp_year, card.exp_month) < (today.year, today.month):
            behaviour = "expired_card"
        if behaviour == "requires_action" and not return_url:
            behaviour = "authentication_required"
        if behaviour == "succeeded":
            checkout.status = TestcardStatus.SUCCEEDED
        elif behaviour == "requires_action":
            checkout.status = TestcardStatus.REQUIRES_ACTION
        else:
            checkout.status, checkout.failure_code = TestcardStatus.FAILED, behaviour
    checkout.save()
    return checkout


@transaction.atomic
def checkout_authenticate(*, checkout: TestcardCheckout, approved: bool) -> TestcardCheckout:
    """The extra confirmation step (3-D Secure's stand-in): approved succeeds, refused fails."""
    checkout = _lock(checkout)
    if checkout.status != TestcardStatus.REQUIRES_ACTION:
        return checkout
    if approved:
        checkout.status = TestcardStatus.SUCCEEDED
    else:
        checkout.status = TestcardStatus.FAILED
        checkout.failure_code = "authentication_failed"
    checkout.save()
    _notify(checkout)
    return checkout


@transaction.atomic
def checkout_cancel(*, checkout: TestcardCheckout) -> TestcardCheckout:
    """The customer gave up on the hosted page."""
    checkout = _lock(checkout)
    if checkout.status in (TestcardStatus.OPEN, TestcardStatus.REQUIRES_ACTION):
        checkout.status = TestcardStatus.FAILED
        checkout.failure_code = "cancelled"
        checkout.save()
        _notify(checkout)
    return checkout


@transaction.atomic
def checkout_refund(*, token: str, amount_minor: int) -> TestcardCheckout | None:
    """Give back part or all of a paid session; None when it cannot be refunded."""
    checkout = TestcardCheckout.objects.select_for_update().filter(token=token).first()
    if checkout is None or checkout.status != TestcardStatus.SUCCEEDED:
        return None
    if amount_minor <= 0 or checkout.refunded_minor + amount_minor > checkout.amount_minor:
        return None
    checkout.refunded_minor += amount_minor
    checkout.save(update_fields=["refunded_minor", "updated_at"])
    return checkout


# --- Notifications --------------------------------------------------------------------------

EVENT_TYPES = {
    TestcardStatus.SUCCEEDED: "succeeded",
    TestcardStatus.FAILED: "failed",
    TestcardStatus.REQUIRES_ACTION: "requires_action",
}


def event_body(checkout: TestcardCheckout, *, event_id: str, created: int) -> bytes:
    prefix = "setup" if checkout.mode == TestcardMode.SETUP else "checkout"
    card: dict[str, object] = {"brand": checkout.card_brand, "last4": checkout.card_last4}
    if checkout.mode == TestcardMode.SETUP:
        kept = TestcardCard.objects.filter(token=checkout.card_token).first()
        if kept is not None:
            card.update(token=kept.token, exp_month=kept.exp_month, exp_year=kept.exp_year)
    payload = {
        "id": event_id,
        "type": f"{prefix}.{EVENT_TYPES[TestcardStatus(checkout.status)]}",
        "created": created,
        "data": {
            "checkout": checkout.token,
            "merchant_reference": checkout.merchant_reference,
            "amount_minor": checkout.amount_minor,
            "currency": checkout.currency,
            "failure_code": checkout.failure_code,
            "card": card,
        },
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _notify(checkout: TestcardCheckout) -> None:
    checkout.events_sent += 1
    checkout.save(update_fields=["events_sent", "updated_at"])
    event_id = f"evt_{checkout.pk}_{checkout.events_sent}"
    after_commit(notification_deliver, checkout_id=checkout.pk, event_id=event_id)


def notification_deliver(*, checkout_id: int, event_id: str) -> None:
    """Sign the session's current state and hand it to Sportello's webhook entry point."""
    from sportello.payments.services import webhook_receive

    checkout = TestcardCheckout.objects.get(pk=checkout_id)
    now = utc_now()
    body = event_body(checkout, event_id=event_id, created=int(now.timestamp()))
    header = signature_header(secret=webhook_secret(), body=body, timestamp=int(now.timestamp()))
    result = webhook_receive(gateway="testcard", body=body, headers={SIGNATURE_HEADER: header})
    logger.info("testcard notification %s: %s", event_id, result.outcome)
