"""Helpdesk fixtures: departments, a fixed clock, and small files of each kind."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.support.models import Department, Ticket
from sportello.support.services import Upload, ticket_open

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
# A GIF header with a script behind it: an image to a sniffer that stops early, a page to a browser.
POLYGLOT = b"GIF89a/*\x00\x00*/=1;<script>alert(document.domain)</script>"
EXE = b"MZ\x90\x00\x03" + b"\x00" * 64
XSS = "<script>alert(1)</script> <svg onload=alert(2)> {{7*7}}"


def upload(content: bytes, name: str) -> Upload:
    return Upload(file=io.BytesIO(content), name=name)


@pytest.fixture
def finance(db: None) -> Department:
    return Department.objects.create(
        slug="finance", name="Finance", name_translations={"es": "Facturación", "it": "Amministrazione"}
    )


@pytest.fixture
def technical(db: None) -> Department:
    return Department.objects.create(slug="technical", name="Technical support", position=1)


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("agent@provider.example", "x", full_name="Paula Agent", is_staff=True)


@pytest.fixture
def colleague(alice: Membership) -> Membership:
    """A member of alice's account without the support area (billing only)."""
    user = User.objects.create_user("carlos@example.org", "x", full_name="Carlos")
    return membership_add(account=alice.account, user=user, role=Role.CUSTOM, custom_areas=["billing"])


@pytest.fixture
def alice_ticket(alice: Membership, finance: Department) -> Ticket:
    return ticket_open(
        membership=alice,
        department=finance,
        subject="Invoice 2026-0042 charged twice",
        body="Please refund **one** of the two charges.",
        uploads=[upload(PDF, "statement.pdf")],
        now=NOW,
    )


@pytest.fixture
def support_settings(settings: Any) -> Any:
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 2048
    settings.SUPPORT_ATTACHMENT_MAX_COUNT = 2
    settings.SUPPORT_REOPEN_DAYS = 7
    settings.SUPPORT_REPLY_ADDRESS = "support@provider.example"
    settings.SUPPORT_INBOUND_SECRET = "inbound-secret-for-tests"
    return settings


@pytest.fixture
def hosting(db: None) -> Any:
    from sportello.catalog.tests.factories import hosting_catalog

    return hosting_catalog()


@pytest.fixture
def alice_service(alice: Membership, hosting: Any) -> Any:
    from sportello.services.tests.conftest import service_in

    return service_in(alice.account, hosting.prices[("basic", "EUR", "monthly")], "active", label="www.alice.example")


@pytest.fixture
def bob_service(bob: Membership, hosting: Any) -> Any:
    from sportello.services.tests.conftest import service_in

    return service_in(bob.account, hosting.prices[("basic", "BRL", "monthly")], "active", label="www.bob.example")
