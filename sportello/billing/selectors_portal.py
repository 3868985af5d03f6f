"""Reads behind the client area's billing pages: the invoices list with its status groups,
the dashboard's figures, the billing history of paid charges and the account statement.

Every function starts from `invoices_visible_to(membership=...)` (the acting member's
account, drafts excluded) or from settlements of that same account, and only narrows it
with further `.filter()` calls. Conditions that need an OR are built as one `Q` and
applied in a single `.filter()` on the scoped queryset, so SQL reads
`account_id = X AND (a OR b)`: a status group can never widen the tenant condition
(a peer's client filter did exactly that, REFERENCES.md).

"Overdue" is read from the due date as well as from the status: an unpaid invoice whose
due date has passed is overdue for the customer from that day on, whether or not the
daily billing run has recorded the transition yet. `as_of` is the caller's date (the
account's today), never read from the clock here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlencode

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Area
from sportello.billing.dunning import termination_date
from sportello.billing.models import (
    PAYABLE_STATUSES,
    DocumentKind,
    DunningSuspension,
    Invoice,
    InvoiceQuerySet,
    InvoiceStatus,
    Settlement,
    SettlementKind,
)
from sportello.billing.selectors import invoices_visible_to
from sportello.core.money import Money
from sportello.core.tenancy import ActingMembership
from sportello.services.models import Service, ServiceStatus

IS = InvoiceStatus
# Unpaid statuses that become overdue when their due date passes.
NOT_YET_OVERDUE = (IS.OPEN, IS.PARTIALLY_PAID)


# --- Status groups (the Oracle grouping) ------------------------------------------------------


@dataclass(frozen=True)
class StatusGroup:
    key: str
    label: str | Promise


# In the order the filter links show them; "all" first.
STATUS_GROUPS = (
    StatusGroup("all", _("All")),
    StatusGroup("overdue", _("Overdue")),
    StatusGroup("open", _("Not yet due")),
    StatusGroup("partially_paid", _("Partially paid")),
    StatusGroup("paid", _("Paid")),
    StatusGroup("cancelled", _("Cancelled or refunded")),
    StatusGroup("credit_notes", _("Credit notes")),
)
STATUS_GROUP_KEYS = frozenset(group.key for group in STATUS_GROUPS)


def _overdue(as_of: dt.date) -> Q:
    return Q(status__in=[IS.OVERDUE, IS.COLLECTIONS]) | Q(status__in=NOT_YET_OVERDUE, due_date__lt=as_of)


def status_group_condition(key: str, *, as_of: dt.date) -> Q:
    """The condition of one status group, to be ANDed with the tenant condition."""
    invoice = Q(kind=DocumentKind.INVOICE)
    if key == "overdue":
        return invoice & _overdue(as_of)
    if key == "open":
        return invoice & Q(status__in=NOT_YET_OVERDUE, due_date__gte=as_of)
    if key == "partially_paid":
        return invoice & Q(status=IS.PARTIALLY_PAID)
    if key == "paid":
        return invoice & Q(status=IS.PAID)
    if key == "cancelled":
        return invoice & Q(status__in=[IS.CANCELLED, IS.REFUNDED])
    if key == "credit_notes":
        return Q(kind=DocumentKind.CREDIT_NOTE)
    return Q()


def with_figures(queryset: InvoiceQuerySet, *, as_of: dt.date) -> InvoiceQuerySet:
    """Annotate `paid_minor` (settlements received), `due_minor` (what is still owed: the
    balance of an unpaid invoice, 0 for anything else, credit notes included),
    `signed_total_minor` (credit notes negative: `Invoice.shown_sign`, in SQL) and `status_rank` (the Oracle order:
    overdue, open, partially paid, paid, cancelled, credit notes)."""
    paid = (
        Settlement.objects.filter(invoice_id=OuterRef("pk"))
        .values("invoice_id")
        .annotate(total=Sum("amount_minor"))
        .values("total")[:1]
    )
    payable = Q(kind=DocumentKind.INVOICE, status__in=list(PAYABLE_STATUSES))
    return queryset.annotate(
        paid_minor=Coalesce(Subquery(paid), Value(0), output_field=BigIntegerField()),
    ).annotate(
        due_minor=Case(
            When(payable, then=F("total_minor") - F("paid_minor")), default=Value(0), output_field=BigIntegerField()
        ),
        signed_total_minor=Case(
            When(kind=DocumentKind.CREDIT_NOTE, then=-F("total_minor")),
            default=F("total_minor"),
            output_field=BigIntegerField(),
        ),
        status_rank=Case(
            When(Q(kind=DocumentKind.CREDIT_NOTE), then=Value(6)),
            When(_overdue(as_of), then=Value(1)),
            When(status=IS.OPEN, then=Value(2)),
            When(status=IS.PARTIALLY_PAID, then=Value(3)),
            When(status=IS.PAID, then=Value(4)),
            default=Value(5),
            output_field=IntegerField(),
        ),
        display_number_sort=Case(When(number="", then=F("proforma_number")), default=F("number")),
    )


# Sort keys of the list's columns -> the fields they order by (the last one breaks ties).
SORTS = {
    "status": ("status_rank", "due_date"),
    "number": ("display_number_sort",),
    "issue_date": ("issue_date",),
    "due_date": ("due_date",),
    "total": ("currency", "signed_total_minor"),
    "balance": ("currency", "due_minor"),
}
DEFAULT_SORT = "status"


def sort_ordering(sort: str) -> tuple[str, list[str]]:
    """The valid sort (`-due_date` is descending) and its order_by fields; unknown -> the default."""
    key = sort.removeprefix("-")
    if key not in SORTS:
        sort, key = DEFAULT_SORT, DEFAULT_SORT
    descending = sort.startswith("-")
    fields = [f"-{name}" if descending else name for name in SORTS[key]]
    return sort, [*fields, "-id" if descending else "id"]


def documents_listed(*, membership: ActingMembership, group: str, sort: str, as_of: dt.date) -> InvoiceQuerySet:
    """The account's issued invoices and credit notes in status `group`, sorted by `sort`."""
    _sort, ordering = sort_ordering(sort)
    condition = status_group_condition(group if group in STATUS_GROUP_KEYS else "all", as_of=as_of)
    scoped = invoices_visible_to(membership=membership)
    return with_figures(scoped.filter(condition), as_of=as_of).order_by(*ordering)


def status_group_counts(*, membership: ActingMembership, as_of: dt.date) -> dict[str, int]:
    """How many documents each status group holds, in one query."""
    scoped = invoices_visible_to(membership=membership)
    counts = scoped.aggregate(
        **{group.key: Count("pk", filter=status_group_condition(group.key, as_of=as_of)) for group in STATUS_GROUPS}
    )
    return {key: int(value or 0) for key, value in counts.items()}


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    # Invoices minus credit notes, as the list shows them.
    total: Money
    # Still owed on the unpaid invoices among them.
    due: Money
    count: int


def totals_per_currency(documents: QuerySet[Invoice]) -> list[CurrencyTotals]:
    """The totals of a listed (annotated) queryset, one row per currency, by currency code."""
    rows = (
        documents.order_by()
        .values("currency")
        .annotate(total=Sum("signed_total_minor"), due=Sum("due_minor"), count=Count("pk"))
        .order_by("currency")
    )
    return [
        CurrencyTotals(
            currency=row["currency"],
            total=Money.from_minor(row["total"] or 0, row["currency"]),
            due=Money.from_minor(row["due"] or 0, row["currency"]),
            count=row["count"],
        )
        for row in rows
    ]


# --- One document -----------------------------------------------------------------------------


def document_by_number(*, membership: ActingMembership, number: str, kind: str) -> Invoice:
    """The account's issued document of `kind` numbered `number` (its fiscal number, or the
    payment request's, which stays valid after the fiscal number is assigned).

    Raises Invoice.DoesNotExist for another account's number, a draft, or a guess.
    """
    scoped = invoices_visible_to(membership=membership).filter(kind=kind)
    # The OR of the two numbers is one filter on the scoped queryset: AND account.
    return scoped.filter(Q(number=number) | Q(proforma_number=number)).order_by("pk").get()


@dataclass(frozen=True)
class DocumentState:
    paid: Money
    due: Money
    # The status the customer sees: unpaid past the due date is overdue.
    shown_status: str
    shown_status_label: str | Promise


def shown_status(invoice: Invoice, *, as_of: dt.date) -> str:
    if (
        invoice.kind == DocumentKind.INVOICE
        and invoice.status in NOT_YET_OVERDUE
        and invoice.due_date is not None
        and invoice.due_date < as_of
    ):
        return IS.OVERDUE
    return invoice.status


def document_state(invoice: Invoice, *, as_of: dt.date) -> DocumentState:
    paid = sum(s.amount_minor for s in invoice.settlements.all())
    due = (
        invoice.total_minor - paid if invoice.kind == DocumentKind.INVOICE and invoice.status in PAYABLE_STATUSES else 0
    )
    status = shown_status(invoice, as_of=as_of)
    return DocumentState(
        paid=Money.from_minor(paid, invoice.currency),
        due=Money.from_minor(due, invoice.currency),
        shown_status=status,
        shown_status_label=IS(status).label,
    )


def credit_notes_of(*, membership: ActingMembership, invoice: Invoice) -> InvoiceQuerySet:
    """The issued credit notes that correct `invoice`, oldest first."""
    return (
        invoices_visible_to(membership=membership)
        .filter(kind=DocumentKind.CREDIT_NOTE, corrects_id=invoice.pk)
        .order_by("issue_date", "pk")
    )


# --- The dashboard ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrencyFigure:
    amount: Money
    count: int
    # The invoices behind the figure, in the order a payment settles them, for the pay page's
    # preselection (`?invoice=<number>&invoice=...`); filled where the card offers to pay them.
    numbers: tuple[str, ...] = ()

    @property
    def pay_query(self) -> str:
        return urlencode([("invoice", number) for number in self.numbers])


@dataclass(frozen=True)
class NextDue:
    invoice: Invoice
    due: Money


@dataclass
class BillingOverview:
    """What the dashboard answers about money: what is overdue, what is still to pay in all,
    the next invoice that falls due, and the credit the account holds. One entry per
    currency the account has documents (or credit) in."""

    overdue: list[CurrencyFigure] = field(default_factory=list)
    open_balance: list[CurrencyFigure] = field(default_factory=list)
    next_due: NextDue | None = None
    # The account's credit in each currency it holds some in; a zero in the account's
    # currency when it holds none.
    credit: list[Money] = field(default_factory=list)

    @property
    def owes_anything(self) -> bool:
        return any(figure.amount.minor for figure in self.open_balance)

    @property
    def holds_credit(self) -> bool:
        return any(amount.minor for amount in self.credit)


def _per_currency(documents: QuerySet[Invoice]) -> list[CurrencyFigure]:
    rows = (
        documents.order_by()
        .values("currency")
        .annotate(due=Sum("due_minor"), count=Count("pk"))
        .filter(due__gt=0)
        .order_by("currency")
    )
    return [CurrencyFigure(Money.from_minor(row["due"], row["currency"]), row["count"]) for row in rows]


def _numbers_per_currency(documents: QuerySet[Invoice]) -> dict[str, list[str]]:
    """The display numbers of the documents that still owe money, per currency, in the order a
    payment settles them (due date, then number order)."""
    numbers: dict[str, list[str]] = {}
    rows = (
        documents.filter(due_minor__gt=0)  # type: ignore[misc]  # annotated by with_figures
        .order_by("due_date", "pk")
        .values_list("currency", "number", "proforma_number")
    )
    for currency, number, proforma_number in rows:
        numbers.setdefault(currency, []).append(number or proforma_number)
    return numbers


def _with_numbers(figures: list[CurrencyFigure], documents: QuerySet[Invoice]) -> list[CurrencyFigure]:
    numbers = _numbers_per_currency(documents)
    return [
        CurrencyFigure(figure.amount, figure.count, tuple(numbers.get(figure.amount.currency, ())))
        for figure in figures
    ]


def billing_overview(*, membership: ActingMembership, as_of: dt.date, credit: Sequence[Money] = ()) -> BillingOverview:
    """The dashboard's figures on `as_of`. `credit` is the account's credit balance per
    currency, its own currency first (`payments.selectors.credit_balances`, which the caller
    reads: billing never imports payments); the card shows the non-zero ones, else the first."""
    scoped = with_figures(invoices_visible_to(membership=membership), as_of=as_of)
    unpaid = scoped.filter(kind=DocumentKind.INVOICE, status__in=list(PAYABLE_STATUSES))
    upcoming = (
        unpaid.filter(status__in=NOT_YET_OVERDUE, due_date__gte=as_of, due_minor__gt=0)
        .order_by("due_date", "pk")
        .first()
    )
    overdue = unpaid.filter(_overdue(as_of))
    return BillingOverview(
        overdue=_with_numbers(_per_currency(overdue), overdue),
        open_balance=_per_currency(unpaid),
        next_due=NextDue(upcoming, Money.from_minor(upcoming.due_minor, upcoming.currency)) if upcoming else None,
        credit=[amount for amount in credit if amount.minor] or list(credit[:1]),
    )


# --- Billing history of paid charges ----------------------------------------------------------


@dataclass(frozen=True)
class PaidCharge:
    invoice: Invoice
    # The day the last settlement was received (the invoice's settlement date).
    settled_on: dt.date | None
    # How it was paid, as the settlements say: "Card •••• 4242", "Bank transfer"...
    methods: list[str]
    amount: Money


def settlement_method_label(settlement: Settlement) -> str:
    if settlement.method:
        return settlement.method
    if settlement.kind == SettlementKind.CREDIT_NOTE and settlement.credit_note is not None:
        return str(_("Credit note %(number)s") % {"number": settlement.credit_note.display_number})
    return str(SettlementKind(settlement.kind).label)


def paid_charges(*, membership: ActingMembership) -> InvoiceQuerySet:
    """The account's paid invoices, latest settlement first, with their settlements loaded."""
    return (
        invoices_visible_to(membership=membership)
        .filter(kind=DocumentKind.INVOICE, status=IS.PAID)
        .prefetch_related(
            Prefetch(
                "settlements", queryset=Settlement.objects.select_related("credit_note").order_by("settled_on", "pk")
            )
        )
        .order_by("-paid_date", "-pk")
    )


def paid_charge_rows(invoices: Iterable[Invoice]) -> list[PaidCharge]:
    rows = []
    for invoice in invoices:
        methods: list[str] = []
        for settlement in invoice.settlements.all():
            label = settlement_method_label(settlement)
            if settlement.amount_minor > 0 and label not in methods:
                methods.append(label)
        rows.append(
            PaidCharge(
                invoice=invoice,
                settled_on=invoice.paid_date,
                methods=methods,
                amount=Money.from_minor(invoice.total_minor, invoice.currency),
            )
        )
    return rows


def paid_charges_totals(*, membership: ActingMembership) -> list[Money]:
    rows = (
        paid_charges(membership=membership)
        .order_by()
        .values("currency")
        .annotate(total=Sum("total_minor"))
        .order_by("currency")
    )
    return [Money.from_minor(row["total"], row["currency"]) for row in rows]


# --- Account statement ------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementEntry:
    date: dt.date
    # "invoice", "credit_note" or "payment"
    kind: str
    description: str
    reference: str
    # The document or settlement behind the entry, for links.
    document: Invoice
    # Positive raises what the customer owes (an invoice), negative lowers it.
    amount: Money
    balance: Money


@dataclass(frozen=True)
class CurrencyStatement:
    currency: str
    opening: Money
    entries: Sequence[StatementEntry]
    closing: Money

    @property
    def charged(self) -> Money:
        return sum((e.amount for e in self.entries if e.amount.minor > 0), Money.zero(self.currency))

    @property
    def credited(self) -> Money:
        return sum((e.amount for e in self.entries if e.amount.minor < 0), Money.zero(self.currency))


# Settlements that move money between the customer and us. A credit note's own settlement
# is not one: the credit note document already lowers the balance.
STATEMENT_SETTLEMENT_KINDS = (SettlementKind.PAYMENT, SettlementKind.CREDIT, SettlementKind.REVERSAL)
# Order of entries on one day: documents first, then what was paid against them.
_ENTRY_ORDER = {"invoice": 0, "credit_note": 1, "payment": 2}


def account_statement(*, membership: ActingMembership, start: dt.date, end: dt.date) -> list[CurrencyStatement]:
    """The account's statement from `start` to `end`, both included, one per currency.

    opening  = invoices - credit notes - payments (and credit applied), all dated before `start`
    entries  = invoices (+), credit notes (-) by issue date; payments and credit applied (-),
               reversed payments (+) by the date received; in date order, documents before
               payments on the same day, with the running balance after each
    closing  = opening + the sum of the entries
    A positive balance is owed by the customer; a negative one is owed to the customer.
    """
    documents = invoices_visible_to(membership=membership)
    settlements = Settlement.objects.visible_to(membership).filter(kind__in=STATEMENT_SETTLEMENT_KINDS)
    # Settlements of drafts cannot exist (only issued invoices take money), but a statement
    # never shows what the customer cannot open: keep them to issued documents.
    settlements = settlements.filter(invoice__in=documents)

    opening: dict[str, int] = {}
    signed = Case(
        When(kind=DocumentKind.CREDIT_NOTE, then=-F("total_minor")),
        default=F("total_minor"),
        output_field=BigIntegerField(),
    )
    for row in documents.filter(issue_date__lt=start).order_by().values("currency").annotate(total=Sum(signed)):
        opening[row["currency"]] = opening.get(row["currency"], 0) + int(row["total"] or 0)
    for row in (
        settlements.filter(settled_on__lt=start)
        .order_by()
        .values("invoice__currency")
        .annotate(total=Sum("amount_minor"))
    ):
        currency = row["invoice__currency"]
        opening[currency] = opening.get(currency, 0) - int(row["total"] or 0)

    raw: dict[str, list[tuple[dt.date, int, int, str, str, str, Invoice, int]]] = {}
    for document in documents.filter(issue_date__gte=start, issue_date__lte=end):
        assert document.issue_date is not None  # issued documents have one (a model constraint)
        kind = "credit_note" if document.is_credit_note else "invoice"
        description = (
            str(_("Credit note %(number)s") % {"number": document.display_number})
            if document.is_credit_note
            else str(_("Invoice %(number)s") % {"number": document.display_number})
        )
        amount = -document.total_minor if document.is_credit_note else document.total_minor
        raw.setdefault(document.currency, []).append(
            (
                document.issue_date,
                _ENTRY_ORDER[kind],
                document.pk,
                kind,
                description,
                document.display_number,
                document,
                amount,
            )
        )
    for settlement in settlements.filter(settled_on__gte=start, settled_on__lte=end).select_related("invoice"):
        invoice = settlement.invoice
        if settlement.kind == SettlementKind.REVERSAL:
            description = str(_("Payment reversed, invoice %(number)s") % {"number": invoice.display_number})
        elif settlement.kind == SettlementKind.CREDIT:
            description = str(_("Account credit applied to invoice %(number)s") % {"number": invoice.display_number})
        else:
            description = str(_("Payment of invoice %(number)s") % {"number": invoice.display_number})
        if settlement.method:
            description = f"{description} ({settlement.method})"
        raw.setdefault(invoice.currency, []).append(
            (
                settlement.settled_on,
                _ENTRY_ORDER["payment"],
                settlement.pk,
                "payment",
                description,
                invoice.display_number,
                invoice,
                -settlement.amount_minor,
            )
        )

    statements = []
    for currency in sorted(set(opening) | set(raw)):
        balance = opening.get(currency, 0)
        entries = []
        for date, _order, _pk, kind, description, reference, document, amount in sorted(
            raw.get(currency, []), key=lambda item: item[:3]
        ):
            balance += amount
            entries.append(
                StatementEntry(
                    date=date,
                    kind=kind,
                    description=description,
                    reference=reference,
                    document=document,
                    amount=Money.from_minor(amount, currency),
                    balance=Money.from_minor(balance, currency),
                )
            )
        statements.append(
            CurrencyStatement(
                currency=currency,
                opening=Money.from_minor(opening.get(currency, 0), currency),
                entries=entries,
                closing=Money.from_minor(balance, currency),
            )
        )
    return statements


# --- Why a service is suspended ---------------------------------------------------------------


class SuspensionCause(StrEnum):
    # The billing run suspended it: an invoice stayed unpaid past the product's grace days.
    UNPAID = "unpaid"
    # The provider's staff suspended it, for the reason they wrote.
    STAFF = "staff"


@dataclass(frozen=True)
class OwedInvoice:
    invoice: Invoice
    due: Money


@dataclass(frozen=True)
class SuspensionExplained:
    """What a customer needs to know about a suspended service: why, what happens next and
    when, and how to bring it back."""

    service: Service
    cause: SuspensionCause
    # The staff's reason (empty for a suspension for non-payment).
    reason: str
    suspended_on: dt.date | None
    # The invoice whose non-payment suspended it (None for a staff suspension, or when the
    # member has no access to billing).
    invoice: OwedInvoice | None
    # The day the billing run terminates the service if its oldest overdue invoice is still
    # unpaid (`dunning.termination_date`); None when no overdue invoice bills it.
    terminates_on: dt.date | None
    # Every overdue invoice of the account, per currency: the run lifts a suspension for
    # non-payment once nothing overdue is left (`handlers.lift_suspensions`). Empty without
    # access to billing.
    to_pay: list[CurrencyFigure]

    @property
    def unpaid(self) -> bool:
        return self.cause == SuspensionCause.UNPAID


def _owed(invoice: Invoice) -> OwedInvoice:
    return OwedInvoice(invoice, Money.from_minor(invoice.due_minor, invoice.currency))  # type: ignore[attr-defined]


def suspensions_explained(
    *, membership: ActingMembership, as_of: dt.date, service: Service | None = None
) -> list[SuspensionExplained]:
    """Each suspended service of the acting member's account (or only `service`), oldest
    suspension first, explained on `as_of`. Invoices and amounts only for a member with access
    to billing; a service of another account is simply not there."""
    suspended_services = Service.objects.visible_to(membership).filter(status=ServiceStatus.SUSPENDED)
    if service is not None:
        suspended_services = suspended_services.filter(pk=service.pk)
    services = list(suspended_services.select_related("plan__product").order_by("suspended_at", "pk"))
    if not services:
        return []
    open_suspensions = {
        row.service_id: row
        for row in DunningSuspension.objects.filter(service__in=services, lifted_on__isnull=True).select_related(
            "invoice"
        )
    }
    overdue = with_figures(invoices_visible_to(membership=membership), as_of=as_of).filter(
        status_group_condition("overdue", as_of=as_of), due_minor__gt=0
    )
    # The oldest overdue invoice billing each service decides its termination, as in the run.
    oldest_due: dict[int, dt.date] = {}
    for service_id, due_date in (
        overdue.filter(lines__service__in=services).order_by("due_date").values_list("lines__service_id", "due_date")
    ):
        if due_date is not None:
            oldest_due.setdefault(service_id, due_date)
    billing = membership.has_area(Area.BILLING)
    owed = {invoice.pk: _owed(invoice) for invoice in overdue} if billing else {}
    to_pay = _with_numbers(_per_currency(overdue), overdue) if billing else []
    explained = []
    for suspended in services:
        dunning = open_suspensions.get(suspended.pk)
        due_date = oldest_due.get(suspended.pk)
        explained.append(
            SuspensionExplained(
                service=suspended,
                cause=SuspensionCause.UNPAID if dunning else SuspensionCause.STAFF,
                reason="" if dunning else suspended.suspended_reason,
                suspended_on=dunning.suspended_on if dunning else None,
                invoice=owed.get(dunning.invoice_id) if dunning else None,
                terminates_on=termination_date(
                    due_date=due_date, days_before_termination=suspended.plan.product.days_before_termination
                )
                if due_date
                else None,
                to_pay=to_pay,
            )
        )
    return explained
