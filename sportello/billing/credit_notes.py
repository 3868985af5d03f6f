"""Credit notes and cancellation: how an issued invoice is corrected (art. 219, Directive
2006/112/EC: a document that amends an invoice is itself an invoice, never an edit).

A credit note corrects one issued invoice. It is numbered in its own series (gapless, like
invoices) and its lines copy what the corrected lines printed: description, period, unit
price and tax decision (rate, category, name, wording), each pointing at its line.

Never more than the invoice, over all its credit notes, checked under the invoice's lock
(account, then invoice: two notes racing on one invoice queue, and the second sees the first):
- per line, the credited quantity and amount never exceed the line's;
- per tax rate, the credited tax never exceeds the invoice's; so the credited total never
  exceeds the invoice's total.

The figures (the invoice rule of `billing.calc`, made cumulative so that parts add up):
- Crediting a whole line copies it: same quantity, unit price and discount, same amount.
- Part of a line (a quantity): quantity x unit price, less its pro-rata share of the line's
  discount. The rest of a line (whatever quantity is left) is credited for exactly what is
  left of the line's amount; the discount absorbs what rounding each part moved. Only when
  that would need a negative discount (sub-cent unit prices split in parts) does the last
  part carry the amount left as its price.
- Tax, per (category, rate) as on invoices, but on the running total: a note's tax for a
  rate is the tax on everything credited at that rate so far, this note included, less what
  earlier notes of the invoice took. Each note is within one minor unit of the invoice
  rule applied to it alone, and when everything is credited the notes' taxes add up to
  exactly the invoice's, never more.

Applying it: the credit note settles the invoice's balance (a `Settlement` of kind
credit_note, through `invoice_settle`) up to what is still owed. Whatever exceeds the
balance (the invoice had been paid) is owed back to the customer: the event of the note
records it and `credit_note_unapplied_minor` says how much; the payments domain turns it
into account credit or a refund. The credit note itself is never payable: it is marked
settled in the transaction that issues it, so reminders, late fees and dunning never see it.

Cancelling (`invoice_cancel`):
- A draft has no number and no legal existence: it is kept, as cancelled, with no number
  and no issue date (none is taken, so numbering stays gapless) and no credit note, for
  staff to see what was discarded and why; the periods it would have billed become
  billable again. Customers never see it (`InvoiceQuerySet.issued`).
- An issued invoice that has received no money is cancelled by a credit note for all that
  has not been credited yet, applied to its balance; it is cancelled, not paid, so the
  handlers that act on payment (renewing services, carrying out orders) do not run.
- A payment request (numbering at payment) has no fiscal number to correct: it is cancelled
  as it is.
- An invoice that has received money (payments or account credit, net of reversals) is
  refused with `InvoiceHasPayments`: the customer is refunded first (payments domain), and
  then the invoice is cancelled, or corrected with `credit_note_create`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import User
from sportello.billing.calc import RATE_QUANTUM, line_amount_minor, tax_on_minor
from sportello.billing.errors import (
    CreditAboveInvoice,
    IllegalTransition,
    InvalidDocument,
    InvoiceHasPayments,
)
from sportello.billing.models import (
    INVOICE_TRANSITIONS,
    PAYABLE_STATUSES,
    BilledPeriod,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTax,
    InvoiceTransition,
    Settlement,
    SettlementKind,
    TaxCategory,
)
from sportello.billing.selectors import invoice_paid_minor
from sportello.billing.services import (
    SCALE,
    NewLine,
    invoice_create,
    invoice_event_record,
    invoice_issue,
    invoice_lock,
    invoice_settle,
)
from sportello.billing.taxes import TaxDecision
from sportello.core.models import AUDIT_ACTIONS
from sportello.core.money import Money, currency_exponent
from sportello.core.services import audit_record

AUDIT_ACTIONS.update(
    {
        "billing.credit_note_issued": _("Credit note issued"),
        "billing.invoice_cancelled": _("Invoice cancelled"),
        "billing.draft_cancelled": _("Draft invoice discarded"),
    }
)

# Settlements that bring money in; a cancelled invoice must have none (net of reversals).
MONEY_SETTLEMENTS = (SettlementKind.PAYMENT, SettlementKind.CREDIT, SettlementKind.REVERSAL)


@dataclass(frozen=True)
class CreditLine:
    """One line of the invoice to credit: `quantity` of it, or (None) all not yet credited."""

    line_id: int
    quantity: Decimal | None = None


# --- Reads ----------------------------------------------------------------------------------


def credit_notes_of(*, invoice: Invoice) -> list[Invoice]:
    """The issued credit notes correcting `invoice`, oldest first."""
    return list(
        Invoice.objects.filter(corrects_id=invoice.pk, kind=DocumentKind.CREDIT_NOTE)
        .exclude(status=InvoiceStatus.DRAFT)
        .order_by("issue_date", "pk")
    )


def invoice_credited_minor(*, invoice: Invoice) -> int:
    """What the invoice's issued credit notes add up to."""
    total = (
        Invoice.objects.filter(corrects_id=invoice.pk, kind=DocumentKind.CREDIT_NOTE)
        .exclude(status=InvoiceStatus.DRAFT)
        .aggregate(total=Sum("total_minor"))["total"]
    )
    return int(total or 0)


def invoice_creditable_minor(*, invoice: Invoice) -> int:
    """What may still be credited on `invoice`: its total less its credit notes."""
    return invoice.total_minor - invoice_credited_minor(invoice=invoice)


def credit_note_applied_minor(*, credit_note: Invoice) -> int:
    """The part of a credit note that settled the balance of the invoice it corrects."""
    total = Settlement.objects.filter(credit_note_id=credit_note.pk).aggregate(total=Sum("amount_minor"))["total"]
    return int(total or 0)


def credit_note_unapplied_minor(*, credit_note: Invoice) -> int:
    """The part of a credit note beyond what the invoice still owed: money owed back to the
    customer, which the payments domain turns (once per credit note) into account credit
    or a refund. Zero when the note settled the invoice's balance in full."""
    return credit_note.total_minor - credit_note_applied_minor(credit_note=credit_note)


# --- The lines of a credit note -------------------------------------------------------------


@dataclass(frozen=True)
class _Credited:
    quantity: Decimal
    amount_minor: int


def _credited_by_line(invoice: Invoice) -> dict[int, _Credited]:
    rows = (
        InvoiceLine.objects.filter(invoice__corrects_id=invoice.pk, invoice__kind=DocumentKind.CREDIT_NOTE)
        .exclude(invoice__status=InvoiceStatus.DRAFT)
        .values("corrects_line_id")
        .annotate(quantity=Sum("quantity"), amount=Sum("amount_minor"))
    )
    return {
        row["corrects_line_id"]: _Credited(quantity=Decimal(row["quantity"]), amount_minor=int(row["amount"]))
        for row in rows
        if row["corrects_line_id"] is not None
    }


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _decision_of(line: InvoiceLine, wording: dict[tuple[str, Decimal], str]) -> TaxDecision:
    rate = Decimal(line.tax_rate).quantize(RATE_QUANTUM)
    return TaxDecision(
        rate=rate,
        category=line.tax_category,
        name=line.tax_name,
        reverse_charge=line.tax_category == TaxCategory.REVERSE_CHARGE,
        exemption_text=wording.get((line.tax_category, rate), ""),
    )


def _credit_line(
    line: InvoiceLine, quantity: Decimal | None, done: _Credited, *, currency: str, decision: TaxDecision
) -> NewLine | None:
    """The credit note's line for `quantity` of `line` (None: what is left), by the rule in
    this module's docstring; None when nothing of the line is left to credit."""
    left_quantity = Decimal(line.quantity) - done.quantity
    left_amount = line.amount_minor - done.amount_minor
    if quantity is None:
        if left_quantity <= 0:
            return None
        quantity = left_quantity
    elif quantity <= 0:
        raise InvalidDocument("quantity", "not_positive")
    elif quantity != quantity.quantize(SCALE):
        raise InvalidDocument("quantity", "too_precise")
    unit_price = Decimal(line.unit_price)
    gross = line_amount_minor(quantity=quantity, unit_price=unit_price, discount_minor=0, currency=currency)
    if quantity > left_quantity:
        raise CreditAboveInvoice(
            creditable_minor=max(left_amount, 0), wanted_minor=gross - line.discount_minor, currency=currency
        )
    if quantity == left_quantity:
        amount = left_amount
    else:
        # This part's share of the line's discount: the pro-rata discount of everything
        # credited after it, less that of everything credited before (so shares add up).
        whole = Decimal(line.quantity)
        share = _half_up(line.discount_minor * (done.quantity + quantity) / whole) - _half_up(
            line.discount_minor * done.quantity / whole
        )
        amount = min(max(gross - share, 0), left_amount)
    discount = gross - amount
    if discount < 0:
        # The rest of a line split in parts, whose rounding left more than quantity x price.
        exponent = currency_exponent(currency)
        unit_price = (Decimal(amount).scaleb(-exponent) / quantity).quantize(SCALE)
        if line_amount_minor(quantity=quantity, unit_price=unit_price, discount_minor=0, currency=currency) != amount:
            quantity, unit_price = Decimal(1), Decimal(amount).scaleb(-exponent)
        discount = 0
    return NewLine(
        description=line.description,
        quantity=quantity,
        unit_price=unit_price,
        kind=line.kind,
        tax=decision,
        discount_minor=discount,
        period_start=line.period_start,
        period_end=line.period_end,
        corrects_line_id=line.pk,
    )


def _new_lines(invoice: Invoice, wanted: Sequence[CreditLine] | None) -> list[NewLine]:
    lines = {line.pk: line for line in invoice.lines.order_by("position", "pk")}
    wording = {
        (tax.category, Decimal(tax.rate).quantize(RATE_QUANTUM)): tax.exemption_text for tax in invoice.taxes.all()
    }
    done = _credited_by_line(invoice)
    nothing = _Credited(Decimal(0), 0)
    if wanted is None:
        wanted = [CreditLine(line_id=pk) for pk in lines]
    elif not wanted:
        raise InvalidDocument("lines", "required")
    if len({spec.line_id for spec in wanted}) != len(wanted):
        raise InvalidDocument("lines", "duplicate")
    result = []
    for spec in wanted:
        line = lines.get(spec.line_id)
        if line is None:
            raise InvalidDocument("lines", "unknown_line")
        new = _credit_line(
            line,
            None if spec.quantity is None else Decimal(str(spec.quantity)),
            done.get(line.pk, nothing),
            currency=invoice.currency,
            decision=_decision_of(line, wording),
        )
        if new is None and spec.quantity is None and len(wanted) == 1:
            raise CreditAboveInvoice(creditable_minor=0, wanted_minor=line.amount_minor, currency=invoice.currency)
        if new is not None:
            result.append(new)
    if not result:
        raise CreditAboveInvoice(creditable_minor=0, wanted_minor=invoice.total_minor, currency=invoice.currency)
    return result


def _cumulative_taxes(invoice: Invoice, note: Invoice) -> None:
    """Rewrite the draft note's tax summary, lines' net shares and totals by the cumulative
    tax rule (module docstring), and check the notes never exceed the invoice."""
    currency, included = invoice.currency, invoice.prices_include_tax

    def key(category: str, rate: Decimal) -> tuple[str, Decimal]:
        return category, Decimal(rate).quantize(RATE_QUANTUM)

    earlier_amounts: dict[tuple[str, Decimal], int] = {}
    for row in (
        InvoiceLine.objects.filter(invoice__corrects_id=invoice.pk, invoice__kind=DocumentKind.CREDIT_NOTE)
        .exclude(invoice__status=InvoiceStatus.DRAFT)
        .exclude(invoice_id=note.pk)
        .values("tax_category", "tax_rate")
        .annotate(amount=Sum("amount_minor"))
    ):
        k = key(row["tax_category"], row["tax_rate"])
        earlier_amounts[k] = earlier_amounts.get(k, 0) + int(row["amount"])
    earlier_taxes: dict[tuple[str, Decimal], int] = {}
    for tax_row in InvoiceTax.objects.filter(
        invoice__corrects_id=invoice.pk, invoice__kind=DocumentKind.CREDIT_NOTE
    ).exclude(invoice__status=InvoiceStatus.DRAFT):
        k = key(tax_row.category, tax_row.rate)
        earlier_taxes[k] = earlier_taxes.get(k, 0) + tax_row.tax_minor
    invoice_taxes = {key(t.category, t.rate): t for t in invoice.taxes.all()}

    lines = list(note.lines.order_by("position", "pk"))
    net_total = tax_total = 0
    for tax_row in note.taxes.all():
        k = key(tax_row.category, tax_row.rate)
        group = [line for line in lines if key(line.tax_category, line.tax_rate) == k]
        amount = sum(line.amount_minor for line in group)
        so_far = earlier_amounts.get(k, 0) + amount
        corrected = invoice_taxes.get(k)
        invoice_amount = sum(
            line.amount_minor for line in invoice.lines.all() if key(line.tax_category, line.tax_rate) == k
        )
        if corrected is None or so_far > invoice_amount:
            raise CreditAboveInvoice(
                creditable_minor=invoice_amount - earlier_amounts.get(k, 0), wanted_minor=amount, currency=currency
            )
        tax = tax_on_minor(base_minor=so_far, rate=k[1], currency=currency, included=included) - earlier_taxes.get(k, 0)
        taxable = amount - tax if included else amount
        if included:
            nets = (
                [m.minor for m in Money.from_minor(taxable, currency).allocate([line.amount_minor for line in group])]
                if amount
                else [0] * len(group)
            )
            for line, net in zip(group, nets, strict=True):
                if line.net_minor != net:
                    line.net_minor = net
                    line.save(update_fields=["net_minor"])
        tax_row.taxable_minor, tax_row.tax_minor = taxable, tax
        tax_row.save(update_fields=["taxable_minor", "tax_minor"])
        net_total += taxable
        tax_total += tax
    note.net_minor, note.tax_minor, note.total_minor = net_total, tax_total, net_total + tax_total
    note.save(update_fields=["net_minor", "tax_minor", "total_minor", "updated_at"])
    credited = invoice_credited_minor(invoice=invoice) + note.total_minor
    if credited > invoice.total_minor:  # the rules above make this impossible: the last guard
        raise CreditAboveInvoice(
            creditable_minor=invoice.total_minor - credited + note.total_minor,
            wanted_minor=note.total_minor,
            currency=currency,
        )


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidDocument("reason", "required")
    return reason[:500]


def _issue_credit_note(
    invoice: Invoice, wanted: Sequence[CreditLine] | None, *, reason: str, as_of: dt.date, by: User | None
) -> Invoice:
    """Draft, figure and issue a credit note of `invoice` (already locked); mark it settled."""
    if invoice.kind != DocumentKind.INVOICE or invoice.status == InvoiceStatus.DRAFT:
        raise InvalidDocument("invoice", "not_issued")
    if not invoice.number:
        raise InvalidDocument("invoice", "no_fiscal_number")
    if invoice.issue_date is not None and as_of < invoice.issue_date:
        raise InvalidDocument("as_of", "before_issue")
    note = invoice_create(
        account=invoice.account,
        lines=_new_lines(invoice, wanted),
        as_of=as_of,
        source=invoice.source,
        currency=invoice.currency,
        kind=DocumentKind.CREDIT_NOTE,
        corrects=invoice,
        prices_include_tax=invoice.prices_include_tax,
        supply_date=invoice.supply_date,
        notes=reason,
        by=by,
    )
    _cumulative_taxes(invoice, note)
    if note.total_minor == 0:
        raise InvalidDocument("lines", "nothing_to_credit")
    return invoice_issue(invoice=note, as_of=as_of, due_date=as_of, by=by)


def _settle_note(
    invoice: Invoice, note: Invoice, *, applied: int, reason: str, as_of: dt.date, by: User | None, action: str
) -> dict[str, Any]:
    """Mark the issued note settled (it is never payable; no paid handlers: nothing was paid)
    and record what it applied to the invoice and what it owes back."""
    data = {
        "credit_note": note.number,
        "corrects": invoice.number,
        "total_minor": note.total_minor,
        "applied_minor": applied,
        # Owed back to the customer: the payments domain makes it credit or a refund.
        "unapplied_minor": note.total_minor - applied,
        "currency": note.currency,
        "reason": reason,
    }
    from_status = note.status
    note.status, note.paid_date = InvoiceStatus.PAID, as_of
    note.save(update_fields=["status", "paid_date", "updated_at"])
    invoice_event_record(note, transition=InvoiceTransition.SETTLE, from_status=from_status, by=by, data=data)
    audit_record(action=action, actor=by, account=invoice.account, target=note, data=data)
    return data


# --- Writes ---------------------------------------------------------------------------------


@transaction.atomic
def credit_note_create(
    *,
    invoice: Invoice,
    lines: Sequence[CreditLine] | None,
    reason: str,
    as_of: dt.date,
    by: User | None = None,
) -> Invoice:
    """Issue a credit note for `lines` of `invoice` (None: all that is not credited yet).

    Refuses more than the invoice, per line and in total over all its credit notes
    (`CreditAboveInvoice`), under the invoice's lock. The note settles the invoice's balance
    up to what is owed (which may make it paid, with what payment brings); the rest is owed
    back to the customer (`credit_note_unapplied_minor`).
    """
    reason = _reason(reason)
    invoice = invoice_lock(invoice)
    note = _issue_credit_note(invoice, lines, reason=reason, as_of=as_of, by=by)
    balance = invoice.total_minor - invoice_paid_minor(invoice=invoice)
    applied = min(note.total_minor, balance) if invoice.status in PAYABLE_STATUSES and balance > 0 else 0
    if applied:
        invoice_settle(
            invoice=invoice,
            amount=Money.from_minor(applied, invoice.currency),
            kind=SettlementKind.CREDIT_NOTE,
            reference=f"credit-note:{note.number}",
            settled_on=as_of,
            method=note.number,
            credit_note=note,
            by=by,
        )
    _settle_note(invoice, note, applied=applied, reason=reason, as_of=as_of, by=by, action="billing.credit_note_issued")
    return note


@dataclass(frozen=True)
class Cancellation:
    invoice: Invoice
    # The credit note that cancelled it; None for a draft or a payment request.
    credit_note: Invoice | None


@transaction.atomic
def invoice_cancel(*, invoice: Invoice, reason: str, as_of: dt.date, by: User | None = None) -> Cancellation:
    """Cancel `invoice` by the rules in this module's docstring."""
    reason = _reason(reason)
    invoice = invoice_lock(invoice)
    # A credit note is never cancelled (a new invoice would correct it, if ever).
    if invoice.kind != DocumentKind.INVOICE or invoice.status not in INVOICE_TRANSITIONS[InvoiceTransition.CANCEL]:
        raise IllegalTransition(transition=InvoiceTransition.CANCEL, from_status=invoice.status)
    if invoice.status == InvoiceStatus.DRAFT:
        return _draft_cancel(invoice, reason=reason, by=by)
    received = int(
        Settlement.objects.filter(invoice_id=invoice.pk, kind__in=MONEY_SETTLEMENTS).aggregate(
            total=Sum("amount_minor")
        )["total"]
        or 0
    )
    if received > 0:
        raise InvoiceHasPayments(received_minor=received, currency=invoice.currency)
    note = None
    data: dict[str, Any] = {"reason": reason}
    if invoice.number:
        note = _issue_credit_note(invoice, None, reason=reason, as_of=as_of, by=by)
        balance = invoice.total_minor - invoice_paid_minor(invoice=invoice)
        applied = min(note.total_minor, max(balance, 0))
        if applied:
            # Written here rather than through invoice_settle: a cancelled invoice is not a
            # paid one, and the handlers that act on payment must not run.
            Settlement.objects.create(
                account_id=invoice.account_id,
                invoice=invoice,
                kind=SettlementKind.CREDIT_NOTE,
                amount_minor=applied,
                settled_on=as_of,
                method=note.number,
                reference=f"credit-note:{note.number}",
                credit_note=note,
            )
        data = _settle_note(
            invoice, note, applied=applied, reason=reason, as_of=as_of, by=by, action="billing.invoice_cancelled"
        )
    else:
        audit_record(action="billing.invoice_cancelled", actor=by, account=invoice.account, target=invoice, data=data)
    from_status = invoice.status
    invoice.status = InvoiceStatus.CANCELLED
    invoice.save(update_fields=["status", "updated_at"])
    invoice_event_record(invoice, transition=InvoiceTransition.CANCEL, from_status=from_status, by=by, data=data)
    return Cancellation(invoice=invoice, credit_note=note)


def _draft_cancel(invoice: Invoice, *, reason: str, by: User | None) -> Cancellation:
    """Keep the draft (already locked) as cancelled: no number, no issue date, no credit note."""
    data = {
        "draft": invoice.pk,
        "total_minor": invoice.total_minor,
        "currency": invoice.currency,
        "lines": [line.description for line in invoice.lines.order_by("position", "pk")],
        "reason": reason,
    }
    # The periods it would have billed are billable again.
    BilledPeriod.objects.filter(invoice_id=invoice.pk).delete()
    invoice.status = InvoiceStatus.CANCELLED
    invoice.save(update_fields=["status", "updated_at"])
    invoice_event_record(
        invoice, transition=InvoiceTransition.CANCEL, from_status=InvoiceStatus.DRAFT, by=by, data={"reason": reason}
    )
    # Not on the account's activity log: a draft never existed for the customer.
    audit_record(
        action="billing.draft_cancelled", actor=by, target=invoice, data={"account_id": invoice.account_id, **data}
    )
    return Cancellation(invoice=invoice, credit_note=None)
