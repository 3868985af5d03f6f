"""Payments fixtures: the billing seller and rates, invoices to pay, the test card processor on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

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


class _ConfirmForm(HTMLParser):
    """The hidden fields of the review page's confirm form, as a browser would send them."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and found.get("id") == "pay-confirm":
            self.inside = True
        elif tag == "input" and self.inside and found.get("type") == "hidden":
            self.fields.append((found.get("name") or "", found.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def review_fields(review: HttpResponse) -> dict[str, list[str]]:
    """What the review page's Confirm button posts (without the button itself)."""
    parser = _ConfirmForm()
    parser.feed(review.content.decode())
    assert parser.fields, "a review page with its confirm form"
    fields: dict[str, list[str]] = {}
    for name, value in parser.fields:
        fields.setdefault(name, []).append(value)
    return fields


def pay_confirmed(client: Client, url: str, data: dict[str, Any], **kwargs: Any) -> HttpResponse:
    """Pay as a member does: post the pay form, check the review page answered, and press
    Confirm on it. `kwargs` go to the confirming post (follow=True...)."""
    review = client.post(url, data)
    fields = review_fields(review)
    assert review.status_code == 200 and "review" in fields, review.content.decode()  # the review, in any language
    response: HttpResponse = client.post(url, {**fields, "confirm": "1"}, **kwargs)
    return response


def expired_card(account: Account, *, is_default: bool = False) -> Any:
    """A test card saved long ago that expired in January 2020 (Visa •••• 0069)."""
    from sportello.payments.models import SavedPaymentMethod

    return SavedPaymentMethod.objects.create(
        account=account,
        gateway="testcard",
        token="card_old",
        brand="Visa",
        last4="0069",
        exp_month=1,
        exp_year=2020,
        is_default=is_default,
    )
