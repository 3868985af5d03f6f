"""Document numbers in a format of the provider's own (BILLING_NUMBER_FORMAT): gapless per
series and year for invoices, credit notes, payment requests and quotes, and the database's
guard against a printed number given twice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError

from sportello.accounts.models import Membership
from sportello.billing.credit_notes import credit_note_create
from sportello.billing.models import DocumentCounter, DocumentKind, Invoice, Quote, SettlementKind
from sportello.billing.quotes import quote_create, quote_send
from sportello.billing.services import NewLine, invoice_create, invoice_issue, invoice_settle
from sportello.core.money import Money

pytestmark = pytest.mark.django_db
CUSTOM_FORMAT = "{year}.{series}{seq:06}"


def hosting() -> list[NewLine]:
    return [NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("100.00"))]


def issued(membership: Membership, on: dt.date) -> Invoice:
    return invoice_issue(invoice=invoice_create(account=membership.account, lines=hosting(), as_of=on), as_of=on)


def counters() -> list[tuple[str, int, int]]:
    return list(DocumentCounter.objects.order_by("series", "year").values_list("series", "year", "last_sequence"))


def test_a_custom_format_numbers_invoices_credit_notes_and_quotes_gaplessly(
    alice: Membership, bob: Membership, billing_setup: None, settings: Any
) -> None:
    settings.BILLING_NUMBER_FORMAT = CUSTOM_FORMAT
    december, january = dt.date(2026, 12, 30), dt.date(2027, 1, 4)
    first, second, third = issued(alice, december), issued(bob, december), issued(alice, december)
    note = credit_note_create(invoice=second, lines=None, reason="Ordered twice", as_of=december)
    quote = quote_send(
        quote=quote_create(account=alice.account, subject="Migration", lines=hosting(), as_of=december), as_of=december
    )
    # A new year starts every series again at 1; the old year's numbers stay as they were.
    next_year = [issued(alice, january), issued(bob, january)]
    next_note = credit_note_create(invoice=next_year[0], lines=None, reason="Wrong plan", as_of=january)

    assert [invoice.number for invoice in (first, second, third, *next_year)] == [
        "2026.INV000001",
        "2026.INV000002",
        "2026.INV000003",
        "2027.INV000001",
        "2027.INV000002",
    ]
    assert (note.number, note.kind, next_note.number) == ("2026.CN000001", DocumentKind.CREDIT_NOTE, "2027.CN000001")
    assert quote.number == "2026.Q000001"
    # The parts the number is made of are stored too, and the counters hold the last given.
    assert [(i.series, i.year, i.sequence) for i in Invoice.objects.order_by("pk")] == [
        ("INV", 2026, 1),
        ("INV", 2026, 2),
        ("INV", 2026, 3),
        ("CN", 2026, 1),
        ("INV", 2027, 1),
        ("INV", 2027, 2),
        ("CN", 2027, 1),
    ]
    assert counters() == [("CN", 2026, 1), ("CN", 2027, 1), ("INV", 2026, 3), ("INV", 2027, 2), ("Q", 2026, 1)]
    assert Quote.objects.get().number == "2026.Q000001"


def test_payment_requests_and_their_fiscal_numbers_follow_the_format_across_the_new_year(
    alice: Membership, billing_setup: None, settings: Any
) -> None:
    settings.BILLING_NUMBER_FORMAT = CUSTOM_FORMAT
    settings.BILLING_NUMBERING = "payment"
    december, january = dt.date(2026, 12, 31), dt.date(2027, 1, 2)
    old, new = issued(alice, december), issued(alice, january)
    # Both are the first payment request of their year: the year keeps their numbers apart
    # (payment request numbers are unique across years, a constraint of their own).
    assert (old.number, old.proforma_number, new.proforma_number) == ("", "2026.PRO000001", "2027.PRO000001")
    for invoice, reference in ((new, "transfer-2"), (old, "transfer-1")):
        invoice_settle(
            invoice=invoice,
            amount=Money("121.00", "EUR"),
            kind=SettlementKind.PAYMENT,
            reference=reference,
            settled_on=january,
        )
    old.refresh_from_db()
    new.refresh_from_db()
    # Fiscal numbers are given in the order of payment, in the year of payment.
    assert (new.number, old.number) == ("2027.INV000001", "2027.INV000002")
    assert (old.proforma_number, new.proforma_number) == ("2026.PRO000001", "2027.PRO000001")


def test_the_database_refuses_a_printed_number_twice(alice: Membership, billing_setup: None, settings: Any) -> None:
    # Settings refuse a format without {year}; should one be forced on a running system, the
    # first number of the next year would print like the first of this one.
    settings.BILLING_NUMBER_FORMAT = "{series}-{seq:05}"
    first = issued(alice, dt.date(2026, 12, 30))
    assert first.number == "INV-00001"
    before = (list(Invoice.objects.values_list("pk", "number")), counters())
    with pytest.raises(IntegrityError):
        issued(alice, dt.date(2027, 1, 4))
    # The draft it made stays a draft; nothing was issued and the counter did not move.
    assert list(Invoice.objects.exclude(pk__in=[pk for pk, _ in before[0]]).values_list("status", "number")) == [
        ("draft", "")
    ]
    assert (list(Invoice.objects.filter(pk=first.pk).values_list("pk", "number")), counters()) == (
        before[0],
        before[1],
    )


def test_an_invoice_and_a_credit_note_in_one_series_share_its_counter(
    alice: Membership, billing_setup: None, settings: Any
) -> None:
    # Some countries number every fiscal document in one series: one counter, no repeat.
    settings.BILLING_NUMBER_FORMAT = CUSTOM_FORMAT
    settings.BILLING_SERIES = {**settings.BILLING_SERIES, "credit_note": "INV"}
    day = dt.date(2026, 6, 1)
    invoice = issued(alice, day)
    note = credit_note_create(invoice=invoice, lines=None, reason="Cancelled", as_of=day)
    again = issued(alice, day)
    assert [(d.kind, d.number) for d in (invoice, note, again)] == [
        (DocumentKind.INVOICE, "2026.INV000001"),
        (DocumentKind.CREDIT_NOTE, "2026.INV000002"),
        (DocumentKind.INVOICE, "2026.INV000003"),
    ]
    assert counters() == [("INV", 2026, 3)]
