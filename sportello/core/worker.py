"""The worker process: runs queued tasks and, beside them, the periodic-job scheduler."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from sportello.core.scheduler import heartbeat, scheduler_tick
from sportello.core.time import utc_now

logger = logging.getLogger(__name__)


def scheduler_loop(*, worker_id: str, stop: threading.Event, interval: float) -> None:
    started_at = utc_now()
    while True:
        try:
            now = utc_now()
            heartbeat(worker_id=worker_id, now=now, started_at=started_at)
            scheduler_tick(now=now)
        except Exception:
            # A database hiccup must not kill the scheduler; the next tick tries again.
            logger.exception("scheduler tick failed")
        finally:
            close_old_connections()
        if stop.wait(interval):
            return


def run_worker(*, interval: float = 1.0, with_scheduler: bool = True) -> None:
    worker_id = get_random_string(24)
    stop = threading.Event()
    if with_scheduler:
        thread = threading.Thread(
            target=scheduler_loop,
            kwargs={"worker_id": worker_id, "stop": stop, "interval": settings.SCHEDULER_INTERVAL},
            name="sportello-scheduler",
            daemon=True,
        )
        thread.start()
    worker = Worker(
        queue_names=["*"],
        interval=interval,
        batch=False,
        backend_name="default",
        startup_delay=True,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )
    worker.configure_signals()
    try:
        worker.run()
    finally:
        stop.set()
