"""Payments fixtures: the billing seller and rates, invoices to pay, the test card processor on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from sportello.accounts.models import Account, Membership
from sportello.billing.models import Invoice
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.billing.tests.conftest import billing_setup, seller, tax_rates  # noqa: F401

DAY = dt.date(2026, 11, 22)


@pytest.fixture(autouse=True)
def _testcard_on(settings: Any) -> None:
    settings.PAYMENTS_TESTCARD_ENABLED = True


def issued_invoice(
    account: Account,
    net: str = "100.00",
    *,
    as_of: dt.date = DAY,
    due: dt.date | None = None,
    currency: str | None = None,
) -> Invoice:
    """An issued invoice of `net` plus Spanish VAT (21%) for alice's account."""
    draft = invoice_create(
        account=account,
        lines=[NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal(net))],
        as_of=as_of,
        currency=currency,
    )
    return invoice_issue(invoice=draft, as_of=as_of, due_date=due or as_of + dt.timedelta(days=14))


@pytest.fixture
def make_invoice(alice: Membership, billing_setup: None) -> Callable[..., Invoice]:  # noqa: F811
    def make(net: str = "100.00", **kwargs: Any) -> Invoice:
        return issued_invoice(alice.account, net, **kwargs)

    return make
