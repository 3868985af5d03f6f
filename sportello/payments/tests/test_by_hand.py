"""Paying by hand: the preview reviewed before confirming, a saved card charged with the
customer present (with the bank's extra step when it asks), and a keyed request that spends
credit once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import IntegrityError

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus
from sportello.core.money import Money
from sportello.payments import testcard
from sportello.payments.errors import InsufficientCredit, InvalidAmount, MixedCurrencies
from sportello.payments.models import (
    CreditEntry,
    Payment,
    PaymentStatus,
    SavedPaymentMethod,
    TestcardCard,
    TestcardCheckout,
)
from sportello.payments.models import TestcardMode as Mode
from sportello.payments.models import TestcardStatus as Status
from sportello.payments.selectors import credit_balance
from sportello.payments.services import (
    CREDIT,
    credit_adjust,
    payment_charge_saved,
    payment_create,
    payment_preview,
)
from sportello.payments.tests.conftest import DAY, issued_invoice

pytestmark = pytest.mark.django_db
RESULT = "http://testserver/billing/payments/result/"


def eur(amount: str) -> Money:
    return Money(amount, "EUR")  # type: ignore[arg-type]


def kept_card(alice: Membership, behaviour: str, token: str) -> SavedPaymentMethod:
    TestcardCard.objects.create(
        token=token, brand="Visa", last4="3155", exp_month=12, exp_year=2039, behaviour=behaviour
    )
    return SavedPaymentMethod.objects.create(
        account=alice.account, gateway="testcard", token=token, brand="Visa", last4="3155", exp_month=12, exp_year=2039
    )


def test_the_preview_gives_the_figures_payment_create_then_uses(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    later = make_invoice("100.00", due=DAY.replace(day=30))
    sooner = make_invoice("10.00", due=DAY.replace(day=25))
    credit_adjust(account=alice.account, amount=eur("20.00"), note="goodwill", by=None)
    preview = payment_preview(account=alice.account, invoices=[later, sooner], method="testcard", use_credit=True)
    assert [(invoice.number, amount) for invoice, amount in preview.lines] == [
        (sooner.number, eur("12.10")),
        (later.number, eur("121.00")),
    ]
    assert (preview.total, preview.from_credit, preview.from_method) == (eur("133.10"), eur("20.00"), eur("113.10"))
    assert (preview.credit_before, preview.credit_after) == (eur("20.00"), eur("0.00"))
    assert (Payment.objects.count(), CreditEntry.objects.count()) == (0, 1), "the preview writes nothing"
    plan = payment_create(
        account=alice.account, invoices=[later, sooner], method="testcard", use_credit=True, by=None, as_of=DAY
    )
    assert plan.payment is not None and plan.payment.amount_minor == preview.from_method.minor


def test_the_preview_refuses_what_payment_create_refuses(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice("100.00")
    other = issued_invoice(alice.account, "10.00", currency="BRL")
    with pytest.raises(MixedCurrencies):
        payment_preview(account=alice.account, invoices=[invoice, other], method="testcard", use_credit=False)
    with pytest.raises(InsufficientCredit):
        payment_preview(account=alice.account, invoices=[invoice], method=CREDIT, use_credit=False)
    with pytest.raises(InvalidAmount):
        payment_preview(
            account=alice.account, invoices=[invoice], method="testcard", use_credit=False, amount=eur("121.01")
        )


def test_a_card_that_needs_authentication_asks_for_it_only_with_the_customer_present(db: None) -> None:
    TestcardCard.objects.create(
        token="card_3ds", brand="Visa", last4="3155", exp_month=12, exp_year=2039, behaviour="requires_action"
    )
    common = {"card_token": "card_3ds", "amount_minor": 100, "currency": "EUR", "description": "x", "today": DAY}
    absent = testcard.card_charge(merchant_reference="a", idempotency_key="absent", **common)  # type: ignore[arg-type]
    assert (absent.status, absent.failure_code) == (Status.FAILED, "authentication_required")
    present = testcard.card_charge(
        merchant_reference="p",
        idempotency_key="present",
        return_url=RESULT,
        **common,  # type: ignore[arg-type]
    )
    assert (present.status, present.mode, present.return_url) == (
        Status.REQUIRES_ACTION,
        Mode.CHARGE,
        RESULT,
    )
    assert testcard.authenticate_url(present) == f"http://testserver/testcard/pay/{present.token}/authenticate/"


def test_a_saved_card_charged_by_hand_twice_is_charged_once(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice("100.00")
    card = kept_card(alice, "succeeded", "card_ok")
    plan = payment_create(
        account=alice.account,
        invoices=[invoice],
        method="testcard",
        use_credit=False,
        by=None,
        as_of=DAY,
        saved_method=card,
    )
    assert plan.payment is not None
    first = payment_charge_saved(payment=plan.payment, return_url=RESULT, as_of=DAY)
    again = payment_charge_saved(payment=plan.payment, return_url=RESULT, as_of=DAY)
    assert (first.status, again.status, again.next_url) == (PaymentStatus.SUCCEEDED, PaymentStatus.SUCCEEDED, "")
    assert TestcardCheckout.objects.filter(mode=Mode.CHARGE).count() == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_a_keyed_request_spends_credit_once(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    invoice = make_invoice("100.00")
    credit_adjust(account=alice.account, amount=eur("100.00"), note="goodwill", by=None)
    request = {
        "account": alice.account,
        "invoices": [invoice],
        "method": CREDIT,
        "use_credit": False,
        "by": None,
        "as_of": DAY,
        "amount": eur("30.00"),
        "idempotency_key": "portal:the-same-review",
    }
    payment_create(**request)  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        payment_create(**request)  # type: ignore[arg-type]
    assert credit_balance(account=alice.account, currency="EUR") == eur("70.00")
    # Another key (another review) pays again.
    payment_create(**{**request, "idempotency_key": "portal:another-review"})  # type: ignore[arg-type]
    assert credit_balance(account=alice.account, currency="EUR") == eur("40.00")
