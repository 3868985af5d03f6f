"""CSV files for spreadsheets: safe against formula injection, UTF-8 with a byte order mark,
amounts as plain decimals with the currency in a column of its own.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and strips
a leading tab or carriage return, then reads one): OWASP's list for CSV injection. Such a
cell gets a leading apostrophe, which Excel and LibreOffice show as "this cell is text"
and hide. The one exception is a cell that is nothing but a plain decimal number
(`-12.50`): that is what a negative amount looks like, a spreadsheet reads it as a number,
and no formula can hide in it, so it stays a number that sums.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from django.utils.http import content_disposition_header

from sportello.core.money import Money

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def csv_cell(value: object) -> str:
    """`value` as a cell a spreadsheet shows as written and never runs."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def plain_amount(money: Money) -> str:
    """`12.25`, `-1000` (JPY), `1.500` (KWD): the currency's own decimals, a dot, no symbol."""
    return f"{money.amount:f}"


def csv_bytes(header: Sequence[object], rows: Iterable[Sequence[object]]) -> bytes:
    """A CSV file (RFC 4180: CRLF line ends) as UTF-8 with a BOM, which makes Excel read
    accents and currency signs as UTF-8. Every cell goes through `csv_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def csv_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
