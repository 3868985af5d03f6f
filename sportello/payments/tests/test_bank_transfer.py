"""Bank transfers: RF references, instructions from the seller's details, staff registering a
transfer by hand, and bank statements matched on reference and amount, once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from stdnum import iso11649

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Settlement
from sportello.billing.selectors import invoice_paid_minor
from sportello.core.money import Money
from sportello.payments.adapters.bank_transfer import rf_reference, rf_reference_new, rf_references_in
from sportello.payments.errors import IllegalTransition, InvalidAmount, StatementInvalid
from sportello.payments.models import (
    BankStatementLine,
    CreditEntry,
    Payment,
    PaymentStatus,
    ReconciliationItem,
)
from sportello.payments.selectors import credit_balance
from sportello.payments.services import payment_begin, payment_create, statement_import, transfer_register
from sportello.payments.tests.conftest import DAY

pytestmark = pytest.mark.django_db


def transfer(alice: Membership, invoices: list[Invoice]) -> Payment:
    plan = payment_create(
        account=alice.account, invoices=invoices, method="bank_transfer", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    return payment_begin(payment=plan.payment, return_url="http://testserver/back/")


def eur(amount: str) -> Money:
    return Money(amount, "EUR")  # type: ignore[arg-type]


def state() -> tuple[object, ...]:
    return (
        list(Settlement.objects.order_by("id").values_list("invoice_id", "amount_minor")),
        list(CreditEntry.objects.values_list("kind", "amount_minor")),
        list(Payment.objects.values_list("status", flat=True)),
    )


def test_references_carry_iso_11649_check_digits() -> None:
    assert rf_reference("539007547034") == "RF18539007547034"
    fresh = rf_reference_new()
    assert iso11649.is_valid(fresh) and len(fresh) == 16
    assert rf_references_in("Pago factura rf18 5390 0754 7034 gracias") == ["RF18539007547034"]
    assert rf_references_in("RF19539007547034 (a typo)") == []


def test_starting_a_transfer_shows_the_sellers_account_and_a_fresh_reference(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice()
    payment = transfer(alice, [invoice])
    assert payment.status == PaymentStatus.INITIATED and payment.next_url == ""
    instructions = payment.instructions
    assert {key: instructions[key] for key in ("beneficiary", "iban", "bic", "amount", "currency", "documents")} == {
        "beneficiary": "Sportello Hosting S.L.",
        "iban": "ES9121000418450200051332",
        "bic": "CAIXESBBXXX",
        "amount": "121.00",
        "currency": "EUR",
        "documents": [invoice.number],
    }
    assert instructions["reference"] == payment.gateway_reference and iso11649.is_valid(payment.gateway_reference)
    assert instructions["clearing_days"] == 3


def test_staff_register_a_transfer_for_what_arrived(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    first, second = make_invoice("100.00", due=DAY), make_invoice("10.00", due=DAY + dt.timedelta(days=9))
    payment = transfer(alice, [first, second])
    transfer_register(payment=payment, amount=eur("125.00"), received_on=DAY, by=None, note="partial")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (invoice_paid_minor(invoice=first), invoice_paid_minor(invoice=second)) == (12100, 400)
    second.refresh_from_db()
    assert second.status == InvoiceStatus.PARTIALLY_PAID
    before = state()
    with pytest.raises(IllegalTransition):
        transfer_register(payment=payment, amount=eur("125.00"), received_on=DAY, by=None)
    assert state() == before


def test_more_than_asked_becomes_credit_and_bad_amounts_are_refused(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    payment = transfer(alice, [make_invoice("10.00")])
    before = state()
    for amount in (eur("0.00"), Money("12.10", "USD")):  # type: ignore[arg-type]
        with pytest.raises(InvalidAmount):
            transfer_register(payment=payment, amount=amount, received_on=DAY, by=None)
    assert state() == before
    transfer_register(payment=payment, amount=eur("20.00"), received_on=DAY, by=None)
    assert credit_balance(account=alice.account, currency="EUR") == eur("7.90")


STATEMENT = """date;amount;currency;reference;payer;id
{day};121,00;EUR;Factura {reference};Alice Servicios SL;TX-1
{day};-50,00;EUR;Bank fee;;TX-2
{day};33,00;EUR;RF18539007547034;Somebody;TX-3
{day};12,10;EUR;pago sin referencia;Alguien;TX-4
"""


def test_a_statement_registers_matching_transfers_once_and_lists_the_rest(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice()
    payment = transfer(alice, [invoice])
    text = STATEMENT.format(day="23/11/2026", reference=payment.gateway_reference)
    report = statement_import(text=text, name="november.csv", by=None)
    assert (report.count("matched"), report.count("unmatched"), report.skipped, report.duplicates) == (1, 2, 1, 0)
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, invoice.status, invoice.paid_date) == (
        PaymentStatus.SUCCEEDED,
        InvoiceStatus.PAID,
        dt.date(2026, 11, 23),
    )
    assert sorted(ReconciliationItem.objects.values_list("kind", "amount_minor")) == [
        ("unmatched_transfer", 1210),
        ("unmatched_transfer", 3300),
    ]
    before = (state(), ReconciliationItem.objects.count(), BankStatementLine.objects.count())
    again = statement_import(text=text, name="november-again.csv", by=None)
    assert (again.lines, again.duplicates) == ([], 3)
    assert (state(), ReconciliationItem.objects.count(), BankStatementLine.objects.count()) == before


def test_a_statement_line_with_the_reference_but_another_amount_is_flagged(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    payment = transfer(alice, [make_invoice()])
    text = f"date,amount,currency,reference\n2026-11-23,120.00,EUR,{payment.gateway_reference}\n"
    report = statement_import(text=text, name="s.csv", by=None)
    assert report.count("mismatch") == 1
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.payment_id, item.amount_minor) == ("amount_mismatch", payment.pk, 12000)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.INITIATED and Settlement.objects.count() == 0


def test_two_identical_lines_in_one_statement_are_two_transfers(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    text = "date,amount,currency,reference\n2026-11-23,5.00,EUR,gift\n2026-11-23,5.00,EUR,gift\n"
    assert len(statement_import(text=text, name="s.csv", by=None).lines) == 2
    assert statement_import(text=text, name="s.csv", by=None).duplicates == 2


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", 0),
        ("when,how much\n2026-11-23,5\n", 1),
        ("date,amount,currency,reference\n2026-11-23,5.00,EUR,a\n2026-13-45,5.00,EUR,b\n", 3),
        ("date,amount,currency,reference\n2026-11-23,five,EUR,a\n", 2),
        ("date,amount,currency,reference\n2026-11-23,5.001,EUR,a\n", 2),
        ("date,amount,currency,reference\n2026-11-23,5.00,XYZ,a\n", 2),
    ],
)
def test_an_unreadable_statement_imports_nothing(alice: Membership, billing_setup: None, text: str, line: int) -> None:
    with pytest.raises(StatementInvalid) as refused:
        statement_import(text=text, name="bad.csv", by=None)
    assert refused.value.line == line
    assert (BankStatementLine.objects.count(), ReconciliationItem.objects.count()) == (0, 0)
