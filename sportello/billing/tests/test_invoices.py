"""Drafting, issuing and settling invoices through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sportello.accounts.models import Membership
from sportello.billing.errors import AmountAboveBalance, IllegalTransition, InvalidDocument
from sportello.billing.models import Invoice, InvoiceEvent, InvoiceStatus, Settlement, SettlementKind
from sportello.billing.selectors import invoice_paid_minor
from sportello.billing.services import NewLine, invoice_create, invoice_issue, invoice_settle, on_invoice_paid
from sportello.core.money import Money

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 22)


def hosting(price: str = "100.00", quantity: str = "1") -> NewLine:
    return NewLine(description="Hosting Pro", quantity=Decimal(quantity), unit_price=Decimal(price))


def snapshot() -> tuple[list[tuple[object, ...]], int, int]:
    rows = list(Invoice.objects.order_by("pk").values_list("pk", "status", "number", "total_minor", "paid_date"))
    return rows, Settlement.objects.count(), InvoiceEvent.objects.count()


def test_it_drafts_with_taxes_and_issues_with_the_next_number(alice: Membership, billing_setup: None) -> None:
    draft = invoice_create(account=alice.account, lines=[hosting(), hosting("10.00", "3")], as_of=DAY)
    assert (draft.status, draft.number, draft.net_minor, draft.tax_minor, draft.total_minor) == (
        "draft",
        "",
        13000,
        2730,
        15730,
    )
    first = invoice_issue(invoice=draft, as_of=DAY)
    second = invoice_issue(invoice=invoice_create(account=alice.account, lines=[hosting()], as_of=DAY), as_of=DAY)
    assert (first.number, second.number) == ("INV-2026-00001", "INV-2026-00002")
    assert (first.status, first.issue_date, first.due_date) == (InvoiceStatus.OPEN, DAY, DAY + dt.timedelta(days=14))
    assert first.buyer["name"] == "Alice Servicios S.L." and first.seller["vat_id"] == "ESB12345674"
    assert [t.name for t in first.taxes.all()] == ["IVA 21%"]


def test_issued_documents_keep_the_parties_as_printed(alice: Membership, billing_setup: None) -> None:
    invoice = invoice_issue(invoice=invoice_create(account=alice.account, lines=[hosting()], as_of=DAY), as_of=DAY)
    alice.account.name = "Alice Renamed S.L."
    alice.account.save()
    invoice.refresh_from_db()
    assert invoice.buyer["name"] == "Alice Servicios S.L."


def test_it_refuses_to_issue_twice(alice: Membership, billing_setup: None) -> None:
    invoice = invoice_issue(invoice=invoice_create(account=alice.account, lines=[hosting()], as_of=DAY), as_of=DAY)
    before = snapshot()
    with pytest.raises(IllegalTransition):
        invoice_issue(invoice=invoice, as_of=DAY)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (hosting("-1"), "unit_price", "negative"),
        (hosting(quantity="0"), "quantity", "not_positive"),
        (hosting("NaN"), "unit_price", "not_a_number"),
        (hosting("1e12"), "unit_price", "too_large"),
        (hosting("0.0000001"), "unit_price", "too_precise"),
    ],
)
def test_it_refuses_bad_lines_and_writes_nothing(
    alice: Membership, billing_setup: None, line: NewLine, field: str, reason: str
) -> None:
    with pytest.raises(InvalidDocument) as error:
        invoice_create(account=alice.account, lines=[hosting(), line], as_of=DAY)
    assert (error.value.field, error.value.reason) == (field, reason)
    assert snapshot() == ([], 0, 0)


def test_a_partial_payment_never_marks_the_invoice_paid(alice: Membership, billing_setup: None) -> None:
    invoice = invoice_issue(invoice=invoice_create(account=alice.account, lines=[hosting()], as_of=DAY), as_of=DAY)
    invoice_settle(invoice=invoice, amount=Money("100.00", "EUR"), kind="payment", reference="p1", settled_on=DAY)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_date, invoice_paid_minor(invoice=invoice)) == ("partially_paid", None, 10000)
    invoice_settle(invoice=invoice, amount=Money("21.00", "EUR"), kind="credit", reference="c1", settled_on=DAY)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_date, invoice_paid_minor(invoice=invoice)) == ("paid", DAY, 12100)


def test_the_same_payment_applies_once_and_never_above_the_balance(alice: Membership, billing_setup: None) -> None:
    invoice = invoice_issue(invoice=invoice_create(account=alice.account, lines=[hosting()], as_of=DAY), as_of=DAY)
    invoice_settle(invoice=invoice, amount=Money("50.00", "EUR"), kind="payment", reference="pi_1", settled_on=DAY)
    before = snapshot()
    with pytest.raises(InvalidDocument):
        invoice_settle(invoice=invoice, amount=Money("50.00", "EUR"), kind="payment", reference="pi_1", settled_on=DAY)
    with pytest.raises(AmountAboveBalance) as error:
        invoice_settle(invoice=invoice, amount=Money("71.01", "EUR"), kind="payment", reference="pi_2", settled_on=DAY)
    assert (error.value.balance_minor, error.value.wanted_minor) == (7100, 7101)
    assert snapshot() == before


def test_paid_handlers_run_in_the_paying_transaction(alice: Membership, billing_setup: None) -> None:
    seen: list[str] = []
    handler = on_invoice_paid(lambda invoice: seen.append(invoice.number))
    try:
        invoice = invoice_issue(invoice=invoice_create(account=alice.account, lines=[hosting()], as_of=DAY), as_of=DAY)
        invoice_settle(
            invoice=invoice, amount=Money("121.00", "EUR"), kind=SettlementKind.PAYMENT, reference="x", settled_on=DAY
        )
    finally:
        from sportello.billing import services

        services._PAID_HANDLERS.remove(handler)
    assert seen == ["INV-2026-00001"]


def test_numbering_at_payment_issues_a_payment_request_first(
    alice: Membership, billing_setup: None, settings: object
) -> None:
    settings.BILLING_NUMBERING = "payment"  # type: ignore[attr-defined]
    invoice = invoice_issue(invoice=invoice_create(account=alice.account, lines=[hosting()], as_of=DAY), as_of=DAY)
    assert (invoice.number, invoice.proforma_number, invoice.display_number) == ("", "PRO-2026-00001", "PRO-2026-00001")
    invoice_settle(
        invoice=invoice, amount=Money("121.00", "EUR"), kind="payment", reference="p", settled_on=dt.date(2027, 1, 3)
    )
    invoice.refresh_from_db()
    # The fiscal number belongs to the year it is assigned in.
    assert (invoice.number, invoice.display_number, invoice.status) == ("INV-2027-00001", "INV-2027-00001", "paid")
