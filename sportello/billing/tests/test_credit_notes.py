"""Credit notes and cancellation through the services: exact figures, never above the invoice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.accounts.models import Membership
from sportello.billing.credit_notes import (
    CreditLine,
    credit_note_applied_minor,
    credit_note_create,
    credit_note_unapplied_minor,
    credit_notes_of,
    invoice_cancel,
    invoice_credited_minor,
)
from sportello.billing.errors import (
    BillingError,
    CreditAboveInvoice,
    IllegalTransition,
    InvalidDocument,
    InvoiceHasPayments,
)
from sportello.billing.models import (
    BilledPeriod,
    DocumentCounter,
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTax,
    Settlement,
    SettlementKind,
)
from sportello.billing.selectors import invoice_balance_minor, invoice_paid_minor
from sportello.billing.services import NewLine, invoice_create, invoice_issue, invoice_settle, on_invoice_paid
from sportello.core.models import AuditEvent
from sportello.core.money import Money

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 22)
LATER = dt.date(2026, 11, 25)


def line(
    description: str, price: str, quantity: str = "1", *, tax_class: str = "standard", discount: int = 0
) -> NewLine:
    return NewLine(
        description=description,
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        tax_class=tax_class,
        discount_minor=discount,
        period_start=dt.date(2026, 12, 1),
        period_end=dt.date(2027, 1, 1),
    )


def issued(membership: Membership, *lines: NewLine, currency: str = "EUR", inclusive: bool = False) -> Invoice:
    draft = invoice_create(
        account=membership.account, lines=list(lines), as_of=DAY, currency=currency, prices_include_tax=inclusive
    )
    return invoice_issue(invoice=draft, as_of=DAY)


def pay(invoice: Invoice, amount: str, reference: str = "pay-1") -> None:
    invoice_settle(
        invoice=invoice,
        amount=Money(amount, invoice.currency),
        kind=SettlementKind.PAYMENT,
        reference=reference,
        settled_on=DAY,
        method="Bank transfer",
    )


def snapshot() -> tuple[object, ...]:
    return (
        list(Invoice.objects.order_by("pk").values_list("pk", "kind", "status", "number", "total_minor")),
        list(InvoiceLine.objects.order_by("pk").values_list("pk", "amount_minor", "net_minor")),
        list(InvoiceTax.objects.order_by("pk").values_list("pk", "tax_minor")),
        list(Settlement.objects.order_by("pk").values_list("pk", "amount_minor")),
        InvoiceEvent.objects.count(),
        list(DocumentCounter.objects.order_by("series", "year").values_list("series", "year", "last_sequence")),
        AuditEvent.objects.count(),
    )


# --- Credit notes -----------------------------------------------------------------------------


def test_a_whole_credit_note_copies_the_lines_and_settles_the_balance(alice: Membership, billing_setup: None) -> None:
    invoice = issued(alice, line("Hosting Pro", "100.00"), line("Backups", "10.00", "3", discount=500))
    note = credit_note_create(invoice=invoice, lines=None, reason="Ordered by mistake", as_of=LATER)
    assert (note.kind, note.number, note.corrects_id, note.status, note.issue_date) == (
        "credit_note",
        "CN-2026-00001",
        invoice.pk,
        InvoiceStatus.PAID,
        LATER,
    )
    assert (
        (note.net_minor, note.tax_minor, note.total_minor)
        == (12500, 2625, 15125)
        == (
            invoice.net_minor,
            invoice.tax_minor,
            invoice.total_minor,
        )
    )
    copied = list(note.lines.values_list("description", "quantity", "unit_price", "discount_minor", "corrects_line"))
    originals = list(invoice.lines.values_list("description", "quantity", "unit_price", "discount_minor", "pk"))
    assert copied == originals
    assert set(note.lines.values_list("tax_name", "period_start")) == {("IVA 21%", dt.date(2026, 12, 1))}
    assert note.notes == "Ordered by mistake"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_date, invoice_balance_minor(invoice=invoice)) == ("paid", LATER, 0)
    settlement = Settlement.objects.get(invoice=invoice)
    assert (settlement.kind, settlement.amount_minor, settlement.credit_note_id) == ("credit_note", 15125, note.pk)
    assert credit_note_unapplied_minor(credit_note=note) == 0
    assert credit_notes_of(invoice=invoice) == [note]


def test_credit_notes_of_parts_never_exceed_the_invoice(alice: Membership, billing_setup: None) -> None:
    invoice = issued(alice, line("Licences", "10.00", "3"), line("Setup", "50.00"))
    licences, setup = invoice.lines.order_by("position")
    first = credit_note_create(
        invoice=invoice, lines=[CreditLine(licences.pk, Decimal(1))], reason="One licence returned", as_of=DAY
    )
    assert (first.net_minor, first.tax_minor, first.total_minor) == (1000, 210, 1210)
    before = snapshot()
    with pytest.raises(CreditAboveInvoice) as error:
        credit_note_create(invoice=invoice, lines=[CreditLine(licences.pk, Decimal(3))], reason="Too many", as_of=DAY)
    assert (error.value.creditable_minor, error.value.currency) == (2000, "EUR")
    assert snapshot() == before
    rest = credit_note_create(invoice=invoice, lines=[CreditLine(licences.pk)], reason="The rest", as_of=DAY)
    assert (rest.net_minor, rest.total_minor, rest.lines.get().quantity) == (2000, 2420, Decimal(2))
    with pytest.raises(CreditAboveInvoice):
        credit_note_create(invoice=invoice, lines=[CreditLine(licences.pk)], reason="Again", as_of=DAY)
    last = credit_note_create(invoice=invoice, lines=None, reason="Setup too", as_of=DAY)
    assert last.lines.get().corrects_line_id == setup.pk
    assert invoice_credited_minor(invoice=invoice) == invoice.total_minor == 9680
    with pytest.raises(CreditAboveInvoice):
        credit_note_create(invoice=invoice, lines=None, reason="Nothing left", as_of=DAY)


def test_separate_notes_add_up_to_the_invoice_tax_exactly(alice: Membership, billing_setup: None) -> None:
    # Invoice: 0.03 + 0.03 at 21% -> tax on 0.06 = 0.0126 -> 0.01, total 0.07. Each line
    # alone would be taxed 0.0063 -> 0.01: two notes by the naive rule would credit 0.08.
    invoice = issued(alice, line("A", "0.03"), line("B", "0.03"))
    a, b = invoice.lines.order_by("position")
    assert invoice.total_minor == 7
    first = credit_note_create(invoice=invoice, lines=[CreditLine(a.pk)], reason="A", as_of=DAY)
    second = credit_note_create(invoice=invoice, lines=[CreditLine(b.pk)], reason="B", as_of=DAY)
    assert [(n.net_minor, n.tax_minor) for n in (first, second)] == [(3, 1), (3, 0)]
    assert invoice_credited_minor(invoice=invoice) == 7


def test_prices_with_tax_included_are_credited_exactly(alice: Membership, billing_setup: None) -> None:
    invoice = issued(alice, line("A", "10.00"), line("B", "10.00"), line("C", "10.00"), inclusive=True)
    assert (invoice.net_minor, invoice.tax_minor) == (2479, 521)
    lines = list(invoice.lines.order_by("position"))
    first = credit_note_create(invoice=invoice, lines=[CreditLine(lines[0].pk)], reason="A", as_of=DAY)
    assert (first.net_minor, first.tax_minor, first.total_minor) == (826, 174, 1000)
    rest = credit_note_create(invoice=invoice, lines=None, reason="Rest", as_of=DAY)
    assert (rest.net_minor, rest.tax_minor, rest.total_minor) == (1653, 347, 2000)
    assert sum(rest.lines.values_list("net_minor", flat=True)) == 1653


def test_crediting_a_paid_invoice_owes_the_money_back(alice: Membership, billing_setup: None) -> None:
    invoice = issued(alice, line("Hosting", "100.00"))
    pay(invoice, "100.00")
    note = credit_note_create(invoice=invoice, lines=None, reason="Service never delivered", as_of=LATER)
    # 21.00 still owed is settled by the note; 100.00 was paid and is owed back.
    assert (credit_note_applied_minor(credit_note=note), credit_note_unapplied_minor(credit_note=note)) == (2100, 10000)
    event = note.events.get(transition="settle")
    assert (event.data["applied_minor"], event.data["unapplied_minor"], event.data["corrects"]) == (
        2100,
        10000,
        invoice.number,
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice_paid_minor(invoice=invoice)) == ("paid", 12100)
    again = issued(alice, line("Hosting", "100.00"))
    pay(again, "121.00", reference="pay-2")
    note = credit_note_create(invoice=again, lines=None, reason="Refund", as_of=LATER)
    assert (credit_note_applied_minor(credit_note=note), credit_note_unapplied_minor(credit_note=note)) == (0, 12100)


def test_it_refuses_bad_requests_and_changes_nothing(alice: Membership, bob: Membership, billing_setup: None) -> None:
    invoice = issued(alice, line("Hosting", "100.00"))
    draft = invoice_create(account=alice.account, lines=[line("Draft", "1.00")], as_of=DAY)
    other = issued(alice, line("Other", "5.00"))
    only = invoice.lines.get().pk
    before = snapshot()
    cases: list[tuple[dict[str, object], type[BillingError], str]] = [
        ({"invoice": invoice, "lines": None, "reason": "  "}, InvalidDocument, "reason"),
        ({"invoice": draft, "lines": None, "reason": "x"}, InvalidDocument, "invoice"),
        ({"invoice": invoice, "lines": [], "reason": "x"}, InvalidDocument, "lines"),
        ({"invoice": invoice, "lines": [CreditLine(other.lines.get().pk)], "reason": "x"}, InvalidDocument, "lines"),
        ({"invoice": invoice, "lines": [CreditLine(only, Decimal(0))], "reason": "x"}, InvalidDocument, "quantity"),
        ({"invoice": invoice, "lines": [CreditLine(only)] * 2, "reason": "x"}, InvalidDocument, "lines"),
    ]  # fmt: skip
    for kwargs, error, field in cases:
        with pytest.raises(error) as raised:
            credit_note_create(as_of=DAY, **kwargs)  # type: ignore[arg-type]
        assert isinstance(raised.value, InvalidDocument) and raised.value.field == field
    with pytest.raises(InvalidDocument):
        credit_note_create(invoice=invoice, lines=None, reason="Backdated", as_of=DAY - dt.timedelta(days=1))
    assert snapshot() == before


def test_a_credit_note_that_settles_the_balance_runs_the_paid_handlers(alice: Membership, billing_setup: None) -> None:
    seen: list[str] = []
    handler = on_invoice_paid(lambda invoice: seen.append(invoice.number))
    try:
        invoice = issued(alice, line("Hosting", "100.00"))
        pay(invoice, "100.00")
        credit_note_create(invoice=invoice, lines=None, reason="Goodwill", as_of=DAY)
    finally:
        from sportello.billing import services

        services._PAID_HANDLERS.remove(handler)
    # The invoice was paid (100.00 + the note's 21.00); the note itself is not "paid".
    assert seen == [invoice.number]


# --- Cancellation -----------------------------------------------------------------------------


def test_cancelling_an_issued_invoice_issues_a_full_credit_note(alice: Membership, billing_setup: None) -> None:
    seen: list[str] = []
    handler = on_invoice_paid(lambda invoice: seen.append(invoice.number))
    try:
        invoice = issued(alice, line("Hosting", "100.00"), line("Domain", "12.00"))
        first = credit_note_create(
            invoice=invoice, lines=[CreditLine(invoice.lines.get(description="Domain").pk)], reason="No", as_of=DAY
        )
        result = invoice_cancel(invoice=invoice, reason="Customer withdrew", as_of=LATER)
    finally:
        from sportello.billing import services

        services._PAID_HANDLERS.remove(handler)
    assert seen == []
    assert result.credit_note is not None
    assert (result.invoice.status, result.credit_note.number, result.credit_note.total_minor) == (
        InvoiceStatus.CANCELLED,
        "CN-2026-00002",
        12100,
    )
    assert first.total_minor + result.credit_note.total_minor == invoice.total_minor == 13552
    assert invoice_balance_minor(invoice=result.invoice) == 0
    event = result.invoice.events.get(transition="cancel")
    assert (event.from_status, event.to_status, event.data["credit_note"], event.data["reason"]) == (
        "partially_paid",
        "cancelled",
        "CN-2026-00002",
        "Customer withdrew",
    )
    before = snapshot()
    with pytest.raises(IllegalTransition):
        invoice_cancel(invoice=invoice, reason="Twice", as_of=LATER)
    with pytest.raises(IllegalTransition):
        invoice_cancel(invoice=result.credit_note, reason="A note", as_of=LATER)
    assert snapshot() == before


def test_an_invoice_with_payments_is_not_cancelled(alice: Membership, billing_setup: None) -> None:
    invoice = issued(alice, line("Hosting", "100.00"))
    pay(invoice, "20.00")
    before = snapshot()
    with pytest.raises(InvoiceHasPayments) as error:
        invoice_cancel(invoice=invoice, reason="Too late", as_of=DAY)
    assert (error.value.received_minor, error.value.currency) == (2000, "EUR")
    assert snapshot() == before


def test_a_cancelled_draft_stays_cancelled_and_uses_no_number(
    alice: Membership, billing_setup: None, settings: object
) -> None:
    draft = invoice_create(account=alice.account, lines=[line("Hosting", "100.00")], as_of=DAY)
    result = invoice_cancel(invoice=draft, reason="Wrong customer", as_of=DAY)
    assert (result.invoice.pk, result.credit_note, result.invoice.status) == (draft.pk, None, "cancelled")
    kept = Invoice.objects.get(pk=draft.pk)
    # Kept for staff as it was, cancelled: no number of any series, no issue date, no credit note.
    assert (kept.status, kept.number, kept.proforma_number, kept.sequence, kept.issue_date, kept.total_minor) == (
        "cancelled",
        "",
        "",
        None,
        None,
        12100,
    )
    assert kept.lines.count() == 1 and not Invoice.objects.filter(corrects=kept).exists()
    assert not DocumentCounter.objects.exists()
    assert not kept.is_issued and not Invoice.objects.issued().exists()
    event = kept.events.get()
    assert (event.transition, event.from_status, event.to_status, event.data) == (
        "cancel",
        "draft",
        "cancelled",
        {"reason": "Wrong customer"},
    )
    audit = AuditEvent.objects.get(action="billing.draft_cancelled")
    # Kept from the customer's activity log: the draft never existed for them.
    assert (audit.data["total_minor"], audit.data["reason"], audit.data["account_id"], audit.account_id) == (
        12100,
        "Wrong customer",
        alice.account_id,
        None,
    )
    assert audit.target == f"billing.invoice:{draft.pk}"
    assert BilledPeriod.objects.count() == 0
    following = issued(alice, line("Hosting", "100.00"))
    assert following.number == "INV-2026-00001"
    # Cancelled is final: neither issued nor cancelled again.
    before = snapshot()
    with pytest.raises(IllegalTransition):
        invoice_issue(invoice=kept, as_of=DAY)
    with pytest.raises(IllegalTransition):
        invoice_cancel(invoice=kept, reason="Twice", as_of=DAY)
    assert snapshot() == before


def test_a_cancelled_draft_with_numbering_at_payment_takes_no_payment_request_number(
    alice: Membership, billing_setup: None, settings: object
) -> None:
    settings.BILLING_NUMBERING = "payment"  # type: ignore[attr-defined]
    draft = invoice_create(account=alice.account, lines=[line("Hosting", "100.00")], as_of=DAY)
    invoice_cancel(invoice=draft, reason="Duplicate", as_of=DAY)
    assert Invoice.objects.filter(pk=draft.pk, status="cancelled", proforma_number="").exists()
    assert not DocumentCounter.objects.exists()
    assert issued(alice, line("Hosting", "100.00")).proforma_number == "PRO-2026-00001"


def test_the_database_refuses_a_cancelled_document_with_a_date_but_no_number(
    alice: Membership, billing_setup: None
) -> None:
    draft = invoice_create(account=alice.account, lines=[line("Hosting", "100.00")], as_of=DAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=draft.pk).update(status="cancelled", issue_date=DAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=draft.pk).update(status="open")
    assert Invoice.objects.get(pk=draft.pk).status == "draft"


def test_a_payment_request_is_cancelled_without_a_credit_note(
    alice: Membership, billing_setup: None, settings: object
) -> None:
    settings.BILLING_NUMBERING = "payment"  # type: ignore[attr-defined]
    invoice = issued(alice, line("Hosting", "100.00"))
    result = invoice_cancel(invoice=invoice, reason="Not wanted", as_of=DAY)
    assert (result.invoice.status, result.invoice.number, result.credit_note) == ("cancelled", "", None)
    with pytest.raises(InvalidDocument):
        credit_note_create(invoice=issued(alice, line("X", "1.00")), lines=None, reason="x", as_of=DAY)


# --- Property: never above the invoice, exact in every currency ------------------------------

CURRENCIES = {"JPY": 0, "EUR": 2, "KWD": 3}
amounts = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999.999"), places=3)
random_line = st.tuples(
    amounts,
    st.sampled_from(["1", "2", "3", "0.5", "7", "1.25"]),
    st.sampled_from(["standard", "reduced", "exempt"]),
    st.integers(min_value=0, max_value=40),
)
# Each step credits some lines: (line index, quantity or None for "the rest").
step = st.lists(
    st.tuples(st.integers(min_value=0, max_value=4), st.sampled_from([None, "0.5", "1", "0.25", "2", "1.000001"])),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    currency=st.sampled_from(sorted(CURRENCIES)),
    inclusive=st.booleans(),
    specs=st.lists(random_line, min_size=1, max_size=4),
    steps=st.lists(step, max_size=5),
    paid_share=st.sampled_from([0, 1, 2]),
)
def test_credit_notes_never_exceed_the_invoice(
    alice: Membership,
    billing_setup: None,
    currency: str,
    inclusive: bool,
    specs: list[tuple[Decimal, str, str, int]],
    steps: list[list[tuple[int, str | None]]],
    paid_share: int,
) -> None:
    exponent = CURRENCIES[currency]
    lines = []
    for index, (price, quantity, tax_class, discount_percent) in enumerate(specs):
        price = price.quantize(Decimal(1).scaleb(-exponent)) or Decimal(1)
        gross_minor = int((price * Decimal(quantity)).scaleb(exponent))
        lines.append(
            line(f"L{index}", str(price), quantity, tax_class=tax_class, discount=gross_minor * discount_percent // 100)
        )
    invoice = issued(alice, *lines, currency=currency, inclusive=inclusive)
    if paid_share and invoice.total_minor:
        pay(invoice, str(Money.from_minor(invoice.total_minor // (3 - paid_share) or 1, currency).amount), "p")
    invoice_lines = list(invoice.lines.order_by("position"))
    notes: list[Invoice] = []
    for wanted in steps:
        chosen = {}
        for index, quantity in wanted:
            if index < len(invoice_lines):
                chosen[invoice_lines[index].pk] = CreditLine(
                    invoice_lines[index].pk, None if quantity is None else Decimal(quantity)
                )
        before = snapshot()
        try:
            notes.append(credit_note_create(invoice=invoice, lines=list(chosen.values()), reason="step", as_of=DAY))
        except (CreditAboveInvoice, InvalidDocument):
            assert snapshot() == before
        check_never_above(invoice, notes)
    if invoice_credited_minor(invoice=invoice) < invoice.total_minor:
        notes.append(credit_note_create(invoice=invoice, lines=None, reason="the rest", as_of=DAY))
    check_never_above(invoice, notes)
    # Everything credited: exactly the invoice, per rate and in total.
    assert invoice_credited_minor(invoice=invoice) == invoice.total_minor
    for tax in invoice.taxes.all():
        credited = InvoiceTax.objects.filter(invoice__in=notes, category=tax.category, rate=tax.rate)
        assert sum(t.tax_minor for t in credited) == tax.tax_minor
        assert sum(t.taxable_minor for t in credited) == tax.taxable_minor
    invoice.refresh_from_db()
    assert invoice_balance_minor(invoice=invoice) == 0
    applied = sum(credit_note_applied_minor(credit_note=n) for n in notes)
    owed_back = sum(credit_note_unapplied_minor(credit_note=n) for n in notes)
    money = sum(Settlement.objects.filter(invoice=invoice, kind="payment").values_list("amount_minor", flat=True))
    assert (money + applied, owed_back) == (invoice.total_minor, money)


def check_never_above(invoice: Invoice, notes: list[Invoice]) -> None:
    assert invoice_credited_minor(invoice=invoice) <= invoice.total_minor
    for note in notes:
        note_lines = list(note.lines.all())
        taxes = list(note.taxes.all())
        assert note.total_minor == note.net_minor + note.tax_minor
        assert note.net_minor == sum(t.taxable_minor for t in taxes) == sum(li.net_minor for li in note_lines)
        assert note.tax_minor == sum(t.tax_minor for t in taxes)
        assert all(li.amount_minor >= 0 and li.net_minor >= 0 and li.discount_minor >= 0 for li in note_lines)
        assert all(t.tax_minor >= 0 for t in taxes)
    for original in invoice.lines.all():
        credited = InvoiceLine.objects.filter(corrects_line=original)
        assert sum(li.amount_minor for li in credited) <= original.amount_minor
    for tax in invoice.taxes.all():
        credited = InvoiceTax.objects.filter(invoice__in=notes, category=tax.category, rate=tax.rate)
        assert sum(t.tax_minor for t in credited) <= tax.tax_minor
    assert invoice_balance_minor(invoice=invoice) >= 0
