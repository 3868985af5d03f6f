from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.core.worker import run_worker


class Command(BaseCommand):
    help = "Run the background worker: queued tasks and the periodic-job scheduler."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls of an empty queue.")
        parser.add_argument("--no-scheduler", action="store_true", help="Run tasks only; another worker schedules.")

    def handle(self, *args: Any, interval: float, no_scheduler: bool, **options: Any) -> None:
        if settings.TASKS_BACKEND != "database":
            raise CommandError(
                "TASKS_BACKEND is not 'database': tasks run where they are enqueued, no worker is needed"
            )
        self.stdout.write(f"Worker started (scheduler {'off' if no_scheduler else 'on'}).")
        run_worker(interval=interval, with_scheduler=not no_scheduler)
