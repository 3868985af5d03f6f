"""The simulated card processor's hosted pages, its signed notifications over HTTP, and the
card number that must never be kept or logged."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Settlement
from sportello.core.time import utc_now
from sportello.payments.models import Payment, PaymentEvent, PaymentStatus, ProcessedWebhook, TestcardCheckout
from sportello.payments.services import payment_begin, payment_create
from sportello.payments.tests.conftest import DAY
from sportello.payments.tests.test_payments import event, signed

pytestmark = pytest.mark.django_db
RETURN = "http://testserver/billing/payments/back/"


def started(alice: Membership, invoice: Invoice) -> Payment:
    plan = payment_create(
        account=alice.account, invoices=[invoice], method="testcard", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    return payment_begin(payment=plan.payment, return_url=RETURN)


def pay(client: Client, payment: Payment, number: str, *, expiry: str = "12/34", capture: Any) -> Any:
    with capture(execute=True):
        return client.post(
            reverse("payments:testcard-checkout", args=[payment.gateway_reference]),
            {"number": number, "expiry": expiry, "cvc": "123", "name": "Alice Example"},
        )


def every_stored_value() -> str:
    """Every row of every table, as text: to prove a value is stored nowhere."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            dump.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(dump)


def test_the_hosted_page_shows_what_is_paid(
    client: Client, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice()
    payment = started(alice, invoice)
    page = client.get(reverse("payments:testcard-checkout", args=[payment.gateway_reference]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "€121.00" in text and invoice.number in text
    assert 'autocomplete="cc-number"' in text


def test_the_hosted_page_is_not_there_unless_enabled(
    client: Client, alice: Membership, make_invoice: Callable[..., Invoice], settings: Any
) -> None:
    payment = started(alice, make_invoice())
    settings.PAYMENTS_TESTCARD_ENABLED = False
    settings.SPORTELLO_DEMO = False
    assert client.get(reverse("payments:testcard-checkout", args=[payment.gateway_reference])).status_code == 404
    assert client.get(reverse("payments:testcard-checkout", args=["no-such-session"])).status_code == 404


def test_a_good_card_pays_through_the_signed_notification(
    client: Client, alice: Membership, make_invoice: Callable[..., Invoice], django_capture_on_commit_callbacks: Any
) -> None:
    invoice = make_invoice()
    payment = started(alice, invoice)
    response = pay(client, payment, "4242 4242 4242 4242", capture=django_capture_on_commit_callbacks)
    assert (response.status_code, response["Location"]) == (302, RETURN)
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, payment.method_label, invoice.status) == (
        PaymentStatus.SUCCEEDED,
        "Visa •••• 4242",
        InvoiceStatus.PAID,
    )
    webhook = ProcessedWebhook.objects.get()
    assert (webhook.gateway, webhook.outcome, webhook.payment_id) == ("testcard", "applied", payment.pk)
    checkout = TestcardCheckout.objects.get()
    assert (checkout.card_last4, checkout.card_token.startswith("tok_")) == ("4242", True)


@pytest.mark.parametrize(
    ("number", "expiry", "code"),
    [
        ("4000000000000002", "12/34", "card_declined"),
        ("4000000000009995", "12/34", "insufficient_funds"),
        ("4000000000000069", "12/34", "expired_card"),
        ("4242424242424242", "01/20", "expired_card"),
        ("4111111111111111", "12/34", "card_declined"),
    ],
)
def test_refused_cards_fail_the_payment_and_pay_nothing(
    client: Client,
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    django_capture_on_commit_callbacks: Any,
    number: str,
    expiry: str,
    code: str,
) -> None:
    invoice = make_invoice()
    payment = started(alice, invoice)
    response = pay(client, payment, number, expiry=expiry, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 302
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, payment.failure_code, invoice.status) == (PaymentStatus.FAILED, code, InvoiceStatus.OPEN)
    assert Settlement.objects.count() == 0


@pytest.mark.parametrize(
    ("decision", "status"), [("approve", PaymentStatus.SUCCEEDED), ("refuse", PaymentStatus.FAILED)]
)
def test_a_card_that_needs_authentication_waits_for_the_extra_step(
    client: Client,
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    django_capture_on_commit_callbacks: Any,
    decision: str,
    status: str,
) -> None:
    invoice = make_invoice()
    payment = started(alice, invoice)
    response = pay(client, payment, "4000002500003155", capture=django_capture_on_commit_callbacks)
    step = reverse("payments:testcard-authenticate", args=[payment.gateway_reference])
    assert response["Location"] == step
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert "ending in 3155" in client.get(step).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(step, {"decision": decision})
    assert response["Location"] == RETURN
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == status
    assert invoice.status == (InvoiceStatus.PAID if decision == "approve" else InvoiceStatus.OPEN)


def test_a_mistyped_number_is_refused_on_the_page_and_not_written_back(
    client: Client, alice: Membership, make_invoice: Callable[..., Invoice], django_capture_on_commit_callbacks: Any
) -> None:
    payment = started(alice, make_invoice())
    response = pay(client, payment, "4242424242424241", capture=django_capture_on_commit_callbacks)
    assert response.status_code == 400
    text = response.content.decode()
    assert "This card number is not valid" in text
    assert "4242424242424241" not in text
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.INITIATED
    assert TestcardCheckout.objects.get().card_last4 == ""


def test_the_card_number_is_neither_stored_nor_logged(
    client: Client,
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for number in ("4242424242424242", "4000000000000002", "4242424242424241"):
        payment = started(alice, make_invoice())
        pay(client, payment, number, capture=django_capture_on_commit_callbacks)
    logged = caplog.text + "\n".join(repr(record.__dict__) for record in caplog.records)
    assert "testcard notification" in logged, "the capture saw the processor's own log lines"
    stored = every_stored_value()
    for number in ("4242424242424242", "4000000000000002", "4242424242424241"):
        assert number not in logged
        assert number not in stored
    assert "4242" in stored, "the last four digits are kept"


def test_the_webhook_endpoint_answers_4xx_to_forgeries_and_200_to_the_gateway(
    client: Client, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    payment = started(alice, make_invoice())
    url = reverse("payments:webhook", args=["testcard"])
    # Signed now, as the gateway would: the endpoint reads the real clock.
    body, headers = signed(event(payment), at=utc_now(), secret="forged")
    response = client.post(url, body, content_type="application/json", headers=headers)
    assert (response.status_code, response.json()) == (400, {"error": "bad_signature"})
    assert client.post(url, body, content_type="application/json").status_code == 400
    assert ProcessedWebhook.objects.count() == 0
    sent_at = utc_now()
    body, headers = signed(event(payment), at=sent_at)
    response = client.post(url, body, content_type="application/json", headers=headers)
    assert (response.status_code, response.json()) == (200, {"outcome": "applied"})
    recorded = list(ProcessedWebhook.objects.values_list("event_id", "delivery", "outcome"))
    settled = list(Settlement.objects.values_list("invoice_id", "amount_minor", "reference"))
    # The very same signed request again (captured and replayed): refused, nothing recorded.
    response = client.post(url, body, content_type="application/json", headers=headers)
    assert (response.status_code, response.json()) == (409, {"error": "replayed"})
    # The processor sending the event again signs it anew: acknowledged, so that it stops.
    # (A second before the first, as a whole second: the signatures' timestamps differ whatever the clock did.)
    body, headers = signed(event(payment), at=sent_at - dt.timedelta(seconds=1))
    response = client.post(url, body, content_type="application/json", headers=headers)
    assert (response.status_code, response.json()) == (200, {"outcome": "duplicate"})
    assert list(ProcessedWebhook.objects.values_list("event_id", "delivery", "outcome")) == recorded
    assert list(Settlement.objects.values_list("invoice_id", "amount_minor", "reference")) == settled
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert (
        client.post(reverse("payments:webhook", args=["nosuch"]), body, content_type="application/json").status_code
        == 404
    )
    assert client.get(url).status_code == 405
