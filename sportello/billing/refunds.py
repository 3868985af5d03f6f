"""Refunds as an invoice sees them: money it received that goes back to the customer (to the
card or to account credit; the payments domain moves the money and calls `invoice_refund`).

The rule, per invoice:
- A paid invoice is corrected: what is refunded is no longer owed (art. 219, Directive
  2006/112/EC: the correction is a credit note). What its credit notes already owe back
  (`credit_note_unapplied_minor`) is paid out first; a new credit note, of exactly the rest
  (`credit_lines_for_amount`), covers what is left. Each note used settles the invoice for its
  part (a credit-note settlement) and the money leaves as one reversal (a negative settlement)
  of the whole amount. The invoice's balance stays zero, and on the account statement the
  invoice, its payment, the credit note and the refund add up to nothing owed. Once all of
  the invoice is credited it becomes refunded.
- An invoice still owed (open, partially paid, overdue) is not corrected: the money is taken
  back (a reversal) and the invoice owes it again; partially paid with nothing left received,
  it is open again. Staff may then cancel it or correct it (`invoice_cancel`,
  `credit_note_create`), which a refund must not decide for them.

The lines of a credit note for an amount (`credit_lines_for_amount`): the amount is spread
over the invoice's tax rates in proportion to what is left of each (largest remainder), then
within a rate over its lines in proportion to what is left of each line, and each line's part
becomes the quantity (six decimals) that `credit_notes` credits for exactly that part. With
prices before tax, a rate's part is net + tax on the cumulative base (the credit-note rule),
and tax rounding skips some totals (at 21%, no net gives 0.06 + tax = 0.07): such an amount is
refused with the nearest ones (`CreditAmountUnreachable`). All that is left is always reachable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum

from sportello.accounts.models import User
from sportello.billing.calc import RATE_QUANTUM, line_amount_minor, tax_on_minor
from sportello.billing.credit_notes import (
    MONEY_SETTLEMENTS,
    CreditLine,
    _Credited,
    _credited_by_line,
    _half_up,
    _reason,
    credit_note_create,
    credit_note_unapplied_minor,
    credit_notes_of,
    invoice_creditable_minor,
)
from sportello.billing.errors import (
    CreditAboveInvoice,
    CreditAmountUnreachable,
    CurrencyMismatch,
    IllegalTransition,
    InvalidDocument,
)
from sportello.billing.models import (
    INVOICE_TRANSITIONS,
    PAYABLE_STATUSES,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTax,
    InvoiceTransition,
    Settlement,
    SettlementKind,
)
from sportello.billing.selectors import invoice_paid_minor
from sportello.billing.services import invoice_event_record, invoice_lock
from sportello.core.money import Money

RateKey = tuple[str, Decimal]
MICRO = 1_000_000  # quantities keep six decimals


def _key(category: str, rate: Decimal) -> RateKey:
    return category, Decimal(rate).quantize(RATE_QUANTUM)


def invoice_received_minor(*, invoice: Invoice) -> int:
    """Money the invoice has received and kept: payments and credit, less reversals."""
    total = Settlement.objects.filter(invoice_id=invoice.pk, kind__in=MONEY_SETTLEMENTS).aggregate(
        total=Sum("amount_minor")
    )["total"]
    return int(total or 0)


def invoice_owed_back_minor(*, invoice: Invoice) -> int:
    """What the invoice's credit notes owe the customer and nobody has paid out yet."""
    return sum(credit_note_unapplied_minor(credit_note=note) for note in credit_notes_of(invoice=invoice))


# --- A credit note for an amount ------------------------------------------------------------


def _credited_by_rate(invoice: Invoice) -> tuple[dict[RateKey, int], dict[RateKey, int]]:
    """Line amounts and tax already credited per rate, over the invoice's issued notes."""
    amounts: dict[RateKey, int] = {}
    for row in (
        InvoiceLine.objects.filter(invoice__corrects_id=invoice.pk, invoice__kind=DocumentKind.CREDIT_NOTE)
        .exclude(invoice__status=InvoiceStatus.DRAFT)
        .values("tax_category", "tax_rate")
        .annotate(amount=Sum("amount_minor"))
    ):
        key = _key(row["tax_category"], row["tax_rate"])
        amounts[key] = amounts.get(key, 0) + int(row["amount"])
    taxes: dict[RateKey, int] = {}
    for tax in InvoiceTax.objects.filter(
        invoice__corrects_id=invoice.pk, invoice__kind=DocumentKind.CREDIT_NOTE
    ).exclude(invoice__status=InvoiceStatus.DRAFT):
        key = _key(tax.category, tax.rate)
        taxes[key] = taxes.get(key, 0) + tax.tax_minor
    return amounts, taxes


def _first_reaching(low: int, high: int, target: int, value: Callable[[int], int]) -> int:
    """The smallest x in [low, high] with value(x) >= target (value non-decreasing); high if none."""
    while low < high:
        middle = (low + high) // 2
        if value(middle) >= target:
            high = middle
        else:
            low = middle + 1
    return low


def _line_part(line: InvoiceLine, done: _Credited, target: int, currency: str) -> CreditLine:
    """The quantity of `line` that `credit_notes` credits for exactly `target` (< what is left)."""
    whole = Decimal(line.quantity)
    left_micro = int((whole - done.quantity) * MICRO)
    left_amount = line.amount_minor - done.amount_minor

    def amount(micro: int) -> int:
        # `credit_notes._credit_line` for a part of a line: gross less its share of the discount.
        quantity = Decimal(micro) / MICRO
        gross = line_amount_minor(
            quantity=quantity, unit_price=Decimal(line.unit_price), discount_minor=0, currency=currency
        )
        share = _half_up(line.discount_minor * (done.quantity + quantity) / whole) - _half_up(
            line.discount_minor * done.quantity / whole
        )
        return min(max(gross - share, 0), left_amount)

    found = _first_reaching(1, left_micro - 1, target, amount)
    for micro in range(max(found - 2, 1), min(found + 3, left_micro)):
        if amount(micro) == target:
            return CreditLine(line_id=line.pk, quantity=Decimal(micro) / MICRO)
    lower = amount(max(found - 1, 1))
    upper = amount(found)
    raise CreditAmountUnreachable(
        lower_minor=min(lower, target), upper_minor=max(upper, target), currency=currency
    )  # a unit price so large that one millionth of it is more than a minor unit


def credit_lines_for_amount(*, invoice: Invoice, amount_minor: int) -> list[CreditLine] | None:
    """The lines of a credit note of `invoice` totalling exactly `amount_minor`, by the rule in
    this module's docstring; None when that is everything not yet credited."""
    creditable = invoice_creditable_minor(invoice=invoice)
    currency = invoice.currency
    if amount_minor <= 0:
        raise InvalidDocument("amount", "not_positive")
    if amount_minor > creditable:
        raise CreditAboveInvoice(creditable_minor=creditable, wanted_minor=amount_minor, currency=currency)
    if amount_minor == creditable:
        return None
    included = invoice.prices_include_tax
    done = _credited_by_line(invoice)
    nothing = _Credited(Decimal(0), 0)
    credited_amounts, credited_taxes = _credited_by_rate(invoice)
    invoice_taxes = {_key(tax.category, tax.rate): tax.tax_minor for tax in invoice.taxes.all()}
    groups: dict[RateKey, list[InvoiceLine]] = {}
    for line in invoice.lines.order_by("position", "pk"):
        if line.amount_minor - done.get(line.pk, nothing).amount_minor > 0:
            groups.setdefault(_key(line.tax_category, line.tax_rate), []).append(line)
    keys = list(groups)

    def left_of(line: InvoiceLine) -> int:
        return line.amount_minor - done.get(line.pk, nothing).amount_minor

    left_totals = [
        sum(left_of(line) for line in groups[key])
        + (0 if included else invoice_taxes.get(key, 0) - credited_taxes.get(key, 0))
        for key in keys
    ]
    targets = [part.minor for part in Money.from_minor(amount_minor, currency).allocate(left_totals)]
    result: list[CreditLine] = []
    for key, target, left_total in zip(keys, targets, left_totals, strict=True):
        if target == 0:
            continue
        lines = groups[key]
        left_net = sum(left_of(line) for line in lines)
        if included:
            net = target
        else:
            earlier_base = credited_amounts.get(key, 0)
            earlier_tax = credited_taxes.get(key, 0)

            def total(net: int, base: int = earlier_base, tax: int = earlier_tax, rate: Decimal = key[1]) -> int:
                return net + tax_on_minor(base_minor=base + net, rate=rate, currency=currency, included=False) - tax

            net = _first_reaching(0, left_net, target, total)
            if total(net) != target:
                below = total(net - 1) if net > 0 else 0
                raise CreditAmountUnreachable(
                    lower_minor=amount_minor - (target - below),
                    upper_minor=amount_minor + (total(net) - target),
                    currency=currency,
                )
        if net == left_net and target == left_total:
            result.extend(CreditLine(line_id=line.pk) for line in lines)
            continue
        parts = Money.from_minor(net, currency).allocate([left_of(line) for line in lines])
        for line, part in zip(lines, parts, strict=True):
            if part.minor == left_of(line):
                result.append(CreditLine(line_id=line.pk))
            elif part.minor > 0:
                result.append(_line_part(line, done.get(line.pk, nothing), part.minor, currency))
    return result


# --- Refunding an invoice -------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceRefund:
    invoice: Invoice
    # The credit notes that covered it: earlier ones paid out, then the one issued for the rest.
    credit_notes: list[Invoice] = field(default_factory=list)
    # The amount each of them covered, in the same order.
    covered_minor: list[int] = field(default_factory=list)


def _covered_by_notes(invoice: Invoice, amount_minor: int) -> tuple[list[Invoice], list[int], int]:
    """The earlier credit notes that pay out part of `amount_minor` (what they owe back), the
    part each covers, and what is left for a new credit note."""
    left = amount_minor
    notes: list[Invoice] = []
    covered: list[int] = []
    for note in credit_notes_of(invoice=invoice):
        owed = credit_note_unapplied_minor(credit_note=note)
        if owed > 0 and left > 0:
            notes.append(note)
            covered.append(min(owed, left))
            left -= covered[-1]
    return notes, covered, left


def invoice_refund_check(*, invoice: Invoice, amount: Money) -> None:
    """Raise what `invoice_refund` would refuse for `amount`, writing nothing: asked before
    money leaves through a gateway, so the correction that follows cannot be refused."""
    if invoice.kind != DocumentKind.INVOICE:
        raise InvalidDocument("invoice", "not_an_invoice")
    if invoice.status not in INVOICE_TRANSITIONS[InvoiceTransition.REFUND]:
        raise IllegalTransition(transition=InvoiceTransition.REFUND, from_status=invoice.status)
    if amount.minor > invoice_received_minor(invoice=invoice):
        raise InvalidDocument("amount", "above_received")
    if invoice.status in PAYABLE_STATUSES:
        return
    if not invoice.number:
        raise InvalidDocument("invoice", "no_fiscal_number")
    _notes, _covered, left = _covered_by_notes(invoice, amount.minor)
    if left:
        credit_lines_for_amount(invoice=invoice, amount_minor=left)


def _settlement(invoice: Invoice, *, kind: str, amount_minor: int, reference: str, **fields: object) -> None:
    try:
        with transaction.atomic():
            Settlement.objects.create(
                account_id=invoice.account_id,
                invoice=invoice,
                kind=kind,
                amount_minor=amount_minor,
                reference=reference[:120],
                **fields,
            )
    except IntegrityError:
        raise InvalidDocument("reference", "already_applied") from None


@transaction.atomic
def invoice_refund(
    *,
    invoice: Invoice,
    amount: Money,
    reference: str,
    reason: str,
    as_of: dt.date,
    method: str = "",
    by: User | None = None,
) -> InvoiceRefund:
    """Give back `amount` of what `invoice` received, by the rule in this module's docstring.

    `reference` names the refund ("refund:<id>"): with the invoice, unique, so the same refund
    is never applied twice. Refuses more than the invoice received, and, on a paid invoice,
    an amount no credit note can total exactly (`CreditAmountUnreachable`); nothing changes.
    """
    reason = _reason(reason)
    invoice = invoice_lock(invoice)
    if invoice.kind != DocumentKind.INVOICE:
        raise InvalidDocument("invoice", "not_an_invoice")
    if amount.currency != invoice.currency:
        raise CurrencyMismatch(expected=invoice.currency, got=amount.currency)
    if amount.minor <= 0:
        raise InvalidDocument("amount", "not_positive")
    if amount.minor > invoice_received_minor(invoice=invoice):
        raise InvalidDocument("amount", "above_received")
    if invoice.status not in INVOICE_TRANSITIONS[InvoiceTransition.REFUND]:
        raise IllegalTransition(transition=InvoiceTransition.REFUND, from_status=invoice.status)
    from_status = invoice.status
    if invoice.status in PAYABLE_STATUSES:
        _settlement(
            invoice,
            kind=SettlementKind.REVERSAL,
            amount_minor=-amount.minor,
            reference=reference,
            settled_on=as_of,
            method=method[:100],
        )
        if invoice.status == InvoiceStatus.PARTIALLY_PAID and invoice_paid_minor(invoice=invoice) == 0:
            invoice.status = InvoiceStatus.OPEN
            invoice.save(update_fields=["status", "updated_at"])
        invoice_event_record(
            invoice,
            transition=InvoiceTransition.REFUND,
            from_status=from_status,
            by=by,
            data={"amount_minor": amount.minor, "reference": reference, "reason": reason},
        )
        return InvoiceRefund(invoice=invoice)
    if not invoice.number:
        raise InvalidDocument("invoice", "no_fiscal_number")
    notes, covered, left = _covered_by_notes(invoice, amount.minor)
    if left:
        if left > invoice_creditable_minor(invoice=invoice):
            raise CreditAboveInvoice(
                creditable_minor=amount.minor - left + invoice_creditable_minor(invoice=invoice),
                wanted_minor=amount.minor,
                currency=invoice.currency,
            )
        note = credit_note_create(
            invoice=invoice,
            lines=credit_lines_for_amount(invoice=invoice, amount_minor=left),
            reason=reason,
            as_of=as_of,
            by=by,
        )
        if note.total_minor != left:  # the rule above makes this impossible: the last guard
            reached = amount.minor - left + note.total_minor
            raise CreditAmountUnreachable(lower_minor=reached, upper_minor=reached, currency=invoice.currency)
        notes.append(note)
        covered.append(left)
    for note, part in zip(notes, covered, strict=True):
        _settlement(
            invoice,
            kind=SettlementKind.CREDIT_NOTE,
            amount_minor=part,
            reference=f"{reference}:{note.number}",
            settled_on=as_of,
            method=note.number,
            credit_note=note,
        )
    _settlement(
        invoice,
        kind=SettlementKind.REVERSAL,
        amount_minor=-amount.minor,
        reference=reference,
        settled_on=as_of,
        method=method[:100],
    )
    if invoice_creditable_minor(invoice=invoice) == 0:
        invoice.status = InvoiceStatus.REFUNDED
        invoice.save(update_fields=["status", "updated_at"])
    invoice_event_record(
        invoice,
        transition=InvoiceTransition.REFUND,
        from_status=from_status,
        by=by,
        data={
            "amount_minor": amount.minor,
            "reference": reference,
            "reason": reason,
            "credit_notes": [note.number for note in notes],
        },
    )
    return InvoiceRefund(invoice=invoice, credit_notes=notes, covered_minor=covered)
