"""Races on PostgreSQL: numbers taken by documents issued at the same moment, and credit
notes racing on one invoice. Run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from sportello.accounts.models import Membership
from sportello.billing.credit_notes import CreditLine, credit_note_create, invoice_credited_minor
from sportello.billing.errors import BillingError
from sportello.billing.models import DocumentCounter, Invoice, InvoiceLine, InvoiceStatus
from sportello.billing.selectors import invoice_balance_minor
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.conftest import make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
DAY = dt.date(2026, 11, 22)


def race(moves: list[Callable[[], object]]) -> tuple[list[object], list[str]]:
    """Run every move in its own thread, all released at once; their results and refusals."""
    barrier = threading.Barrier(len(moves))
    results: list[object] = []
    refusals: list[str] = []
    crashes: list[BaseException] = []

    def run(move: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=60)
            results.append(move())
        except BillingError as refused:
            refusals.append(type(refused).__name__)
        except BaseException as crash:  # pragma: no cover - reported below
            crashes.append(crash)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(move,)) for move in moves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert crashes == []
    return results, refusals


def hosting(price: str = "100.00", quantity: str = "1", description: str = "Hosting") -> NewLine:
    return NewLine(description=description, quantity=Decimal(quantity), unit_price=Decimal(price))


def test_fifty_invoices_issued_at_once_get_fifty_consecutive_numbers(on_postgresql: None, billing_setup: None) -> None:
    # Ten accounts, so that the race is on the series' counter, not on one account's lock.
    accounts = [make_member(f"m{n}@example.org", f"Customer {n} S.L.").account for n in range(10)]
    drafts = [invoice_create(account=accounts[n % 10], lines=[hosting()], as_of=DAY) for n in range(50)]
    results, refusals = race([lambda draft=draft: invoice_issue(invoice=draft, as_of=DAY) for draft in drafts])
    assert (len(results), refusals) == (50, [])
    numbers = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert numbers == list(range(1, 51))
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [f"INV-2026-{n:05d}" for n in range(1, 51)]
    assert DocumentCounter.objects.get(series="INV", year=2026).last_sequence == 50


def test_credit_notes_racing_on_one_invoice_never_exceed_it(
    on_postgresql: None, alice: Membership, billing_setup: None
) -> None:
    invoice = invoice_issue(
        invoice=invoice_create(
            account=alice.account,
            lines=[hosting("10.00", "10", "Licences"), hosting("0.33", "7", "Mailboxes")],
            as_of=DAY,
        ),
        as_of=DAY,
    )
    licences, mailboxes = invoice.lines.order_by("position")
    moves: list[Callable[[], object]] = []
    for n in range(16):
        if n % 4 == 0:
            wanted = None  # everything left
        elif n % 4 == 1:
            wanted = [CreditLine(mailboxes.pk, Decimal(2))]
        else:
            wanted = [CreditLine(licences.pk, Decimal(3))]
        moves.append(
            lambda wanted=wanted, n=n: credit_note_create(invoice=invoice, lines=wanted, reason=f"r{n}", as_of=DAY)
        )
    results, refusals = race(moves)
    assert set(refusals) <= {"CreditAboveInvoice"}
    notes = list(Invoice.objects.filter(kind="credit_note").order_by("sequence"))
    assert len(notes) == len(results) >= 1
    assert [n.sequence for n in notes] == list(range(1, len(notes) + 1))
    credited = invoice_credited_minor(invoice=invoice)
    assert credited <= invoice.total_minor
    for line in (licences, mailboxes):
        parts = InvoiceLine.objects.filter(corrects_line=line)
        assert sum(p.quantity for p in parts) <= line.quantity
        assert sum(p.amount_minor for p in parts) <= line.amount_minor
    # A "whole" request ran at least once, or it was refused because everything was credited.
    assert credited == invoice.total_minor
    invoice.refresh_from_db()
    assert (invoice.status, invoice_balance_minor(invoice=invoice)) == (InvoiceStatus.PAID, 0)
