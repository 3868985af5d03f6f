"""Account credit: an append-only ledger; adding funds through an invoice; applying credit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.accounts.models import Membership
from sportello.billing.errors import CreditAmountUnreachable
from sportello.billing.models import Invoice, InvoiceStatus, Settlement, SettlementKind, TaxCategory
from sportello.billing.selectors import invoice_paid_minor
from sportello.billing.services import invoice_settle
from sportello.core.models import AppendOnlyError
from sportello.core.money import Money
from sportello.payments.errors import InsufficientCredit, InvalidAmount, InvoiceNotPayable, RefundAboveRefundable
from sportello.payments.models import CreditEntry, CreditKind, Payment
from sportello.payments.refunds import payment_refund
from sportello.payments.selectors import credit_balance, credit_balances
from sportello.payments.services import (
    credit_adjust,
    credit_apply,
    funds_invoice_create,
    payment_begin,
    payment_create,
    payment_preference_set,
    transfer_register,
)
from sportello.payments.tests.conftest import DAY, issued_invoice

pytestmark = pytest.mark.django_db


def eur(amount: str) -> Money:
    return Money(amount, "EUR")  # type: ignore[arg-type]


def ledger(account_id: int) -> list[tuple[str, int, str]]:
    return list(
        CreditEntry.objects.filter(account_id=account_id).order_by("id").values_list("kind", "amount_minor", "currency")
    )


def snapshot(account_id: int) -> tuple[object, ...]:
    return (
        ledger(account_id),
        list(Settlement.objects.order_by("id").values_list("invoice_id", "kind", "amount_minor")),
        list(Invoice.objects.order_by("id").values_list("id", "status")),
    )


def give_credit(membership: Membership, amount: str) -> None:
    credit_adjust(account=membership.account, amount=eur(amount), note="goodwill", by=None)


def test_adding_funds_issues_an_untaxed_invoice_that_adds_credit_once_paid(
    alice: Membership, billing_setup: None
) -> None:
    invoice = funds_invoice_create(account=alice.account, amount=eur("50.00"), as_of=DAY, by=alice.user)
    assert (invoice.source, invoice.status, invoice.total_minor, invoice.tax_minor, invoice.due_date) == (
        "funds",
        InvoiceStatus.OPEN,
        5000,
        0,
        DAY,
    )
    line = invoice.lines.get()
    assert (line.kind, line.tax_category, line.description) == ("funds", TaxCategory.OUTSIDE_SCOPE, "Account credit")
    assert "not subject to VAT" in invoice.legal_notes
    assert credit_balance(account=alice.account, currency="EUR") == eur("0.00")

    invoice_settle(invoice=invoice, amount=eur("20.00"), kind=SettlementKind.PAYMENT, reference="p1", settled_on=DAY)
    assert credit_balance(account=alice.account, currency="EUR") == eur("0.00"), "a partial payment adds nothing yet"
    invoice_settle(invoice=invoice, amount=eur("30.00"), kind=SettlementKind.PAYMENT, reference="p2", settled_on=DAY)
    assert credit_balance(account=alice.account, currency="EUR") == eur("50.00")
    assert ledger(alice.account_id) == [(CreditKind.FUNDS, 5000, "EUR")]


@pytest.mark.parametrize(
    ("amount", "reason"), [("0.00", "below_minimum"), ("4.99", "below_minimum"), ("10000.01", "above_maximum")]
)
def test_it_refuses_funds_outside_the_limits(alice: Membership, billing_setup: None, amount: str, reason: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        funds_invoice_create(account=alice.account, amount=eur(amount), as_of=DAY, by=None)
    assert refused.value.reason == reason
    assert Invoice.objects.count() == 0


def test_it_refuses_funds_in_another_currency(alice: Membership, billing_setup: None) -> None:
    with pytest.raises(InvalidAmount):
        funds_invoice_create(account=alice.account, amount=Money("50", "BRL"), as_of=DAY, by=None)  # type: ignore[arg-type]
    assert Invoice.objects.count() == 0


def test_credit_pays_part_then_all_of_an_invoice(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    invoice = make_invoice("100.00")  # 121.00 with VAT
    give_credit(alice, "150.00")
    first = credit_apply(account=alice.account, invoice=invoice, amount=eur("21.00"), by=alice.user, as_of=DAY)
    invoice.refresh_from_db()
    assert (invoice.status, invoice_paid_minor(invoice=invoice)) == (InvoiceStatus.PARTIALLY_PAID, 2100)
    credit_apply(account=alice.account, invoice=invoice, amount=eur("100.00"), by=alice.user, as_of=DAY)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_date) == (InvoiceStatus.PAID, DAY)
    assert credit_balance(account=alice.account, currency="EUR") == eur("29.00")
    settlement = Settlement.objects.filter(invoice=invoice).first()
    assert settlement is not None
    assert (settlement.kind, settlement.reference, settlement.method) == (
        "credit",
        f"credit:{first.pk}",
        "Account credit",
    )


def test_it_never_spends_more_credit_than_there_is(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    invoice = make_invoice("100.00")
    give_credit(alice, "50.00")
    before = snapshot(alice.account_id)
    with pytest.raises(InsufficientCredit) as refused:
        credit_apply(account=alice.account, invoice=invoice, amount=eur("50.01"), by=None, as_of=DAY)
    assert (refused.value.balance_minor, refused.value.wanted_minor) == (5000, 5001)
    assert snapshot(alice.account_id) == before


def test_it_never_applies_more_than_the_invoice_owes(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    invoice = make_invoice("10.00")  # 12.10
    give_credit(alice, "50.00")
    before = snapshot(alice.account_id)
    with pytest.raises(InvalidAmount):
        credit_apply(account=alice.account, invoice=invoice, amount=eur("12.11"), by=None, as_of=DAY)
    assert snapshot(alice.account_id) == before


def test_credit_is_per_currency(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    invoice = make_invoice("10.00")
    credit_adjust(account=alice.account, amount=Money("100", "BRL"), note="promo", by=None)  # type: ignore[arg-type]
    before = snapshot(alice.account_id)
    with pytest.raises(InsufficientCredit):
        credit_apply(account=alice.account, invoice=invoice, amount=eur("12.10"), by=None, as_of=DAY)
    assert snapshot(alice.account_id) == before
    assert credit_balances(account=alice.account) == [eur("0"), Money("100", "BRL")]  # type: ignore[arg-type]


def test_it_refuses_credit_for_other_accounts_paid_or_funds_invoices(
    alice: Membership, bob: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    bobs = issued_invoice(bob.account, "10.00")
    funds = funds_invoice_create(account=alice.account, amount=eur("20.00"), as_of=DAY, by=None)
    paid = make_invoice("10.00")
    give_credit(alice, "500.00")
    credit_apply(account=alice.account, invoice=paid, amount=eur("12.10"), by=None, as_of=DAY)
    before = snapshot(alice.account_id)
    for invoice, amount in ((bobs, Money("10", "BRL")), (funds, eur("20.00")), (paid, eur("1.00"))):  # type: ignore[arg-type]
        with pytest.raises(InvoiceNotPayable):
            credit_apply(account=alice.account, invoice=invoice, amount=amount, by=None, as_of=DAY)
    assert snapshot(alice.account_id) == before


def test_staff_cannot_adjust_below_zero_or_without_a_reason(alice: Membership, billing_setup: None) -> None:
    give_credit(alice, "10.00")
    before = ledger(alice.account_id)
    with pytest.raises(InsufficientCredit):
        credit_adjust(account=alice.account, amount=eur("-10.01"), note="correction", by=None)
    with pytest.raises(InvalidAmount):
        credit_adjust(account=alice.account, amount=eur("5.00"), note="  ", by=None)
    assert ledger(alice.account_id) == before
    credit_adjust(account=alice.account, amount=eur("-10.00"), note="correction", by=None)
    assert credit_balance(account=alice.account, currency="EUR") == eur("0.00")


def test_ledger_rows_cannot_be_changed_or_deleted(alice: Membership, billing_setup: None) -> None:
    give_credit(alice, "10.00")
    entry = CreditEntry.objects.get()
    entry.amount_minor = 99999
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        CreditEntry.objects.all().update(amount_minor=1)
    with pytest.raises(AppendOnlyError):
        entry.delete()


# Operations on the ledger: add funds (paid funds invoice), adjust, apply to an invoice, pay
# an invoice by transfer with more than it owes (the excess becomes credit), and refund part of
# the last such payment to credit.
operation = st.one_of(
    st.tuples(st.just("funds"), st.integers(min_value=500, max_value=20_000)),
    st.tuples(st.just("adjust"), st.integers(min_value=-20_000, max_value=20_000).filter(bool)),
    st.tuples(st.just("apply"), st.integers(min_value=1, max_value=30_000)),
    st.tuples(st.just("overpay"), st.integers(min_value=1, max_value=20_000)),
    st.tuples(st.just("refund"), st.integers(min_value=1, max_value=40_000)),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(operations=st.lists(operation, min_size=1, max_size=8))
def test_the_balance_is_the_sum_of_the_ledger_and_never_negative(
    alice: Membership, billing_setup: None, operations: list[tuple[str, int]]
) -> None:
    with transaction.atomic():
        # Invoices here are paid from credit only by the operations, not when issued.
        payment_preference_set(account=alice.account, apply_credit=False, autopay=False, by=None)
        expected = 0
        paid_by_transfer: list[Payment] = []
        for kind, minor in operations:
            amount = Money.from_minor(minor, "EUR")
            try:
                if kind == "overpay":
                    invoice = issued_invoice(alice.account, "250.00", as_of=DAY - dt.timedelta(days=1))
                    plan = payment_create(
                        account=alice.account,
                        invoices=[invoice],
                        method="bank_transfer",
                        use_credit=False,
                        by=None,
                        as_of=DAY,
                    )
                    assert plan.payment is not None
                    payment = payment_begin(payment=plan.payment, return_url="http://testserver/")
                    received = Money.from_minor(invoice.total_minor + minor, "EUR")
                    paid_by_transfer.append(
                        transfer_register(payment=payment, amount=received, received_on=DAY, by=None)
                    )
                elif kind == "refund":
                    if not paid_by_transfer:
                        continue
                    payment_refund(
                        payment=paid_by_transfer[-1],
                        amount=amount,
                        destination="credit",
                        reason="hypothesis",
                        by=None,
                        as_of=DAY,
                    )
                elif kind == "funds":
                    invoice = funds_invoice_create(account=alice.account, amount=amount, as_of=DAY, by=None)
                    invoice_settle(
                        invoice=invoice, amount=amount, kind=SettlementKind.PAYMENT, reference="x", settled_on=DAY
                    )
                elif kind == "adjust":
                    credit_adjust(account=alice.account, amount=amount, note="hypothesis", by=None)
                else:
                    invoice = issued_invoice(alice.account, "250.00", as_of=DAY - dt.timedelta(days=1))
                    credit_apply(account=alice.account, invoice=invoice, amount=amount, by=None, as_of=DAY)
            except (InsufficientCredit, InvalidAmount, RefundAboveRefundable, CreditAmountUnreachable):
                pass
            else:
                expected += -minor if kind == "apply" else minor
            balance = credit_balance(account=alice.account, currency="EUR")
            assert balance.minor == expected == sum(entry[1] for entry in ledger(alice.account_id))
            assert balance.minor >= 0
        transaction.set_rollback(True)
