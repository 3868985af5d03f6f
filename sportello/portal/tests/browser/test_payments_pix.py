# ruff: noqa: F811  (fixtures imported from the payments tests are redefined as parameters)
"""PIX in a real Chromium: a customer in Brazil chooses PIX for a BRL invoice, copies the
code, the PSP's signed notification (sent here by the test) settles it and the invoice page
says paid; and axe-core (WCAG A/AA) on the PIX page, at desktop and phone widths."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Seller
from sportello.conftest import PASSWORD
from sportello.payments.adapters.base import signature_header
from sportello.payments.adapters.pix import SIGNATURE_HEADER
from sportello.payments.models import Payment
from sportello.payments.tests.conftest import (  # noqa: F401
    _testcard_on,
    billing_setup,
    issued_invoice,
    seller,
    tax_rates,
)
from sportello.portal.tests.browser.helpers import login_over_http, pay_reviewed
from sportello.portal.tests.browser.test_payments import check_page

SECRET = "whsec_pix_browser"
TODAY = dt.datetime.now(tz=dt.UTC).date()


@pytest.fixture
def brl_invoice(settings: Any, bob: Membership, billing_setup: None, seller: Seller) -> Invoice:
    settings.PAYMENTS_PIX_WEBHOOK_SECRET = SECRET
    Seller.objects.filter(pk=seller.pk).update(pix_key="financeiro@sportello.com.br", pix_city="Recife")
    return issued_invoice(bob.account, "100.00", as_of=TODAY, due=TODAY + dt.timedelta(days=10))


def start_pix(page: Page, live_server: Any, invoice: Invoice) -> None:
    page.goto(f"{live_server.url}/billing/invoices/{invoice.number}/pay/")
    expect(page.locator("main")).to_contain_text("Instantly, at any hour")
    page.get_by_label("PIX", exact=True).check()
    pay_reviewed(page)
    expect(page.locator("main h1")).to_have_text("Pay with PIX")


def test_a_customer_pays_with_pix_and_the_notification_settles_it(
    new_context: Any, live_server: Any, bob: Membership, brl_invoice: Invoice
) -> None:
    page = new_context(permissions=["clipboard-read", "clipboard-write"]).new_page()
    login_over_http(page, live_server, bob.user.email, PASSWORD)
    start_pix(page, live_server, brl_invoice)
    payment = Payment.objects.get()
    code = page.get_by_label("PIX copy and paste code")
    expect(code).to_have_value(payment.instructions["code"])
    expect(page.locator("main")).to_contain_text(payment.gateway_reference)
    expect(page.locator("main")).to_contain_text("R$100.00")
    expect(page.get_by_role("img", name="QR code of this PIX payment, for your banking app")).to_be_visible()
    page.get_by_role("button", name="Copy the code").click()
    expect(page.get_by_role("status").filter(has_text="The code is copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == payment.instructions["code"]

    # The PSP tells us the PIX arrived.
    body = json.dumps(
        {
            "pix": [
                {
                    "endToEndId": "E00038166202611221000abcdefghij1",
                    "txid": payment.gateway_reference,
                    "valor": "100.00",
                    "horario": "2026-11-22T09:59:30.120Z",
                }
            ]
        }
    )
    header = signature_header(secret=SECRET, body=body.encode(), timestamp=int(dt.datetime.now(tz=dt.UTC).timestamp()))
    response = page.request.post(
        f"{live_server.url}/payments/webhooks/pix/",
        data=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: header},
    )
    assert (response.status, response.json()) == (200, {"outcome": "applied"})

    page.get_by_role("link", name="I have paid: check again").click()
    expect(page.locator("main h1")).to_have_text("Payment received")
    expect(page.locator("main")).to_contain_text("R$100.00 paid by PIX")
    page.goto(f"{live_server.url}/billing/invoices/{brl_invoice.number}/")
    expect(page.locator("main .page-subtitle .badge")).to_have_text("Paid")
    brl_invoice.refresh_from_db()
    assert brl_invoice.status == InvoiceStatus.PAID


def test_no_axe_violations_on_the_pix_page(page: Page, live_server: Any, bob: Membership, brl_invoice: Invoice) -> None:
    login_over_http(page, live_server, bob.user.email, PASSWORD)
    start_pix(page, live_server, brl_invoice)
    problems = check_page(page, "pay with PIX")
    page.get_by_role("button", name="Copy the code").click()
    problems += check_page(page, "pay with PIX, code copied")
    assert problems == []
