"""`sportello billing-run --as-of YYYY-MM-DD [--partition i/n] [--report]`: the daily billing
run by hand, whole or one partition of it (start n processes with 0/n ... n-1/n to share a
run), or the date's report over all its partitions."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from sportello.billing.run import COUNTS, Partition, billing_run, billing_run_report
from sportello.core.time import today_utc


class Command(BaseCommand):
    help = (
        "Run the billing run for a date: renewal invoices, reminders, overdue, late fees, "
        "suspensions. Idempotent: running it again for the same date changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", help="The run's date, YYYY-MM-DD (default: today, UTC).")
        parser.add_argument(
            "--partition",
            help="Only the accounts whose id modulo n is i, written i/n (e.g. 0/4): start n of these to share a run.",
        )
        parser.add_argument(
            "--report", action="store_true", help="Run nothing: print the date's report over all its partitions."
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
        if options["report"]:
            if partition is not None:
                raise CommandError("--report covers every partition of the date: leave --partition out")
            report = billing_run_report(as_of=as_of)
            if options["json"]:
                self.stdout.write(json.dumps(report))
            else:
                self._print(report)
            return

        bars: dict[str, tqdm[Any]] = {}

        def progress(step: str, done: int, total: int) -> None:
            # One bar per step (renewals, overdue, reminders, late fees, suspensions, period ends).
            bar = bars.get(step)
            if bar is None:
                for previous in bars.values():
                    previous.close()
                bar = bars[step] = tqdm(
                    total=total, unit="item", desc=f"{as_of} {step}", file=self.stderr._out, leave=True
                )
            bar.update(done - bar.n)

        try:
            summary = billing_run(
                as_of=as_of, partition=partition, progress=None if options["no_progress"] else progress
            )
        finally:
            for bar in bars.values():
                bar.close()
        data = summary.as_dict()
        # After a partition, the date's report over every partition run so far follows.
        day = billing_run_report(as_of=as_of) if partition is not None else None
        if options["json"]:
            self.stdout.write(json.dumps({**data, "day": day} if day else data))
            return
        self._print(data)
        if day:
            self._print(day)

    def _print(self, data: dict[str, Any]) -> None:
        title = f"Billing run {data['as_of']} ({data['partition']})"
        if "status" in data:
            title += f": {data['status']}, partitions " + (
                ", ".join(f"{label} {status}" for label, status in data["partitions"].items()) or "none"
            )
            if data["missing"]:
                title += f"; not run yet: {', '.join(data['missing'])}"
        self.stdout.write(title)
        for key in (*COUNTS, "errors"):
            self.stdout.write(f"  {key.replace('_', ' ')}: {data[key]}")
        for currency, minor in data["totals"].items():
            self.stdout.write(f"  invoiced {currency}: {minor} (minor units)")
        if data["errors"]:
            self.stdout.write(self.style.WARNING("  see the run's report in the back office for the errors"))
