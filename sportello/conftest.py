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

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import account_create, membership_add

# Playwright's sync API runs an event loop in the test thread; the ORM calls that tests
# make next to it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery-staple"


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
