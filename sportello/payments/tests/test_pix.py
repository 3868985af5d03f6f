# ruff: noqa: F811  (fixtures imported from the payments tests are redefined as parameters)
"""PIX: the BR Code of a payment (fields, txid, CRC), the pay and result pages, the PSP's
signed notification (once per endToEndId; forged, unsigned or stale ones refused with
nothing recorded; other amounts and unknown txids left for staff), staff registering a PIX
by hand, and the same notification delivered three times at once on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Seller, Settlement
from sportello.billing.payment_codes import crc16_ccitt
from sportello.billing.selectors import invoice_paid_minor
from sportello.core.models import AuditEvent
from sportello.core.money import Money
from sportello.core.testing import Clock
from sportello.payments.adapters import gateways_available
from sportello.payments.adapters.base import signature_header, webhook_delivery_id
from sportello.payments.adapters.pix import SIGNATURE_HEADER
from sportello.payments.errors import (
    IllegalTransition,
    InvalidAmount,
    MethodUnavailable,
    TransactionIdInvalid,
    WebhookRejected,
    WebhookReplayed,
)
from sportello.payments.models import (
    CreditEntry,
    CreditKind,
    Payment,
    PaymentEvent,
    PaymentStatus,
    ProcessedWebhook,
    ReconciliationItem,
    ReconciliationKind,
)
from sportello.payments.services import payment_begin, payment_create, pix_register, webhook_receive
from sportello.payments.tests.conftest import (  # noqa: F401
    DAY,
    _testcard_on,
    billing_setup,
    issued_invoice,
    pay_confirmed,
    seller,
    tax_rates,
)

pytestmark = pytest.mark.django_db

SECRET = "whsec_pix_test"
PIX_KEY = "7d9f0335-8dcc-4054-9bf9-0dbd61d36906"
NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
E2E = "E00038166202611221000abcdefghij1"
E2E_2 = "E00038166202611221001ZYXWVUTSRQ2"


@pytest.fixture(autouse=True)
def _pix_on(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.PAYMENTS_PIX_WEBHOOK_SECRET = SECRET
    settings.PAYMENTS_PIX_EXPIRY_MINUTES = 60
    monkeypatch.setattr("sportello.payments.adapters.pix.utc_now", Clock(NOW))
    monkeypatch.setattr("sportello.portal.views.payments.utc_now", Clock(NOW))


@pytest.fixture
def pix_seller(seller: Seller) -> Seller:
    Seller.objects.filter(pk=seller.pk).update(pix_key=PIX_KEY, pix_city="Recife")
    seller.refresh_from_db()
    return seller


@pytest.fixture
def brl_invoice(bob: Membership, billing_setup: None, pix_seller: Seller) -> Invoice:
    return issued_invoice(bob.account, "100.00")  # R$ 100.00, no tax (a customer outside the EU)


def pix_payment(membership: Membership, invoices: list[Invoice]) -> Payment:
    plan = payment_create(
        account=membership.account, invoices=invoices, method="pix", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    return payment_begin(payment=plan.payment, return_url="http://testserver/back/")


def notification(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"pix": list(entries)}).encode()


def pix_entry(payment: Payment, *, e2e: str = E2E, valor: str | None = None, txid: str | None = None) -> dict[str, Any]:
    return {
        "endToEndId": e2e,
        "txid": payment.gateway_reference if txid is None else txid,
        "valor": valor or str(Money.from_minor(payment.amount_minor, payment.currency).amount),
        "horario": "2026-11-22T09:59:30.120Z",
        "infoPagador": "Fatura",
    }


def signed(body: bytes, *, at: dt.datetime = NOW, secret: str = SECRET) -> dict[str, str]:
    return {SIGNATURE_HEADER: signature_header(secret=secret, body=body, timestamp=int(at.timestamp()))}


def deliver(body: bytes, headers: dict[str, str], *, now: dt.datetime = NOW) -> str:
    return webhook_receive(gateway="pix", body=body, headers=headers, now=now).outcome


def tlv(text: str) -> dict[str, str]:
    """An EMV payload's top-level fields, read by their lengths (not by guessing)."""
    fields, position = {}, 0
    while position < len(text):
        tag, length = text[position : position + 2], int(text[position + 2 : position + 4])
        fields[tag] = text[position + 4 : position + 4 + length]
        position += 4 + length
    assert position == len(text)
    return fields


def recorded() -> tuple[object, ...]:
    return (
        ProcessedWebhook.objects.count(),
        ReconciliationItem.objects.count(),
        PaymentEvent.objects.count(),
        Settlement.objects.count(),
        CreditEntry.objects.count(),
        list(Payment.objects.values_list("status", flat=True)),
    )


# --- Offering and starting ------------------------------------------------------------------


def test_it_is_offered_for_brl_when_the_seller_has_a_pix_key(settings: Any, pix_seller: Seller) -> None:
    assert "pix" in [gateway.code for gateway in gateways_available(currency="BRL")]
    assert "pix" not in [gateway.code for gateway in gateways_available(currency="EUR")]
    settings.PAYMENTS_PIX_ENABLED = False
    assert "pix" not in [gateway.code for gateway in gateways_available(currency="BRL")]
    settings.PAYMENTS_PIX_ENABLED = True
    Seller.objects.filter(pk=pix_seller.pk).update(pix_key="")
    assert "pix" not in [gateway.code for gateway in gateways_available(currency="BRL")]


def test_starting_gives_a_br_code_with_the_amount_its_txid_and_a_valid_crc(
    bob: Membership, brl_invoice: Invoice
) -> None:
    payment = pix_payment(bob, [brl_invoice])
    txid = payment.gateway_reference
    assert re.fullmatch(r"[A-Z0-9]{25}", txid)
    assert payment.status == PaymentStatus.INITIATED and payment.next_url == "" and payment.method_label == "PIX"
    instructions = payment.instructions
    assert {key: value for key, value in instructions.items() if key != "code"} == {
        "beneficiary": "Sportello Hosting S.L.",
        "key": PIX_KEY,
        "txid": txid,
        "amount": "100.00",
        "currency": "BRL",
        "expires_at": "2026-11-22T11:00:00+00:00",
        "documents": [brl_invoice.number],
    }
    code = instructions["code"]
    fields = tlv(code)
    assert list(fields) == ["00", "26", "52", "53", "54", "58", "59", "60", "62", "63"]
    assert fields["00"] == "01"
    assert tlv(fields["26"]) == {"00": "br.gov.bcb.pix", "01": PIX_KEY}
    assert (fields["52"], fields["53"], fields["54"], fields["58"]) == ("0000", "986", "100.00", "BR")
    assert (fields["59"], fields["60"]) == ("Sportello Hosting S.L.", "Recife")
    assert tlv(fields["62"]) == {"05": txid}
    assert fields["63"] == f"{crc16_ccitt(code[:-4].encode()):04X}"
    assert code[:-4].endswith("6304")
    # Every payment has a txid of its own.
    second = pix_payment(bob, [issued_invoice(bob.account, "10.00")])
    assert second.gateway_reference != txid


def test_it_cannot_be_used_for_a_eur_invoice(alice: Membership, billing_setup: None) -> None:
    invoice = issued_invoice(alice.account, "100.00")
    with pytest.raises(MethodUnavailable):
        payment_create(account=alice.account, invoices=[invoice], method="pix", use_credit=False, by=None, as_of=DAY)
    assert Payment.objects.count() == 0


# --- The client area ------------------------------------------------------------------------


def test_the_pay_page_offers_pix_and_shows_the_code_and_its_qr(
    client: Client, bob: Membership, brl_invoice: Invoice
) -> None:
    client.force_login(bob.user)
    url = reverse("portal:invoice-pay", args=[brl_invoice.number])
    page = client.get(url).content.decode()
    assert 'value="pix"' in page and "Instantly, at any hour" in page
    response = pay_confirmed(client, url, {"invoices": brl_invoice.number, "method": "pix"})
    payment = Payment.objects.get()
    assert response["Location"] == reverse("portal:payment", args=[payment.public_id])
    result = client.get(response["Location"]).content.decode()
    assert "Pay with PIX" in result
    assert f">{payment.instructions['code']}</textarea>" in result.replace("&amp;", "&")
    assert payment.gateway_reference in result and "R$" in result and "100.00" in result
    assert 'src="data:image/svg+xml' in result and 'data-copy="pix-code"' in result
    assert "22 Nov 2026, 12:00:00" in result  # the time to pay by (11:00 UTC), in the account's zone


def test_the_pay_page_of_a_eur_invoice_offers_no_pix(
    alice_client: Client, billing_setup: None, alice: Membership
) -> None:
    invoice = issued_invoice(alice.account, "100.00")
    url = reverse("portal:invoice-pay", args=[invoice.number])
    assert 'value="pix"' not in alice_client.get(url).content.decode()
    response = alice_client.post(url, {"invoices": invoice.number, "method": "pix"})
    assert response.status_code == 400
    assert Payment.objects.count() == 0


def test_an_expired_code_is_no_longer_shown(
    client: Client, bob: Membership, brl_invoice: Invoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment = pix_payment(bob, [brl_invoice])
    client.force_login(bob.user)
    url = reverse("portal:payment", args=[payment.public_id])
    monkeypatch.setattr("sportello.portal.views.payments.utc_now", Clock(NOW + dt.timedelta(minutes=59)))
    assert payment.instructions["code"] in client.get(url).content.decode().replace("&amp;", "&")
    monkeypatch.setattr("sportello.portal.views.payments.utc_now", Clock(NOW + dt.timedelta(minutes=60)))
    page = client.get(url).content.decode()
    assert payment.gateway_reference not in page and "The time to pay this PIX code is over" in page


def test_the_hourly_job_gives_up_on_an_expired_code_and_a_late_pix_still_pays(
    client: Client, bob: Membership, brl_invoice: Invoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sportello.payments.services import payments_pending_refresh

    payment = pix_payment(bob, [brl_invoice])
    Payment.objects.filter(pk=payment.pk).update(created_at=NOW)
    # Within its time (60 minutes here) the code waits, however often the job runs.
    assert payments_pending_refresh(now=NOW + dt.timedelta(minutes=59)) == {
        "asked": 0,
        "settled": 0,
        "abandoned": 0,
        "expired": 0,
    }
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.INITIATED
    assert payments_pending_refresh(now=NOW + dt.timedelta(minutes=60))["expired"] == 1
    assert payments_pending_refresh(now=NOW + dt.timedelta(minutes=61))["expired"] == 0
    payment.refresh_from_db()
    brl_invoice.refresh_from_db()
    assert (payment.status, payment.failure_code, brl_invoice.status) == ("failed", "pix_expired", InvoiceStatus.OPEN)
    assert list(PaymentEvent.objects.filter(payment=payment).values_list("kind", "source")) == [
        ("initiated", "portal"),
        ("failed", "gateway"),
    ]
    client.force_login(bob.user)
    monkeypatch.setattr("sportello.portal.views.payments.utc_now", Clock(NOW + dt.timedelta(minutes=61)))
    page = client.get(reverse("portal:payment", args=[payment.public_id])).content.decode()
    assert "The time to pay this PIX code ran out before the payment reached us." in page
    # The customer paid at the last minute: the PSP's notification still settles the invoice.
    body = notification(pix_entry(payment))
    later = NOW + dt.timedelta(minutes=62)
    assert deliver(body, signed(body, at=later), now=later) == "applied"
    payment.refresh_from_db()
    brl_invoice.refresh_from_db()
    assert (payment.status, brl_invoice.status) == ("succeeded", InvoiceStatus.PAID)


def test_another_account_cannot_see_the_code(alice_client: Client, bob: Membership, brl_invoice: Invoice) -> None:
    payment = pix_payment(bob, [brl_invoice])
    assert alice_client.get(reverse("portal:payment", args=[payment.public_id])).status_code == 404


# --- The PSP's notification -----------------------------------------------------------------


def test_a_signed_notification_settles_the_invoice_once(client: Client, bob: Membership, brl_invoice: Invoice) -> None:
    payment = pix_payment(bob, [brl_invoice])
    body = notification(pix_entry(payment))
    assert deliver(body, signed(body)) == "applied"
    payment.refresh_from_db()
    brl_invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and brl_invoice.status == InvoiceStatus.PAID
    assert invoice_paid_minor(invoice=brl_invoice) == 10000
    event = PaymentEvent.objects.get(payment=payment, kind="succeeded")
    assert (event.source, event.gateway_event_id, event.amount_minor) == ("webhook", E2E, 10000)
    webhook = ProcessedWebhook.objects.get()
    assert (webhook.gateway, webhook.event_id, webhook.outcome, webhook.payment_id) == (
        "pix",
        E2E,
        "applied",
        payment.pk,
    )
    before = recorded()
    # The PSP sends it again, re-signed later: acknowledged, nothing more.
    assert (
        deliver(body, signed(body, at=NOW + dt.timedelta(minutes=3)), now=NOW + dt.timedelta(minutes=3)) == "duplicate"
    )
    # The first delivery replayed within the tolerance: refused.
    with pytest.raises(WebhookReplayed):
        deliver(body, signed(body), now=NOW + dt.timedelta(minutes=4))
    url = reverse("payments:webhook", args=["pix"])
    headers = signed(body, at=dt.datetime.now(tz=dt.UTC))
    response = client.post(url, body, content_type="application/json", headers=headers)
    assert (response.status_code, response.json()) == (200, {"outcome": "duplicate"})
    assert recorded() == before
    assert Payment.objects.count() == 1


def test_a_replayed_notification_of_several_pix_is_refused_whole(bob: Membership, brl_invoice: Invoice) -> None:
    other = issued_invoice(bob.account, "10.00")
    first, second = pix_payment(bob, [brl_invoice]), pix_payment(bob, [other])
    body = notification(pix_entry(first), pix_entry(second, e2e=E2E_2))
    headers = signed(body)
    assert deliver(body, headers) == "applied"
    assert sorted(ProcessedWebhook.objects.values_list("event_id", "delivery")) == [
        (E2E, webhook_delivery_id(signature=headers[SIGNATURE_HEADER], position=0)),
        (E2E_2, webhook_delivery_id(signature=headers[SIGNATURE_HEADER], position=1)),
    ]
    before = recorded()
    with pytest.raises(WebhookReplayed):
        deliver(body, headers, now=NOW + dt.timedelta(minutes=2))
    assert deliver(body, signed(body, at=NOW + dt.timedelta(minutes=2)), now=NOW + dt.timedelta(minutes=2)) == (
        "duplicate"
    )
    assert recorded() == before


def test_the_endpoint_settles_through_http(client: Client, bob: Membership, brl_invoice: Invoice) -> None:
    payment = pix_payment(bob, [brl_invoice])
    body = notification(pix_entry(payment))
    response = client.post(
        reverse("payments:webhook", args=["pix"]),
        body,
        content_type="application/json",
        headers=signed(body, at=dt.datetime.now(tz=dt.UTC)),
    )
    assert (response.status_code, response.json()) == (200, {"outcome": "applied"})
    brl_invoice.refresh_from_db()
    assert brl_invoice.status == InvoiceStatus.PAID


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "unsigned"),
        ({SIGNATURE_HEADER: "v1=deadbeef"}, "unsigned"),
        ("forged", "bad_signature"),
        ("stale", "stale"),
        ("future", "stale"),
        ("tampered", "bad_signature"),
    ],
)
def test_forged_unsigned_or_stale_notifications_are_refused_and_nothing_is_recorded(
    client: Client, bob: Membership, brl_invoice: Invoice, headers: Any, reason: str
) -> None:
    payment = pix_payment(bob, [brl_invoice])
    body = notification(pix_entry(payment))
    now = dt.datetime.now(tz=dt.UTC)
    sent = body
    if headers == "forged":
        headers = signed(body, at=now, secret="not-the-secret")
    elif headers == "stale":
        headers = signed(body, at=now - dt.timedelta(seconds=301))
    elif headers == "future":
        headers = signed(body, at=now + dt.timedelta(seconds=301))
    elif headers == "tampered":
        headers = signed(body, at=now)
        sent = notification(pix_entry(payment, valor="1.00"))
    before = recorded()
    response = client.post(
        reverse("payments:webhook", args=["pix"]), sent, content_type="application/json", headers=headers
    )
    assert (response.status_code, response.json()) == (400, {"error": reason})
    assert recorded() == before
    brl_invoice.refresh_from_db()
    assert brl_invoice.status == InvoiceStatus.OPEN


def test_a_notification_older_than_five_minutes_is_refused_at_the_edge(bob: Membership, brl_invoice: Invoice) -> None:
    payment = pix_payment(bob, [brl_invoice])
    body = notification(pix_entry(payment))
    assert deliver(body, signed(body), now=NOW + dt.timedelta(seconds=300)) == "applied"
    body = notification(pix_entry(payment, e2e=E2E_2))
    before = recorded()
    with pytest.raises(WebhookRejected, match="stale"):
        deliver(body, signed(body), now=NOW + dt.timedelta(seconds=301))
    assert recorded() == before


def test_without_a_secret_no_notification_is_accepted(settings: Any, bob: Membership, brl_invoice: Invoice) -> None:
    payment = pix_payment(bob, [brl_invoice])
    settings.PAYMENTS_PIX_WEBHOOK_SECRET = ""
    body = notification(pix_entry(payment))
    before = recorded()
    with pytest.raises(WebhookRejected, match="no_secret"):
        deliver(body, signed(body, secret=""))
    assert recorded() == before


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"pix": []}',
        b'{"cob": {}}',
        b'{"pix": [{"txid": "X", "valor": "1.00"}]}',
        b'{"pix": [{"endToEndId": "E1", "txid": "X", "valor": "1.00"}]}',
        b'{"pix": [{"endToEndId": "E00038166202611221000abcdefghij1", "txid": "X", "valor": "1.001"}]}',
        b'{"pix": [{"endToEndId": "E00038166202611221000abcdefghij1", "txid": "X", "valor": "-5.00"}]}',
        b'{"pix": [{"endToEndId": "E00038166202611221000abcdefghij1", "txid": "X", "valor": "NaN"}]}',
        b'{"pix": [{"endToEndId": "E00038166202611221000abcdefghij1", "txid": "X", "valor": "1e20"}]}',
        b'{"pix": [{"endToEndId": "E00038166202611221000abcdefghij1", "txid": 5, "valor": "1.00"}]}',
    ],
)
def test_signed_but_unreadable_notifications_are_refused(bob: Membership, brl_invoice: Invoice, body: bytes) -> None:
    pix_payment(bob, [brl_invoice])
    before = recorded()
    with pytest.raises(WebhookRejected, match="malformed"):
        deliver(body, signed(body))
    assert recorded() == before


def test_another_amount_is_left_for_staff_and_settles_nothing(bob: Membership, brl_invoice: Invoice) -> None:
    payment = pix_payment(bob, [brl_invoice])
    body = notification(pix_entry(payment, valor="99.99"))
    assert deliver(body, signed(body)) == "flagged"
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.gateway, item.payment_id, item.reference, item.amount_minor, item.currency) == (
        ReconciliationKind.AMOUNT_MISMATCH,
        "pix",
        payment.pk,
        payment.gateway_reference,
        9999,
        "BRL",
    )
    assert item.details == {"expected_minor": 10000}
    payment.refresh_from_db()
    brl_invoice.refresh_from_db()
    assert (payment.status, brl_invoice.status, Settlement.objects.count()) == ("initiated", "open", 0)
    assert ProcessedWebhook.objects.get().outcome == "flagged"


@pytest.mark.parametrize("txid", ["NOSUCHTXID0000000000000000", "", "INV202600001"])
def test_an_unknown_txid_is_recorded_for_reconciliation(bob: Membership, brl_invoice: Invoice, txid: str) -> None:
    payment = pix_payment(bob, [brl_invoice])
    entry = pix_entry(payment, txid=txid)
    if not txid:
        del entry["txid"]  # a PIX to the bare key, or a code without a txid
    body = notification(entry)
    assert deliver(body, signed(body)) == "unknown_payment"
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.payment_id, item.reference, item.amount_minor) == (
        ReconciliationKind.UNKNOWN_PAYMENT,
        None,
        txid or "***",
        10000,
    )
    assert (Settlement.objects.count(), Payment.objects.get().status) == (0, "initiated")


def test_one_notification_may_report_several_pix(bob: Membership, brl_invoice: Invoice) -> None:
    other = issued_invoice(bob.account, "10.00")
    first, second = pix_payment(bob, [brl_invoice]), pix_payment(bob, [other])
    body = notification(pix_entry(first), pix_entry(second, e2e=E2E_2), pix_entry(second, e2e=E2E_2))
    assert deliver(body, signed(body)) == "applied,duplicate"
    assert set(Invoice.objects.values_list("status", flat=True)) == {InvoiceStatus.PAID}
    assert sorted(ProcessedWebhook.objects.values_list("event_id", flat=True)) == [E2E, E2E_2]
    assert PaymentEvent.objects.filter(kind="succeeded").count() == 2


# --- Staff ----------------------------------------------------------------------------------


def brl(amount: str) -> Money:
    return Money(amount, "BRL")  # type: ignore[arg-type]


def test_staff_register_a_pix_once(admin_user: Any, bob: Membership, brl_invoice: Invoice) -> None:
    payment = pix_payment(bob, [brl_invoice])
    pix_register(
        payment=payment, end_to_end_id=f" {E2E} ", amount=brl("100.00"), received_on=DAY, by=admin_user, note="extrato"
    )
    payment.refresh_from_db()
    brl_invoice.refresh_from_db()
    assert (payment.status, brl_invoice.status, str(brl_invoice.paid_date)) == ("succeeded", "paid", str(DAY))
    event = PaymentEvent.objects.get(kind="succeeded")
    assert (event.source, event.gateway_event_id, event.actor, event.data) == (
        "staff",
        E2E,
        admin_user,
        {"end_to_end_id": E2E, "note": "extrato"},
    )
    assert AuditEvent.objects.filter(action="payment.pix_registered").count() == 1
    before = recorded()
    # Twice: refused, whether with the same endToEndId or another one.
    with pytest.raises(TransactionIdInvalid) as refused:
        pix_register(payment=payment, end_to_end_id=E2E, amount=brl("100.00"), received_on=DAY, by=admin_user)
    assert refused.value.reason == "in_use"
    with pytest.raises(IllegalTransition):
        pix_register(payment=payment, end_to_end_id=E2E_2, amount=brl("100.00"), received_on=DAY, by=admin_user)
    # The PSP's notification of the same PIX, arriving late: a duplicate.
    body = notification(pix_entry(payment))
    assert deliver(body, signed(body)) == "duplicate"
    assert recorded() == before


def test_staff_registration_refusals_change_nothing(
    admin_user: Any, alice: Membership, bob: Membership, brl_invoice: Invoice
) -> None:
    payment = pix_payment(bob, [brl_invoice])
    done = pix_payment(bob, [issued_invoice(bob.account, "10.00")])
    pix_register(payment=done, end_to_end_id=E2E, amount=brl("10.00"), received_on=DAY, by=admin_user)
    transfer = payment_create(
        account=alice.account,
        invoices=[issued_invoice(alice.account, "10.00")],
        method="bank_transfer",
        use_credit=False,
        by=None,
        as_of=DAY,
    ).payment
    assert transfer is not None
    before = recorded()
    attempts: list[tuple[dict[str, Any], type[Exception]]] = [
        ({"end_to_end_id": "E123"}, TransactionIdInvalid),
        ({"end_to_end_id": E2E}, TransactionIdInvalid),  # already paid another payment
        ({"amount": Money("100.00", "EUR")}, InvalidAmount),  # type: ignore[arg-type]
        ({"amount": brl("0.00")}, InvalidAmount),
        ({"payment": transfer}, MethodUnavailable),
    ]
    for change, error in attempts:
        arguments: dict[str, Any] = {
            "payment": payment,
            "end_to_end_id": E2E_2,
            "amount": brl("100.00"),
            "received_on": DAY,
            "by": admin_user,
        }
        with pytest.raises(error):
            pix_register(**{**arguments, **change})
        assert recorded() == before, change


def test_staff_apply_a_pix_that_came_with_another_amount(
    admin_user: Any, bob: Membership, brl_invoice: Invoice
) -> None:
    payment = pix_payment(bob, [brl_invoice])
    body = notification(pix_entry(payment, valor="120.00"))
    assert deliver(body, signed(body)) == "flagged"
    # Staff accept what arrived: the invoice is paid and the excess becomes credit.
    pix_register(payment=payment, end_to_end_id=E2E, amount=brl("120.00"), received_on=DAY, by=admin_user)
    brl_invoice.refresh_from_db()
    assert brl_invoice.status == InvoiceStatus.PAID
    assert list(CreditEntry.objects.values_list("kind", "amount_minor")) == [(CreditKind.OVERPAYMENT, 2000)]
    webhook = ProcessedWebhook.objects.get()
    assert (webhook.outcome, webhook.payment_id) == ("applied", payment.pk)
    with pytest.raises(TransactionIdInvalid):
        pix_register(payment=payment, end_to_end_id=E2E, amount=brl("120.00"), received_on=DAY, by=admin_user)


def test_staff_register_a_pix_in_the_back_office(admin_client: Client, bob: Membership, brl_invoice: Invoice) -> None:
    payment = pix_payment(bob, [brl_invoice])
    changelist = reverse("admin:payments_payment_changelist")
    assert payment.gateway_reference in admin_client.get(changelist + "?pix=awaiting").content.decode()
    response = admin_client.post(
        changelist,
        {"action": "register_pix", "_selected_action": [payment.pk], "end_to_end_id": "nope"},
        follow=True,
    )
    assert "type the PIX endToEndId" in response.content.decode()
    assert Payment.objects.get().status == PaymentStatus.INITIATED
    response = admin_client.post(
        changelist,
        {
            "action": "register_pix",
            "_selected_action": [payment.pk],
            "end_to_end_id": E2E,
            "amount": "",
            "received_on": "2026-11-24",
        },
        follow=True,
    )
    assert f"PIX {payment.gateway_reference} registered." in response.content.decode()
    brl_invoice.refresh_from_db()
    assert (brl_invoice.status, str(brl_invoice.paid_date)) == (InvoiceStatus.PAID, "2026-11-24")
    assert admin_client.get(changelist + "?pix=awaiting").context["cl"].result_count == 0
    response = admin_client.post(
        changelist, {"action": "register_pix", "_selected_action": [payment.pk], "end_to_end_id": E2E}, follow=True
    )
    assert "this endToEndId is already registered" in response.content.decode()
    assert PaymentEvent.objects.filter(kind="succeeded").count() == 1


# --- Races ----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_notification_delivered_three_times_at_once_pays_once(
    on_postgresql: None, bob: Membership, billing_setup: None, pix_seller: Seller
) -> None:
    from sportello.payments.tests.test_concurrency import race

    invoice = issued_invoice(bob.account, "100.00")
    payment = pix_payment(bob, [invoice])
    body = notification(pix_entry(payment))
    headers = signed(body)

    def send() -> None:
        deliver(body, headers)

    # One acts; the same signed request racing it is a replay, refused.
    assert race(send, send, send) == [WebhookReplayed.__name__, WebhookReplayed.__name__, "ok"]
    assert ProcessedWebhook.objects.filter(gateway="pix", event_id=E2E).count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert list(Settlement.objects.values_list("amount_minor", flat=True)) == [10000]
    assert (Invoice.objects.get().status, Payment.objects.get().status) == (InvoiceStatus.PAID, "succeeded")
    assert CreditEntry.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_staff_and_the_notification_at_once_pay_once(
    on_postgresql: None, bob: Membership, billing_setup: None, pix_seller: Seller, admin_user: Any
) -> None:
    from sportello.payments.tests.test_concurrency import race

    invoice = issued_invoice(bob.account, "100.00")
    payment = pix_payment(bob, [invoice])
    body = notification(pix_entry(payment))
    headers = signed(body)
    outcomes = race(
        lambda: deliver(body, headers),
        lambda: pix_register(payment=payment, end_to_end_id=E2E, amount=brl("100.00"), received_on=DAY, by=admin_user),
    )
    assert outcomes in (["ok", "ok"], [TransactionIdInvalid.__name__, "ok"])
    assert ProcessedWebhook.objects.filter(gateway="pix", event_id=E2E).count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert list(Settlement.objects.values_list("amount_minor", flat=True)) == [10000]


# --- The demo -------------------------------------------------------------------------------


def test_the_brazilian_demo_customer_can_pay_an_open_invoice_with_pix(demo_data: None) -> None:
    """With the demo's own seller, whose PIX key is part of the demo data."""
    from sportello.demo.data import BRUNO
    from sportello.payments.selectors import invoices_payable_by

    owner = Membership.objects.filter(account__name=BRUNO, role="owner").select_related("account").first()
    assert owner is not None and owner.account.currency == "BRL"
    payable = invoices_payable_by(membership=owner)
    assert payable and "pix" in [gateway.code for gateway in gateways_available(currency="BRL")]
    payment = pix_payment(owner, payable[:1])
    assert payment.instructions["key"] == "7d9f0335-8dcc-4054-9bf9-0dbd61d36906"
    assert payment.instructions["code"].startswith("000201")
