"""Paying an order in a real Chromium: from the order awaiting payment to the pay page (amount,
methods with their clearing times), a good card on the test processor's page, and back to
the order, now active; axe-core (WCAG A/AA) on the order's pay page at desktop and phone width.

The demo is loaded for today: Nubeclara's order awaiting payment is the one paid, by Ana.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect

from sportello.billing.models import InvoiceStatus
from sportello.orders.models import Order
from sportello.portal.tests.browser.helpers import ANA, NUBECLARA, login_over_http, set_user_language
from sportello.portal.tests.browser.test_payments import check_page, enter_card
from sportello.services.models import Service


def test_pay_an_order_awaiting_payment_by_card(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    order = Order.objects.get(account__name=NUBECLARA, status="awaiting_payment")
    assert order.invoice is not None
    page.goto(f"{live_server.url}/orders/")
    page.get_by_role("link", name=order.number, exact=True).click()
    page.get_by_role("link", name="Pay now").click()
    expect(page.locator("main h1")).to_have_text(f"Pay order {order.number}")
    expect(page.locator("main .page-subtitle")).to_contain_text(f"on invoice {order.invoice.display_number}")
    expect(page.locator("main")).to_contain_text("Money received: Immediately")
    expect(page.locator("main")).to_contain_text("Money received: Within 3 business days after you send it")
    assert check_page(page, "order pay") == []
    page.get_by_label("Card", exact=True).check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator("main h1")).to_have_text("Review your payment")
    expect(page.locator("#review-lines")).to_contain_text(order.invoice.display_number)
    assert check_page(page, "order pay review") == []
    page.get_by_role("button", name=re.compile(r"^Confirm and pay ")).click()
    expect(page).to_have_url(re.compile(r"/testcard/pay/[\w-]+/$"))
    enter_card(page, "4242 4242 4242 4242")
    expect(page.locator("main h1")).to_have_text("Payment received")
    expect(page.locator("#payment-orders")).to_contain_text("Active")
    page.locator("#payment-orders").get_by_role("link", name=f"Order {order.number}").click()
    expect(page.locator("main h1")).to_have_text(f"Order {order.number}")
    expect(page.locator("main .page-subtitle")).to_contain_text("Active")
    expect(page.get_by_role("link", name="Pay now")).to_have_count(0)
    order.refresh_from_db()
    order.invoice.refresh_from_db()
    assert (order.status, order.invoice.status) == ("active", InvoiceStatus.PAID)
    assert Service.objects.get(label="nuevo.nubeclara.example.com").status == "active"
