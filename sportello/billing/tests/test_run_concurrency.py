"""The billing run killed half way, or run twice at once: the same documents, once each,
with gapless numbers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
from django.db import connection

from sportello.accounts.models import Account
from sportello.billing import run as run_module
from sportello.billing.models import BilledPeriod, BillingRun, Invoice, InvoiceEvent
from sportello.billing.run import billing_run
from sportello.catalog.models import Cycle
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.conftest import make_member

from .run_helpers import RUN_DAY, service_for

SERVICES = 6


@pytest.fixture
def customers(billing_setup: None) -> list[Account]:
    """Six accounts with one monthly Basic service each (12.10 EUR a month), and one
    account with two services (grouped: 24.20 EUR)."""
    catalog: Catalog = hosting_catalog()
    price = catalog.prices[("basic", "EUR", Cycle.MONTHLY)]
    accounts = []
    for n in range(SERVICES):
        account = make_member(f"customer{n}@example.org", f"Customer {n} S.L.").account
        service_for(account, price)
        if n == 3:
            service_for(account, price)
        accounts.append(account)
    return accounts


def expected(accounts: list[Account]) -> list[tuple[int, str, int]]:
    return [
        (account.pk, f"INV-2026-{n + 1:05d}", 2420 if n == 3 else 1210)
        for n, account in enumerate(sorted(accounts, key=lambda a: a.pk))
    ]


def invoices() -> list[tuple[int, str, int]]:
    return list(Invoice.objects.order_by("sequence").values_list("account_id", "number", "total_minor"))


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the run catches it."""


@pytest.mark.django_db
def test_a_run_aborted_half_way_and_run_again_yields_the_same_set(
    customers: list[Account], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.BILLING_RUN_BATCH = 1
    real = run_module.rows_insert
    calls = {"n": 0}

    def dies_in_the_third_batch(model: Any, *args: Any, **kwargs: Any) -> Any:
        if model is InvoiceEvent:
            calls["n"] += 1
            if calls["n"] == 3:
                raise Killed  # after the batch's invoices, lines and billed periods were written
        return real(model, *args, **kwargs)

    monkeypatch.setattr(run_module, "rows_insert", dies_in_the_third_batch)
    with pytest.raises(Killed):
        billing_run(as_of=RUN_DAY)
    assert invoices() == expected(customers)[:2]  # two batches committed, the third rolled back whole
    assert BilledPeriod.objects.count() == 2
    monkeypatch.setattr(run_module, "rows_insert", real)

    billing_run(as_of=RUN_DAY)

    assert invoices() == expected(customers)
    assert BilledPeriod.objects.count() == SERVICES + 1
    assert InvoiceEvent.objects.count() == SERVICES
    report = BillingRun.objects.get()
    assert (report.attempts, report.invoices_issued, report.services_billed, report.totals) == (
        2,
        SERVICES,
        SERVICES + 1,
        {"EUR": 1210 * (SERVICES + 1)},
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_started_at_once_bill_each_period_once(
    on_postgresql: None, customers: list[Account], settings: Any
) -> None:
    settings.BILLING_RUN_BATCH = 1
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    issued: list[int] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            issued.append(billing_run(as_of=RUN_DAY).invoices_issued)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(issued) == SERVICES
    rows = invoices()
    # Each account once; numbers 1..6 without a gap (which run took which is a race).
    assert sorted(row[0] for row in rows) == sorted(a.pk for a in customers)
    assert [row[1] for row in rows] == [f"INV-2026-{n:05d}" for n in range(1, SERVICES + 1)]
    assert BilledPeriod.objects.count() == SERVICES + 1
    assert BillingRun.objects.get().invoices_issued == SERVICES


KILLER = """
import datetime as dt
import os
import signal

import django

django.setup()
from sportello.billing import run
from sportello.billing.models import InvoiceEvent

real = run.rows_insert
calls = {"n": 0}


def rows_insert(model, *args, **kwargs):
    if model is InvoiceEvent:
        calls["n"] += 1
        if calls["n"] == 4:
            os.kill(os.getpid(), signal.SIGKILL)  # mid-batch: its rows are written, not committed
    return real(model, *args, **kwargs)


run.rows_insert = rows_insert
run.billing_run(as_of=dt.date.fromisoformat(os.environ["AS_OF"]))
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_killed_with_sigkill_and_run_again_yields_the_same_set(
    on_postgresql: None, customers: list[Account]
) -> None:
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "sportello.settings_test",
        "BILLING_RUN_BATCH": "1",
        "AS_OF": RUN_DAY.isoformat(),
    }
    connection.close()
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLER)], env=env, capture_output=True, timeout=120, check=False
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert invoices() == expected(customers)[:3]

    billing_run(as_of=RUN_DAY)

    assert invoices() == expected(customers)
    assert BilledPeriod.objects.count() == SERVICES + 1
    assert InvoiceEvent.objects.count() == SERVICES
