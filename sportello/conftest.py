"""Fixtures shared by the whole suite.

Every test that touches customer data gets two accounts, alice's and bob's, so that it
can check that bob never sees alice's things.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import account_create, membership_add

# Playwright's sync API runs an event loop in the test thread; the ORM calls that tests
# make next to it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery-staple"

# Property tests check values, not speed: on a loaded machine (two cores running the suite in
# parallel) generating or running an example may be slow, which is no failure of the property.
hypothesis_settings.register_profile(
    "sportello", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
hypothesis_settings.load_profile("sportello")


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate-limit counters live in the cache: every test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _default_language() -> None:
    """A request activates its member's language in the test's thread and leaves it there:
    every test starts in the default language, whatever an earlier one left active."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)


def make_member(email: str, account_name: str, *, role: str = Role.OWNER, **account_fields: str) -> Membership:
    fields: dict[str, Any] = {"country": "ES", "currency": "EUR", "language": "en", "time_zone": "Europe/Madrid"}
    fields.update(account_fields)
    account = account_create(name=account_name, **fields)
    user = User.objects.create_user(email, PASSWORD, full_name=email.split("@")[0].title())
    return membership_add(account=account, user=user, role=role)


@pytest.fixture
def alice(db: None) -> Membership:
    return make_member("alice@example.org", "Alice Servicios S.L.", vat_id="ESB12345674", city="Madrid")


@pytest.fixture
def bob(db: None) -> Membership:
    return make_member("bob@example.org", "Bob Tecnologia Ltda.", country="BR", currency="BRL", city="Recife")


@pytest.fixture
def alice_client(client: Client, alice: Membership) -> Client:
    client.force_login(alice.user)
    return client


@pytest.fixture
def demo_data(db: None, settings: Any) -> None:
    from sportello.demo.data import demo_load

    settings.SPORTELLO_DEMO = True
    demo_load()


@pytest.fixture
def on_postgresql() -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://...")


class SmtpInbox:
    """Messages received by a real SMTP server (aiosmtpd) on a free local port."""

    def __init__(self) -> None:
        import email
        import email.policy

        self._parse = lambda data: email.message_from_bytes(data, policy=email.policy.default)
        self.messages: list[Any] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(self._parse(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def text_of(self, index: int = -1) -> str:
        part = self.messages[index].get_body(preferencelist=("plain",))
        return str(part.get_content()).replace("\r\n", "\n")

    def link_in(self, index: int = -1) -> str:
        import re

        found = re.search(r"https?://\S+", self.text_of(index))
        assert found, "no link in the email"
        return found.group(0)


@pytest.fixture
def smtp_inbox(settings: Any) -> Any:
    """Deliver this test's emails over SMTP to a local aiosmtpd server; yield its inbox."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "use_tls": False, "timeout": 10},
        }
    }
    try:
        yield inbox
    finally:
        controller.stop()
