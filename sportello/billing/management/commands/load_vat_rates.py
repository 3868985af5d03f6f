from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.billing.vat_rates import EU_VAT_RATES_FILE, VatRatesFileError, vat_rates_load


class Command(BaseCommand):
    help = "Load the EU member states' standard and reduced VAT rates (idempotent): sportello load-vat-rates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", type=Path, default=EU_VAT_RATES_FILE, help="a rates file in the same CSV format")

    def handle(self, *args: Any, file: Path, **options: Any) -> None:
        try:
            loaded = vat_rates_load(path=file)
        except (OSError, VatRatesFileError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"VAT rates: {loaded.created} added, {loaded.kept} already there, {loaded.closed} earlier rates ended."
        )
