import datetime as dt
import threading

import pytest
from django.db import connection

from sportello.core.models import ScheduledRun, WorkerHeartbeat
from sportello.core.scheduler import heartbeat, periodic_jobs, scheduler_tick

UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def runs(job: str = "core.housekeeping") -> list[tuple[str, str]]:
    return sorted(ScheduledRun.objects.filter(job=job).values_list("job", "period"))


def daily(created: list[ScheduledRun]) -> list[ScheduledRun]:
    return [run for run in created if run.job == "core.housekeeping"]


def test_the_housekeeping_job_is_registered():
    assert [(job.name, job.every) for job in periodic_jobs()] == [
        ("accounts.prune_sessions", "daily"),
        ("api.prune_idempotency_keys", "daily"),
        ("billing.quotes_expire", "daily"),
        ("billing.run", "daily"),
        ("core.housekeeping", "daily"),
        ("notifications.retry_failed", "hourly"),
        ("payments.pending_refresh", "hourly"),
        ("services.provisioning_due", "hourly"),
    ]


@pytest.mark.django_db
def test_it_enqueues_a_daily_job_once_per_date(settings):
    settings.DAILY_JOBS_HOUR = 2
    assert daily(scheduler_tick(now=at(10, 1, 59))) == []  # before the daily hour
    first = daily(scheduler_tick(now=at(10, 2, 0)))
    assert [(run.job, run.period) for run in first] == [("core.housekeeping", "2026-03-10")]
    assert first[0].task_result_id != ""
    assert daily(scheduler_tick(now=at(10, 2, 15))) == []
    assert daily(scheduler_tick(now=at(10, 23, 59))) == []
    assert [run.period for run in daily(scheduler_tick(now=at(11, 3)))] == ["2026-03-11"]
    assert runs() == [("core.housekeeping", "2026-03-10"), ("core.housekeeping", "2026-03-11")]


@pytest.mark.django_db
def test_it_catches_up_when_the_worker_was_down_at_the_daily_hour(settings):
    settings.DAILY_JOBS_HOUR = 2
    assert [run.period for run in daily(scheduler_tick(now=at(12, 17)))] == ["2026-03-12"]


@pytest.mark.django_db
def test_it_refuses_naive_times():
    with pytest.raises(ValueError, match="naive datetime"):
        scheduler_tick(now=dt.datetime(2026, 3, 10, 5))  # noqa: DTZ001
    assert runs() == []


@pytest.mark.django_db
def test_hourly_jobs_run_once_an_hour_with_the_hour_as_argument():
    scheduler_tick(now=at(10, 5, 10))
    scheduler_tick(now=at(10, 5, 59))
    scheduler_tick(now=at(10, 6, 1))
    assert runs("notifications.retry_failed") == [
        ("notifications.retry_failed", "2026-03-10T05"),
        ("notifications.retry_failed", "2026-03-10T06"),
    ]


@pytest.mark.django_db
def test_heartbeat_keeps_one_row_per_worker():
    started = at(10, 1)
    heartbeat(worker_id="w1", now=at(10, 1, 1), started_at=started)
    heartbeat(worker_id="w1", now=at(10, 1, 2), started_at=started)
    heartbeat(worker_id="w2", now=at(10, 1, 3), started_at=started)
    assert list(WorkerHeartbeat.objects.order_by("worker_id").values_list("worker_id", "last_seen")) == [
        ("w1", at(10, 1, 2)),
        ("w2", at(10, 1, 3)),
    ]


@pytest.mark.django_db(transaction=True)
def test_racing_schedulers_enqueue_each_period_once(on_postgresql, settings):
    """Eight workers ticking at the same moment on PostgreSQL: one run per period."""
    settings.DAILY_JOBS_HOUR = 0
    barrier = threading.Barrier(8)
    results: list[int] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(len(daily(scheduler_tick(now=at(15, 6)))))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == [0, 0, 0, 0, 0, 0, 0, 1]
    assert runs() == [("core.housekeeping", "2026-03-15")]
