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


# --- Lines that name an invoice by its printed number (the reference its PDF gives) ----------


def test_a_line_naming_an_invoice_and_bringing_what_it_owes_pays_it_once(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice, other = make_invoice("100.00"), make_invoice("10.00")  # 121.00 and 12.10
    text = f"date;amount;currency;reference;payer\n23/11/2026;121,00;EUR;Factura {invoice.number}.;Alice Servicios SL\n"
    report = statement_import(text=text, name="november.csv", by=None)
    assert [(line.outcome, line.reference) for line in report.lines] == [("matched", f"Factura {invoice.number}.")]
    invoice.refresh_from_db()
    other.refresh_from_db()
    assert (invoice.status, invoice.paid_date, other.status) == (
        InvoiceStatus.PAID,
        dt.date(2026, 11, 23),
        InvoiceStatus.OPEN,
    )
    payment = Payment.objects.get()
    assert report.lines[0].payment_id == payment.pk
    assert (payment.gateway, payment.status, payment.amount_minor, payment.currency, payment.account_id) == (
        "bank_transfer",
        PaymentStatus.SUCCEEDED,
        12100,
        "EUR",
        alice.account.pk,
    )
    assert list(payment.allocations.values_list("invoice_id", "planned_minor")) == [(invoice.pk, 12100)]
    assert list(payment.events.order_by("id").values_list("kind", "source", "amount_minor")) == [
        ("initiated", "statement", 0),
        ("succeeded", "statement", 12100),
    ]
    assert list(Settlement.objects.values_list("invoice_id", "amount_minor", "reference")) == [
        (invoice.pk, 12100, f"payment:{payment.pk}")
    ]
    assert ReconciliationItem.objects.count() == 0
    before = (state(), ReconciliationItem.objects.count(), BankStatementLine.objects.count())
    # The same statement again: nothing applied twice.
    again = statement_import(text=text, name="november-again.csv", by=None)
    assert (again.lines, again.duplicates) == ([], 1)
    assert (state(), ReconciliationItem.objects.count(), BankStatementLine.objects.count()) == before
    # The customer paying the same invoice a second time: it owes nothing now, staff decide.
    text = f"date,amount,currency,reference\n2026-11-25,121.00,EUR,{invoice.number}\n"
    assert [line.outcome for line in statement_import(text=text, name="later.csv", by=None).lines] == ["mismatch"]
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.account_id, item.payment_id, item.amount_minor, item.details["expected_minor"]) == (
        "amount_mismatch",
        alice.account.pk,
        None,
        12100,
        0,
    )
    assert state() == before[0]


@pytest.mark.parametrize(
    ("amount", "currency", "kind"),
    [
        ("120.00", "EUR", "amount_mismatch"),
        ("121.01", "EUR", "amount_mismatch"),
        ("121.00", "USD", "currency_mismatch"),
    ],
)
def test_a_line_naming_an_invoice_with_another_amount_goes_to_reconciliation(
    alice: Membership, make_invoice: Callable[..., Invoice], amount: str, currency: str, kind: str
) -> None:
    invoice = make_invoice("100.00")
    before = state()
    text = f"date,amount,currency,reference\n2026-11-23,{amount},{currency},Invoice {invoice.number}\n"
    report = statement_import(text=text, name="s.csv", by=None)
    assert [line.outcome for line in report.lines] == ["mismatch"]
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.account_id, item.payment_id, item.reference, item.amount_minor, item.currency) == (
        kind,
        alice.account.pk,
        None,
        f"Invoice {invoice.number}",
        Money(amount, currency).minor,  # type: ignore[arg-type]
        currency,
    )
    assert (item.details["invoice"], item.details["expected_minor"]) == (invoice.number, 12100)
    assert state() == before
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_a_line_naming_two_invoices_or_a_number_inside_a_word_matches_nothing(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    first, second = make_invoice("100.00"), make_invoice("100.00")
    before = state()
    text = (
        "date,amount,currency,reference\n"
        f"2026-11-23,121.00,EUR,{first.number} {second.number}\n"
        f"2026-11-23,121.00,EUR,X{first.number}\n"
    )
    report = statement_import(text=text, name="s.csv", by=None)
    assert [line.outcome for line in report.lines] == ["unmatched", "unmatched"]
    assert list(ReconciliationItem.objects.values_list("kind", flat=True)) == ["unmatched_transfer"] * 2
    assert state() == before


def test_an_rf_reference_wins_over_an_invoice_number_in_the_same_line(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice("100.00")
    payment = transfer(alice, [invoice])
    text = f"date,amount,currency,reference\n2026-11-23,121.00,EUR,{invoice.number} {payment.gateway_reference}\n"
    report = statement_import(text=text, name="s.csv", by=None)
    assert [(line.outcome, line.payment_id) for line in report.lines] == [("matched", payment.pk)]
    assert list(Payment.objects.values_list("pk", "status")) == [(payment.pk, PaymentStatus.SUCCEEDED)]
    assert list(Settlement.objects.values_list("amount_minor", flat=True)) == [12100]


def test_the_method_is_named_in_the_accounts_language_whatever_the_thread_speaks(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    from django.utils import translation

    with translation.override("es"):
        english = transfer(alice, [make_invoice()])
    alice.account.language = "es"
    alice.account.save(update_fields=["language"])
    with translation.override("en"):
        spanish = transfer(alice, [make_invoice()])
    assert (english.method_label, spanish.method_label) == ("Bank transfer", "Transferencia bancaria")
