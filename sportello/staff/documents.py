"""Staff downloads of any account's documents from the back office.

Staff with the view permission on invoices (or quotes) get the same file the customer
gets: for an issued invoice or credit note, the PDF stored at issue. `invoice_pdf_link`
is what an admin's list or detail page shows to link to it.
"""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from sportello.billing.models import Invoice, Quote, QuoteStatus
from sportello.billing.pdf import invoice_pdf_file, quote_pdf
from sportello.billing.printed import invoice_printed, quote_printed
from sportello.portal.views.documents import pdf_response


@staff_member_required
@permission_required("billing.view_invoice", raise_exception=True)
@require_safe
def staff_invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.issued(), pk=invoice_id)
    return pdf_response(invoice_pdf_file(invoice=invoice), invoice_printed(invoice).filename)


@staff_member_required
@permission_required("billing.view_quote", raise_exception=True)
@require_safe
def staff_quote_pdf(request: HttpRequest, quote_id: int) -> HttpResponse:
    quote = get_object_or_404(Quote.objects.exclude(status=QuoteStatus.DRAFT), pk=quote_id)
    return pdf_response(quote_pdf(quote), quote_printed(quote).filename)


def invoice_pdf_link(invoice: Invoice) -> SafeString | str:
    """A "PDF" link for an issued invoice or credit note in the back office; empty for drafts
    (also those cancelled before issue)."""
    if not invoice.is_issued:
        return ""
    return format_html('<a href="{}">{}</a>', reverse("staff-invoice-pdf", args=[invoice.pk]), _("PDF"))
