"""Fixtures of the API tests: tokens of alice's and bob's accounts, services, a client."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from sportello.accounts.models import Membership, User
from sportello.accounts.services import api_token_create_integration, api_token_create_member
from sportello.catalog.models import Cycle
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.core.time import utc_now
from sportello.services.models import Service, ServiceStatus
from sportello.services.tests.conftest import service_in

ALL_MEMBER_SCOPES = ["billing", "read", "services", "usage:write"]


@dataclass
class Caller:
    """A client that sends one token with every request."""

    client: Client
    secret: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", **extra}

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers(**headers))

    def post(self, path: str, body: Any, *, key: str | None = "key-1", **headers: str) -> Any:
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(
            f"/api/v1{path}", data=body, content_type="application/json", headers=self.headers(**headers)
        )


def member_token(membership: Membership, scopes: list[str] | None = None, *, days: int = 30) -> tuple[Any, str]:
    now = utc_now()
    return api_token_create_member(
        acting=membership,
        name="script",
        scopes=scopes or ALL_MEMBER_SCOPES,
        expires_at=now + dt.timedelta(days=days),
        now=now,
    )


@pytest.fixture
def catalog(db: None) -> Catalog:
    return hosting_catalog()


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("ops@provider.example", "x" * 12, is_staff=True)


@pytest.fixture
def alice_service(alice: Membership, catalog: Catalog) -> Service:
    return service_in(
        alice.account,
        catalog.prices[("basic", "EUR", Cycle.MONTHLY)],
        ServiceStatus.ACTIVE,
        start=dt.date(2026, 1, 1),
        label="alice.example",
    )


@pytest.fixture
def bob_service(bob: Membership, catalog: Catalog) -> Service:
    return service_in(bob.account, catalog.prices[("basic", "BRL", Cycle.MONTHLY)], ServiceStatus.ACTIVE)


@pytest.fixture
def alice_api(alice: Membership) -> Caller:
    return Caller(Client(), member_token(alice)[1])


@pytest.fixture
def bob_api(bob: Membership) -> Caller:
    return Caller(Client(), member_token(bob)[1])


@pytest.fixture
def integration_api(staff: User) -> Caller:
    secret = api_token_create_integration(name="panel", expires_at=None, by=staff, now=utc_now())[1]
    return Caller(Client(), secret)
