"""Billing in the client area: the overview, the invoices list with its status groups and
"email me this list", the invoice and credit note pages, the billing history of paid
charges and the account statement, each with its CSV download.

Every document is reached through `billing.selectors_portal`, which starts from the
acting membership's account and excludes drafts: another account's invoice, a guessed
number and a draft all answer 404. Bad query parameters (an unknown status or sort, a
page past the end) fall back to the defaults instead of failing; bad statement dates are
said next to their field.

Dates: `as_of` is today in the account's time zone, read from the clock here and
nowhere deeper (the selectors take it as an argument).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from sportello.accounts.models import Account, Area
from sportello.accounts.taxids import tax_id_label
from sportello.billing.models import DocumentKind, Invoice, InvoiceQuerySet, InvoiceStatus, Settlement
from sportello.billing.selectors import document_lines_shown
from sportello.billing.selectors_portal import (
    DEFAULT_SORT,
    STATUS_GROUP_KEYS,
    STATUS_GROUPS,
    CurrencyStatement,
    account_statement,
    credit_notes_of,
    document_by_number,
    document_state,
    documents_listed,
    paid_charge_rows,
    paid_charges,
    paid_charges_totals,
    settlement_method_label,
    shown_status,
    sort_ordering,
    status_group_counts,
    totals_per_currency,
)
from sportello.core.formatting import money_display
from sportello.core.money import Money
from sportello.core.time import local_date, utc_now
from sportello.notifications.models import EmailKind
from sportello.notifications.services import EmailAttachment, email_send
from sportello.payments.selectors import payments_receipted_by_invoice
from sportello.portal.access import MemberRequest, member_required
from sportello.portal.csv_export import csv_bytes, csv_response, plain_amount

PAGE_SIZE = 25
# Unpaid invoices shown on the billing overview; the list has the rest.
OVERVIEW_UNPAID = 10
# The longest statement period one page (and one file) holds.
STATEMENT_MAX_DAYS = 366 * 10


def _as_of(account: Account) -> dt.date:
    return local_date(utc_now(), account.time_zone)


# --- Overview ---------------------------------------------------------------------------------


@member_required(Area.BILLING)
@require_safe
def billing(request: MemberRequest) -> HttpResponse:
    """The billing home: what is owed, the unpaid invoices, and the details printed on invoices."""
    membership = request.membership
    as_of = _as_of(membership.account)
    unpaid = documents_listed(membership=membership, group="all", sort=DEFAULT_SORT, as_of=as_of)
    unpaid = unpaid.filter(kind=DocumentKind.INVOICE, due_minor__gt=0)
    context = {
        "rows": list_rows(unpaid[:OVERVIEW_UNPAID], as_of=as_of),
        "unpaid_count": unpaid.count(),
        "has_documents": documents_listed(membership=membership, group="all", sort="", as_of=as_of).exists(),
        "active_nav": "billing",
        "billing_tab": "overview",
    }
    return render(request, "portal/billing/overview.html", context)


# --- The invoices list ------------------------------------------------------------------------


@dataclass(frozen=True)
class ListRow:
    document: Invoice
    status: str
    status_label: str | Promise
    # Credit notes count negative (`Invoice.shown_sign`), as they do in the totals underneath.
    total: Money
    due: Money
    url: str


def document_url(document: Invoice) -> str:
    name = "portal:credit-note" if document.is_credit_note else "portal:invoice"
    return reverse(name, args=[document.display_number])


def list_rows(documents: Iterable[Invoice], *, as_of: dt.date) -> list[ListRow]:
    rows = []
    for document in documents:
        status = "credit_note" if document.is_credit_note else shown_status(document, as_of=as_of)
        label = DocumentKind.CREDIT_NOTE.label if document.is_credit_note else InvoiceStatus(status).label
        rows.append(
            ListRow(
                document=document,
                status=status,
                status_label=label,
                total=Money.from_minor(document.total_minor * document.shown_sign, document.currency),
                due=Money.from_minor(document.due_minor, document.currency),  # type: ignore[attr-defined]
                url=document_url(document),
            )
        )
    return rows


@dataclass(frozen=True)
class ListQuery:
    """The list's state in the query string: status group, sort, page."""

    status: str
    sort: str

    @classmethod
    def from_data(cls, data: QueryDict | Mapping[str, str]) -> ListQuery:
        status = str(data.get("status") or "all")
        sort, _ordering = sort_ordering(str(data.get("sort") or DEFAULT_SORT))
        return cls(status=status if status in STATUS_GROUP_KEYS else "all", sort=sort)

    def query(self, **changes: str | int) -> str:
        values: dict[str, str | int] = {"status": self.status, "sort": self.sort, **changes}
        return urlencode({key: value for key, value in values.items() if value not in ("", None)})


@dataclass(frozen=True)
class FilterLink:
    key: str
    label: str | Promise
    count: int
    url: str
    current: bool


@dataclass(frozen=True)
class SortColumn:
    key: str
    label: str | Promise
    url: str
    # "ascending", "descending" or "" (aria-sort's values)
    direction: str
    numeric: bool = False


COLUMNS: tuple[tuple[str, str | Promise, bool], ...] = (
    ("number", gettext_lazy("Number"), False),
    ("issue_date", gettext_lazy("Issue date"), False),
    ("due_date", gettext_lazy("Due date"), False),
    ("total", gettext_lazy("Total"), True),
    ("balance", gettext_lazy("Balance due"), True),
    ("status", gettext_lazy("Status"), False),
)


def sort_columns(query: ListQuery) -> list[SortColumn]:
    base = reverse("portal:invoices")
    columns = []
    for key, label, numeric in COLUMNS:
        direction = ""
        if query.sort.removeprefix("-") == key:
            direction = "descending" if query.sort.startswith("-") else "ascending"
        # A click on the sorted column reverses it; on another, sorts by it ascending.
        next_sort = f"-{key}" if direction == "ascending" else key
        columns.append(SortColumn(key, label, f"{base}?{query.query(sort=next_sort)}", direction, numeric))
    return columns


def _list_documents(request: MemberRequest, query: ListQuery, as_of: dt.date) -> InvoiceQuerySet:
    return documents_listed(membership=request.membership, group=query.status, sort=query.sort, as_of=as_of)


@member_required(Area.BILLING)
@require_safe
def invoice_list(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    as_of = _as_of(membership.account)
    query = ListQuery.from_data(request.GET)
    documents = _list_documents(request, query, as_of)
    page: Page = Paginator(documents, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = status_group_counts(membership=membership, as_of=as_of)
    base = reverse("portal:invoices")
    filters = [
        FilterLink(
            group.key,
            group.label,
            counts[group.key],
            f"{base}?{query.query(status=group.key)}",
            group.key == query.status,
        )
        for group in STATUS_GROUPS
    ]
    current = next(link for link in filters if link.current)
    context = {
        "rows": list_rows(page.object_list, as_of=as_of),
        "page": page,
        "page_base": f"{base}?{query.query()}",
        "filters": filters,
        "current_filter": current,
        "columns": sort_columns(query),
        "totals": totals_per_currency(documents),
        "query": query,
        "csv_url": f"{reverse('portal:invoices-csv')}?{query.query()}",
        "has_documents": counts["all"] > 0,
        "active_nav": "billing",
        "billing_tab": "invoices",
    }
    return render(request, "portal/billing/invoice_list.html", context)


def invoice_list_csv_bytes(documents: Iterable[Invoice], *, as_of: dt.date) -> bytes:
    header = [
        _("Type"),
        _("Number"),
        _("Issue date"),
        _("Due date"),
        _("Status"),
        _("Total"),
        _("Balance due"),
        _("Currency"),
        _("Corrects invoice"),
    ]
    rows = []
    for row in list_rows(documents, as_of=as_of):
        document = row.document
        rows.append(
            [
                document.get_kind_display(),
                document.display_number,
                document.issue_date.isoformat() if document.issue_date else "",
                document.due_date.isoformat() if document.due_date and not document.is_credit_note else "",
                row.status_label,
                plain_amount(row.total),
                plain_amount(row.due),
                document.currency,
                document.corrects.display_number if document.corrects_id and document.corrects else "",
            ]
        )
    return csv_bytes(header, rows)


def _list_filename(account: Account, query: ListQuery) -> str:
    return f"invoices-{account.reference}-{query.status}.csv"


@member_required(Area.BILLING)
@require_safe
def invoice_list_csv(request: MemberRequest) -> HttpResponse:
    account = request.membership.account
    as_of = _as_of(account)
    query = ListQuery.from_data(request.GET)
    documents = _list_documents(request, query, as_of).select_related("corrects")
    return csv_response(invoice_list_csv_bytes(documents, as_of=as_of), _list_filename(account, query))


@member_required(Area.BILLING)
@require_POST
def invoice_list_email(request: MemberRequest) -> HttpResponse:
    """Send the list as it is filtered and sorted now, as a CSV file, to the acting member."""
    membership = request.membership
    account = membership.account
    as_of = _as_of(account)
    query = ListQuery.from_data(request.POST)
    documents = _list_documents(request, query, as_of).select_related("corrects")
    label = next(group.label for group in STATUS_GROUPS if group.key == query.status)
    language = translation.get_language() or account.language
    with transaction.atomic():
        email_send(
            template="invoice_list",
            kind=EmailKind.LIST,
            to_email=request.user.email,
            language=language,
            account=account,
            recipient=request.user,
            context={
                "name": request.user.get_short_name(),
                "account_name": account.name,
                "filter": str(label),
                "count": documents.count(),
                "totals": [
                    {"total": money_display(row.total, language), "due": money_display(row.due, language)}
                    for row in totals_per_currency(documents)
                ],
            },
            attachments=[
                EmailAttachment(
                    name=_list_filename(account, query), content=invoice_list_csv_bytes(documents, as_of=as_of)
                )
            ],
        )
    messages.success(request, _("The list is on its way to %(email)s, as a CSV file.") % {"email": request.user.email})
    return redirect(f"{reverse('portal:invoices')}?{query.query()}")


# --- One invoice or credit note -----------------------------------------------------------------


def _document_page(request: MemberRequest, number: str, kind: str) -> HttpResponse:
    membership = request.membership
    as_of = _as_of(membership.account)
    try:
        document = document_by_number(membership=membership, number=number, kind=kind)
    except Invoice.DoesNotExist:
        raise Http404 from None
    settlements = list(
        Settlement.objects.visible_to(membership)
        .filter(invoice=document)
        .select_related("credit_note")
        .order_by("settled_on", "pk")
    )
    seller, buyer = document.seller or {}, document.buyer or {}
    context = {
        "document": document,
        "seller_tax_id_label": tax_id_label(str(seller.get("country", "")), str(seller.get("tax_id", ""))),
        "buyer_tax_id_label": tax_id_label(str(buyer.get("country", "")), str(buyer.get("tax_id", ""))),
        "state": document_state(document, as_of=as_of),
        # Unit prices, discounts and amounts before tax, as the printable page and PDF show them.
        "lines": document_lines_shown(document=document),
        "taxes": list(document.taxes.all()),
        "settlements": [(s, settlement_method_label(s)) for s in settlements],
        "credit_notes": list(credit_notes_of(membership=membership, invoice=document)),
        # A credit note links to the invoice it corrects (issued, of the same account).
        "corrects": document.corrects if document.is_credit_note else None,
        "active_nav": "billing",
        "billing_tab": "invoices",
    }
    return render(request, "portal/billing/document.html", context)


@member_required(Area.BILLING)
@require_safe
def invoice_detail(request: MemberRequest, number: str) -> HttpResponse:
    return _document_page(request, number, DocumentKind.INVOICE)


@member_required(Area.BILLING)
@require_safe
def credit_note_detail(request: MemberRequest, number: str) -> HttpResponse:
    return _document_page(request, number, DocumentKind.CREDIT_NOTE)


# --- Billing history of paid charges -------------------------------------------------------------


@member_required(Area.BILLING)
@require_safe
def billing_history(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    page: Page = Paginator(paid_charges(membership=membership), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = paid_charge_rows(page.object_list)
    receipts = payments_receipted_by_invoice(membership=membership, invoice_ids=[row.invoice.pk for row in rows])
    context = {
        "rows": [(row, receipts.get(row.invoice.pk, [])) for row in rows],
        "page": page,
        "page_base": f"{reverse('portal:billing-history')}?",
        "totals": paid_charges_totals(membership=membership),
        "active_nav": "billing",
        "billing_tab": "history",
    }
    return render(request, "portal/billing/history.html", context)


@member_required(Area.BILLING)
@require_safe
def billing_history_csv(request: MemberRequest) -> HttpResponse:
    account = request.membership.account
    header = [
        _("Number"),
        _("Issue date"),
        _("Due date"),
        _("Settlement date"),
        _("Method"),
        _("Amount"),
        _("Currency"),
    ]
    rows = [
        [
            row.invoice.display_number,
            row.invoice.issue_date.isoformat() if row.invoice.issue_date else "",
            row.invoice.due_date.isoformat() if row.invoice.due_date else "",
            row.settled_on.isoformat() if row.settled_on else "",
            "; ".join(row.methods),
            plain_amount(row.amount),
            row.amount.currency,
        ]
        for row in paid_charge_rows(paid_charges(membership=request.membership))
    ]
    return csv_response(csv_bytes(header, rows), f"paid-charges-{account.reference}.csv")


# --- Account statement ------------------------------------------------------------------------


class StatementForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if isinstance(start, dt.date) and isinstance(end, dt.date):
            if end < start:
                self.add_error("end", _("The end date must be on or after the start date."))
            elif (end - start).days > STATEMENT_MAX_DAYS:
                self.add_error("end", _("A statement covers at most ten years: choose a later start date."))
        return cleaned


def statement_form(data: QueryDict, *, as_of: dt.date) -> StatementForm:
    """Bound to the query string when it names a period; else this year so far (1 January to `as_of`)."""
    if "start" in data or "end" in data:
        return StatementForm(data)
    return StatementForm({"start": dt.date(as_of.year, 1, 1).isoformat(), "end": as_of.isoformat()})


def statement_of(request: MemberRequest, start: dt.date, end: dt.date) -> list[CurrencyStatement]:
    statements = account_statement(membership=request.membership, start=start, end=end)
    if not statements:
        # Nothing ever billed: an honest zero statement in the account's currency.
        zero = Money.zero(request.membership.account.currency)
        statements = [CurrencyStatement(currency=zero.currency, opening=zero, entries=[], closing=zero)]
    return statements


@member_required(Area.BILLING)
@require_safe
def statement(request: MemberRequest) -> HttpResponse:
    as_of = _as_of(request.membership.account)
    form = statement_form(request.GET, as_of=as_of)
    statements = None
    period_query = ""
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        statements = statement_of(request, start, end)
        period_query = urlencode({"start": start.isoformat(), "end": end.isoformat()})
    context = {
        "form": form,
        "statements": statements,
        "period_query": period_query,
        "active_nav": "billing",
        "billing_tab": "statement",
    }
    return render(request, "portal/billing/statement.html", context, status=200)


@member_required(Area.BILLING)
@require_safe
def statement_csv(request: MemberRequest) -> HttpResponse:
    account = request.membership.account
    form = statement_form(request.GET, as_of=_as_of(account))
    if not form.is_valid():
        # The page says what is wrong with the dates, next to each field.
        return redirect(f"{reverse('portal:statement')}?{request.GET.urlencode()}")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    header = [_("Date"), _("Type"), _("Description"), _("Reference"), _("Amount"), _("Balance"), _("Currency")]
    rows: list[list[str]] = []
    for entry_set in statement_of(request, start, end):
        currency = entry_set.currency
        rows.append([start.isoformat(), "", _("Opening balance"), "", "", plain_amount(entry_set.opening), currency])
        for entry in entry_set.entries:
            kind = {"invoice": _("Invoice"), "credit_note": _("Credit note"), "payment": _("Payment")}[entry.kind]
            rows.append(
                [
                    entry.date.isoformat(),
                    kind,
                    entry.description,
                    entry.reference,
                    plain_amount(entry.amount),
                    plain_amount(entry.balance),
                    currency,
                ]
            )
        rows.append([end.isoformat(), "", _("Closing balance"), "", "", plain_amount(entry_set.closing), currency])
    filename = f"statement-{account.reference}-{start.isoformat()}-{end.isoformat()}.csv"
    return csv_response(csv_bytes(header, rows), filename)


urlpatterns: list[URLPattern] = [
    path("billing/", billing, name="billing"),
    path("billing/invoices/", invoice_list, name="invoices"),
    path("billing/invoices.csv", invoice_list_csv, name="invoices-csv"),
    path("billing/invoices/email/", invoice_list_email, name="invoices-email"),
    path("billing/invoices/<str:number>/", invoice_detail, name="invoice"),
    path("billing/credit-notes/<str:number>/", credit_note_detail, name="credit-note"),
    path("billing/history/", billing_history, name="billing-history"),
    path("billing/history.csv", billing_history_csv, name="billing-history-csv"),
    path("billing/statement/", statement, name="statement"),
    path("billing/statement.csv", statement_csv, name="statement-csv"),
]
