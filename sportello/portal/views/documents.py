"""Invoices, credit notes and quotes as files and printable pages, in the billing area.

Each document is found through `invoices_visible_to` / `quotes_visible_to` for the acting
membership, by its number: another account's document, a draft, or a guessed number is a
404 like any other. An issued invoice's PDF is the stored file rendered at issue (never
rendered again); quotes are rendered on demand. The printable page shows the same
`PrintedDocument` the PDF is drawn from, with print CSS from static files (no inline
style or script: CSP).
"""

from __future__ import annotations

import base64

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from sportello.accounts.models import Area
from sportello.billing.models import DocumentKind, Invoice, Quote
from sportello.billing.payment_codes import qr_svg
from sportello.billing.pdf import StatementRow, invoice_pdf_file, logo_png, quote_pdf, statement_pdf
from sportello.billing.printed import PrintedDocument, invoice_printed, quote_printed
from sportello.billing.selectors import invoices_visible_to, quotes_visible_to
from sportello.core.time import local_date, utc_now
from sportello.portal.access import MemberRequest, member_required
from sportello.portal.views.billing import statement_form, statement_of


def pdf_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    # A customer's document is nobody else's: never kept by a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response


def _invoice(request: MemberRequest, number: str, kind: str | None) -> Invoice:
    """The member's issued invoice or credit note printed with `number` (the fiscal number, or
    the payment request's number while it has none); `kind` narrows it to one type."""
    documents = invoices_visible_to(membership=request.membership)
    if kind is not None:
        documents = documents.filter(kind=kind)
    invoice = documents.filter(number=number).first() if number else None
    if invoice is None and number and kind != DocumentKind.CREDIT_NOTE:
        invoice = documents.filter(kind=DocumentKind.INVOICE, number="", proforma_number=number).first()
    if invoice is None:
        raise Http404
    return invoice


def _quote(request: MemberRequest, number: str) -> Quote:
    quote = quotes_visible_to(membership=request.membership).filter(number=number).first() if number else None
    if quote is None:
        raise Http404
    return quote


def _qr_data_uri(payload: str) -> str:
    """The payment QR as an SVG data URI (CSP allows data: images; nothing inline runs)."""
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(payload)).decode("ascii")


def _logo_data_uri(name: str) -> str:
    """The logo the PDF prints, as a PNG data URI ("" without one, or if unreadable)."""
    png = logo_png(name)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii") if png else ""


def print_context(document: PrintedDocument, pdf_url: str) -> dict[str, object]:
    payment = document.payment
    return {
        "document": document,
        "pdf_url": pdf_url,
        "logo_src": _logo_data_uri(document.logo),
        "qr_src": _qr_data_uri(payment.qr_payload) if payment and payment.qr_payload else "",
        "active_nav": "billing",
    }


# --- Invoices and credit notes ---------------------------------------------------------------


@member_required(Area.BILLING)
@require_safe
def invoice_pdf(request: MemberRequest, number: str) -> HttpResponse:
    invoice = _invoice(request, number, None)
    return pdf_response(invoice_pdf_file(invoice=invoice), invoice_printed(invoice).filename)


@member_required(Area.BILLING)
@require_safe
def invoice_print(request: MemberRequest, number: str) -> HttpResponse:
    invoice = _invoice(request, number, None)
    url = reverse("portal:invoice-pdf", args=[invoice.display_number])
    return render(request, "portal/documents/print.html", print_context(invoice_printed(invoice), url))


@member_required(Area.BILLING)
@require_safe
def credit_note_pdf(request: MemberRequest, number: str) -> HttpResponse:
    credit_note = _invoice(request, number, DocumentKind.CREDIT_NOTE)
    return pdf_response(invoice_pdf_file(invoice=credit_note), invoice_printed(credit_note).filename)


@member_required(Area.BILLING)
@require_safe
def credit_note_print(request: MemberRequest, number: str) -> HttpResponse:
    credit_note = _invoice(request, number, DocumentKind.CREDIT_NOTE)
    url = reverse("portal:credit-note-pdf", args=[credit_note.number])
    return render(request, "portal/documents/print.html", print_context(invoice_printed(credit_note), url))


# --- Quotes ----------------------------------------------------------------------------------


@member_required(Area.BILLING)
@require_safe
def quote_pdf_download(request: MemberRequest, number: str) -> HttpResponse:
    quote = _quote(request, number)
    document = quote_printed(quote)
    return pdf_response(quote_pdf(quote), document.filename)


@member_required(Area.BILLING)
@require_safe
def quote_print(request: MemberRequest, number: str) -> HttpResponse:
    quote = _quote(request, number)
    url = reverse("portal:quote-pdf", args=[quote.number])
    return render(request, "portal/documents/print.html", print_context(quote_printed(quote), url))


# --- Account statement -----------------------------------------------------------------------


@member_required(Area.BILLING)
@require_safe
def statement_pdf_download(request: MemberRequest) -> HttpResponse:
    """The statement page's period (and `currency`, else the first) as a PDF, in the account's language."""
    account = request.membership.account
    form = statement_form(request.GET, as_of=local_date(utc_now(), account.time_zone))
    if not form.is_valid():
        # The statement page says what is wrong with the dates, next to each field.
        return redirect(f"{reverse('portal:statement')}?{request.GET.urlencode()}")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    statements = statement_of(request, start, end)
    wanted = str(request.GET.get("currency", "")).upper()
    chosen = next((s for s in statements if s.currency == wanted), statements[0])
    rows = [
        StatementRow(
            date=entry.date,
            reference=entry.reference,
            description=entry.description,
            debit=entry.amount if entry.amount.minor > 0 else None,
            credit=-entry.amount if entry.amount.minor < 0 else None,
        )
        for entry in chosen.entries
    ]
    data = statement_pdf(
        account=account,
        rows=rows,
        opening=chosen.opening,
        closing=chosen.closing,
        period=(start, end),
        language=account.language,
    )
    filename = f"statement-{account.reference}-{start.isoformat()}-{end.isoformat()}.pdf"
    return pdf_response(data, filename)


urlpatterns: list[URLPattern] = [
    path("billing/invoices/<str:number>/pdf/", invoice_pdf, name="invoice-pdf"),
    path("billing/invoices/<str:number>/print/", invoice_print, name="invoice-print"),
    path("billing/credit-notes/<str:number>/pdf/", credit_note_pdf, name="credit-note-pdf"),
    path("billing/credit-notes/<str:number>/print/", credit_note_print, name="credit-note-print"),
    path("billing/quotes/<str:number>/pdf/", quote_pdf_download, name="quote-pdf"),
    path("billing/quotes/<str:number>/print/", quote_print, name="quote-print"),
    path("billing/statement.pdf", statement_pdf_download, name="statement-pdf"),
]
