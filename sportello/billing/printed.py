"""What a document prints, as text in its own language: the single source of the PDF and of
the printable page, so that both say exactly the same thing.

Every figure comes from the stored document: line nets, the tax summary and the totals
are the minor units written at issue (`billing.calc`), shown through
`core.formatting.money_display`; nothing is added up or rounded again here (the unit
price and discount before tax of a line entered with tax come from its stored net, by
`calc.line_before_tax`, the same wherever the line is shown). Parties are
the ones frozen on the document at issue (`Invoice.seller` / `Invoice.buyer`), so a later
change to the account or the seller never changes what an issued document says.

The content follows art. 226 of Directive 2006/112/EC: issue date; sequential number;
both parties' names, addresses and VAT ids; quantity and nature of each line with its
period; date of supply when it differs from the issue date; unit price before tax and
any discount (`calc.line_before_tax`, also when prices were entered with tax); the rate;
the taxable amount and the tax per rate; the exemption or reverse charge wording
(`legal_notes`); on a credit note, the invoice it corrects (art. 219).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from decimal import Decimal

from babel.core import Locale
from babel.numbers import format_decimal, format_percent, parse_pattern
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from sportello.accounts.taxids import tax_id_label
from sportello.billing.models import (
    DocumentKind,
    DocumentLine,
    Invoice,
    InvoiceStatus,
    Quote,
    TaxCategory,
)
from sportello.billing.payment_codes import PaymentCodeError, epc_payload, pix_payload
from sportello.billing.selectors import document_lines_shown, invoice_balance_minor, seller_current
from sportello.billing.services import buyer_printed, seller_printed
from sportello.core.formatting import babel_locale, date_display, money_display
from sportello.core.money import Money, currency_exponent


@dataclass(frozen=True)
class PrintedParty:
    heading: str
    name: str
    lines: tuple[str, ...]
    # (label, value) pairs: VAT number, tax id, customer number, contact details.
    ids: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PrintedLine:
    description: str
    period: str
    quantity: str
    unit_price: str
    discount: str
    rate: str
    amount: str


@dataclass(frozen=True)
class PrintedTax:
    label: str
    rate: str
    taxable: str
    tax: str
    exemption: str


@dataclass(frozen=True)
class PrintedPayment:
    """The payment section: paid, or how to pay (bank transfer with EPC QR, or PIX)."""

    heading: str
    # (label, value) pairs printed as a list: bank, IBAN, BIC, reference, amount due.
    details: tuple[tuple[str, str], ...] = ()
    paid_on: str = ""
    # The payload of the QR code printed next to the details, and what it is.
    qr_payload: str = ""
    qr_caption: str = ""
    # The PIX "copia e cola" string, printed in full for copying, and its label.
    pix_code: str = ""
    pix_label: str = ""


@dataclass(frozen=True)
class PrintedColumns:
    description: str
    quantity: str
    unit_price: str
    discount: str
    rate: str
    amount: str


@dataclass(frozen=True)
class PrintedDocument:
    kind: str
    language: str
    title: str
    number: str
    filename: str
    facts: tuple[tuple[str, str], ...]
    seller: PrintedParty
    buyer: PrintedParty
    columns: PrintedColumns
    lines: tuple[PrintedLine, ...]
    tax_heading: tuple[str, str, str, str]
    taxes: tuple[PrintedTax, ...]
    totals: tuple[tuple[str, str], ...]
    legal_notes: tuple[str, ...]
    notes: str
    payment: PrintedPayment | None
    footer: str
    logo: str
    subject: str = ""
    # Author of the PDF metadata: the seller.
    author: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> str:
        return self.totals[-1][1]


# --- Formatting helpers ------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _decimal_display(value: Decimal, language: str) -> str:
    """A quantity as typed: `1`, `2,5`, `0,125` — every significant decimal, none more."""
    normalized = Decimal(value).normalize()
    if normalized == normalized.to_integral_value():
        normalized = normalized.quantize(Decimal(1))
    return format_decimal(normalized, locale=babel_locale(language), decimal_quantization=False)


@functools.lru_cache(maxsize=4096)
def unit_price_display(value: Decimal, currency: str, language: str) -> str:
    """A unit price with the currency's decimals, or more when it has them (0,0125 €)."""
    exponent = currency_exponent(currency)
    normalized = Decimal(value).normalize()
    decimals = max(exponent, -normalized.as_tuple().exponent if normalized.as_tuple().exponent < 0 else 0)  # type: ignore[operator]
    locale = Locale.parse(babel_locale(language))
    pattern = parse_pattern(locale.currency_formats["standard"])
    pattern.frac_prec = (decimals, decimals)
    return str(pattern.apply(Decimal(value), locale, currency=currency, currency_digits=False))


@functools.lru_cache(maxsize=256)
def rate_display(rate: Decimal, language: str) -> str:
    return str(format_percent(Decimal(rate) / 100, locale=babel_locale(language), decimal_quantization=False))


@functools.lru_cache(maxsize=4096)
def minor_display(minor: int, currency: str, language: str) -> str:
    return money_display(Money.from_minor(minor, currency), language)


def country_name(code: str, language: str) -> str:
    if not code:
        return ""
    return str(Locale.parse(babel_locale(language)).territories.get(code.upper(), code.upper()))


def _period(line: DocumentLine, language: str) -> str:
    return period_display(line.period_start, line.period_end, language)


# Pure functions of their arguments, cached: a document repeats its periods, rates and
# prices line after line, and Babel parses the locale's patterns on every call.
@functools.lru_cache(maxsize=1024)
def period_display(start: dt.date | None, end: dt.date | None, language: str) -> str:
    """The period billed, as its first and last day (stored with an exclusive end)."""
    if not start:
        return ""
    first = date_display(start, language)
    if not end:
        return first
    last = end - dt.timedelta(days=1)
    return first if last <= start else f"{first} – {date_display(last, language)}"


def _iban_display(iban: str) -> str:
    compact = re.sub(r"\s+", "", iban).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def safe_filename(number: str, prefix: str) -> str:
    """`INV-2026-00001.pdf`: letters, digits, dot, dash and underscore only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", number).strip("-.") or prefix
    return f"{cleaned}.pdf"


# --- Parties -----------------------------------------------------------------------------------


def party_printed(heading: str, printed: dict[str, object], language: str, *, seller: bool) -> PrintedParty:
    lines = [str(line) for line in printed.get("address_lines", []) or [] if line]  # type: ignore[attr-defined]
    country = country_name(str(printed.get("country", "")), language)
    if country:
        lines.append(country)
    ids: list[tuple[str, str]] = []
    if printed.get("vat_id"):
        ids.append((_("VAT number"), str(printed["vat_id"])))
    if printed.get("tax_id"):
        ids.append((tax_id_label(str(printed.get("country", "")), str(printed["tax_id"])), str(printed["tax_id"])))
    if not seller and printed.get("reference"):
        ids.append((_("Customer number"), str(printed["reference"])))
    if seller:
        for key, label in (("email", _("Email")), ("phone", _("Phone")), ("website", _("Website"))):
            if printed.get(key):
                ids.append((label, str(printed[key])))
    return PrintedParty(heading=heading, name=str(printed.get("name", "")), lines=tuple(lines), ids=tuple(ids))


# --- Lines and taxes ---------------------------------------------------------------------------


def _columns() -> PrintedColumns:
    # Unit prices, discounts and amounts print before tax, however the prices were entered.
    return PrintedColumns(
        description=_("Description"),
        quantity=_("Qty"),
        unit_price=_("Unit price"),
        discount=_("Discount"),
        rate=pgettext("tax rate column", "Tax"),
        amount=_("Net amount"),
    )


def _lines(document: Invoice | Quote, language: str, sign: int = 1) -> tuple[PrintedLine, ...]:
    """`sign`: `Invoice.shown_sign` (a credit note's amounts print negative)."""
    currency = document.currency
    return tuple(
        PrintedLine(
            description=shown.line.description,
            period=_period(shown.line, language),
            quantity=_decimal_display(shown.line.quantity, language),
            unit_price=unit_price_display(shown.unit_price * sign, currency, language),
            discount=minor_display(shown.discount_minor * sign, currency, language) if shown.discount_minor else "",
            rate=rate_display(shown.line.tax_rate, language),
            amount=minor_display(shown.net_minor * sign, currency, language),
        )
        for shown in document_lines_shown(document=document)
    )


def _taxes(rows: list, currency: str, language: str, sign: int = 1) -> tuple[PrintedTax, ...]:
    categories = dict(TaxCategory.choices)
    return tuple(
        PrintedTax(
            label=row.name or str(categories.get(row.category, row.category)),
            rate=rate_display(row.rate, language),
            taxable=minor_display(row.taxable_minor * sign, currency, language),
            tax=minor_display(row.tax_minor * sign, currency, language),
            exemption=row.exemption_text,
        )
        for row in rows
    )


def _tax_heading() -> tuple[str, str, str, str]:
    return (_("Tax"), _("Rate"), _("Taxable amount"), _("Tax amount"))


def _totals(net: int, tax: int, total: int, currency: str, language: str) -> tuple[tuple[str, str], ...]:
    return (
        (_("Net total"), minor_display(net, currency, language)),
        (_("Tax total"), minor_display(tax, currency, language)),
        (_("Total"), minor_display(total, currency, language)),
    )


def _notes(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in (text or "").splitlines() if line.strip())


# --- Payment -----------------------------------------------------------------------------------


def _payment(invoice: Invoice, language: str) -> PrintedPayment | None:
    if invoice.kind != DocumentKind.INVOICE or invoice.status in (InvoiceStatus.CANCELLED, InvoiceStatus.REFUNDED):
        return None
    if invoice.status == InvoiceStatus.PAID and invoice.paid_date:
        return PrintedPayment(
            heading=_("Payment"),
            paid_on=_("Paid on %(date)s") % {"date": date_display(invoice.paid_date, language)},
        )
    seller = invoice.seller or {}
    balance = invoice_balance_minor(invoice=invoice)
    if balance <= 0:
        return None
    due = Money.from_minor(balance, invoice.currency)
    reference = invoice.display_number
    details: list[tuple[str, str]] = []
    qr_payload = qr_caption = pix_code = ""
    iban = str(seller.get("iban", ""))
    if iban and invoice.currency != "BRL":
        if seller.get("bank_name"):
            details.append((_("Bank"), str(seller["bank_name"])))
        details.append((_("IBAN"), _iban_display(iban)))
        if seller.get("bic"):
            details.append((_("BIC"), str(seller["bic"])))
        details.append((_("Beneficiary"), str(seller.get("name", ""))))
        details.append((_("Payment reference"), reference))
        details.append((_("Amount due"), money_display(due, language)))
        if invoice.currency == "EUR":
            try:
                qr_payload = epc_payload(
                    name=str(seller.get("name", ""))[:70],
                    iban=iban,
                    bic=str(seller.get("bic", "")),
                    amount=due.amount,
                    text=reference,
                )
                qr_caption = _("Scan with your banking app to pay by SEPA transfer.")
            except PaymentCodeError:
                qr_payload = ""
    elif invoice.currency == "BRL" and seller.get("pix_key"):
        try:
            pix_code = pix_payload(
                key=str(seller["pix_key"]),
                name=str(seller.get("name", "")),
                city=str(seller.get("pix_city", "")) or "BRASILIA",
                amount=due.amount,
                txid=reference,
            )
        except PaymentCodeError:
            pix_code = ""
        if pix_code:
            details.append((_("PIX key"), str(seller["pix_key"])))
            details.append((_("Amount due"), money_display(due, language)))
            qr_payload = pix_code
            qr_caption = _("Scan the QR code or paste the PIX code in your banking app.")
    if not details:
        return PrintedPayment(heading=_("Payment"), details=((_("Amount due"), money_display(due, language)),))
    return PrintedPayment(
        heading=_("Payment"),
        details=tuple(details),
        qr_payload=qr_payload,
        qr_caption=qr_caption,
        pix_code=pix_code,
        pix_label=_("PIX copy and paste code") if pix_code else "",
    )


# --- Documents ---------------------------------------------------------------------------------


def invoice_printed(invoice: Invoice) -> PrintedDocument:
    """An issued invoice or credit note as it prints, in its own language."""
    language = invoice.language
    sign = invoice.shown_sign
    with translation.override(language):
        if invoice.is_credit_note:
            title = _("Credit note")
        elif invoice.number:
            title = _("Invoice")
        else:
            title = _("Payment request")
        number = invoice.display_number
        facts: list[tuple[str, str]] = [(_("Number"), number)]
        if invoice.issue_date:
            facts.append((_("Issue date"), date_display(invoice.issue_date, language)))
        if invoice.supply_date and invoice.supply_date != invoice.issue_date:
            facts.append((_("Date of supply"), date_display(invoice.supply_date, language)))
        if invoice.is_credit_note and invoice.corrects_id:
            corrected = Invoice.objects.only("number", "proforma_number", "issue_date").get(pk=invoice.corrects_id)
            facts.append((_("Corrects invoice"), corrected.display_number))
            if corrected.issue_date:
                facts.append((_("Of"), date_display(corrected.issue_date, language)))
        elif invoice.due_date and invoice.kind == DocumentKind.INVOICE:
            facts.append((_("Due date"), date_display(invoice.due_date, language)))
        seller = invoice.seller or {}
        document = PrintedDocument(
            kind=invoice.kind if invoice.number or invoice.is_credit_note else DocumentKind.PROFORMA,
            language=language,
            title=title,
            number=number,
            filename=safe_filename(number, "invoice"),
            facts=tuple(facts),
            seller=party_printed(_("From"), seller, language, seller=True),
            buyer=party_printed(_("Bill to"), invoice.buyer or {}, language, seller=False),
            columns=_columns(),
            lines=_lines(invoice, language, sign),
            tax_heading=_tax_heading(),
            taxes=_taxes(list(invoice.taxes.all()), invoice.currency, language, sign),
            totals=_totals(
                invoice.net_minor * sign,
                invoice.tax_minor * sign,
                invoice.total_minor * sign,
                invoice.currency,
                language,
            ),
            legal_notes=_notes(invoice.legal_notes),
            notes=invoice.notes,
            payment=_payment(invoice, language),
            footer=str(seller.get("footer", "")),
            logo=str(seller.get("logo", "")),
            subject=f"{title} {number}",
            author=str(seller.get("name", "")),
        )
    return document


def quote_printed(quote: Quote) -> PrintedDocument:
    """A sent quote as it prints: an estimate, not a fiscal document, with no payment section."""
    language = quote.language
    with translation.override(language):
        title = _("Quote")
        facts: list[tuple[str, str]] = [(_("Number"), quote.number)]
        if quote.issue_date:
            facts.append((_("Date"), date_display(quote.issue_date, language)))
        if quote.valid_until:
            facts.append((_("Valid until"), date_display(quote.valid_until, language)))
        # Parties are frozen when the quote is sent; one sent before that existed prints today's.
        seller = quote.seller or seller_printed(seller_current())
        buyer = quote.buyer or buyer_printed(quote.account)
        document = PrintedDocument(
            kind=DocumentKind.QUOTE,
            language=language,
            title=title,
            number=quote.number,
            filename=safe_filename(quote.number, "quote"),
            facts=tuple(facts),
            seller=party_printed(_("From"), seller, language, seller=True),
            buyer=party_printed(_("For"), buyer, language, seller=False),
            columns=_columns(),
            lines=_lines(quote, language),
            tax_heading=_tax_heading(),
            taxes=_taxes(list(quote.taxes.all()), quote.currency, language),
            totals=_totals(quote.net_minor, quote.tax_minor, quote.total_minor, quote.currency, language),
            legal_notes=_notes(quote.legal_notes),
            notes=quote.notes,
            payment=None,
            footer=str(seller.get("footer", "")),
            logo=str(seller.get("logo", "")),
            subject=quote.subject,
            author=str(seller.get("name", "")),
        )
    return document
