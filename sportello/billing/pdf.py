"""The PDFs of invoices, credit notes, quotes and account statements (PDF/A-3b, A4).

One template per document type, all drawn with ReportLab's platypus from a
`printed.PrintedDocument` (the same content the printable page shows), in the document's
own language. `pdf_a` makes the file PDF/A-3b.

An issued invoice or credit note is rendered once and kept: `invoices_pdf_on_issue` (an
`on_invoices_issued` handler) enqueues `tasks_pdf.invoice_pdfs_render` after commit, which
stores the file in `Invoice.pdf` with its sha256 through a conditional UPDATE, so two
renders racing never both write; afterwards the stored file is what is served. A payment
request (numbering at payment) is not a fiscal document: it is rendered on demand, and
the fiscal invoice is rendered and kept when it takes its number. Quotes and statements
are rendered on demand too.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import translation
from django.utils.translation import gettext as _
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from sportello.accounts.models import Account
from sportello.accounts.taxids import tax_id_label
from sportello.billing.models import Invoice, Quote
from sportello.billing.payment_codes import qr_matrix
from sportello.billing.pdf_a import FONT, FONT_BOLD, PdfMetadata, canvas_maker, fonts_register, printable
from sportello.billing.printed import (
    PrintedColumns,
    PrintedDocument,
    PrintedParty,
    country_name,
    invoice_printed,
    party_printed,
    quote_printed,
    safe_filename,
)
from sportello.billing.selectors import seller_current
from sportello.billing.services import seller_printed
from sportello.core.effects import after_commit
from sportello.core.formatting import date_display, money_display
from sportello.core.money import Money
from sportello.core.time import utc_now

logger = logging.getLogger(__name__)

# Invoices one rendering task renders (about 25 ms each: a task of a few seconds).
PDF_TASK_CHUNK = 200

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN
GREY = colors.Color(0.33, 0.33, 0.33)
RULE = colors.Color(0.75, 0.75, 0.75)
SHADE = colors.Color(0.94, 0.94, 0.94)
LOGO_MAX_HEIGHT = 16 * mm
LOGO_MAX_WIDTH = 60 * mm
QR_SIZE = 32 * mm
# The PIX code is printed in lines of this many characters, for reading it off paper.
PIX_LINE_CHARS = 60


# --- Styles ------------------------------------------------------------------------------------


@functools.cache
def _styles() -> dict[str, ParagraphStyle]:
    fonts_register()
    base = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=GREY),
        "bold": ParagraphStyle("bold", parent=base, fontName=FONT_BOLD),
        "heading": ParagraphStyle("heading", parent=base, fontName=FONT_BOLD, fontSize=9.5, leading=12, spaceAfter=2),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=18, leading=22, alignment=TA_RIGHT),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
    }


def _text(value: str) -> str:
    """Data as Paragraph markup: escaped, and only characters the embedded fonts can draw."""
    return escape(printable(value))


def _para(value: str, style: str = "body") -> Paragraph:
    return Paragraph(_text(value), _styles()[style])


def _table(rows: list[list[Any]], widths: Sequence[float], commands: list[tuple[Any, ...]]) -> Table:
    table = Table(rows, colWidths=list(widths), hAlign="LEFT")
    # Every cell in the embedded font: ReportLab's default (Helvetica) is never embedded.
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8.5),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                *commands,
            ]
        )
    )
    return table


# --- Pieces ------------------------------------------------------------------------------------


class QrCode(Flowable):
    """A QR code drawn as vector squares (one rectangle per run of dark modules): sharp at
    any zoom, no image, no transparency."""

    def __init__(self, payload: str, size: float = QR_SIZE) -> None:
        super().__init__()
        self.matrix = qr_matrix(payload)
        self.size = size
        self.width = self.height = size

    def draw(self) -> None:
        modules = len(self.matrix)
        # A quiet zone of four modules on each side, inside the square.
        module = self.size / (modules + 8)
        canvas = self.canv
        canvas.saveState()
        canvas.setFillColorRGB(0, 0, 0)
        path = canvas.beginPath()
        for row_index, row in enumerate(self.matrix):
            y = self.size - (row_index + 5) * module
            start = None
            for col, dark in enumerate([*row, False]):
                if dark and start is None:
                    start = col
                elif not dark and start is not None:
                    path.rect((start + 4) * module, y, (col - start) * module, module)
                    start = None
        canvas.drawPath(path, stroke=0, fill=1)
        canvas.restoreState()


@functools.lru_cache(maxsize=8)
def _logo_image(name: str) -> tuple[bytes, int, int] | None:
    """The seller's logo as a PNG flattened on white (PDF/A-3b documents carry no
    transparency), at most 800 x 400 pixels, with its width and height; None if unreadable."""
    try:
        with default_storage.open(name, "rb") as handle:
            image = PILImage.open(io.BytesIO(handle.read()))
            image.load()
    except (OSError, ValueError, PILImage.DecompressionBombError):
        logger.warning("seller logo %s cannot be read; documents print without it", name)
        return None
    image.thumbnail((800, 400))
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        flat = PILImage.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = image.convert("RGB")
    buffer = io.BytesIO()
    flat.save(buffer, format="PNG")
    return buffer.getvalue(), flat.width, flat.height


def logo_png(name: str) -> bytes | None:
    """The seller's logo `name` (in storage) as the PNG documents print, or None if unreadable."""
    found = _logo_image(name) if name else None
    return found[0] if found else None


def _logo(name: str) -> Image | None:
    if not name:
        return None
    found = _logo_image(name)
    if found is None:
        return None
    png, width, height = found
    scale = min(LOGO_MAX_HEIGHT / height, LOGO_MAX_WIDTH / width)
    # Platypus takes a file name or a file object (not an ImageReader): a fresh one per use.
    logo = Image(io.BytesIO(png), width=width * scale, height=height * scale)
    logo.hAlign = "LEFT"
    return logo


def _party_flowables(party: PrintedParty, *, with_heading: bool) -> list[Any]:
    flowables: list[Any] = []
    if with_heading:
        flowables.append(_para(party.heading, "small"))
    flowables.append(_para(party.name, "bold"))
    flowables += [_para(line) for line in party.lines]
    flowables += [_para(f"{label}: {value}") for label, value in party.ids]
    return flowables


def _facts_table(facts: Sequence[tuple[str, str]]) -> Table:
    rows = [[printable(label), printable(value)] for label, value in facts]
    return _table(
        rows,
        (32 * mm, 44 * mm),
        [
            ("TEXTCOLOR", (0, 0), (0, -1), GREY),
            ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ("FONT", (1, 0), (1, 0), FONT_BOLD),
        ],
    )


def _header(document: PrintedDocument) -> list[Any]:
    left: list[Any] = []
    logo = _logo(document.logo)
    if logo is not None:
        left += [logo, Spacer(1, 3 * mm)]
    left += _party_flowables(document.seller, with_heading=False)
    right: list[Any] = [_para(document.title, "title"), Spacer(1, 3 * mm), _facts_table(document.facts)]
    header = _table([[left, right]], (FRAME_WIDTH - 82 * mm, 82 * mm), [("LEFTPADDING", (0, 0), (0, 0), 0)])
    buyer = _table(
        [[_party_flowables(document.buyer, with_heading=True)]],
        (FRAME_WIDTH * 0.55,),
        [
            ("BOX", (0, 0), (-1, -1), 0.5, RULE),
            ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ("TOPPADDING", (0, 0), (-1, -1), 5),
        ],
    )
    return [header, Spacer(1, 6 * mm), buyer, Spacer(1, 6 * mm)]


def _wrapped(text: str, width: float, size: float = 8.5) -> str:
    """`text` broken into lines that fit `width`: table cells with plain text are several
    times cheaper to lay out than Paragraphs, and the lines table is most of a document."""
    return "\n".join(simpleSplit(printable(text), FONT, size, width)) or ""


def _lines_table(document: PrintedDocument) -> Table:
    columns = document.columns
    header = [columns.description, columns.quantity, columns.unit_price, columns.discount, columns.rate, columns.amount]
    widths = (FRAME_WIDTH - 106 * mm, 14 * mm, 28 * mm, 22 * mm, 14 * mm, 28 * mm)
    rows: list[list[Any]] = [[_wrapped(cell, width - 6) for cell, width in zip(header, widths, strict=True)]]
    text_width = widths[0] - 6
    for line in document.lines:
        description = _wrapped(line.description, text_width)
        if line.period:
            description += "\n" + _wrapped(line.period, text_width)
        rows.append(
            [
                description,
                printable(line.quantity),
                printable(line.unit_price),
                printable(line.discount),
                printable(line.rate),
                printable(line.amount),
            ]
        )
    table = _table(
        rows,
        widths,
        [
            ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, GREY),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ],
    )
    table.repeatRows = 1
    return table


def _summary(document: PrintedDocument) -> list[Any]:
    tax_rows: list[list[Any]] = [list(document.tax_heading)]
    tax_rows += [
        [printable(t.label), printable(t.rate), printable(t.taxable), printable(t.tax)] for t in document.taxes
    ]
    taxes = _table(
        tax_rows,
        (34 * mm, 16 * mm, 30 * mm, 26 * mm),
        [
            ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, GREY),
        ],
    )
    totals = _table(
        [[printable(label), printable(value)] for label, value in document.totals],
        (34 * mm, 30 * mm),
        [
            ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ("FONT", (0, -1), (-1, -1), FONT_BOLD, 10),
            ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
            ("TOPPADDING", (0, -1), (-1, -1), 4),
        ],
    )
    block: list[Any] = [
        _table([[taxes, totals]], (FRAME_WIDTH - 66 * mm, 66 * mm), [("LEFTPADDING", (0, 0), (0, 0), 0)])
    ]
    exemptions = [t.exemption for t in document.taxes if t.exemption and t.exemption not in document.legal_notes]
    notes = [*document.legal_notes, *dict.fromkeys(exemptions)]
    if notes:
        block.append(Spacer(1, 3 * mm))
        block += [_para(note, "bold") for note in notes]
    return [KeepTogether(block)]


def _payment(document: PrintedDocument) -> list[Any]:
    payment = document.payment
    if payment is None:
        return []
    body: list[Any] = [_para(payment.heading, "heading")]
    if payment.paid_on:
        body.append(_para(payment.paid_on, "bold"))
        return [Spacer(1, 6 * mm), KeepTogether(body)]
    details: list[Any] = [
        _table(
            [[printable(label), printable(value)] for label, value in payment.details],
            (34 * mm, 76 * mm),
            [("TEXTCOLOR", (0, 0), (0, -1), GREY), ("LEFTPADDING", (0, 0), (-1, -1), 0)],
        )
    ]
    if payment.pix_code:
        details += [Spacer(1, 2 * mm), _para(payment.pix_label, "small")]
        chunks = [payment.pix_code[i : i + PIX_LINE_CHARS] for i in range(0, len(payment.pix_code), PIX_LINE_CHARS)]
        details.append(Paragraph("<br/>".join(_text(chunk) for chunk in chunks), _styles()["small"]))
    if payment.qr_payload:
        qr_cell: list[Any] = [QrCode(payment.qr_payload), _para(payment.qr_caption, "small")]
        body.append(
            _table(
                [[details, qr_cell]],
                (FRAME_WIDTH - QR_SIZE - 10 * mm, QR_SIZE + 10 * mm),
                [("LEFTPADDING", (0, 0), (0, 0), 0)],
            )
        )
    else:
        body += details
    return [Spacer(1, 6 * mm), KeepTogether(body)]


def _footer_painter(document: PrintedDocument) -> Any:
    footer = printable(" ".join(document.footer.split()))
    heading = printable(f"{document.title} {document.number}".strip())
    with translation.override(document.language):
        label = _("Page %(page)s of %(pages)s")

    def paint(canvas: Canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setFillColor(GREY)
        canvas.setFont(FONT, 7.5)
        y = 10 * mm
        if footer:
            canvas.drawCentredString(PAGE_WIDTH / 2, y + 10, footer[:180])
        canvas.drawString(MARGIN, y, heading)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, y, label % {"page": page, "pages": pages})
        canvas.restoreState()

    return paint


def _build(document: PrintedDocument, story: list[Any], created: dt.datetime | None) -> bytes:
    fonts_register()
    buffer = io.BytesIO()
    meta = PdfMetadata(
        title=printable(f"{document.title} {document.number}".strip()),
        author=printable(document.author or document.seller.name),
        subject=printable(document.subject or document.title),
        language=document.language,
        created=created or utc_now(),
        identity=f"{document.kind}:{document.number}",
    )
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 8 * mm,
        title=meta.title,
        author=meta.author,
    )
    with translation.override(document.language):
        template.build(story, canvasmaker=canvas_maker(meta, _footer_painter(document)))
    return buffer.getvalue()


def document_pdf(document: PrintedDocument, *, created: dt.datetime | None = None) -> bytes:
    """The PDF/A-3b of an invoice, credit note or quote, from what it prints."""
    story: list[Any] = [*_header(document), _lines_table(document), Spacer(1, 5 * mm), *_summary(document)]
    if document.notes:
        story += [Spacer(1, 4 * mm), _para(document.notes)]
    story += _payment(document)
    return _build(document, story, created)


def invoice_pdf(invoice: Invoice, *, created: dt.datetime | None = None) -> bytes:
    """Render an issued invoice or credit note (nothing is stored: see `invoice_pdf_store`)."""
    return document_pdf(invoice_printed(invoice), created=created)


def quote_pdf(quote: Quote, *, created: dt.datetime | None = None) -> bytes:
    return document_pdf(quote_printed(quote), created=created)


# --- Account statement -------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRow:
    """One movement on an account statement, in the statement's currency.

    `debit` is what the customer came to owe (an invoice, a late fee); `credit` what
    reduced it (a payment, a credit note, credit applied). One of them is set.
    """

    date: dt.date
    # The document or payment it comes from: "INV-2026-00001", "Payment 1234".
    reference: str
    description: str
    debit: Money | None = None
    credit: Money | None = None


def statement_pdf(
    *,
    account: Account,
    rows: Sequence[StatementRow],
    opening: Money,
    closing: Money,
    period: tuple[dt.date, dt.date],
    language: str,
    created: dt.datetime | None = None,
) -> bytes:
    """An account statement for `period` (first and last day, both included) as PDF/A-3b.

    The caller (the client area's statement page) selects the rows; this prints them with
    a running balance from `opening`, and refuses (ValueError) figures that do not add up
    to `closing`, so that a statement never prints a balance its rows contradict.
    """
    currency = opening.currency
    balance = opening
    running: list[Money] = []
    for row in rows:
        for amount in (row.debit, row.credit):
            if amount is not None and amount.currency != currency:
                raise ValueError(f"statement row {row.reference} is in {amount.currency}, not {currency}")
        balance = balance + (row.debit or Money.zero(currency)) - (row.credit or Money.zero(currency))
        running.append(balance)
    if balance != closing:
        raise ValueError(f"statement rows add up to {balance.amount}, not to the closing balance {closing.amount}")
    seller = seller_printed(seller_current())
    first, last = period
    with translation.override(language):
        title = _("Account statement")
        period_text = f"{date_display(first, language)} – {date_display(last, language)}"
        number = f"{account.reference} {first.isoformat()}/{last.isoformat()}"
        buyer = PrintedParty(
            heading=_("Customer"),
            name=account.name,
            lines=(*account.address_lines, country_name(account.country, language)),
            ids=tuple(
                (label, value)
                for label, value in (
                    (_("VAT number"), account.vat_id),
                    (tax_id_label(account.country, account.tax_id), account.tax_id),
                    (_("Customer number"), account.reference),
                )
                if value
            ),
        )
        document = PrintedDocument(
            kind="statement",
            language=language,
            title=title,
            number=number,
            filename=safe_filename(
                f"statement-{account.reference}-{first.isoformat()}-{last.isoformat()}", "statement"
            ),
            facts=((_("Period"), period_text), (_("Customer number"), account.reference)),
            seller=party_printed(_("From"), seller, language, seller=True),
            buyer=buyer,
            columns=PrintedColumns("", "", "", "", "", ""),
            lines=(),
            tax_heading=("", "", "", ""),
            taxes=(),
            totals=(),
            legal_notes=(),
            notes="",
            payment=None,
            footer=str(seller.get("footer", "")),
            logo=str(seller.get("logo", "")),
            subject=f"{title} {period_text}",
            author=str(seller.get("name", "")),
        )
        header = [_("Date"), _("Document"), _("Description"), _("Debit"), _("Credit"), _("Balance")]
        table_rows: list[list[Any]] = [[Paragraph(_text(cell), _styles()["bold"]) for cell in header]]
        table_rows.append(
            ["", "", printable(_("Opening balance")), "", "", printable(money_display(opening, language))]
        )
        for row, after in zip(rows, running, strict=True):
            table_rows.append(
                [
                    printable(date_display(row.date, language, style="short")),
                    printable(row.reference),
                    _para(row.description),
                    printable(money_display(row.debit, language)) if row.debit is not None else "",
                    printable(money_display(row.credit, language)) if row.credit is not None else "",
                    printable(money_display(after, language)),
                ]
            )
        closing_label = _("Closing balance")
        table_rows.append(["", "", printable(closing_label), "", "", printable(money_display(closing, language))])
        table = _table(
            table_rows,
            (20 * mm, 30 * mm, FRAME_WIDTH - 134 * mm, 28 * mm, 28 * mm, 28 * mm),
            [
                ("ALIGN", (3, 1), (-1, -1), "RIGHT"),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, GREY),
                ("LINEBELOW", (0, 1), (-1, -2), 0.25, RULE),
                ("FONT", (0, -1), (-1, -1), FONT_BOLD, 9),
                ("FONT", (0, 1), (-1, 1), FONT_BOLD, 8.5),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
            ],
        )
        table.repeatRows = 1
    return _build(document, [*_header(document), table], created)


# --- The stored copy of issued invoices and credit notes --------------------------------------


def _storage_name(invoice: Invoice, digest: str) -> str:
    year = invoice.issue_date.year if invoice.issue_date else utc_now().year
    return f"invoices/{year}/{safe_filename(invoice.number, 'invoice')[:-4]}-{digest[:16]}.pdf"


def invoice_pdf_store(*, invoice_id: int) -> Invoice:
    """Render the invoice's PDF and keep it, unless it already has one.

    The file is written first, then claimed with a conditional UPDATE (`pdf` still empty):
    of two renders racing, only the first to update writes the row, and the other removes
    its own file. A document without a fiscal number yet (a payment request) is not kept.
    """
    invoice = Invoice.objects.get(pk=invoice_id)
    if invoice.pdf or not invoice.number:
        return invoice
    data = invoice_pdf(invoice)
    digest = hashlib.sha256(data).hexdigest()
    name = default_storage.save(_storage_name(invoice, digest), ContentFile(data))
    claimed = Invoice.objects.filter(pk=invoice.pk, pdf="").exclude(number="").update(pdf=name, pdf_sha256=digest)
    if not claimed:
        # Another render stored its file first: that one is the document, this copy goes.
        default_storage.delete(name)
    return Invoice.objects.get(pk=invoice_id)


def invoice_pdf_file(*, invoice: Invoice) -> bytes:
    """The bytes to serve for an issued invoice or credit note: the stored file, rendered
    and stored first if the rendering task has not run yet; a payment request on demand."""
    if not invoice.number:
        return invoice_pdf(invoice)
    if not invoice.pdf:
        invoice = invoice_pdf_store(invoice_id=invoice.pk)
    with default_storage.open(str(invoice.pdf.name), "rb") as handle:
        return bytes(handle.read())


def _enqueue_render(*, invoice_id: int) -> None:
    from sportello.billing.tasks_pdf import invoice_pdf_render

    invoice_pdf_render.enqueue(invoice_id=invoice_id)


def _enqueue_renders(*, invoice_ids: list[int]) -> None:
    from sportello.billing.tasks_pdf import invoice_pdfs_render

    # One task per chunk, not per invoice: the billing run issues thousands at once.
    for start in range(0, len(invoice_ids), PDF_TASK_CHUNK):
        invoice_pdfs_render.enqueue(invoice_ids=invoice_ids[start : start + PDF_TASK_CHUNK])


def invoices_pdf_on_issue(invoices: Sequence[Invoice]) -> None:
    """`on_invoices_issued` handler: once the issue commits, render and keep the PDFs, and
    email the documents with them (`billing.emails`), in background tasks.

    With BILLING_INVOICE_EMAILS every issued document goes to the task (a payment request
    too: it is emailed, with its PDF rendered for the email), else only those with a fiscal
    number and only with BILLING_PDF_ON_ISSUE.
    """
    if settings.BILLING_INVOICE_EMAILS:
        ids = [invoice.pk for invoice in invoices]
    elif settings.BILLING_PDF_ON_ISSUE:
        ids = [invoice.pk for invoice in invoices if invoice.number]
    else:
        ids = []
    if ids:
        after_commit(_enqueue_renders, invoice_ids=ids)


def invoice_pdf_on_paid(invoice: Invoice) -> None:
    """`on_invoice_paid` handler: with numbering at payment, the fiscal invoice exists only
    now; render and keep it once the payment commits."""
    if settings.BILLING_PDF_ON_ISSUE and invoice.number and not invoice.pdf:
        after_commit(_enqueue_render, invoice_id=invoice.pk)
