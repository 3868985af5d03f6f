"""Reads of the billing domain. Customer-facing ones take the acting membership, so another
account's document is simply not there (a 404 at the interface)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from sportello.billing.calc import line_before_tax
from sportello.billing.models import DocumentLine, Invoice, InvoiceQuerySet, Quote, QuoteStatus, Seller, Settlement
from sportello.core.tenancy import AccountOwnedQuerySet, ActingMembership


def seller_current() -> Seller:
    """The seller's details; a new installation starts from PROVIDER_NAME until staff fill them in."""
    seller = Seller.objects.order_by("pk").first()
    if seller is None:
        seller, _ = Seller.objects.get_or_create(pk=1, defaults={"name": settings.PROVIDER_NAME, "country": "ES"})
    return seller


def invoice_paid_minor(*, invoice: Invoice) -> int:
    """What the invoice has received: the sum of its settlements (reversals are negative)."""
    total = Settlement.objects.filter(invoice_id=invoice.pk).aggregate(total=Sum("amount_minor"))["total"]
    return int(total or 0)


def invoice_balance_minor(*, invoice: Invoice) -> int:
    return invoice.total_minor - invoice_paid_minor(invoice=invoice)


def invoices_visible_to(*, membership: ActingMembership) -> InvoiceQuerySet:
    """The account's issued invoices and credit notes; drafts are the provider's business."""
    return Invoice.objects.visible_to(membership).issued()


def quotes_visible_to(*, membership: ActingMembership) -> AccountOwnedQuerySet:
    return Quote.objects.visible_to(membership).exclude(status=QuoteStatus.DRAFT)


@dataclass(frozen=True)
class LineShown:
    """A document's line with what it prints: unit price, discount and net, all before tax
    (`calc.line_before_tax`), the same on the page, the printable page and the PDF."""

    line: DocumentLine
    unit_price: Decimal
    discount_minor: int
    net_minor: int


def document_lines_shown(*, document: Invoice | Quote) -> list[LineShown]:
    """The lines of an invoice, credit note or quote, in order, with their figures before tax."""
    shown = []
    for line in document.lines.all():
        figures = line_before_tax(
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_minor=line.discount_minor,
            net_minor=line.net_minor,
            tax_rate=line.tax_rate,
            currency=document.currency,
            prices_include_tax=document.prices_include_tax,
        )
        shown.append(
            LineShown(
                line=line,
                unit_price=figures.unit_price,
                discount_minor=figures.discount_minor,
                net_minor=figures.net_minor,
            )
        )
    return shown
