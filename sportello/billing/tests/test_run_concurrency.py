"""The billing run killed half way, run twice at once, or shared by workers partition by
partition: the same documents as one uninterrupted run, once each, with gapless numbers.

The uninterrupted run each test compares with is run first on the same data in a
transaction that is then rolled back (`single_run`)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
from django.db import connection, transaction
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from sportello.accounts.models import Account
from sportello.billing import run as run_module
from sportello.billing.models import (
    BilledPeriod,
    BillingRun,
    DunningSuspension,
    Invoice,
    InvoiceEvent,
    InvoiceSource,
    LateFee,
    ReminderSent,
)
from sportello.billing.run import billing_run, billing_run_report
from sportello.billing.tasks import billing_run_daily, billing_run_partition
from sportello.catalog.models import Cycle
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.conftest import make_member
from sportello.services.models import Service, ServiceStatus

from .run_helpers import DUE, RUN_DAY, outcome, report_counts, service_for

SERVICES = 6
# Ten days after the renewals' due date: each unpaid renewal becomes overdue, gets its
# reminder of day 10 and a late fee, and its services are suspended (7 grace days).
DUNNING_DAY = DUE + dt.timedelta(days=10)


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


def single_run(as_of: dt.date) -> tuple[dict[str, Any], dict[str, Any]]:
    """What one uninterrupted run over all accounts leaves on `as_of`, then undone."""
    with transaction.atomic():
        billing_run(as_of=as_of)
        result = (outcome(), report_counts(as_of))
        transaction.set_rollback(True)
    return result


def assert_gapless(result: dict[str, Any], count: int) -> None:
    assert result["numbers"] == [f"INV-2026-{n:05d}" for n in range(1, count + 1)]


@pytest.fixture
def dunning(settings: Any) -> None:
    settings.BILLING_REMINDER_DAYS = "-7,0,3,10"
    settings.BILLING_LATE_FEE_FIXED = "EUR:5.00"


@pytest.fixture
def task_queue(settings: Any) -> None:
    """The project's database task queue (as in production) instead of the tests' immediate one."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


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


# --- Partitions shared by workers ----------------------------------------------------------


def partition_tasks() -> list[DBTaskResult]:
    """The queued partition tasks, by date and partition."""
    tasks = DBTaskResult.objects.filter(task_path=billing_run_partition.module_path)
    return sorted(tasks, key=lambda task: sorted(task.args_kwargs["kwargs"].items()))


@pytest.mark.django_db
def test_the_daily_job_enqueues_one_task_per_partition(
    customers: list[Account], settings: Any, task_queue: None, dunning: None
) -> None:
    settings.BILLING_RUN_BATCH = 1
    settings.BILLING_RUN_PARTITIONS = 3
    single = single_run(RUN_DAY)

    enqueued = billing_run_daily.call(as_of=RUN_DAY.isoformat())

    assert enqueued["partitions"] == ["0/3", "1/3", "2/3"]
    tasks = partition_tasks()
    assert [task.args_kwargs["kwargs"] for task in tasks] == [
        {"as_of": RUN_DAY.isoformat(), "partition": label} for label in ["0/3", "1/3", "2/3"]
    ]
    assert sorted(str(task.id) for task in tasks) == sorted(enqueued["tasks"])
    assert Invoice.objects.count() == 0  # the daily job bills nothing itself
    assert billing_run_report(as_of=RUN_DAY)["status"] == "none"

    # The workers, one partition each (in turn here; at once on PostgreSQL below).
    for task in tasks[:2]:
        task.task.call(*task.args_kwargs["args"], **task.args_kwargs["kwargs"])
    partial = billing_run_report(as_of=RUN_DAY)
    assert (partial["status"], partial["missing"]) == ("running", ["2/3"])
    tasks[2].task.call(*tasks[2].args_kwargs["args"], **tasks[2].args_kwargs["kwargs"])

    assert (outcome(), report_counts(RUN_DAY)) == single
    report = billing_run_report(as_of=RUN_DAY)
    assert (report["status"], report["partitions"], report["invoices_issued"]) == (
        "done",
        {"0/3": "done", "1/3": "done", "2/3": "done"},
        SERVICES,
    )
    settings.BILLING_RUN_PARTITIONS = 1  # the default: the daily job runs the whole run itself
    assert billing_run_daily.call(as_of=RUN_DAY.isoformat())["partition"] == "all"


def workers_run(count: int) -> None:
    """`count` task workers started at once, each taking one task off the queue."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []
    workers = [
        Worker(
            queue_names=["default"],
            interval=0.05,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=1,
            worker_id=f"test-worker-{n}",
            excluded_queue_names=[],
        )
        for n in range(count)
    ]

    def work(worker: Worker) -> None:
        try:
            barrier.wait(timeout=30)
            worker.run()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(worker,), daemon=True) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    for worker in workers:
        worker.running = False
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_partitions_run_at_once_by_workers_bill_what_one_run_bills(
    on_postgresql: None, customers: list[Account], settings: Any, task_queue: None, dunning: None
) -> None:
    """Three workers share each day's run: the renewals, then the dunning day whose late
    fees draw numbers from the same counter at once. Each day ends as one run would."""
    settings.BILLING_RUN_BATCH = 1
    settings.BILLING_RUN_PARTITIONS = 3
    # Only the run's own tasks on the queue, so that each worker takes a partition.
    settings.BILLING_PDF_ON_ISSUE = False
    settings.BILLING_INVOICE_EMAILS = False
    for day, numbers in [(RUN_DAY, SERVICES), (DUNNING_DAY, 2 * SERVICES)]:
        single = single_run(day)
        assert_gapless(single[0], numbers)

        billing_run_daily.call(as_of=day.isoformat())
        workers_run(3)

        tasks = [task for task in partition_tasks() if task.args_kwargs["kwargs"]["as_of"] == day.isoformat()]
        assert [(task.status, len(task.worker_ids)) for task in tasks] == [("SUCCESSFUL", 1)] * 3
        assert len({task.worker_ids[0] for task in tasks}) == 3  # one partition per worker
        assert (outcome(), report_counts(day)) == single
        report = billing_run_report(as_of=day)
        assert (report["status"], report["errors"]) == ("done", 0)
    assert LateFee.objects.count() == SERVICES
    assert set(Service.objects.values_list("status", flat=True)) == {ServiceStatus.SUSPENDED}


# --- Killed with SIGKILL ---------------------------------------------------------------------

KILLER = """
import datetime as dt
import os
import signal

import django

django.setup()
from django.db import connection
from sportello.billing import run

verb, table, nth = os.environ["KILL_VERB"], os.environ["KILL_TABLE"], int(os.environ["KILL_AT"])
statement = {"INSERT": f'INSERT INTO "{table}"', "UPDATE": f'UPDATE "{table}"'}[verb]
seen = {"n": 0}


def written():
    seen["n"] += 1
    if seen["n"] == nth:
        os.kill(os.getpid(), signal.SIGKILL)  # its rows are written, its transaction not committed


def watch(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if sql.startswith(statement):
        written()
    return result


real = run.rows_insert


def rows_insert(model, *args, **kwargs):
    # The run's bulk inserts go by COPY on PostgreSQL, which the statement hook never sees.
    inserted = real(model, *args, **kwargs)
    if verb == "INSERT" and model._meta.db_table == table:
        written()
    return inserted


run.rows_insert = rows_insert
with connection.execute_wrapper(watch):
    run.billing_run(as_of=dt.date.fromisoformat(os.environ["AS_OF"]))
"""

# (the run's date, the statement on whose Nth execution it dies, N, what is left of the step).
KILLS = {
    # The 4th batch of renewals (one account each), after its invoices, lines and periods.
    "renewals": (RUN_DAY, "INSERT", "billing_invoiceevent", 4, lambda: Invoice.objects.count() == 3),
    # The 3rd reminder: recorded and its email logged, not committed.
    "reminders": (DUNNING_DAY, "INSERT", "billing_remindersent", 3, lambda: ReminderSent.objects.count() == 2),
    # The 3rd late fee: its invoice issued with the next number, not committed.
    "late fees": (
        DUNNING_DAY,
        "INSERT",
        "billing_latefee",
        3,
        lambda: Invoice.objects.filter(source=InvoiceSource.LATE_FEE).count() == LateFee.objects.count() == 2,
    ),
    # The 3rd suspension: its guard row written and the service's status changed, not committed.
    "suspension": (
        DUNNING_DAY,
        "UPDATE",
        "services_service",
        3,
        lambda: (
            Service.objects.filter(status=ServiceStatus.SUSPENDED).count() == DunningSuspension.objects.count() == 2
        ),
    ),
}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("step", list(KILLS))
def test_a_run_killed_with_sigkill_and_run_again_yields_the_same_set(
    on_postgresql: None, customers: list[Account], settings: Any, dunning: None, step: str
) -> None:
    as_of, verb, table, nth, left = KILLS[step]
    settings.BILLING_RUN_BATCH = 1
    if as_of == DUNNING_DAY:
        billing_run(as_of=RUN_DAY)  # the renewals that dunning then chases
    uninterrupted = single_run(as_of)
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "sportello.settings_test",
        "BILLING_RUN_BATCH": "1",
        "BILLING_REMINDER_DAYS": settings.BILLING_REMINDER_DAYS,
        "BILLING_LATE_FEE_FIXED": settings.BILLING_LATE_FEE_FIXED,
        "AS_OF": as_of.isoformat(),
        "KILL_VERB": verb,
        "KILL_TABLE": table,
        "KILL_AT": str(nth),
    }
    connection.close()
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLER)], env=env, capture_output=True, timeout=180, check=False
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert left(), f"the run was not killed half way through the {step}"

    billing_run(as_of=as_of)

    result = outcome()
    assert (result, report_counts(as_of)) == uninterrupted
    assert_gapless(result, SERVICES if as_of == RUN_DAY else 2 * SERVICES)
    if as_of == RUN_DAY:
        assert invoices() == expected(customers)
        assert BilledPeriod.objects.count() == SERVICES + 1
        assert InvoiceEvent.objects.count() == SERVICES
    else:
        # Each unpaid renewal: one reminder (stage 10), one email, one late fee; every service suspended.
        assert sorted(ReminderSent.objects.values_list("stage", flat=True)) == [10] * SERVICES
        assert len(result["reminder emails"]) == SERVICES
        assert LateFee.objects.count() == Invoice.objects.filter(source=InvoiceSource.LATE_FEE).count() == SERVICES
        assert DunningSuspension.objects.count() == SERVICES + 1
        assert [status for *_, status, _reason in result["services"]] == [ServiceStatus.SUSPENDED] * (SERVICES + 1)
    assert BillingRun.objects.get(as_of=as_of).attempts == 2
