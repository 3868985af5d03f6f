"""Writes of the billing domain: drafting, issuing and settling invoices.

Each service is one transaction, with locks in DESIGN's order (account, then invoice, then
service), checks before writes, and an `InvoiceEvent` for every transition. What leaves the
database (the PDF, the email) runs after commit.

Seams for the other domains:
- `invoice_create` + `invoice_issue`: what orders, the billing run and staff call; the
  handlers registered with `on_invoices_issued` run in the issuing transaction.
- `invoice_settle`: what payments, account credit and credit notes call; when an invoice
  becomes paid, the handlers registered with `on_invoice_paid` run in the same transaction
  (renewing services, carrying out orders), so a payment and its effect commit together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Account, User
from sportello.billing.calc import DocumentFigures, FiguresError, LineInput, document_figures
from sportello.billing.errors import (
    AmountAboveBalance,
    CurrencyMismatch,
    DocumentNotFound,
    IllegalTransition,
    InvalidDocument,
    NotAllowed,
)
from sportello.billing.models import (
    INVOICE_TRANSITIONS,
    DocumentKind,
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceSource,
    InvoiceStatus,
    InvoiceTax,
    InvoiceTransition,
    LineKind,
    Seller,
    Settlement,
    SettlementKind,
)
from sportello.billing.numbering import number_format, numbers_take, series_of
from sportello.billing.selectors import invoice_paid_minor, seller_current
from sportello.billing.taxes import TaxDecision, tax_decide
from sportello.core.models import AUDIT_ACTIONS
from sportello.core.money import Money, is_currency
from sportello.core.services import audit_record
from sportello.core.time import utc_now

AUDIT_ACTIONS.update({"billing.invoice_sent_to_collections": _("Invoice sent to collections")})

# Quantities and unit prices keep six decimals (the columns' scale).
SCALE = Decimal("0.000001")
# A line's figures above this are refused as a typing error rather than billed.
MAX_AMOUNT = Decimal("1000000000")


# --- Parties as printed ---------------------------------------------------------------------


def seller_printed(seller: Seller) -> dict[str, Any]:
    """The seller's details as a document prints them, frozen at issue."""
    return {
        "name": seller.name,
        "address_lines": seller.address_lines,
        "country": seller.country,
        "vat_id": seller.vat_id,
        "tax_id": seller.tax_id,
        "email": seller.email,
        "phone": seller.phone,
        "website": seller.website,
        "bank_name": seller.bank_name,
        "iban": seller.iban,
        "bic": seller.bic,
        "pix_key": seller.pix_key,
        "pix_city": seller.pix_city,
        "footer": seller.footer,
        "logo": seller.logo.name if seller.logo else "",
    }


def buyer_printed(account: Account) -> dict[str, Any]:
    """The customer's details as a document prints them, frozen at issue."""
    return {
        "reference": account.reference,
        "name": account.name,
        "address_lines": account.address_lines,
        "country": account.country,
        "vat_id": account.vat_id,
        "tax_id": account.tax_id,
    }


# --- Drafts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewLine:
    """A line to bill. Its tax comes from `tax_class` through `taxes.tax_decide`, unless a
    `tax` decision is given (credit notes copy the one of the line they correct)."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    kind: str = LineKind.OTHER
    tax_class: str = "standard"
    tax: TaxDecision | None = None
    discount_minor: int = 0
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    service_id: int | None = None
    corrects_line_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _decimal(value: object, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidDocument(name, "not_a_number") from None
    if not number.is_finite():
        raise InvalidDocument(name, "not_a_number")
    return number


def new_line_clean(line: NewLine, currency: str) -> NewLine:
    """`line` checked and normalised as every document stores it: a description (stripped,
    at most 500 characters), a positive quantity and a non-negative unit price with at most
    six decimals (the columns' scale), quantity x price within `MAX_AMOUNT`, a non-negative
    discount and a period that ends after it starts. Refusals raise `InvalidDocument`
    naming the field. `currency` is the document's (the caller has checked it)."""
    if not line.description.strip():
        raise InvalidDocument("description", "required")
    quantity = _decimal(line.quantity, "quantity")
    unit_price = _decimal(line.unit_price, "unit_price")
    if quantity <= 0:
        raise InvalidDocument("quantity", "not_positive")
    if unit_price < 0:
        raise InvalidDocument("unit_price", "negative")
    if quantity != quantity.quantize(SCALE) or unit_price != unit_price.quantize(SCALE):
        raise InvalidDocument("unit_price" if quantity == quantity.quantize(SCALE) else "quantity", "too_precise")
    if quantity * unit_price > MAX_AMOUNT:
        raise InvalidDocument("unit_price", "too_large")
    if line.discount_minor < 0:
        raise InvalidDocument("discount", "negative")
    if line.period_start and line.period_end and line.period_end <= line.period_start:
        raise InvalidDocument("period_end", "before_start")
    return NewLine(
        description=line.description.strip()[:500],
        quantity=quantity,
        unit_price=unit_price,
        kind=line.kind,
        tax_class=line.tax_class,
        tax=line.tax,
        discount_minor=int(line.discount_minor),
        period_start=line.period_start,
        period_end=line.period_end,
        service_id=line.service_id,
        corrects_line_id=line.corrects_line_id,
    )


def new_lines_figures(
    lines: Sequence[NewLine], decisions: Sequence[TaxDecision], *, currency: str, inclusive: bool
) -> DocumentFigures:
    """The figures of a document of cleaned `lines` with their tax `decisions` (one each, in
    order), by the one rounding rule of `billing.calc.document_figures`. A line that cannot
    be priced raises `InvalidDocument` on `lines.<position>` with calc's code."""
    inputs = [
        LineInput(
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_minor=line.discount_minor,
            tax_rate=decision.rate,
            tax_category=decision.category,
            tax_name=str(decision.name),
            exemption_text=str(decision.exemption_text),
        )
        for line, decision in zip(lines, decisions, strict=True)
    ]
    try:
        return document_figures(inputs, currency=currency, prices_include_tax=inclusive)
    except FiguresError as error:
        raise InvalidDocument(f"lines.{error.position}", error.code) from None


def legal_notes_compose(decisions: Sequence[TaxDecision]) -> str:
    """The wording every exemption, reverse charge or out-of-scope line requires, once each,
    in the order the lines first need it, one per line. Call it with the document's language
    active: the wordings are lazy translations."""
    notes: list[str] = []
    for decision in decisions:
        text = str(decision.exemption_text)
        if text and text not in notes:
            notes.append(text)
    return "\n".join(notes)


def _write_lines_and_taxes(
    invoice: Invoice, lines: Sequence[NewLine], decisions: Sequence[TaxDecision], figures: DocumentFigures
) -> None:
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                position=position,
                kind=line.kind,
                description=line.description,
                period_start=line.period_start,
                period_end=line.period_end,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_minor=line.discount_minor,
                amount_minor=line_figures.amount_minor,
                net_minor=line_figures.net_minor,
                tax_rate=decision.rate,
                tax_category=decision.category,
                tax_name=str(decision.name),
                service_id=line.service_id,
                corrects_line_id=line.corrects_line_id,
            )
            for position, (line, decision, line_figures) in enumerate(zip(lines, decisions, figures.lines, strict=True))
        ]
    )
    InvoiceTax.objects.bulk_create(
        [
            InvoiceTax(
                invoice=invoice,
                category=tax.category,
                rate=tax.rate,
                name=tax.name,
                taxable_minor=tax.taxable_minor,
                tax_minor=tax.tax_minor,
                exemption_text=tax.exemption_text,
            )
            for tax in figures.taxes
        ]
    )


@dataclass(frozen=True)
class PricedLines:
    """Lines checked, taxed and figured by the rules every document shares."""

    lines: list[NewLine]
    decisions: list[TaxDecision]
    figures: DocumentFigures
    legal_notes: str


def document_lines_price(
    *, account: Account, lines: Sequence[NewLine], as_of: dt.date, currency: str, inclusive: bool
) -> PricedLines:
    """Check `lines`, decide their taxes for `account` on `as_of` and compute the figures:
    the path `invoice_create` takes, for other documents (quotes) to take it too."""
    if not is_currency(currency):
        raise InvalidDocument("currency", "unknown")
    if not lines:
        raise InvalidDocument("lines", "required")
    cleaned = [new_line_clean(line, currency) for line in lines]
    seller = seller_current()
    decisions = [
        line.tax or tax_decide(seller_country=seller.country, buyer=account, tax_class=line.tax_class, as_of=as_of)
        for line in cleaned
    ]
    # Tax names and wordings are stored as they print: in the document's language.
    with translation.override(account.language):
        figures = new_lines_figures(cleaned, decisions, currency=currency, inclusive=inclusive)
        legal_notes = legal_notes_compose(decisions)
    return PricedLines(lines=cleaned, decisions=decisions, figures=figures, legal_notes=legal_notes)


@transaction.atomic
def invoice_create(
    *,
    account: Account,
    lines: Sequence[NewLine],
    as_of: dt.date,
    source: str = InvoiceSource.MANUAL,
    currency: str | None = None,
    kind: str = DocumentKind.INVOICE,
    corrects: Invoice | None = None,
    prices_include_tax: bool | None = None,
    due_date: dt.date | None = None,
    supply_date: dt.date | None = None,
    notes: str = "",
    by: User | None = None,
) -> Invoice:
    """A draft invoice (or credit note) for `account` with `lines`, taxed as of `as_of`.

    Taxes, legal wording and totals are computed here and recomputed at issue; the draft is
    visible to staff only until `invoice_issue`.
    """
    currency = (currency or account.currency).upper()
    if not is_currency(currency):
        raise InvalidDocument("currency", "unknown")
    if not lines:
        raise InvalidDocument("lines", "required")
    inclusive = settings.BILLING_PRICES_INCLUDE_TAX if prices_include_tax is None else prices_include_tax
    cleaned = [new_line_clean(line, currency) for line in lines]
    seller = seller_current()
    decisions = [
        line.tax or tax_decide(seller_country=seller.country, buyer=account, tax_class=line.tax_class, as_of=as_of)
        for line in cleaned
    ]
    # Tax names and wordings are stored as they print: in the document's language.
    with translation.override(account.language):
        figures = new_lines_figures(cleaned, decisions, currency=currency, inclusive=inclusive)
        legal_notes = legal_notes_compose(decisions)
    invoice = Invoice.objects.create(
        account=account,
        kind=kind,
        source=source,
        currency=currency,
        language=account.language,
        prices_include_tax=inclusive,
        corrects=corrects,
        due_date=due_date,
        supply_date=supply_date,
        net_minor=figures.net_minor,
        tax_minor=figures.tax_minor,
        total_minor=figures.total_minor,
        legal_notes=legal_notes,
        notes=notes,
        created_by=by if by is not None and by.pk else None,
    )
    with translation.override(account.language):
        _write_lines_and_taxes(invoice, cleaned, decisions, figures)
    return invoice


# --- Transitions ----------------------------------------------------------------------------


def invoice_lock(invoice: Invoice) -> Invoice:
    """Lock the invoice's account, then the invoice (DESIGN's lock order); return it fresh."""
    Account.objects.select_for_update().filter(pk=invoice.account_id).values_list("pk", flat=True).get()
    try:
        return Invoice.objects.select_for_update().get(pk=invoice.pk)
    except Invoice.DoesNotExist:
        raise DocumentNotFound() from None


def _check(invoice: Invoice, transition: str) -> None:
    if invoice.status not in INVOICE_TRANSITIONS[transition]:
        raise IllegalTransition(transition=transition, from_status=invoice.status)


def invoice_event_record(
    invoice: Invoice, *, transition: str, from_status: str, by: User | None = None, data: dict[str, Any] | None = None
) -> InvoiceEvent:
    return InvoiceEvent.objects.create(
        account_id=invoice.account_id,
        invoice=invoice,
        transition=transition,
        from_status=from_status,
        to_status=invoice.status,
        actor=by if by is not None and by.pk else None,
        at=utc_now(),
        data=data or {},
    )


def _assign_fiscal_number(invoice: Invoice, year: int) -> None:
    series = series_of(invoice.kind)
    sequence = numbers_take(series=series, year=year)
    invoice.series, invoice.year, invoice.sequence = series, year, sequence
    invoice.number = number_format(series=series, year=year, sequence=sequence)


def numbering_at_payment(invoice: Invoice) -> bool:
    """Invoices (not credit notes) wait for payment for their fiscal number when so configured."""
    return settings.BILLING_NUMBERING == "payment" and invoice.kind == DocumentKind.INVOICE


@transaction.atomic
def invoice_issue(
    *, invoice: Invoice, as_of: dt.date, due_date: dt.date | None = None, by: User | None = None
) -> Invoice:
    """Issue a draft: number it, freeze the parties as printed, and open it for payment.

    The number is the next of its series for the issue year, taken under the counter's lock
    in this transaction (see `numbering`). With numbering at payment, an invoice is issued
    as a payment request in the proforma series and takes its fiscal number when paid.
    A document with nothing to pay (a zero total) is paid at once.
    """
    invoice = invoice_lock(invoice)
    _check(invoice, InvoiceTransition.ISSUE)
    account = Account.objects.get(pk=invoice.account_id)
    if invoice.currency != invoice.currency.upper():
        raise CurrencyMismatch(expected=invoice.currency.upper(), got=invoice.currency)
    from_status = invoice.status
    invoice.issue_date = as_of
    invoice.due_date = due_date or invoice.due_date or as_of + dt.timedelta(days=settings.BILLING_PAYMENT_TERMS_DAYS)
    if invoice.due_date < as_of:
        raise InvalidDocument("due_date", "before_issue")
    invoice.seller = seller_printed(seller_current())
    invoice.buyer = buyer_printed(account)
    if numbering_at_payment(invoice):
        series = series_of(DocumentKind.PROFORMA)
        sequence = numbers_take(series=series, year=as_of.year)
        invoice.proforma_number = number_format(series=series, year=as_of.year, sequence=sequence)
    else:
        _assign_fiscal_number(invoice, as_of.year)
    invoice.status = InvoiceStatus.OPEN
    invoice.save()
    invoice_event_record(
        invoice,
        transition=InvoiceTransition.ISSUE,
        from_status=from_status,
        by=by,
        data={"number": invoice.display_number, "total_minor": invoice.total_minor},
    )
    if invoice.total_minor == 0 and invoice.kind == DocumentKind.INVOICE:
        invoice_mark_paid(invoice, settled_on=as_of, by=by)
    invoices_issued_handle([invoice])
    return invoice


# --- Settlement -----------------------------------------------------------------------------

InvoiceHandler = Callable[[Invoice], None]
InvoicesHandler = Callable[[Sequence[Invoice]], None]
_PAID_HANDLERS: list[InvoiceHandler] = []
_ISSUED_HANDLERS: list[InvoicesHandler] = []


def on_invoice_paid(handler: InvoiceHandler) -> InvoiceHandler:
    """Register `handler(invoice)` to run inside the transaction that makes an invoice paid.

    Domains that act on payment (services renew or unsuspend, orders carry out what was
    ordered) register here from their AppConfig.ready(), so billing never imports them.
    A handler that raises rolls the payment back with it: it must only refuse what is wrong.
    """
    if handler not in _PAID_HANDLERS:
        _PAID_HANDLERS.append(handler)
    return handler


def on_invoices_issued(handler: InvoicesHandler) -> InvoicesHandler:
    """Register `handler(invoices)` to run inside the transaction that issues invoices
    (rendering their PDFs after commit, offering them to credit and auto-pay).

    It receives every invoice issued together: one from `invoice_issue`, a whole batch
    from the billing run, so that a handler can do its work in a few queries per batch
    (one balance query, one task to enqueue) rather than a few per invoice.
    """
    if handler not in _ISSUED_HANDLERS:
        _ISSUED_HANDLERS.append(handler)
    return handler


def issued_handlers_registered() -> bool:
    """Whether any `on_invoices_issued` handler is registered: a batch writer (the billing
    run) reads its invoices back only when one is, or when it has some to mark paid."""
    return bool(_ISSUED_HANDLERS)


def invoices_issued_handle(invoices: Sequence[Invoice]) -> None:
    """Run the `on_invoices_issued` handlers on `invoices`, issued together in the current
    transaction, in registration order."""
    for batch_handler in _ISSUED_HANDLERS:
        batch_handler(invoices)


def invoice_mark_paid(invoice: Invoice, *, settled_on: dt.date, by: User | None) -> None:
    """Mark `invoice` paid on `settled_on` and run the `on_invoice_paid` handlers.

    Not a service of its own: it runs inside the transaction of whoever found the balance
    settled (`invoice_settle`, a zero total at issue, the billing run), which already holds
    the invoice's lock and has checked the transition. With numbering at payment, the
    invoice takes its fiscal number here. Records the settle event.
    """
    from_status = invoice.status
    invoice.status = InvoiceStatus.PAID
    invoice.paid_date = settled_on
    fields = ["status", "paid_date", "updated_at"]
    data: dict[str, Any] = {}
    if numbering_at_payment(invoice) and not invoice.number:
        _assign_fiscal_number(invoice, settled_on.year)
        fields += ["series", "year", "sequence", "number"]
        data["number"] = invoice.number
    invoice.save(update_fields=fields)
    invoice_event_record(invoice, transition=InvoiceTransition.SETTLE, from_status=from_status, by=by, data=data)
    for handler in _PAID_HANDLERS:
        handler(invoice)


@transaction.atomic
def invoice_settle(
    *,
    invoice: Invoice,
    amount: Money,
    kind: str,
    reference: str,
    settled_on: dt.date,
    method: str = "",
    credit_note: Invoice | None = None,
    by: User | None = None,
) -> Settlement:
    """Apply `amount` to `invoice`: a payment, account credit or a credit note.

    Refuses more than the balance (`AmountAboveBalance`: the caller puts any excess on the
    account's credit) and the same (kind, reference) twice (the unique constraint: a
    duplicate webhook or a retried request applies nothing more). The invoice becomes
    partially paid, or paid when the balance reaches zero, exactly: a partial settlement
    never marks it paid.
    """
    invoice = invoice_lock(invoice)
    _check(invoice, InvoiceTransition.SETTLE)
    if amount.currency != invoice.currency:
        raise CurrencyMismatch(expected=invoice.currency, got=amount.currency)
    if kind == SettlementKind.REVERSAL or amount.minor <= 0:
        raise InvalidDocument("amount", "not_positive")
    balance = invoice.total_minor - invoice_paid_minor(invoice=invoice)
    if amount.minor > balance:
        raise AmountAboveBalance(balance_minor=balance, wanted_minor=amount.minor, currency=invoice.currency)
    try:
        with transaction.atomic():
            settlement = Settlement.objects.create(
                account_id=invoice.account_id,
                invoice=invoice,
                kind=kind,
                amount_minor=amount.minor,
                settled_on=settled_on,
                method=method[:100],
                reference=reference[:120],
                credit_note=credit_note,
            )
    except IntegrityError:
        raise InvalidDocument("reference", "already_applied") from None
    if amount.minor == balance:
        invoice_mark_paid(invoice, settled_on=settled_on, by=by)
    elif invoice.status == InvoiceStatus.OPEN:
        from_status = invoice.status
        invoice.status = InvoiceStatus.PARTIALLY_PAID
        invoice.save(update_fields=["status", "updated_at"])
        invoice_event_record(
            invoice,
            transition=InvoiceTransition.SETTLE,
            from_status=from_status,
            by=by,
            data={"amount_minor": amount.minor, "kind": kind},
        )
    return settlement


# --- Collections ----------------------------------------------------------------------------


def invoice_collections_allowed(*, invoice: Invoice, as_of: dt.date) -> bool:
    """Whether `invoice` may go to collections on `as_of`: an overdue invoice, which is one the
    daily run has marked so, or one still unpaid or partially paid after its due date."""
    if invoice.kind != DocumentKind.INVOICE:
        return False
    if invoice.status == InvoiceStatus.OVERDUE:
        return True
    past_due = invoice.due_date is not None and invoice.due_date < as_of
    return past_due and invoice.status in INVOICE_TRANSITIONS[InvoiceTransition.OVERDUE]


@transaction.atomic
def invoice_send_to_collections(*, invoice: Invoice, reason: str, as_of: dt.date, by: User | None) -> Invoice:
    """Hand an overdue invoice to collections: a staff decision, its reason on the event.

    Only an overdue invoice goes, partly paid or not: one the daily run has marked overdue,
    or an unpaid or partially paid one whose due date is before `as_of`, which is marked
    overdue first (its own event, as the run would have written it). Refused, changing
    nothing: anything else (`IllegalTransition`: not yet due, paid, cancelled, a credit
    note...), a reason left empty (`InvalidDocument`), anyone but active staff (`NotAllowed`).

    In collections the invoice still owes its balance and is paid as any other: through
    `invoice_settle`, paid once nothing is left. The daily run sends it no more reminders
    and charges it no late fee; it suspends and terminates the services it bills as it
    does for any overdue invoice, and paying it lifts those suspensions.
    """
    reason = " ".join(reason.split())[:500]
    if by is None or not by.pk or not by.is_active or not by.is_staff:
        raise NotAllowed()
    if not reason:
        raise InvalidDocument("reason", "required")
    invoice = invoice_lock(invoice)
    if not invoice_collections_allowed(invoice=invoice, as_of=as_of):
        raise IllegalTransition(transition=InvoiceTransition.COLLECTIONS, from_status=invoice.status)
    if invoice.status != InvoiceStatus.OVERDUE:
        from_status = invoice.status
        invoice.status = InvoiceStatus.OVERDUE
        invoice_event_record(
            invoice, transition=InvoiceTransition.OVERDUE, from_status=from_status, data={"as_of": as_of.isoformat()}
        )
    _check(invoice, InvoiceTransition.COLLECTIONS)
    invoice.status = InvoiceStatus.COLLECTIONS
    invoice.save(update_fields=["status", "updated_at"])
    data = {"reason": reason, "as_of": as_of.isoformat()}
    invoice_event_record(
        invoice, transition=InvoiceTransition.COLLECTIONS, from_status=InvoiceStatus.OVERDUE, by=by, data=data
    )
    account = Account.objects.get(pk=invoice.account_id)
    audit_record(
        action="billing.invoice_sent_to_collections",
        actor=by,
        account=account,
        target=invoice,
        data={**data, "balance_minor": invoice.total_minor - invoice_paid_minor(invoice=invoice)},
    )
    return invoice
