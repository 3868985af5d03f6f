"""Quotes in the client area: the list, the quote page, accepting and declining.

Every quote is found through `quotes_visible_to(membership=...)` by its number, so another
account's quote (or a draft) answers 404 on every URL, also to someone guessing numbers.
Accept and Decline are shown only while the quote is sent and valid and the member may
decide (`billing.quotes.may_decide`); every POST is checked again by the domain service,
under its lock, and a refusal becomes a translated message that changes nothing.

Dates: `as_of` is today's date in UTC, the calendar the daily expiry job works in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency
from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from sportello.accounts.models import Area
from sportello.billing.errors import BillingError, IllegalTransition, InvalidDocument, NotAllowed, QuoteExpired
from sportello.billing.models import DocumentLine, Quote, QuoteStatus, QuoteTax
from sportello.billing.quotes import may_decide, quote_accept, quote_decline
from sportello.billing.selectors import document_lines_shown, quotes_visible_to
from sportello.core.formatting import babel_locale, date_display
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.portal.access import MemberRequest, member_required

PAGE_SIZE = 25
# The badge class of each status (the stylesheet's shared colours).
BADGES = {
    QuoteStatus.SENT: "open",
    QuoteStatus.ACCEPTED: "active",
    QuoteStatus.CONVERTED: "paid",
    QuoteStatus.DECLINED: "cancelled",
    QuoteStatus.EXPIRED: "expired",
    QuoteStatus.DRAFT: "pending",
}
# Sort keys of the list's columns -> the fields they order by (the last ones break ties).
SORTS = {
    "number": ("year", "sequence"),
    "date": ("issue_date", "year", "sequence"),
    "valid_until": ("valid_until", "year", "sequence"),
    "total": ("currency", "total_minor", "year", "sequence"),
    "status": ("status_rank", "valid_until", "year", "sequence"),
}
DEFAULT_SORT = "-date"


def _as_of() -> dt.date:
    return utc_now().date()


def unit_price_display(value: Decimal, currency: str) -> str:
    """A unit price in the viewer's locale, with the currency's decimals and any finer ones
    it was entered with (0.0074 per unit stays 0.0074)."""
    return format_currency(value.normalize(), currency, locale=babel_locale(), decimal_quantization=False)


# --- The list ---------------------------------------------------------------------------------


def sort_ordering(sort: str) -> tuple[str, list[str]]:
    """The valid sort (`-date` is descending) and its order_by fields; unknown -> the default."""
    key = sort.removeprefix("-")
    if key not in SORTS:
        sort, key = DEFAULT_SORT, DEFAULT_SORT.removeprefix("-")
    descending = sort.startswith("-")
    return sort, [f"-{name}" if descending else name for name in SORTS[key]]


def _ranked(quotes: QuerySet[Quote]) -> QuerySet[Quote]:
    # Awaiting a decision first, then what became of the others.
    return quotes.annotate(
        status_rank=Case(
            When(status=QuoteStatus.SENT, then=Value(1)),
            When(status=QuoteStatus.ACCEPTED, then=Value(2)),
            When(status=QuoteStatus.CONVERTED, then=Value(3)),
            When(status=QuoteStatus.DECLINED, then=Value(4)),
            default=Value(5),
            output_field=IntegerField(),
        )
    )


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[
            ("", gettext_lazy("All")),
            *[(s, label) for s, label in QuoteStatus.choices if s != QuoteStatus.DRAFT],
        ],
    )


@dataclass(frozen=True)
class QuoteRow:
    quote: Quote
    total: Money
    badge: str
    # Sent and past its last valid day, not yet marked by the daily job.
    lapsed: bool


def _row(quote: Quote, as_of: dt.date) -> QuoteRow:
    return QuoteRow(
        quote=quote,
        total=Money.from_minor(quote.total_minor, quote.currency),
        badge=BADGES.get(QuoteStatus(quote.status), "pending"),
        lapsed=quote.status == QuoteStatus.SENT and quote.valid_until is not None and quote.valid_until < as_of,
    )


@member_required(Area.BILLING)
@require_safe
def quote_list(request: MemberRequest) -> HttpResponse:
    as_of = _as_of()
    form = StatusFilterForm(request.GET)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    sort, ordering = sort_ordering(str(request.GET.get("sort", DEFAULT_SORT)))
    visible = quotes_visible_to(membership=request.membership)
    quotes = _ranked(visible.filter(status=status) if status else visible).order_by(*ordering)
    page = Paginator(quotes, PAGE_SIZE).get_page(request.GET.get("page"))
    columns = [
        Column("number", _("Quote")),
        Column("date", _("Date")),
        Column("status", _("Status")),
        Column("valid_until", _("Valid until")),
        Column("total", _("Total"), numeric=True),
    ]
    context = {
        "form": form,
        "status": status,
        "status_label": QuoteStatus(status).label if status else "",
        "sort": sort,
        "sort_key": sort.removeprefix("-"),
        "descending": sort.startswith("-"),
        "columns": columns,
        "page": page,
        "rows": [_row(quote, as_of) for quote in page],
        "has_quotes": bool(page.paginator.count) or visible.exists(),
        "active_nav": "billing",
        "billing_tab": "quotes",
    }
    return render(request, "portal/quotes/list.html", context)


# --- The quote page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRow:
    line: DocumentLine
    unit_price: str
    discount: Money | None
    amount: Money


@dataclass(frozen=True)
class TaxRow:
    tax: QuoteTax
    taxable: Money
    amount: Money


def _quote(request: MemberRequest, number: str) -> Quote:
    return get_object_or_404(
        quotes_visible_to(membership=request.membership).select_related("account", "invoice", "decided_by"),
        number=number,
    )


def _quote_context(request: MemberRequest, quote: Quote, as_of: dt.date) -> dict[str, object]:
    currency = quote.currency
    row = _row(quote, as_of)
    open_for_decision = quote.status == QuoteStatus.SENT and not row.lapsed
    return {
        "quote": quote,
        "row": row,
        "lines": [
            # Before tax, as the quote's PDF prints them (`billing.calc.line_before_tax`).
            LineRow(
                line=shown.line,
                unit_price=unit_price_display(shown.unit_price, currency),
                discount=Money.from_minor(shown.discount_minor, currency) if shown.discount_minor else None,
                amount=Money.from_minor(shown.net_minor, currency),
            )
            for shown in document_lines_shown(document=quote)
        ],
        "taxes": [
            TaxRow(
                tax=tax,
                taxable=Money.from_minor(tax.taxable_minor, currency),
                amount=Money.from_minor(tax.tax_minor, currency),
            )
            for tax in quote.taxes.all()
        ],
        "net": Money.from_minor(quote.net_minor, currency),
        "tax_total": Money.from_minor(quote.tax_minor, currency),
        "total": row.total,
        "open_for_decision": open_for_decision,
        "may_decide": open_for_decision and may_decide(request.membership),
        "role_may_not": open_for_decision and not may_decide(request.membership),
        "active_nav": "billing",
    }


@member_required(Area.BILLING)
@require_safe
def quote_detail(request: MemberRequest, number: str) -> HttpResponse:
    quote = _quote(request, number)
    return render(request, "portal/quotes/detail.html", _quote_context(request, quote, _as_of()))


def refusal_message(error: BillingError) -> str:
    """A translated sentence for a refused accept or decline; nothing was changed."""
    if isinstance(error, QuoteExpired):
        return _("This quote was valid until %(date)s: it can no longer be accepted.") % {
            "date": date_display(error.valid_until)
        }
    if isinstance(error, IllegalTransition):
        return _("This quote is “%(status)s”: it can no longer be accepted or declined.") % {
            "status": QuoteStatus(error.from_status).label
        }
    if isinstance(error, NotAllowed):
        return _("Your role lets you see quotes, but not accept or decline them.")
    return _("This could not be done.")


def _why_not(request: MemberRequest, quote: Quote) -> str:
    """Why the member cannot decide on `quote` now, in the words of the domain's refusals."""
    if quote.status != QuoteStatus.SENT:
        return refusal_message(IllegalTransition(transition="accept", from_status=quote.status))
    if quote.valid_until is not None and quote.valid_until < _as_of():
        return refusal_message(QuoteExpired(valid_until=quote.valid_until))
    return refusal_message(NotAllowed())


def _refused(request: MemberRequest, quote: Quote, message: str) -> HttpResponse:
    messages.error(request, message)
    return redirect("portal:quote-detail", number=quote.number)


@member_required(Area.BILLING)
@require_http_methods(["GET", "HEAD", "POST"])
def quote_accept_view(request: MemberRequest, number: str) -> HttpResponse:
    """The confirmation step of accepting (GET), and accepting (POST): the invoice is issued."""
    as_of = _as_of()
    quote = _quote(request, number)
    context = _quote_context(request, quote, as_of)
    if not context["may_decide"]:
        return _refused(request, quote, _why_not(request, quote))
    if request.method == "POST":
        try:
            quote = quote_accept(quote=quote, as_of=as_of, by=request.user, acting=request.membership)
        except BillingError as error:
            return _refused(request, quote, refusal_message(error))
        assert quote.invoice is not None  # accepting issues it
        messages.success(
            request,
            _("Quote %(quote)s accepted: invoice %(invoice)s has been issued.")
            % {"quote": quote.number, "invoice": quote.invoice.display_number},
        )
        return redirect("portal:quote-detail", number=quote.number)
    return render(request, "portal/quotes/accept.html", context)


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why are you declining?"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("It helps us prepare a better offer. Up to 1,000 characters."),
    )


@member_required(Area.BILLING)
@require_http_methods(["GET", "HEAD", "POST"])
def quote_decline_view(request: MemberRequest, number: str) -> HttpResponse:
    quote = _quote(request, number)
    context = _quote_context(request, quote, _as_of())
    if not context["may_decide"]:
        return _refused(request, quote, _why_not(request, quote))
    form = DeclineForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            quote = quote_decline(
                quote=quote, reason=form.cleaned_data["reason"], by=request.user, acting=request.membership
            )
        except InvalidDocument:
            form.add_error("reason", _("Say why you are declining."))
        except BillingError as error:
            return _refused(request, quote, refusal_message(error))
        else:
            messages.success(
                request, _("Quote %(quote)s declined. Thank you for telling us why.") % {"quote": quote.number}
            )
            return redirect("portal:quote-detail", number=quote.number)
    return render(request, "portal/quotes/decline.html", {**context, "form": form})


urlpatterns: list[URLPattern] = [
    path("billing/quotes/", quote_list, name="quotes"),
    path("billing/quotes/<str:number>/", quote_detail, name="quote-detail"),
    path("billing/quotes/<str:number>/accept/", quote_accept_view, name="quote-accept"),
    path("billing/quotes/<str:number>/decline/", quote_decline_view, name="quote-decline"),
]
