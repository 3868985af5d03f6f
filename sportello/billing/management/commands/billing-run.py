"""`sportello billing-run --as-of YYYY-MM-DD [--partition i/n]`: the daily billing run by hand."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from sportello.billing.run import Partition, billing_run
from sportello.core.time import today_utc


class Command(BaseCommand):
    help = (
        "Run the billing run for a date: renewal invoices, reminders, overdue, late fees, "
        "suspensions. Idempotent: running it again for the same date changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", help="The run's date, YYYY-MM-DD (default: today, UTC).")
        parser.add_argument(
            "--partition", help="Only the accounts whose id modulo n is i, written i/n (e.g. 0/4), to share a run."
        )
        parser.add_argument("--json", action="store_true", help="Print the summary as one JSON line.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            as_of = dt.date.fromisoformat(options["as_of"]) if options["as_of"] else today_utc()
        except ValueError:
            raise CommandError("--as-of must be a date written YYYY-MM-DD") from None
        try:
            partition = Partition.parse(options["partition"]) if options["partition"] else None
        except ValueError as error:
            raise CommandError(f"--partition: {error}") from None
        bar: tqdm[Any] | None = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if options["no_progress"]:
                return
            if bar is None:
                bar = tqdm(total=total, unit="service", desc=f"Billing {as_of}", file=self.stderr._out)
            bar.update(done - bar.n)

        try:
            summary = billing_run(as_of=as_of, partition=partition, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        data = summary.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(f"Billing run {data['as_of']} ({data['partition']})")
        for key in (
            "services_billed",
            "invoices_issued",
            "reminders_sent",
            "invoices_overdue",
            "late_fees",
            "services_suspended",
            "services_terminated",
            "services_ended",
            "autopay_retries",
            "autopay_retries_paid",
            "errors",
        ):
            self.stdout.write(f"  {key.replace('_', ' ')}: {data[key]}")
        for currency, minor in data["totals"].items():
            self.stdout.write(f"  invoiced {currency}: {minor} (minor units)")
        if data["errors"]:
            self.stdout.write(self.style.WARNING("  see the run's report in the back office for the errors"))
