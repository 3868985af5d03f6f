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
from sportello.payments.models import TestcardCheckout, TestcardStatus

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
    *, amount_minor: int, currency: str, description: str, merchant_reference: str, return_url: str
) -> TestcardCheckout:
    """The provider's "create checkout session" call."""
    return TestcardCheckout.objects.create(
        token=secrets.token_urlsafe(24),
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


@dataclass(frozen=True)
class CardEntered:
    """What the hosted page's form read. Lives only for the request: never stored or logged."""

    number: str
    exp_month: int
    exp_year: int


def _lock(checkout: TestcardCheckout) -> TestcardCheckout:
    return TestcardCheckout.objects.select_for_update().get(pk=checkout.pk)


@transaction.atomic
def checkout_pay(*, checkout: TestcardCheckout, card: CardEntered, today: dt.date) -> TestcardCheckout:
    """Charge `card` for the session: succeed, fail, or ask for authentication; notify the merchant.

    A card past its expiry month fails as expired whatever its number. Only the last four
    digits and a token are kept.
    """
    checkout = _lock(checkout)
    if checkout.status != TestcardStatus.OPEN:
        return checkout
    behaviour = TEST_CARDS.get(card.number, "card_declined")
    if (card.exp_year, card.exp_month) < (today.year, today.month):
        behaviour = "expired_card"
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
    TestcardStatus.SUCCEEDED: "checkout.succeeded",
    TestcardStatus.FAILED: "checkout.failed",
    TestcardStatus.REQUIRES_ACTION: "checkout.requires_action",
}


def event_body(checkout: TestcardCheckout, *, event_id: str, created: int) -> bytes:
    payload = {
        "id": event_id,
        "type": EVENT_TYPES[TestcardStatus(checkout.status)],
        "created": created,
        "data": {
            "checkout": checkout.token,
            "merchant_reference": checkout.merchant_reference,
            "amount_minor": checkout.amount_minor,
            "currency": checkout.currency,
            "failure_code": checkout.failure_code,
            "card": {"brand": checkout.card_brand, "last4": checkout.card_last4},
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
