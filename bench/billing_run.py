"""`sportello bench billing-run --services N`: the daily billing run over N services.

The workload: N accounts in Germany with one active monthly service each (plan 200.00 EUR,
19 % VAT), 50 units of metered usage at 2.50 per unit in the past period, already billed
up to the previous period. The run bills the next period: per service one invoice of two
lines (plan 200.00 + usage 125.00 = 325.00 net, 61.75 VAT, 386.75 EUR).

As in the daily run, each batch enqueues the rendering of its invoices' PDFs (one task per
200 invoices, after commit); the rendering itself is background work after the run,
measured by `bench invoice-pdf`. `--without-pdf` leaves the enqueueing out, to compare.

It never touches the user's data: it creates a fresh database (a new SQLite file, or a
new PostgreSQL database on the server DATABASE_URL names, dropped at the end) and works
in two child processes pointed at it: one migrates and builds the data, the other runs
the billing run through the daily job's own code path (the `billing.run` periodic task),
checks the result and measures time and peak memory, which are therefore the run's alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# The services' current period, already billed; the run bills the next one, 14 days ahead.
PERIOD_START = dt.date(2026, 10, 1)
PERIOD_END = dt.date(2026, 11, 1)
AS_OF = dt.date(2026, 10, 18)
# The usage billed in arrears falls in the period before the current one.
USAGE_AT = dt.datetime(2026, 9, 15, 12, tzinfo=dt.UTC)
EXPECTED_TOTAL_MINOR = 38675
CHUNK = 5000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--services", type=int, default=10000, help="How many services (and accounts) to bill.")
    parser.add_argument(
        "--database",
        choices=["auto", "sqlite", "postgresql"],
        default="auto",
        help="auto: PostgreSQL when DATABASE_URL names one, else SQLite.",
    )
    parser.add_argument(
        "--without-pdf",
        action="store_true",
        help=(
            "Do not enqueue the tasks that render and email the PDFs of the issued invoices"
            " (BILLING_PDF_ON_ISSUE=false, BILLING_INVOICE_EMAILS=false)."
        ),
    )


def run(**options: Any) -> dict[str, Any]:
    from django.conf import settings
    from django.core.management.base import CommandError

    services = int(options["services"])
    if services < 1:
        raise CommandError("--services must be at least 1")
    kind = options.get("database", "auto")
    if kind == "auto":
        on_postgresql = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
        kind = "postgresql" if on_postgresql else "sqlite"
    with tempfile.TemporaryDirectory(prefix="sportello-bench-") as workdir:
        if kind == "sqlite":
            url = f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"
            return _measure(url, services, workdir, kind, with_pdf=not options.get("without_pdf"))
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("--database postgresql needs DATABASE_URL to name a PostgreSQL server")
        server, url = _postgresql_create(settings.DATABASE_URL)
        try:
            return _measure(url, services, workdir, kind, with_pdf=not options.get("without_pdf"))
        finally:
            _postgresql_drop(server, url)


def _measure(url: str, services: int, workdir: str, kind: str, *, with_pdf: bool) -> dict[str, Any]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        "SPORTELLO_DATA_DIR": workdir,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "TASKS_BACKEND": "database",
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL": "false",
        # The run hands every batch to the issued-invoice handlers either way; with
        # --without-pdf the PDF handler has nothing to enqueue (no PDF, no email).
        "BILLING_PDF_ON_ISSUE": "true" if with_pdf else "false",
        "BILLING_INVOICE_EMAILS": "true" if with_pdf else "false",
        # The whole run in the daily job's process (not handed to workers by partitions).
        "BILLING_RUN_PARTITIONS": "1",
    }
    env.pop("SECRET_KEY_FILE", None)
    for stage in ("setup", "run"):
        child = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.billing_run", stage, str(services)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            from django.core.management.base import CommandError

            raise CommandError(f"the benchmark's {stage} failed:\n{child.stderr[-4000:]}")
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    return {"bench": "billing-run", "services": services, **figures, "database": kind}


# --- A throw-away PostgreSQL database on the user's server -------------------------------


def _postgresql_create(server_url: str) -> tuple[str, str]:
    """Create `sportello_bench_<random>` on the server of `server_url`; return both URLs."""
    import psycopg

    name = f"sportello_bench_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # name is ours: letters, digits, underscore
    parts = urlsplit(server_url)
    return server_url, urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _postgresql_drop(server_url: str, url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    assert name.startswith("sportello_bench_")  # only ever the database created above
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- In the child processes ----------------------------------------------------------------


def stage_setup(services: int) -> None:
    """Migrate the fresh database and build the workload with bulk inserts."""
    from django.core.management import call_command
    from django.db import transaction

    from sportello.accounts.models import Account
    from sportello.billing.models import (
        BilledPeriod,
        DocumentCounter,
        Invoice,
        InvoiceSource,
        InvoiceStatus,
        Seller,
        TaxCategory,
        TaxRate,
    )
    from sportello.catalog.models import (
        Cycle,
        MetricAggregation,
        OveragePrice,
        Plan,
        PriceVersion,
        Product,
        ProductCategory,
        UsageMetric,
    )
    from sportello.services.models import Service, ServiceStatus, UsageRecord

    call_command("migrate", verbosity=0, interactive=False)
    since = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    Seller.objects.create(pk=1, name="Bench Hosting GmbH", country="DE", vat_id="DE136695976")
    TaxRate.objects.create(
        country="DE", name="MwSt 19%", rate=Decimal(19), category=TaxCategory.STANDARD, valid_from=dt.date(2000, 1, 1)
    )
    category = ProductCategory.objects.create(name="Hosting", slug="hosting")
    product = Product.objects.create(category=category, name="Cloud Server", slug="cloud-server", invoice_lead_days=14)
    plan = Plan.objects.create(product=product, name="Metered", code="metered", quotas={})
    price = PriceVersion.objects.create(
        plan=plan, currency="EUR", cycle=Cycle.MONTHLY, amount_minor=20000, valid_from=since
    )
    UsageMetric.objects.create(code="api_calls", name="API calls", unit="k", aggregation=MetricAggregation.SUM)
    OveragePrice.objects.create(
        plan=plan, metric="api_calls", currency="EUR", unit_price=Decimal("2.5"), valid_from=since
    )

    now = dt.datetime.now(dt.UTC)
    for first in range(0, services, CHUNK):
        count = min(CHUNK, services - first)
        with transaction.atomic():
            accounts = Account.objects.bulk_create(
                Account(
                    reference=f"B-{first + n + 1:07d}",
                    name=f"Bench customer {first + n + 1}",
                    country="DE",
                    city="Berlin",
                    currency="EUR",
                    language="en",
                )
                for n in range(count)
            )
            rows = Service.objects.bulk_create(
                Service(
                    account_id=account.pk,
                    plan=plan,
                    price_version=price,
                    cycle=Cycle.MONTHLY,
                    status=ServiceStatus.ACTIVE,
                    anchor_day=1,
                    current_period_start=PERIOD_START,
                    current_period_end=PERIOD_END,
                    next_due_date=PERIOD_END,
                    activated_at=now,
                )
                for account in accounts
            )
            UsageRecord.objects.bulk_create(
                UsageRecord(
                    account_id=service.account_id,
                    service_id=service.pk,
                    metric="api_calls",
                    quantity=Decimal(50),
                    recorded_at=USAGE_AT,
                    idempotency_key="bench-september",
                )
                for service in rows
            )
            # The current period's invoice, paid: "already billed up to the previous period".
            invoices = Invoice.objects.bulk_create(
                Invoice(
                    account_id=service.account_id,
                    status=InvoiceStatus.PAID,
                    source=InvoiceSource.RENEWAL,
                    currency="EUR",
                    series="INV",
                    year=2026,
                    sequence=first + n + 1,
                    number=f"INV-2026-{first + n + 1:05d}",
                    issue_date=dt.date(2026, 9, 17),
                    due_date=PERIOD_START,
                    paid_date=PERIOD_START,
                    net_minor=32500,
                    tax_minor=6175,
                    total_minor=EXPECTED_TOTAL_MINOR,
                )
                for n, service in enumerate(rows)
            )
            BilledPeriod.objects.bulk_create(
                BilledPeriod(service_id=service.pk, period_start=PERIOD_START, period_end=PERIOD_END, invoice=invoice)
                for service, invoice in zip(rows, invoices, strict=True)
            )
    DocumentCounter.objects.create(series="INV", year=2026, last_sequence=services)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def stage_run(services: int) -> dict[str, Any]:
    """The billing run as the daily job runs it, timed, checked, with the peak memory."""
    import resource

    from django.db.models import Count, Max, Min

    from sportello.billing.models import Invoice, InvoiceSource
    from sportello.billing.tasks import billing_run_daily

    started = time.perf_counter()
    billing_run_daily.call(as_of=AS_OF.isoformat())
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    renewals = Invoice.objects.filter(source=InvoiceSource.RENEWAL, issue_date=AS_OF)
    figures = renewals.aggregate(count=Count("pk"), low=Min("sequence"), high=Max("sequence"))
    problems = []
    if figures["count"] != services:
        problems.append(f"{figures['count']} invoices, not {services}")
    if renewals.exclude(total_minor=EXPECTED_TOTAL_MINOR).exists():
        problems.append("an invoice whose total is not 386.75 EUR")
    if renewals.annotate(n=Count("lines")).exclude(n=2).exists():
        problems.append("an invoice without exactly two lines")
    if (figures["low"], figures["high"]) != (services + 1, 2 * services):
        problems.append(f"numbers {figures['low']}..{figures['high']}, not {services + 1}..{2 * services}")
    if renewals.values("sequence").distinct().count() != services:
        problems.append("a number given twice")
    if problems:
        raise SystemExit("billing-run benchmark: wrong result: " + "; ".join(problems))
    return {"seconds": round(seconds, 2), "per_second": round(services / seconds), "peak_rss_mb": round(peak_mb)}


def main(argv: list[str]) -> None:
    import django

    stage, services = argv[0], int(argv[1])
    django.setup()
    if stage == "setup":
        stage_setup(services)
    else:
        print(json.dumps(stage_run(services)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
