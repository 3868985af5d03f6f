# ruff: noqa: F811  (fixtures imported from the payments tests are redefined as parameters)
"""Paying and the daily billing run, in a real Chromium: paying an overdue invoice brings a
suspended service back; funds added by card pay the next renewal invoice in the billing run."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceSource, InvoiceStatus
from sportello.billing.run import billing_run
from sportello.billing.tests.run_helpers import DUE, RUN_DAY, service_for
from sportello.catalog.models import Cycle
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.conftest import PASSWORD
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.payments.selectors import credit_balance
from sportello.payments.tests.conftest import _testcard_on, billing_setup, seller, tax_rates  # noqa: F401
from sportello.portal.tests.browser.helpers import login_over_http, pay_reviewed
from sportello.services.models import ServiceStatus


@pytest.fixture
def catalog(billing_setup: None) -> Catalog:
    # Monthly Basic: 10.00 EUR + 21 % VAT = 12.10 EUR; suspended 7 days after the due date.
    return hosting_catalog(grace_days_before_suspension=7, days_before_termination=30)


def enter_card(page: Page, number: str) -> None:
    expect(page.locator("main h1")).to_have_text("Pay by card")
    page.locator("#id_number").fill(number)
    page.locator("#id_expiry").fill("12/39")
    page.locator("#id_cvc").fill("123")
    page.locator("#id_name").fill("Alice Example")
    page.get_by_role("button", name="Pay", exact=True).click()


def pay_by_card(page: Page) -> None:
    """On the page that pays an invoice: by card, on the test processor's page, a good card."""
    page.get_by_label("Card", exact=True).check()
    pay_reviewed(page)
    expect(page).to_have_url(re.compile(r"/testcard/pay/[\w-]+/$"))
    enter_card(page, "4242 4242 4242 4242")
    expect(page.locator("main h1")).to_have_text("Payment received")


def test_paying_an_overdue_invoice_brings_the_suspended_service_back(
    page: Page, live_server: Any, alice: Membership, catalog: Catalog
) -> None:
    service = service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])
    billing_run(as_of=RUN_DAY)  # the renewal of 1 February: 12.10 EUR
    billing_run(as_of=DUE + dt.timedelta(days=7))  # overdue, suspended after the grace days
    invoice = Invoice.objects.get()
    service.refresh_from_db()
    assert (invoice.status, invoice.total_minor, service.status) == (
        InvoiceStatus.OVERDUE,
        1210,
        ServiceStatus.SUSPENDED,
    )

    login_over_http(page, live_server, alice.user.email, PASSWORD)
    page.goto(f"{live_server.url}/services/")
    row = page.locator("main tbody tr").filter(has_text="Linux Hosting Basic")
    expect(row).to_contain_text("Suspended")
    page.goto(f"{live_server.url}/")
    expect(page.locator(".billing-cards .card").first).to_contain_text("€12.10")
    page.goto(f"{live_server.url}/billing/invoices/{invoice.number}/pay/")
    expect(page.locator("main")).to_contain_text("€12.10")
    pay_by_card(page)
    expect(page.locator("main")).to_contain_text("€12.10 paid by Visa •••• 4242")

    page.goto(f"{live_server.url}/services/")
    expect(row).to_contain_text("Active")
    expect(row).not_to_contain_text("Suspended")
    row.get_by_role("link", name="Linux Hosting Basic").click()
    expect(page.locator("main h1")).to_have_text("Linux Hosting Basic")
    expect(page.locator("main")).not_to_contain_text("This service is suspended")
    invoice.refresh_from_db()
    service.refresh_from_db()
    # Paid, the renewal extends the period it billed, and the suspension is lifted.
    assert (invoice.status, service.status, service.current_period_end) == (
        InvoiceStatus.PAID,
        ServiceStatus.ACTIVE,
        dt.date(2026, 3, 1),
    )


def test_funds_added_by_card_pay_the_next_renewal_in_the_billing_run(
    page: Page, live_server: Any, alice: Membership, catalog: Catalog
) -> None:
    today = utc_now().date()
    service = service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], start=today)
    # The run that issues the renewal: the product's invoice lead days before the period ends.
    renewal_day = service.current_period_end - dt.timedelta(days=catalog.basic.product.invoice_lead_days)

    login_over_http(page, live_server, alice.user.email, PASSWORD)
    page.goto(f"{live_server.url}/billing/credit/")
    page.get_by_label("Amount to add").fill("50")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator("main")).to_contain_text("€50.00")
    pay_by_card(page)
    expect(page.locator("main")).to_contain_text("€50.00 paid by Visa •••• 4242")
    page.goto(f"{live_server.url}/billing/credit/")
    expect(page.locator("#balance-heading + ul .card-figure")).to_have_text("€50.00")
    funds = Invoice.objects.get(source=InvoiceSource.FUNDS)
    assert (funds.status, credit_balance(account=alice.account, currency="EUR")) == (
        InvoiceStatus.PAID,
        Money("50.00", "EUR"),  # type: ignore[arg-type]
    )

    summary = billing_run(as_of=renewal_day)
    assert (summary.invoices_issued, summary.totals) == (1, {"EUR": 1210})
    renewal = Invoice.objects.get(source=InvoiceSource.RENEWAL)

    page.reload()
    expect(page.locator("#balance-heading + ul .card-figure")).to_have_text("€37.90")
    expect(page.locator("main")).to_contain_text("-€12.10")
    page.goto(f"{live_server.url}/billing/invoices/{renewal.number}/")
    expect(page.locator("main h1")).to_have_text(f"Invoice {renewal.number}")
    expect(page.locator(".page-subtitle")).to_contain_text("Paid")
    settlements = page.locator("section[aria-labelledby=settlements-heading] tbody")
    expect(settlements).to_contain_text("Account credit")
    expect(settlements).to_contain_text("€12.10")
    renewal.refresh_from_db()
    assert (renewal.status, renewal.total_minor) == (InvoiceStatus.PAID, 1210)
    assert credit_balance(account=alice.account, currency="EUR") == Money("37.90", "EUR")  # type: ignore[arg-type]
