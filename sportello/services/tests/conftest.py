"""Fixtures of the services tests: the test catalog and services in any state."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sportello.accounts.models import Account, User
from sportello.catalog.models import Cycle, PriceVersion
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.core.time import utc_now
from sportello.services.models import Service, ServiceStatus


@pytest.fixture
def catalog(db: None) -> Catalog:
    return hosting_catalog()


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("ops@provider.example", "x" * 12, is_staff=True)


def service_in(
    account: Account,
    price: PriceVersion,
    status: str,
    *,
    start: dt.date = dt.date(2026, 1, 1),
    **fields: Any,
) -> Service:
    """A service already in `status`, inserted directly: the table tests need every state
    as a starting point, whatever transitions led there."""
    values: dict[str, Any] = {
        "account": account,
        "plan": price.plan,
        "price_version": price,
        "cycle": price.cycle,
        "status": status,
    }
    if status != ServiceStatus.PENDING:
        from sportello.services.periods import period_after

        end = None if price.cycle == Cycle.ONE_TIME else period_after(start, price.cycle)
        values.update(
            anchor_day=start.day,
            current_period_start=start,
            current_period_end=end,
            next_due_date=end,
            activated_at=utc_now(),
        )
    values.update(fields)
    return Service.objects.create(**values)
