"""`sportello support_inbound < message.eml`: add an emailed reply to its request.

For mail servers that pipe a message to a command (Postfix `pipe`, procmail, an
.forward line) instead of POSTing it to /support/inbound/. Exit status 0 when the reply
was added, 0 with a "refused" line when it was refused (retrying cannot help, so the
mail server must not bounce it back or retry), 1 on an unexpected error.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sportello.core.time import utc_now
from sportello.support.errors import InboundRefused, SupportError
from sportello.support.services import ticket_reply_by_email

MAX_BYTES = 40 * 1024 * 1024


class Command(BaseCommand):
    help = "Read an RFC 822 email on stdin and add it to the support request its signed reference names."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--recipient",
            action="append",
            default=[],
            help="The envelope recipient (e.g. Postfix's ${original_recipient}); may be repeated.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            self.stdout.write("refused: too_large")
            return
        try:
            message = ticket_reply_by_email(raw=raw, now=utc_now(), recipients=options["recipient"])
        except InboundRefused as refusal:
            self.stdout.write(f"refused: {refusal.reason}")
            return
        except SupportError as error:
            self.stdout.write(f"refused: {error.code}")
            return
        self.stdout.write(f"added to {message.ticket.public_id}")
