"""`sportello bench invoice-pdf --count K`: milliseconds per two-page invoice PDF (PDF/A-3b, fonts embedded).

It builds, in a fresh temporary database (`core.bench.fresh_database`), a seller with bank
details, a customer, and K issued invoices of 30 lines each (distinct descriptions,
prices and numbers, so nothing is served from a cache that real documents would miss),
then times `pdf.invoice_pdf` on each, loaded anew from the database: the same code the
rendering task runs, minus writing the file. One warm-up render (font loading, once per
process) is not counted. The figure is wall-clock milliseconds per PDF. Every PDF is
checked afterwards: two pages, PDF/A-3b identification and output intent, every font an
embedded subset, the invoice's number and total in its text. `--output DIR` keeps them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import time
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.test import override_settings

LINES_PER_INVOICE = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=50, help="How many invoices to render (default 50).")
    parser.add_argument("--output", help="A folder to write the PDFs to, to look at them (not timed).")


def _setup(count: int) -> list[int]:
    from sportello.accounts.services import account_create
    from sportello.billing.models import Seller, TaxCategory, TaxRate
    from sportello.billing.services import NewLine, invoice_create, invoice_issue

    Seller.objects.update_or_create(
        pk=1,
        defaults={
            "name": "Sportello Hosting S.L.",
            "address_line1": "Calle Mayor 1",
            "postal_code": "28013",
            "city": "Madrid",
            "country": "ES",
            "vat_id": "ESB12345674",
            "iban": "ES9121000418450200051332",
            "bic": "CAIXESBBXXX",
            "footer": "Sportello Hosting S.L. - Registro Mercantil de Madrid, tomo 1, folio 1, hoja M-1",
        },
    )
    TaxRate.objects.create(
        country="ES",
        tax_class="standard",
        name="IVA 21%",
        rate=Decimal(21),
        category=TaxCategory.STANDARD,
        valid_from=dt.date(2000, 1, 1),
    )
    account = account_create(
        name="Cliente Ejemplo S.L.",
        country="ES",
        currency="EUR",
        language="es",
        address_line1="Gran Vía 2",
        postal_code="28013",
        city="Madrid",
        vat_id="ESB12345674",
    )
    ids = []
    start = dt.date(2026, 1, 1)
    for n in range(count):
        lines = [
            NewLine(
                description=f"Alojamiento gestionado {n}-{i}",
                quantity=Decimal(1 + (i % 3)),
                unit_price=Decimal(100 + n) + Decimal(i) / 100,
                period_start=start,
                period_end=dt.date(2026, 2, 1),
            )
            for i in range(LINES_PER_INVOICE)
        ]
        invoice = invoice_create(account=account, lines=lines, as_of=start)
        ids.append(invoice_issue(invoice=invoice, as_of=start).pk)
    return ids


def _pages(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", data))


def _check(data: bytes, number: str, total: str) -> None:
    from io import BytesIO

    if _pages(data) != 2:
        raise AssertionError(f"{number}: {_pages(data)} pages, expected 2")
    markers = [b"<pdfaid:part>3</pdfaid:part>", b"<pdfaid:conformance>B</pdfaid:conformance>", b"/OutputIntents"]
    if not all(marker in data for marker in markers):
        raise AssertionError(f"{number}: PDF/A-3b markers missing")
    # Every font embedded: one font file per font descriptor, and no standard (unembedded) font.
    descriptors = len(re.findall(rb"/Type\s*/FontDescriptor\b", data))
    if not 0 < data.count(b"/FontFile2") == descriptors or b"/Helvetica" in data:
        raise AssertionError(f"{number}: a font is not embedded")
    try:
        from pypdf import PdfReader
    except ImportError:  # pypdf is a development dependency; without it, check the compressed streams
        text = b"".join(zlib.decompress(s) for s in re.findall(rb"stream\n(.*?)\nendstream", data, re.S)[:4])
        if not text:
            raise AssertionError(f"{number}: no content") from None
        return
    content = "".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)
    # Text extraction gives no-break spaces (in "1.234,50 €") back as plain spaces.
    total = total.replace("\xa0", " ").replace("\u202f", " ")
    if number not in content or total not in content.replace("\xa0", " "):
        raise AssertionError(f"{number}: number or total {total!r} missing from the text")


def run(*, count: int, output: str | None = None, **_: Any) -> dict[str, Any]:
    from sportello.billing.models import Invoice
    from sportello.billing.pdf import invoice_pdf
    from sportello.core.bench import fresh_database
    from sportello.core.formatting import money_display
    from sportello.core.money import Money

    if count < 1:
        from django.core.management.base import CommandError

        raise CommandError("--count must be at least 1")
    with fresh_database(), override_settings(BILLING_PDF_ON_ISSUE=False):
        ids = _setup(count + 1)
        invoice_pdf(Invoice.objects.get(pk=ids.pop()))  # warm-up: fonts are loaded once per process
        outputs: list[tuple[int, bytes]] = []
        started = time.perf_counter()
        for pk in ids:
            outputs.append((pk, invoice_pdf(Invoice.objects.get(pk=pk))))
        elapsed = time.perf_counter() - started
        folder = Path(output) if output else None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        for pk, data in outputs:
            invoice = Invoice.objects.get(pk=pk)
            total = money_display(Money.from_minor(invoice.total_minor, invoice.currency), invoice.language)
            if folder is not None:
                (folder / f"{invoice.number}.pdf").write_bytes(data)
            _check(data, invoice.number, total)
    return {"bench": "invoice-pdf", "count": count, "ms_per_pdf": round(elapsed * 1000 / count, 2)}
