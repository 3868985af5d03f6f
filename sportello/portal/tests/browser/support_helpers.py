"""The provider's incoming mail server, for the support browser tests.

A customer answers a notification from their mailbox: their mail client speaks SMTP to
the provider's mail server, which hands the message to Sportello. `InboundRelay` is that
server: a real aiosmtpd SMTP server whose handler POSTs every message it accepts, as raw
RFC 822 bytes, to /support/inbound/ with the shared secret and the envelope recipients
in `X-Original-To` — the same thing a production setup does with Postfix and a small
pipe script, or with a mail provider's inbound webhook.

POSTing to the endpoint (rather than relaying to `sportello support_inbound`) was chosen
because it exercises the whole path a deployed site uses — the HTTP endpoint, its
secret and its answers — on the live server the browser is talking to, in the same
database, without starting a second process; the command shares everything below the
endpoint and has its own tests. The SMTP answer follows the endpoint's: 250 when the
reply was added, 550 with the reason when it was refused.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from typing import Any

from aiosmtpd.controller import Controller


class InboundRelay:
    def __init__(self, endpoint: str, secret: str) -> None:
        self.endpoint = endpoint
        self.secret = secret
        self.answers: list[str] = []
        self._controller: Controller | None = None
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        request = urllib.request.Request(
            self.endpoint,
            data=envelope.original_content or envelope.content,
            method="POST",
            headers={
                "Content-Type": "message/rfc822",
                "X-Sportello-Secret": self.secret,
                "X-Original-To": ",".join(envelope.rcpt_tos),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = response.read().decode().strip()
            status = response.status
        self.answers.append(answer)
        return "250 Message accepted for delivery" if status == 200 else f"550 {answer}"

    def start(self) -> InboundRelay:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()


def wait_until(condition: Any, *, timeout: float = 10.0, what: str = "the condition") -> None:
    """Poll `condition()` until it is true (a bounded wait for an outcome, not a sleep)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        pause.wait(0.05)
