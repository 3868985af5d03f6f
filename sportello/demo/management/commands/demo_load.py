from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sportello.demo.data import DEMO_LOGINS, DEMO_PASSWORD, DemoRefused, demo_load


class Command(BaseCommand):
    help = "Load the demo provider's customers and logins (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = demo_load()
        except DemoRefused as exc:
            raise CommandError(str(exc)) from None
        summary = ", ".join(f"{count} {what}" for what, count in created.items())
        self.stdout.write(f"Demo data ready (new: {summary}).")
        self.stdout.write("Demo logins, all with the password " + DEMO_PASSWORD + ":")
        for email, what in DEMO_LOGINS:
            self.stdout.write(f"  {email:<22} {what}")
