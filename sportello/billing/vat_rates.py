"""Loading the EU member states' VAT rates from the data file kept in the repository.

`data/eu_vat_rates.csv` holds, for each of the 27 member states, the standard rate and the
most common reduced rate in force in 2026, each with the date it took effect (rates in
force since before 2020 carry 2020-01-01: they were in force from then at least). Columns:
country (ISO 3166), tax_class ("standard" or "reduced", as `catalog.Product.tax_class`),
name (as printed, in the country's usage), rate (percent) and valid_from.

Loading is idempotent: a (country, tax class, start date) that exists is left as it is,
whatever staff changed in it; a new row closes the country's open row of that class that
started earlier (its `valid_until` becomes the new start), so that exactly one is in force.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from sportello.billing.models import TaxCategory, TaxRate
from sportello.billing.taxes import EU_MEMBER_STATES

EU_VAT_RATES_FILE = Path(__file__).resolve().parent / "data" / "eu_vat_rates.csv"
COLUMNS = ["country", "tax_class", "name", "rate", "valid_from"]


class VatRatesFileError(ValueError):
    """The file cannot be loaded as it is: the message names the line and what is wrong."""


@dataclass(frozen=True)
class VatRateRow:
    country: str
    tax_class: str
    name: str
    rate: Decimal
    valid_from: dt.date


@dataclass(frozen=True)
class VatRatesLoaded:
    created: int
    kept: int
    closed: int


def vat_rates_read(path: Path = EU_VAT_RATES_FILE) -> list[VatRateRow]:
    """The rows of a rates file, checked: every line is a known member state, a rate from 0
    to below 100 and an ISO date; no (country, class, date) twice."""
    rows: list[VatRateRow] = []
    seen: set[tuple[str, str, dt.date]] = set()
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != COLUMNS:
            raise VatRatesFileError(f"{path.name}: the columns must be {','.join(COLUMNS)}")
        for number, raw in enumerate(reader, start=2):
            where = f"{path.name}, line {number}"
            country = (raw["country"] or "").strip().upper()
            if country not in EU_MEMBER_STATES:
                raise VatRatesFileError(f"{where}: {country!r} is not an EU member state")
            try:
                rate = Decimal((raw["rate"] or "").strip())
                valid_from = dt.date.fromisoformat((raw["valid_from"] or "").strip())
            except (InvalidOperation, ValueError):
                raise VatRatesFileError(f"{where}: the rate must be a number and valid_from a date") from None
            if not (0 <= rate < 100):
                raise VatRatesFileError(f"{where}: the rate must be from 0 to below 100")
            row = VatRateRow(
                country=country,
                tax_class=(raw["tax_class"] or "").strip(),
                name=(raw["name"] or "").strip(),
                rate=rate,
                valid_from=valid_from,
            )
            if not row.tax_class or not row.name:
                raise VatRatesFileError(f"{where}: tax_class and name are required")
            key = (row.country, row.tax_class, row.valid_from)
            if key in seen:
                raise VatRatesFileError(f"{where}: {country} {row.tax_class} from {valid_from} appears twice")
            seen.add(key)
            rows.append(row)
    return rows


@transaction.atomic
def vat_rates_load(*, path: Path = EU_VAT_RATES_FILE) -> VatRatesLoaded:
    """Load the rates of `path` (by default the EU file), by the rules in the module docstring."""
    rows = sorted(vat_rates_read(path), key=lambda r: (r.country, r.tax_class, r.valid_from))
    created = kept = closed = 0
    for row in rows:
        if TaxRate.objects.filter(
            country=row.country, region="", tax_class=row.tax_class, valid_from=row.valid_from
        ).exists():
            kept += 1
            continue
        closed += TaxRate.objects.filter(
            country=row.country,
            region="",
            tax_class=row.tax_class,
            valid_from__lt=row.valid_from,
            valid_until__isnull=True,
        ).update(valid_until=row.valid_from)
        # A later row already loaded (or entered by staff) ends this one.
        later = (
            TaxRate.objects.filter(
                country=row.country, region="", tax_class=row.tax_class, valid_from__gt=row.valid_from
            )
            .order_by("valid_from")
            .values_list("valid_from", flat=True)
            .first()
        )
        TaxRate.objects.create(
            country=row.country,
            region="",
            tax_class=row.tax_class,
            name=row.name,
            rate=row.rate,
            category=TaxCategory.STANDARD,
            valid_from=row.valid_from,
            valid_until=later,
        )
        created += 1
    return VatRatesLoaded(created=created, kept=kept, closed=closed)
