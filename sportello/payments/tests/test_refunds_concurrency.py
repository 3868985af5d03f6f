"""Races on PostgreSQL: two refunds of one payment at once, together more than it received."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, Settlement, SettlementKind
from sportello.core.money import Money
from sportello.payments.models import CreditEntry, Payment, PaymentEvent, Refund, RefundStatus, TestcardCheckout
from sportello.payments.refunds import payment_refund
from sportello.payments.selectors import credit_balance
from sportello.payments.services import payment_begin, payment_create, transfer_register
from sportello.payments.tests.conftest import DAY
from sportello.payments.tests.test_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _refund(payment: Payment, amount: str, destination: str) -> Callable[[], object]:
    return lambda: payment_refund(
        payment=payment,
        amount=Money(amount, "EUR"),  # type: ignore[arg-type]
        destination=destination,
        reason="Race",
        by=None,
        as_of=DAY,
    )


def test_two_refunds_to_credit_that_together_exceed_the_payment(
    on_postgresql: None, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    plan = payment_create(
        account=alice.account, invoices=[make_invoice()], method="bank_transfer", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    payment = payment_begin(payment=plan.payment, return_url="http://testserver/")
    transfer_register(payment=payment, amount=Money("121.00", "EUR"), received_on=DAY, by=None)  # type: ignore[arg-type]

    outcomes = race(_refund(payment, "79.99", "credit"), _refund(payment, "60.50", "credit"))

    assert outcomes[-1] == "ok" and outcomes.count("ok") == 1
    assert outcomes[0] == "RefundAboveRefundable"
    [refund] = Refund.objects.all()
    assert PaymentEvent.objects.filter(kind="refunded").values_list("amount_minor", flat=True).get() == (
        refund.amount_minor
    )
    assert credit_balance(account=alice.account, currency="EUR").minor == refund.amount_minor
    reversed_minor = Settlement.objects.filter(kind=SettlementKind.REVERSAL).values_list("amount_minor", flat=True)
    assert list(reversed_minor) == [-refund.amount_minor]
    assert CreditEntry.objects.count() == 1


def test_two_refunds_to_the_card_that_together_exceed_the_payment(
    on_postgresql: None, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    from sportello.payments import testcard

    plan = payment_create(
        account=alice.account, invoices=[make_invoice()], method="testcard", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    payment = payment_begin(payment=plan.payment, return_url="http://testserver/")
    checkout = TestcardCheckout.objects.get(token=payment.gateway_reference)
    testcard.checkout_pay(
        checkout=checkout, card=testcard.CardEntered(number="4242424242424242", exp_month=12, exp_year=2039), today=DAY
    )
    payment.refresh_from_db()
    assert payment.status == "succeeded"

    outcomes = race(_refund(payment, "100.01", "gateway"), _refund(payment, "60.50", "gateway"))

    assert outcomes.count("ok") == 1
    assert outcomes[0] in ("RefundAboveRefundable", "RefundRefused")
    [refund] = Refund.objects.filter(status=RefundStatus.SUCCEEDED)
    assert Refund.objects.count() == 1
    checkout.refresh_from_db()
    assert checkout.refunded_minor == refund.amount_minor
