"""The Stripe gateway at the HTTP boundary: Checkout for payments and saving cards, signed
webhooks (verified, once per event, one payment per session), off-session charges for
auto-pay, refunds with an idempotency key, and Stripe's minor units. Stripe's answers are
replayed from recorded responses; no test reaches the network."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Settlement
from sportello.core.money import Money
from sportello.core.testing import Clock
from sportello.payments.adapters import gateway_get, gateways_available
from sportello.payments.adapters import stripe as stripe_adapter
from sportello.payments.adapters.base import signature_header
from sportello.payments.adapters.stripe import StripeGateway, money_from_stripe, stripe_amount
from sportello.payments.errors import GatewayError, WebhookRejected
from sportello.payments.models import (
    Payment,
    PaymentEvent,
    PaymentStatus,
    ProcessedWebhook,
    ReconciliationItem,
    ReconciliationKind,
    SavedPaymentMethod,
)
from sportello.payments.services import (
    invoice_autopay,
    payment_begin,
    payment_create,
    payment_preference_set,
    payment_refresh,
    webhook_receive,
)
from sportello.payments.tests.conftest import DAY, pay_confirmed
from sportello.payments.tests.stripe_replay import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    ReplayClient,
    recorded,
    signed,
    stripe_event,
)
from sportello.payments.tests.test_payments import money_state

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
RETURN = "http://testserver/billing/payments/back/"
SESSION = recorded("checkout_session_payment")["id"]
CARD = recorded("payment_method_card")["id"]
CUSTOMER = recorded("customer")["id"]
WEBHOOK = "/payments/webhooks/stripe/"


@pytest.fixture
def stripe_api(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayClient]:
    """Stripe configured, its HTTP replayed; every expected request must have been made."""
    settings.PAYMENTS_STRIPE_SECRET_KEY = SECRET_KEY
    settings.PAYMENTS_STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.PAYMENTS_STRIPE_NETWORK_RETRIES = 0
    settings.PAYMENTS_TESTCARD_ENABLED = False
    settings.SPORTELLO_DEMO = False
    replay = ReplayClient()
    monkeypatch.setattr(stripe_adapter, "http_client", replay)
    yield replay
    assert not replay.expected, f"requests Stripe never received: {list(replay.expected)}"


def started(replay: ReplayClient, membership: Membership, invoices: list[Invoice]) -> Payment:
    plan = payment_create(
        account=membership.account, invoices=invoices, method="stripe", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    replay.expect("post", "/v1/checkout/sessions", "checkout_session_payment")
    return payment_begin(payment=plan.payment, return_url=RETURN)


def completed(payment: Payment, **changes: Any) -> dict[str, Any]:
    """The Checkout Session of `payment`, paid, as checkout.session.completed carries it."""
    session = recorded("checkout_session_payment_complete", client_reference_id=str(payment.public_id))
    session.update(changes)
    return session


def deliver(event_type: str, obj: dict[str, Any], *, event_id: str = "evt_1QxR8ALkdIwHu7ixq3Vn0Bp2") -> str:
    body, headers = signed(stripe_event(event_type, obj, event_id=event_id, at=NOW), at=NOW)
    return webhook_receive(gateway="stripe", body=body, headers=headers, now=NOW).outcome


# --- Configuration and amounts ----------------------------------------------------------------


def test_it_is_offered_only_when_both_secrets_are_set(settings: Any) -> None:
    settings.PAYMENTS_STRIPE_SECRET_KEY = SECRET_KEY
    settings.PAYMENTS_STRIPE_WEBHOOK_SECRET = ""
    assert "stripe" not in [gateway.code for gateway in gateways_available(currency="EUR")]
    settings.PAYMENTS_STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    assert [gateway.code for gateway in gateways_available(currency="EUR")][:1] == ["stripe"]
    assert gateway_get("stripe").available(currency="JPY")
    # A three-decimal currency Stripe does not list, and a fund code: not offered.
    assert not gateway_get("stripe").available(currency="LYD")
    assert not gateway_get("stripe").available(currency="XDR")


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [
        ("121.00", "EUR", 12100),
        ("500", "JPY", 500),
        ("5.120", "KWD", 5120),
        ("5", "ISK", 500),
        ("1000.00", "MGA", 1000),
        ("1234.50", "HUF", 123450),
    ],
)
def test_amounts_are_sent_in_stripes_own_minor_units(amount: str, currency: str, units: int) -> None:
    money = Money(Decimal(amount), currency)
    assert stripe_amount(money) == units
    assert money_from_stripe(units, currency.lower()) == money


@pytest.mark.parametrize(("amount", "currency"), [("5.124", "KWD"), ("1000.50", "MGA")])
def test_an_amount_stripe_cannot_carry_exactly_is_refused_not_rounded(amount: str, currency: str) -> None:
    with pytest.raises(GatewayError) as refused:
        stripe_amount(Money(Decimal(amount), currency))
    assert (refused.value.reason, refused.value.retryable) == ("amount_not_supported", False)


def test_an_amount_from_stripe_that_sportello_cannot_hold_is_none() -> None:
    assert money_from_stripe(150, "isk") is None  # 1.50 ISK: krónur are whole
    assert money_from_stripe(100, "zzz") is None
    assert money_from_stripe("100", "eur") is None
    assert money_from_stripe(True, "eur") is None


@given(minor=st.integers(min_value=1, max_value=10**12), currency=st.sampled_from(["EUR", "JPY", "BRL", "KWD", "ISK"]))
def test_amounts_go_to_stripe_and_back_unchanged(minor: int, currency: str) -> None:
    if currency == "KWD":
        minor *= 10  # Stripe takes only fils amounts ending in 0
    money = Money.from_minor(minor, currency)
    assert money_from_stripe(stripe_amount(money), currency.lower()) == money


# --- Paying on Stripe's page ------------------------------------------------------------------


def test_paying_sends_the_customer_to_stripe_checkout_and_no_card_field_is_ours(
    stripe_api: ReplayClient, alice_client: Client, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice("100.00")  # 121.00 with VAT
    url = reverse("portal:invoice-pay", args=[invoice.number])
    page = alice_client.get(url).content.decode()
    assert 'value="stripe"' in page
    # PCI DSS SAQ-A: the client area never asks for a card.
    assert "cc-number" not in page and 'name="number"' not in page and 'name="cvc"' not in page
    stripe_api.expect(
        "post",
        "/v1/checkout/sessions",
        "checkout_session_payment",
        params={
            "mode": "payment",
            "line_items[0][price_data][currency]": "eur",
            "line_items[0][price_data][unit_amount]": "12100",
            "line_items[0][quantity]": "1",
            "payment_method_types[0]": "card",
            "payment_intent_data[metadata][sportello_flow]": "checkout",
        },
    )
    response = pay_confirmed(alice_client, url, {"invoices": invoice.number, "method": "stripe"})
    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == recorded("checkout_session_payment")["url"]
    assert (payment.gateway, payment.gateway_reference, payment.status) == ("stripe", SESSION, PaymentStatus.INITIATED)
    sent = stripe_api.sent[0]
    result_url = f"http://testserver{reverse('portal:payment', args=[payment.public_id])}"
    assert sent.params["success_url"] == sent.params["cancel_url"] == result_url
    assert sent.params["client_reference_id"] == sent.params["metadata[sportello_payment]"] == str(payment.public_id)
    # Our own row's id: a retried start gets the same session from Stripe.
    assert sent.headers["idempotency-key"] == f"sportello-checkout-{payment.public_id}"
    assert invoice_status(invoice) == InvoiceStatus.OPEN


def invoice_status(invoice: Invoice) -> str:
    invoice.refresh_from_db()
    return str(invoice.status)


def test_stripe_not_answering_fails_the_payment_and_says_try_again(
    stripe_api: ReplayClient, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    plan = payment_create(
        account=alice.account, invoices=[make_invoice()], method="stripe", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    stripe_api.expect("post", "/v1/checkout/sessions", "error_api", status=500)
    with pytest.raises(GatewayError) as failed:
        payment_begin(payment=plan.payment, return_url=RETURN)
    assert (failed.value.reason, failed.value.retryable) == ("unavailable", True)
    plan.payment.refresh_from_db()
    assert (plan.payment.status, plan.payment.gateway_reference) == (PaymentStatus.FAILED, "")


def test_a_signed_completion_settles_the_invoice_exactly_once(
    stripe_api: ReplayClient,
    client: Client,
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sportello.payments.views.utc_now", Clock(NOW))
    invoice = make_invoice("100.00")
    payment = started(stripe_api, alice, [invoice])
    body, headers = signed(
        stripe_event("checkout.session.completed", completed(payment), event_id="evt_1", at=NOW), at=NOW
    )
    response = client.post(WEBHOOK, body, content_type="application/json", headers=headers)
    assert (response.status_code, response.json()) == (200, {"outcome": "applied"})
    assert invoice_status(invoice) == InvoiceStatus.PAID
    assert list(Settlement.objects.values_list("invoice_id", "amount_minor", "reference")) == [
        (invoice.pk, 12100, f"payment:{payment.pk}")
    ]
    settled = money_state()
    # The same signed request replayed: refused, nothing recorded.
    response = client.post(WEBHOOK, body, content_type="application/json", headers=headers)
    assert (response.status_code, response.json()) == (409, {"error": "replayed"})
    assert money_state() == settled
    # Stripe delivering it again (at least once) signs each attempt anew: acknowledged, nothing more.
    retry_at = NOW - dt.timedelta(seconds=30)
    body, headers = signed(
        stripe_event("checkout.session.completed", completed(payment), event_id="evt_1", at=retry_at), at=retry_at
    )
    response = client.post(WEBHOOK, body, content_type="application/json", headers=headers)
    assert (response.status_code, response.json()) == (200, {"outcome": "duplicate"})
    # The same money reported by the PaymentIntent behind the session, and a second event for
    # the same session: one payment, settled once.
    intent = recorded("payment_intent_succeeded", id="pi_3QxR7tLkdIwHu7ix0f4kZ2Jq", customer=None)
    intent["metadata"] = {"sportello_flow": "checkout", "sportello_payment": str(payment.public_id)}
    assert deliver("payment_intent.succeeded", intent, event_id="evt_2") == "ignored"
    assert deliver("checkout.session.completed", completed(payment), event_id="evt_3") == "ignored"
    assert money_state() == settled
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert ProcessedWebhook.objects.count() == 3


@pytest.mark.parametrize("how", ["forged", "unsigned", "stale", "future", "tampered", "other_endpoint"])
def test_forged_unsigned_stale_or_tampered_webhooks_are_refused_and_record_nothing(
    stripe_api: ReplayClient,
    client: Client,
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    monkeypatch.setattr("sportello.payments.views.utc_now", Clock(NOW))
    payment = started(stripe_api, alice, [make_invoice()])
    event = stripe_event("checkout.session.completed", completed(payment), event_id="evt_1", at=NOW)
    at = {"stale": NOW - dt.timedelta(seconds=301), "future": NOW + dt.timedelta(seconds=301)}.get(how, NOW)
    body, headers = signed(event, at=at, secret="whsec_not_ours" if how == "forged" else WEBHOOK_SECRET)
    if how == "unsigned":
        headers = {}
    elif how == "tampered":
        body = body.replace(b'"amount_total":12100', b'"amount_total":100')
    elif how == "other_endpoint":
        headers = {"Testcard-Signature": headers["Stripe-Signature"]}
    before = money_state()
    response = client.post(WEBHOOK, body, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] in {"bad_signature", "unsigned", "stale"}
    assert money_state() == before
    assert (ProcessedWebhook.objects.count(), ReconciliationItem.objects.count()) == (0, 0)


def test_a_webhook_signed_within_five_minutes_is_accepted(
    stripe_api: ReplayClient, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    payment = started(stripe_api, alice, [make_invoice()])
    event = stripe_event("checkout.session.completed", completed(payment), event_id="evt_1", at=NOW)
    body, headers = signed(event, at=NOW - dt.timedelta(seconds=299))
    assert webhook_receive(gateway="stripe", body=body, headers=headers, now=NOW).outcome == "applied"


def test_a_signed_but_unreadable_webhook_is_refused(stripe_api: ReplayClient) -> None:
    body = b'{"id": "evt_1", "type": "checkout.session.completed", "data": []}'
    headers = {"Stripe-Signature": signature_header(secret=WEBHOOK_SECRET, body=body, timestamp=int(NOW.timestamp()))}
    with pytest.raises(WebhookRejected) as refused:
        webhook_receive(gateway="stripe", body=body, headers=headers, now=NOW)
    assert refused.value.reason == "malformed"
    assert ProcessedWebhook.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"amount_total": 12000}, ReconciliationKind.AMOUNT_MISMATCH),
        ({"currency": "usd"}, ReconciliationKind.CURRENCY_MISMATCH),
    ],
)
def test_a_completion_whose_amount_or_currency_differs_is_flagged_and_settles_nothing(
    stripe_api: ReplayClient,
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    changes: dict[str, Any],
    kind: str,
) -> None:
    invoice = make_invoice()
    payment = started(stripe_api, alice, [invoice])
    before = money_state()
    assert deliver("checkout.session.completed", completed(payment, **changes)) == "flagged"
    assert money_state() == before
    assert invoice_status(invoice) == InvoiceStatus.OPEN
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.payment, item.reference) == (kind, payment, SESSION)


def test_a_completion_for_a_session_that_is_not_ours_goes_to_reconciliation(
    stripe_api: ReplayClient, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice()
    payment = started(stripe_api, alice, [invoice])
    before = money_state()
    stranger = completed(payment, id="cs_test_b9Other0000000000000000000000000000000000000000")
    assert deliver("checkout.session.completed", stranger) == "unknown_payment"
    assert money_state() == before
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.payment, item.reference, item.amount_minor, item.currency) == (
        ReconciliationKind.UNKNOWN_PAYMENT,
        None,
        stranger["id"],
        12100,
        "EUR",
    )
    assert ProcessedWebhook.objects.get().outcome == "unknown_payment"


def test_an_expired_checkout_fails_the_payment_and_events_we_do_not_use_change_nothing(
    stripe_api: ReplayClient, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice()
    payment = started(stripe_api, alice, [invoice])
    refunded = recorded("charge_refunded")
    assert deliver("charge.refunded", refunded, event_id="evt_refund") == "ignored"
    assert deliver("customer.created", recorded("customer"), event_id="evt_customer") == "ignored"
    expired = recorded("checkout_session_payment_expired", client_reference_id=str(payment.public_id))
    assert deliver("checkout.session.expired", expired, event_id="evt_expired") == "applied"
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "expired")
    assert invoice_status(invoice) == InvoiceStatus.OPEN


def test_back_from_checkout_before_the_webhook_stripe_is_asked(
    stripe_api: ReplayClient, alice_client: Client, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice()
    payment = started(stripe_api, alice, [invoice])
    stripe_api.expect("get", f"/v1/checkout/sessions/{SESSION}", "checkout_session_payment")
    assert payment_refresh(payment=payment, as_of=DAY).status == PaymentStatus.INITIATED
    stripe_api.expect(
        "get", f"/v1/checkout/sessions/{SESSION}", "checkout_session_payment_complete", client_reference_id="x"
    )
    page = alice_client.get(reverse("portal:payment", args=[payment.public_id]))
    assert page.status_code == 200
    assert invoice_status(invoice) == InvoiceStatus.PAID
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


# --- Saving a card ----------------------------------------------------------------------------


def save_card(stripe_api: ReplayClient, alice_client: Client, alice: Membership, *, first: bool) -> Any:
    if first:
        stripe_api.expect(
            "post",
            "/v1/customers",
            "customer",
            params={"metadata[sportello_account]": alice.account.reference},
        )
    else:
        stripe_api.expect("get", f"/v1/payment_methods/{CARD}", "payment_method_card")
    stripe_api.expect(
        "post",
        "/v1/checkout/sessions",
        "checkout_session_setup",
        params={
            "mode": "setup",
            "customer": CUSTOMER,
            "currency": "eur",
            "client_reference_id": f"setup:{alice.account.reference}",
            "setup_intent_data[metadata][sportello_setup]": f"setup:{alice.account.reference}",
            "success_url": "http://testserver/billing/methods/",
        },
    )
    return alice_client.post(reverse("portal:payment-method-add"))


def setup_succeeded(alice: Membership, *, token: str = CARD) -> dict[str, Any]:
    return recorded(
        "setup_intent_succeeded", metadata={"sportello_setup": f"setup:{alice.account.reference}"}, payment_method=token
    )


def test_a_card_is_saved_on_stripes_page_and_only_its_token_and_label_are_kept(
    stripe_api: ReplayClient, alice_client: Client, alice: Membership
) -> None:
    page = alice_client.get(reverse("portal:payment-methods")).content.decode()
    assert "cc-number" not in page and 'name="number"' not in page
    response = save_card(stripe_api, alice_client, alice, first=True)
    assert (response.status_code, response["Location"]) == (302, recorded("checkout_session_setup")["url"])
    assert SavedPaymentMethod.objects.count() == 0  # nothing until Stripe says so, signed
    stripe_api.expect("get", f"/v1/payment_methods/{CARD}", "payment_method_card")
    assert deliver("setup_intent.succeeded", setup_succeeded(alice), event_id="evt_setup") == "applied"
    method = SavedPaymentMethod.objects.get()
    assert (method.account, method.gateway, method.token, method.brand, method.last4) == (
        alice.account,
        "stripe",
        CARD,
        "Visa",
        "4242",
    )
    assert (method.exp_month, method.exp_year, method.is_default) == (12, 2030, True)
    # The Checkout Session's own completion in setup mode names no card: nothing more.
    setup_session = recorded("checkout_session_setup", status="complete")
    assert deliver("checkout.session.completed", setup_session, event_id="evt_setup_done") == "ignored"
    assert SavedPaymentMethod.objects.count() == 1
    # A second card goes to the same Stripe customer (found through the first card).
    save_card(stripe_api, alice_client, alice, first=False)


def test_a_setup_webhook_while_stripe_is_unreachable_is_answered_503_and_records_nothing(
    stripe_api: ReplayClient, client: Client, alice: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sportello.payments.views.utc_now", Clock(NOW))
    stripe_api.expect("get", f"/v1/payment_methods/{CARD}", "error_api", status=503)
    event = stripe_event("setup_intent.succeeded", setup_succeeded(alice), event_id="evt_s", at=NOW)
    body, headers = signed(event, at=NOW)
    response = client.post(WEBHOOK, body, content_type="application/json", headers=headers)
    assert response.status_code == 503
    assert (ProcessedWebhook.objects.count(), SavedPaymentMethod.objects.count()) == (0, 0)


def test_a_setup_webhook_for_a_card_since_removed_at_stripe_saves_nothing(
    stripe_api: ReplayClient, alice: Membership
) -> None:
    stripe_api.expect("get", f"/v1/payment_methods/{CARD}", "error_payment_method_missing", status=404)
    assert deliver("setup_intent.succeeded", setup_succeeded(alice), event_id="evt_gone") == "ignored"
    assert SavedPaymentMethod.objects.count() == 0


# --- Auto-pay: off-session charges ------------------------------------------------------------


@pytest.fixture
def saved_card(alice: Membership) -> SavedPaymentMethod:
    payment_preference_set(account=alice.account, apply_credit=False, autopay=True, by=None)
    return SavedPaymentMethod.objects.create(
        account=alice.account,
        gateway="stripe",
        token=CARD,
        brand="Visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
        is_default=True,
    )


def expect_charge(stripe_api: ReplayClient, response: str, *, status: int = 200) -> None:
    stripe_api.expect("get", f"/v1/payment_methods/{CARD}", "payment_method_card")
    stripe_api.expect(
        "post",
        "/v1/payment_intents",
        response,
        status=status,
        params={
            "amount": "12100",
            "currency": "eur",
            "customer": CUSTOMER,
            "payment_method": CARD,
            "off_session": "true",
            "confirm": "true",
            "metadata[sportello_flow]": "off_session",
        },
    )


def charged_once_with_our_key(stripe_api: ReplayClient, payment: Payment) -> bool:
    """The charge carried an idempotency key built from the payment's row: a retried task
    cannot charge twice."""
    charges = [sent for sent in stripe_api.sent if sent.path == "/v1/payment_intents"]
    return [sent.headers.get("idempotency-key") for sent in charges] == [f"payment-{payment.pk}"]


def test_auto_pay_charges_the_saved_card_off_session_once(
    stripe_api: ReplayClient, alice: Membership, make_invoice: Callable[..., Invoice], saved_card: SavedPaymentMethod
) -> None:
    invoice = make_invoice("100.00")
    expect_charge(stripe_api, "payment_intent_succeeded")
    payment = invoice_autopay(invoice_id=invoice.pk, as_of=DAY)
    assert payment is not None
    assert (payment.status, payment.gateway_reference, payment.method_label, payment.saved_method) == (
        PaymentStatus.SUCCEEDED,
        "pi_3QxT8uLkdIwHu7ix1n2Lb5Xc",
        "Visa •••• 4242",
        saved_card,
    )
    assert charged_once_with_our_key(stripe_api, payment)
    assert invoice_status(invoice) == InvoiceStatus.PAID
    settled = money_state()
    # Stripe's webhook for the same charge, and the task run again: nothing more.
    intent = recorded("payment_intent_succeeded")
    intent["metadata"]["sportello_payment"] = str(payment.public_id)
    assert deliver("payment_intent.succeeded", intent) == "ignored"
    assert invoice_autopay(invoice_id=invoice.pk, as_of=DAY) is None
    assert money_state() == settled


@pytest.mark.parametrize(
    ("response", "code", "flagged"),
    [
        ("error_card_declined", "card_declined", True),
        ("error_expired_card", "expired_card", True),
        ("error_authentication_required", "authentication_required", True),
        ("error_insufficient_funds", "insufficient_funds", False),
    ],
)
def test_a_refused_off_session_charge_leaves_the_invoice_open(
    stripe_api: ReplayClient,
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    saved_card: SavedPaymentMethod,
    response: str,
    code: str,
    flagged: bool,
) -> None:
    invoice = make_invoice("100.00")
    expect_charge(stripe_api, response, status=402)
    payment = invoice_autopay(invoice_id=invoice.pk, as_of=DAY)
    assert payment is not None
    assert (payment.status, payment.failure_code, payment.gateway_reference) == (
        PaymentStatus.FAILED,
        code,
        "pi_3QxT9vLkdIwHu7ix0c4Mh7Yd",
    )
    assert charged_once_with_our_key(stripe_api, payment)
    assert invoice_status(invoice) == InvoiceStatus.OPEN
    saved_card.refresh_from_db()
    assert saved_card.failure_code == (code if flagged else "")


def test_a_saved_card_chosen_by_hand_is_charged_with_the_customer_present_and_3d_secure_when_asked(
    stripe_api: ReplayClient,
    alice: Membership,
    alice_client: Client,
    make_invoice: Callable[..., Invoice],
    saved_card: SavedPaymentMethod,
) -> None:
    invoice = make_invoice("100.00")
    intent = recorded("payment_intent_succeeded")
    three_d_secure = "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1&payment_intent=" + intent["id"]
    intent.update(
        status="requires_action",
        amount_received=0,
        next_action={"type": "redirect_to_url", "redirect_to_url": {"url": three_d_secure}},
    )
    stripe_api.expect("get", f"/v1/payment_methods/{CARD}", "payment_method_card")
    stripe_api.expect(
        "post",
        "/v1/payment_intents",
        intent,
        params={
            "amount": "12100",
            "currency": "eur",
            "customer": CUSTOMER,
            "payment_method": CARD,
            "confirm": "true",
            "metadata[sportello_flow]": "on_session",
        },
    )
    url = reverse("portal:invoice-pay", args=[invoice.number])
    response = pay_confirmed(alice_client, url, {"invoices": invoice.number, "method": f"saved-{saved_card.pk}"})
    payment = Payment.objects.get()
    assert response["Location"] == three_d_secure
    assert (payment.status, payment.gateway_reference, payment.next_url) == (
        PaymentStatus.REQUIRES_ACTION,
        intent["id"],
        three_d_secure,
    )
    sent = next(sent for sent in stripe_api.sent if sent.path == "/v1/payment_intents")
    assert "off_session" not in sent.params
    assert sent.params["return_url"] == f"http://testserver{reverse('portal:payment', args=[payment.public_id])}"
    assert charged_once_with_our_key(stripe_api, payment)
    assert invoice_status(invoice) == InvoiceStatus.OPEN
    # Back from the bank: Stripe's notification of the same intent pays the invoice.
    paid = recorded("payment_intent_succeeded")
    paid["metadata"]["sportello_payment"] = str(payment.public_id)
    assert deliver("payment_intent.succeeded", paid) == "applied"
    assert invoice_status(invoice) == InvoiceStatus.PAID


def test_a_card_stripe_no_longer_knows_is_flagged_without_a_charge(
    stripe_api: ReplayClient, alice: Membership, make_invoice: Callable[..., Invoice], saved_card: SavedPaymentMethod
) -> None:
    invoice = make_invoice("100.00")
    stripe_api.expect("get", f"/v1/payment_methods/{CARD}", "error_payment_method_missing", status=404)
    payment = invoice_autopay(invoice_id=invoice.pk, as_of=DAY)
    assert payment is not None
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "no_such_card")
    saved_card.refresh_from_db()
    assert saved_card.failure_code == "no_such_card"
    assert invoice_status(invoice) == InvoiceStatus.OPEN


# --- Refunds ----------------------------------------------------------------------------------


def test_a_refund_of_a_checkout_payment_carries_the_idempotency_key(stripe_api: ReplayClient) -> None:
    stripe_api.expect("get", f"/v1/checkout/sessions/{SESSION}", "checkout_session_payment_complete")
    stripe_api.expect(
        "post",
        "/v1/refunds",
        "refund",
        params={"payment_intent": "pi_3QxR7tLkdIwHu7ix0f4kZ2Jq", "amount": "5000"},
        idempotency_key="refund-17",
    )
    result = StripeGateway().refund(
        gateway_reference=SESSION, amount=Money(Decimal("50.00"), "EUR"), idempotency_key="refund-17"
    )
    assert (result.refund_reference, result.amount) == ("re_3QxR7tLkdIwHu7ix0z1Ek8Pq", Money(Decimal("50.00"), "EUR"))


def test_a_full_refund_of_an_off_session_charge_goes_straight_to_its_payment_intent(
    stripe_api: ReplayClient,
) -> None:
    stripe_api.expect(
        "post",
        "/v1/refunds",
        "refund",
        params={"payment_intent": "pi_3QxT8uLkdIwHu7ix1n2Lb5Xc", "amount": "12100"},
        idempotency_key="refund-18",
        amount=12100,
        payment_intent="pi_3QxT8uLkdIwHu7ix1n2Lb5Xc",
    )
    result = StripeGateway().refund(
        gateway_reference="pi_3QxT8uLkdIwHu7ix1n2Lb5Xc",
        amount=Money(Decimal("121.00"), "EUR"),
        idempotency_key="refund-18",
    )
    assert result.amount == Money(Decimal("121.00"), "EUR")


def test_a_refund_stripe_refuses_is_an_error_that_says_not_to_retry(stripe_api: ReplayClient) -> None:
    error = {
        "error": {
            "code": "charge_already_refunded",
            "message": "Charge ch_3QxR7tLkdIwHu7ix0e9Xm3Hv has already been refunded.",
            "type": "invalid_request_error",
        }
    }
    stripe_api.expect("post", "/v1/refunds", error, status=400, idempotency_key="refund-19")
    with pytest.raises(GatewayError) as refused:
        StripeGateway().refund(
            gateway_reference="pi_3QxR7tLkdIwHu7ix0f4kZ2Jq",
            amount=Money(Decimal("121.00"), "EUR"),
            idempotency_key="refund-19",
        )
    assert (refused.value.reason, refused.value.retryable) == ("charge_already_refunded", False)
