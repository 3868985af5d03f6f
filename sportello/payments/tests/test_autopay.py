"""New invoices paid from credit when issued; cards saved on the processor's page; auto-pay
charging the default card off-session, once per invoice and day; refused cards flagged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Settlement
from sportello.billing.selectors import invoice_paid_minor
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.payments.errors import MethodUnavailable
from sportello.payments.models import Payment, PaymentStatus, SavedPaymentMethod, TestcardCard
from sportello.payments.selectors import credit_balance
from sportello.payments.services import (
    credit_adjust,
    funds_invoice_create,
    invoice_autopay,
    method_remove,
    method_set_default,
    method_setup_begin,
    payment_preference_set,
)
from sportello.payments.tests.conftest import DAY

pytestmark = pytest.mark.django_db
TODAY = utc_now().date()


def eur(amount: str) -> Money:
    return Money(amount, "EUR")  # type: ignore[arg-type]


def save_card(client: Client, alice: Membership, number: str, capture: Any, *, expiry: str = "12/39") -> Any:
    page = method_setup_begin(
        account=alice.account, gateway="testcard", return_url="http://testserver/billing/methods/"
    )
    assert "/testcard/pay/" in page
    with capture(execute=True):
        return client.post(page, {"number": number, "expiry": expiry, "cvc": "123", "name": "Alice"})


def test_a_new_invoice_is_paid_from_credit_when_issued(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    credit_adjust(account=alice.account, amount=eur("50.00"), note="prepaid", by=None)
    first = make_invoice("10.00")  # 12.10: paid in full
    second = make_invoice("100.00")  # 121.00: 37.90 left of the credit
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, invoice_paid_minor(invoice=first)) == (InvoiceStatus.PAID, 1210)
    assert (second.status, invoice_paid_minor(invoice=second)) == (InvoiceStatus.PARTIALLY_PAID, 3790)
    assert credit_balance(account=alice.account, currency="EUR") == eur("0.00")
    payment_preference_set(account=alice.account, apply_credit=False, autopay=False, by=None)
    credit_adjust(account=alice.account, amount=eur("50.00"), note="prepaid", by=None)
    third = make_invoice("10.00")
    assert invoice_paid_minor(invoice=third) == 0


def test_a_funds_invoice_is_never_paid_from_credit(alice: Membership, billing_setup: None) -> None:
    credit_adjust(account=alice.account, amount=eur("50.00"), note="prepaid", by=None)
    funds = funds_invoice_create(account=alice.account, amount=eur("20.00"), as_of=DAY, by=None)
    assert (funds.status, Settlement.objects.count()) == (InvoiceStatus.OPEN, 0)


def test_cards_are_saved_on_the_processors_page_and_the_first_is_the_default(
    client: Client, alice: Membership, billing_setup: None, django_capture_on_commit_callbacks: Any
) -> None:
    response = save_card(client, alice, "4242424242424242", django_capture_on_commit_callbacks)
    assert response["Location"] == "http://testserver/billing/methods/"
    save_card(client, alice, "5555555555554444", django_capture_on_commit_callbacks)
    methods = list(SavedPaymentMethod.objects.order_by("id").values_list("brand", "last4", "is_default", "exp_year"))
    assert methods == [("Visa", "4242", True, 2039), ("Mastercard", "4444", False, 2039)]
    assert all(m.token.startswith("card_") for m in SavedPaymentMethod.objects.all())
    visa, mastercard = SavedPaymentMethod.objects.order_by("id")
    method_set_default(account=alice.account, method=mastercard, by=alice.user)
    assert list(SavedPaymentMethod.objects.order_by("id").values_list("is_default", flat=True)) == [False, True]
    method_remove(account=alice.account, method=mastercard, by=alice.user, as_of=TODAY)
    visa.refresh_from_db()
    assert visa.is_default is True
    with pytest.raises(MethodUnavailable):
        method_set_default(account=alice.account, method=mastercard, by=alice.user)


@pytest.mark.parametrize(
    ("number", "expiry", "message"),
    [("4000000000000002", "12/39", "was declined"), ("4242424242424242", "01/20", "has expired")],
)
def test_a_card_the_processor_refuses_is_not_saved(
    client: Client,
    alice: Membership,
    billing_setup: None,
    django_capture_on_commit_callbacks: Any,
    number: str,
    expiry: str,
    message: str,
) -> None:
    response = save_card(client, alice, number, django_capture_on_commit_callbacks, expiry=expiry)
    assert response.status_code == 400 and message in response.content.decode()
    assert (SavedPaymentMethod.objects.count(), TestcardCard.objects.count()) == (0, 0)


def test_another_accounts_card_cannot_be_made_default_or_removed(
    client: Client, alice: Membership, bob: Membership, billing_setup: None, django_capture_on_commit_callbacks: Any
) -> None:
    save_card(client, alice, "4242424242424242", django_capture_on_commit_callbacks)
    card = SavedPaymentMethod.objects.get()
    with pytest.raises(MethodUnavailable):
        method_set_default(account=bob.account, method=card, by=bob.user)
    with pytest.raises(MethodUnavailable):
        method_remove(account=bob.account, method=card, by=bob.user, as_of=TODAY)
    card.refresh_from_db()
    assert (card.is_default, card.removed_at) == (True, None)


def test_auto_pay_charges_the_default_card_once_when_an_invoice_is_issued(
    client: Client, alice: Membership, make_invoice: Callable[..., Invoice], django_capture_on_commit_callbacks: Any
) -> None:
    save_card(client, alice, "4242424242424242", django_capture_on_commit_callbacks)
    credit_adjust(account=alice.account, amount=eur("21.00"), note="prepaid", by=None)
    payment_preference_set(account=alice.account, apply_credit=True, autopay=True, by=None)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = make_invoice("100.00", as_of=TODAY)
    invoice.refresh_from_db()
    payment = Payment.objects.get()
    assert (invoice.status, payment.status, payment.amount_minor, payment.method_label) == (
        InvoiceStatus.PAID,
        PaymentStatus.SUCCEEDED,
        10000,
        "Visa •••• 4242",
    )
    assert payment.saved_method == SavedPaymentMethod.objects.get()
    # The task again (a retry, the billing run): nothing more.
    assert invoice_autopay(invoice_id=invoice.pk, as_of=TODAY) is None
    assert (Payment.objects.count(), Settlement.objects.count()) == (1, 2)


def test_auto_pay_is_off_by_default(
    client: Client, alice: Membership, make_invoice: Callable[..., Invoice], django_capture_on_commit_callbacks: Any
) -> None:
    save_card(client, alice, "4242424242424242", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        make_invoice("100.00", as_of=TODAY)
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    ("number", "code", "flagged"),
    [("4000002500003155", "authentication_required", True), ("4000000000009995", "insufficient_funds", False)],
)
def test_a_refused_off_session_charge_leaves_the_invoice_open(
    client: Client,
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    django_capture_on_commit_callbacks: Any,
    number: str,
    code: str,
    flagged: bool,
) -> None:
    response = save_card(client, alice, number, django_capture_on_commit_callbacks)
    if response["Location"].endswith("/authenticate/"):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(response["Location"], {"decision": "approve"})
    card = SavedPaymentMethod.objects.get()
    payment_preference_set(account=alice.account, apply_credit=True, autopay=True, by=None)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = make_invoice("100.00", as_of=TODAY)
    invoice.refresh_from_db()
    payment = Payment.objects.get()
    assert (invoice.status, payment.status, payment.failure_code) == (InvoiceStatus.OPEN, PaymentStatus.FAILED, code)
    card.refresh_from_db()
    assert (card.failure_code == code) is flagged
    if flagged:
        # A flagged card is not charged again until replaced.
        assert invoice_autopay(invoice_id=invoice.pk, as_of=TODAY + dt.timedelta(days=1)) is None


def test_the_demo_has_credit_and_saved_cards_and_loads_twice(settings: Any) -> None:
    from sportello.demo.data import demo_load

    settings.SPORTELLO_DEMO = True
    demo_load(as_of=DAY)
    demo_load(as_of=DAY)
    cards = sorted(SavedPaymentMethod.objects.values_list("account__name", "last4", "exp_year", "is_default"))
    assert cards == [
        ("Bruno Tecnologia Ltda.", "4444", 2028, True),
        ("Nubeclara Servicios Digitales S.L.", "4242", 2029, True),
        ("Studio Ferri Consulenza S.r.l.", "0069", 2025, True),
    ]
    nubeclara = SavedPaymentMethod.objects.get(last4="4242").account
    # 25.00 welcome credit + 50.00 added by card + 100.00 by transfer - 10.89 paid from it.
    assert credit_balance(account=nubeclara, currency="EUR") == eur("164.11")
    assert (nubeclara.payment_preference.apply_credit, nubeclara.payment_preference.autopay) == (False, False)
