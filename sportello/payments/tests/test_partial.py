"""Partial payments: a customer pays part of one invoice now and the rest later."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Settlement
from sportello.core.money import Money
from sportello.payments.adapters.testcard import TestcardGateway
from sportello.payments.errors import InsufficientCredit, InvalidAmount
from sportello.payments.models import CreditEntry, Payment
from sportello.payments.selectors import credit_balance, invoice_balance
from sportello.payments.services import credit_adjust, payment_begin, payment_create
from sportello.payments.tests.conftest import DAY
from sportello.payments.tests.test_payments import deliver, event, money_state

pytestmark = pytest.mark.django_db


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def pay_part(membership: Membership, invoice: Invoice, amount: Money, **kwargs: object) -> Payment | None:
    options: dict[str, object] = {"method": "testcard", "use_credit": False} | kwargs
    plan = payment_create(
        account=membership.account,
        invoices=[invoice],
        by=membership.user,
        as_of=DAY,
        amount=amount,
        **options,  # type: ignore[arg-type]
    )
    if plan.payment is None:
        return None
    return payment_begin(payment=plan.payment, return_url="https://portal.example/return")


def test_paying_part_leaves_the_invoice_partly_paid_and_the_rest_payable(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice("100.00")  # 121.00 with VAT
    payment = pay_part(alice, invoice, eur("50.00"))
    assert payment is not None
    assert (payment.amount_minor, list(payment.allocations.values_list("invoice_id", "planned_minor"))) == (
        5000,
        [(invoice.pk, 5000)],
    )
    assert deliver(event(payment)) == "applied"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert invoice_balance(invoice=invoice) == eur("71.00")

    rest = pay_part(alice, invoice, eur("71.00"))
    assert rest is not None
    assert deliver(event(rest, event_id="evt_rest")) == "applied"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert sorted(Settlement.objects.filter(invoice=invoice).values_list("amount_minor", flat=True)) == [5000, 7100]
    assert CreditEntry.objects.count() == 0


def test_credit_covers_what_it_can_of_the_part_and_the_card_the_rest(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice("100.00")
    credit_adjust(account=alice.account, amount=eur("20.00"), note="prepaid", by=None)
    payment = pay_part(alice, invoice, eur("50.00"), use_credit=True)
    assert payment is not None and payment.amount_minor == 3000
    assert credit_balance(account=alice.account, currency="EUR") == eur("0.00")
    assert invoice_balance(invoice=invoice) == eur("101.00")


def test_the_credit_method_pays_the_part_or_nothing(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    invoice = make_invoice("100.00")
    credit_adjust(account=alice.account, amount=eur("30.00"), note="prepaid", by=None)
    assert pay_part(alice, invoice, eur("25.00"), method="credit") is None
    assert credit_balance(account=alice.account, currency="EUR") == eur("5.00")
    assert invoice_balance(invoice=invoice) == eur("96.00")
    before = money_state()
    with pytest.raises(InsufficientCredit):
        pay_part(alice, invoice, eur("5.01"), method="credit")
    assert money_state() == before


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (Money(Decimal("121.01"), "EUR"), "above_maximum"),
        (Money(Decimal("0.00"), "EUR"), "not_positive"),
        (Money(Decimal("-1.00"), "EUR"), "not_positive"),
        (Money(Decimal("50.00"), "BRL"), "currency"),
    ],
)
def test_a_part_that_cannot_be_paid_is_refused_and_changes_nothing(
    alice: Membership, make_invoice: Callable[..., Invoice], amount: Money, reason: str
) -> None:
    invoice = make_invoice("100.00")
    credit_adjust(account=alice.account, amount=eur("500.00"), note="prepaid", by=None)
    before = money_state()
    with pytest.raises(InvalidAmount) as refused:
        pay_part(alice, invoice, amount, use_credit=True)
    assert refused.value.reason == reason
    assert money_state() == before


def test_a_part_is_of_one_invoice_only(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    first, second = make_invoice("100.00"), make_invoice("10.00")
    before = money_state()
    with pytest.raises(InvalidAmount) as refused:
        payment_create(
            account=alice.account,
            invoices=[first, second],
            method="testcard",
            use_credit=False,
            by=None,
            as_of=DAY,
            amount=eur("10.00"),
        )
    assert refused.value.reason == "partial_several"
    assert money_state() == before


def test_a_gateway_that_collects_whole_invoices_refuses_a_part(
    alice: Membership, make_invoice: Callable[..., Invoice], monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice = make_invoice("100.00")
    monkeypatch.setattr(TestcardGateway, "partial_payments", False)
    before = money_state()
    with pytest.raises(InvalidAmount) as refused:
        pay_part(alice, invoice, eur("10.00"))
    assert refused.value.reason == "partial_unsupported"
    assert money_state() == before


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(parts=st.lists(st.integers(min_value=1, max_value=6000), min_size=1, max_size=6))
def test_parts_never_pay_more_than_the_invoice_owes(
    alice: Membership, make_invoice: Callable[..., Invoice], parts: list[int]
) -> None:
    invoice = make_invoice("100.00")  # 12100 minor
    paid = 0
    for index, part in enumerate(parts):
        owed = 12100 - paid
        if part > owed:
            with pytest.raises(InvalidAmount):
                pay_part(alice, invoice, Money.from_minor(part, "EUR"))
            continue
        payment = pay_part(alice, invoice, Money.from_minor(part, "EUR"))
        assert payment is not None
        assert deliver(event(payment, event_id=f"evt_{invoice.pk}_{index}")) == "applied"
        paid += part
    invoice.refresh_from_db()
    assert invoice_balance(invoice=invoice).minor == 12100 - paid
    assert invoice.status == (
        InvoiceStatus.PAID if paid == 12100 else InvoiceStatus.PARTIALLY_PAID if paid else InvoiceStatus.OPEN
    )
    assert sum(Settlement.objects.filter(invoice=invoice).values_list("amount_minor", flat=True)) == paid
