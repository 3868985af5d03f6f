# ruff: noqa: F811  (the Stripe fixture imported from test_stripe is redefined as a parameter)
"""Races on PostgreSQL through the Stripe gateway: the same signed webhook delivered three times
at once (one acts, two are refused as replays), and the webhook racing the customer's return
from Checkout (which asks Stripe)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Settlement
from sportello.payments.errors import WebhookReplayed
from sportello.payments.models import CreditEntry, PaymentEvent, ProcessedWebhook, ReconciliationItem
from sportello.payments.services import payment_refresh, webhook_receive
from sportello.payments.tests.conftest import DAY
from sportello.payments.tests.stripe_replay import ReplayClient, signed, stripe_event
from sportello.payments.tests.test_concurrency import race
from sportello.payments.tests.test_stripe import NOW, SESSION, completed, started, stripe_api  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _deliver(body: bytes, headers: dict[str, str]) -> Callable[[], Any]:
    return lambda: webhook_receive(gateway="stripe", body=body, headers=headers, now=NOW)


def test_the_same_stripe_webhook_delivered_three_times_at_once_counts_once(
    on_postgresql: None, stripe_api: ReplayClient, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    first, second = make_invoice("100.00"), make_invoice("10.00")  # 121.00 and 12.10
    payment = started(stripe_api, alice, [first, second])
    event = stripe_event("checkout.session.completed", completed(payment, amount_total=13310), event_id="evt_x", at=NOW)
    deliver = _deliver(*signed(event, at=NOW))
    # One acts; the same signed request racing it is a replay, refused.
    assert race(deliver, deliver, deliver) == [WebhookReplayed.__name__, WebhookReplayed.__name__, "ok"]
    assert ProcessedWebhook.objects.filter(gateway="stripe", event_id="evt_x").count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert sorted(Settlement.objects.values_list("amount_minor", flat=True)) == [1210, 12100]
    assert set(Invoice.objects.values_list("status", flat=True)) == {InvoiceStatus.PAID}
    assert (CreditEntry.objects.count(), ReconciliationItem.objects.count()) == (0, 0)


def test_the_webhook_racing_the_customers_return_from_checkout_settles_once(
    on_postgresql: None, stripe_api: ReplayClient, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice("100.00")
    payment = started(stripe_api, alice, [invoice])
    stripe_api.expect("get", f"/v1/checkout/sessions/{SESSION}", "checkout_session_payment_complete")
    event = stripe_event("checkout.session.completed", completed(payment), event_id="evt_y", at=NOW)
    back = lambda: payment_refresh(payment=payment, as_of=DAY)  # noqa: E731
    assert race(_deliver(*signed(event, at=NOW)), back) == ["ok", "ok"]
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert list(Settlement.objects.values_list("amount_minor", flat=True)) == [12100]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert (CreditEntry.objects.count(), ReconciliationItem.objects.count()) == (0, 0)
