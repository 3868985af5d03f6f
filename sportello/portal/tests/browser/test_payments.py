# ruff: noqa: F811  (fixtures imported from the payments tests are redefined as parameters)
"""Paying in a real Chromium: a card on the test processor's hosted page (success, decline,
the extra authentication step), several invoices in one payment, and axe-core (WCAG A/AA)
on every page the payments add, at desktop and phone widths."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus
from sportello.conftest import PASSWORD
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.payments.models import Payment
from sportello.payments.services import credit_adjust
from sportello.payments.tests.conftest import (  # noqa: F401
    _testcard_on,
    billing_setup,
    expired_card,
    make_invoice,
    seller,
    tax_rates,
)
from sportello.portal.tests.browser.helpers import login_over_http, pay_reviewed

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
PHONE = {"width": 360, "height": 740}
TODAY = utc_now().date()
axe = Axe()


def violations_of(page: Page, screen: str) -> list[str]:
    lines = []
    for violation in axe.run(page, options=AXE_OPTIONS).response["violations"]:
        for node in violation["nodes"]:
            lines.append(f"{screen}: {violation['id']} ({violation['impact']}) {', '.join(map(str, node['target']))}")
    return lines


def check_page(page: Page, screen: str) -> list[str]:
    """axe at desktop and phone widths, and no sideways scrolling on a phone."""
    expect(page.locator("main h1")).to_be_visible()
    problems = violations_of(page, f"{screen} [1280px]")
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{screen} [360px]: the page scrolls sideways ({width}px wide)")
    problems += violations_of(page, f"{screen} [360px]")
    page.set_viewport_size({"width": 1280, "height": 800})
    return problems


@pytest.fixture
def invoices(make_invoice: Callable[..., Invoice]) -> list[Invoice]:
    return [
        make_invoice("100.00", as_of=TODAY, due=TODAY + dt.timedelta(days=10)),
        make_invoice("10.00", as_of=TODAY, due=TODAY + dt.timedelta(days=5)),
    ]


def enter_card(page: Page, number: str) -> None:
    expect(page.locator("main h1")).to_have_text("Pay by card")
    page.locator("#id_number").fill(number)
    page.locator("#id_expiry").fill("12/39")
    page.locator("#id_cvc").fill("123")
    page.locator("#id_name").fill("Alice Example")
    page.get_by_role("button", name="Pay", exact=True).click()


def start_card_payment(page: Page, live_server: Any, invoice: Invoice) -> None:
    page.goto(f"{live_server.url}/billing/invoices/{invoice.number}/pay/")
    page.get_by_label("Card", exact=True).check()
    pay_reviewed(page)
    expect(page).to_have_url(re.compile(r"/testcard/pay/[\w-]+/$"))


def test_it_pays_an_invoice_with_a_good_card(
    page: Page, live_server: Any, alice: Membership, invoices: list[Invoice]
) -> None:
    login_over_http(page, live_server, alice.user.email, PASSWORD)
    start_card_payment(page, live_server, invoices[0])
    enter_card(page, "4242 4242 4242 4242")
    expect(page.locator("main h1")).to_have_text("Payment received")
    expect(page.locator("main")).to_contain_text("€121.00 paid by Visa •••• 4242")
    invoices[0].refresh_from_db()
    assert invoices[0].status == InvoiceStatus.PAID


def test_a_declined_card_leaves_the_invoice_unpaid_and_offers_a_retry(
    page: Page, live_server: Any, alice: Membership, invoices: list[Invoice]
) -> None:
    login_over_http(page, live_server, alice.user.email, PASSWORD)
    start_card_payment(page, live_server, invoices[0])
    enter_card(page, "4000 0000 0000 0002")
    expect(page.locator("main h1")).to_have_text("The payment did not go through")
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined. No money was taken.")
    invoices[0].refresh_from_db()
    assert invoices[0].status == InvoiceStatus.OPEN
    # Try again with the keyboard, this time with a good card.
    page.get_by_role("button", name="Try again").focus()
    page.keyboard.press("Enter")
    # A retry is reviewed too: the same invoice, the same amount.
    expect(page.locator("main h1")).to_have_text("Review your payment")
    expect(page.locator("#review-total")).to_have_text("€121.00")
    page.get_by_role("button", name="Confirm and pay €121.00").focus()
    page.keyboard.press("Enter")
    enter_card(page, "4242424242424242")
    expect(page.locator("main h1")).to_have_text("Payment received")


@pytest.mark.parametrize(
    ("button", "heading"), [("Confirm the payment", "Payment received"), ("Refuse", "The payment did not go through")]
)
def test_a_card_that_needs_authentication_completes_after_the_extra_step(
    page: Page, live_server: Any, alice: Membership, invoices: list[Invoice], button: str, heading: str
) -> None:
    login_over_http(page, live_server, alice.user.email, PASSWORD)
    start_card_payment(page, live_server, invoices[1])
    enter_card(page, "4000002500003155")
    expect(page.locator("main h1")).to_have_text("Confirm this payment")
    expect(page.locator("main")).to_contain_text("ending in 3155")
    page.get_by_role("button", name=button).click()
    expect(page.locator("main h1")).to_have_text(heading)


def test_two_invoices_are_paid_in_one_payment(
    page: Page, live_server: Any, alice: Membership, invoices: list[Invoice]
) -> None:
    login_over_http(page, live_server, alice.user.email, PASSWORD)
    page.goto(f"{live_server.url}/billing/pay/")
    expect(page.locator("main")).to_contain_text("Selected: €133.10.")
    page.get_by_label("Card", exact=True).check()
    pay_reviewed(page, total="€133.10")
    expect(page.locator("main")).to_contain_text("€133.10")
    enter_card(page, "4242424242424242")
    expect(page.locator("main h1")).to_have_text("Payment received")
    for invoice in invoices:
        expect(page.locator("main table")).to_contain_text(invoice.number)
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.get().amount_minor == 13310


def test_no_axe_violations_on_the_payment_pages(
    page: Page, live_server: Any, alice: Membership, invoices: list[Invoice]
) -> None:
    credit_adjust(account=alice.account, amount=Money("5.00", "EUR"), note="Welcome credit", by=None)  # type: ignore[arg-type]
    login_over_http(page, live_server, alice.user.email, PASSWORD)
    problems: list[str] = []
    page.goto(f"{live_server.url}/billing/pay/")
    problems += check_page(page, "pay several")
    page.goto(f"{live_server.url}/billing/credit/")
    problems += check_page(page, "credit")
    page.goto(f"{live_server.url}/billing/invoices/{invoices[0].number}/pay/")
    problems += check_page(page, "pay one")
    page.get_by_label("Amount to pay now").fill("0")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator("#amount-error")).to_have_text("Enter an amount above zero.")
    problems += check_page(page, "pay one, amount refused")
    # Errors on the page: submit with nothing chosen.
    page.goto(f"{live_server.url}/billing/pay/")
    for box in page.locator('input[name="invoices"]').all():
        box.uncheck()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator(".field-error").first).to_be_visible()
    problems += check_page(page, "pay several, nothing chosen")
    start_card_payment(page, live_server, invoices[0])
    problems += check_page(page, "testcard checkout")
    page.locator("#id_number").fill("4242424242424241")
    page.get_by_role("button", name="Pay", exact=True).click()
    problems += check_page(page, "testcard checkout with errors")
    enter_card(page, "4000002500003155")
    problems += check_page(page, "testcard authentication")
    page.get_by_role("button", name="Refuse").click()
    problems += check_page(page, "payment failed")
    start_card_payment(page, live_server, invoices[0])
    enter_card(page, "4242424242424242")
    problems += check_page(page, "payment received")
    received = Payment.objects.filter(status="succeeded").latest("id")
    page.goto(f"{live_server.url}/billing/payments/{received.public_id}/receipt/")
    expect(page.locator("main h1")).to_be_visible()
    problems += check_page(page, "receipt")
    page.goto(f"{live_server.url}/billing/invoices/{invoices[1].number}/pay/")
    page.get_by_label("Bank transfer").check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator("main h1")).to_have_text("Review your payment")
    problems += check_page(page, "review")
    page.get_by_role("button", name=re.compile(r"^Confirm and pay ")).click()
    expect(page.locator("main h1")).to_have_text("Waiting for your transfer")
    problems += check_page(page, "awaiting transfer")
    assert problems == []


def test_an_expired_saved_card_is_replaced(
    page: Page, live_server: Any, alice: Membership, billing_setup: None
) -> None:
    from sportello.payments.models import SavedPaymentMethod

    expired_card(alice.account, is_default=True)
    login_over_http(page, live_server, alice.user.email, PASSWORD)
    page.goto(f"{live_server.url}/billing/methods/")
    expect(page.locator("main")).to_contain_text("This card has expired")
    problems = check_page(page, "payment methods")
    page.get_by_role("button", name="Add a card").click()
    expect(page.locator("main h1")).to_have_text("Save a card")
    problems += check_page(page, "testcard save a card")
    page.locator("#id_number").fill("4242 4242 4242 4242")
    page.locator("#id_expiry").fill("12/39")
    page.locator("#id_cvc").fill("123")
    page.locator("#id_name").fill("Alice Example")
    page.get_by_role("button", name="Save the card").click()
    expect(page.locator("main h1")).to_have_text("Payment methods")
    # The new card replaces the expired default at once, so nothing asks to replace a card any
    # more; the expired one stays listed, flagged, until removed, and can be made default no more.
    expect(page.get_by_role("button", name="Make default Visa 4242")).to_have_count(0)
    expect(page.locator("#card-prompt")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("This card has expired")
    page.get_by_role("button", name="Remove Visa 0069").click()
    expect(page.locator("main")).not_to_contain_text("This card has expired")
    expect(page.locator("#card-prompt")).to_have_count(0)
    page.get_by_label("Automatic payment").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Your payment preferences are saved.")
    problems += check_page(page, "payment methods after")
    assert problems == []
    assert list(SavedPaymentMethod.objects.filter(removed_at__isnull=True).values_list("last4", "is_default")) == [
        ("4242", True)
    ]


def test_the_selected_total_follows_the_ticked_invoices(
    page: Page, live_server: Any, alice: Membership, invoices: list[Invoice]
) -> None:
    login_over_http(page, live_server, alice.user.email, PASSWORD)
    page.goto(f"{live_server.url}/billing/pay/")
    selected = page.locator("#pay-selected")
    expect(selected).to_have_text("Selected: €133.10.")
    first, second = invoices[0], invoices[1]
    page.get_by_label(first.display_number, exact=True).uncheck()
    expect(selected).to_have_text(f"Selected: €{second.total_minor // 100}.{second.total_minor % 100:02}.")
    page.get_by_label(second.display_number, exact=True).uncheck()
    expect(selected).to_be_hidden()
    page.get_by_label(first.display_number, exact=True).check()
    expect(selected).to_have_text(f"Selected: €{first.total_minor // 100}.{first.total_minor % 100:02}.")
    # The review says the same: the ticked one only.
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator("#review-total")).to_have_text(f"€{first.total_minor // 100}.{first.total_minor % 100:02}")
    expect(page.locator("#review-lines tbody tr")).to_have_count(1)
    expect(page.locator("#review-lines")).not_to_contain_text(second.display_number)
    # Change goes back with the same choice.
    page.get_by_role("button", name="Change").click()
    expect(page.locator("main h1")).to_have_text("Pay invoices")
    expect(page.get_by_label(first.display_number, exact=True)).to_be_checked()
    expect(page.get_by_label(second.display_number, exact=True)).not_to_be_checked()
    expect(selected).to_have_text(f"Selected: €{first.total_minor // 100}.{first.total_minor % 100:02}.")


def test_a_saved_card_is_chosen_by_hand_and_the_bank_asks_for_the_extra_step(
    page: Page, live_server: Any, alice: Membership, invoices: list[Invoice]
) -> None:
    from sportello.payments.models import SavedPaymentMethod, TestcardCard

    TestcardCard.objects.create(
        token="card_3ds", brand="Visa", last4="3155", exp_month=12, exp_year=2039, behaviour="requires_action"
    )
    SavedPaymentMethod.objects.create(
        account=alice.account,
        gateway="testcard",
        token="card_3ds",
        brand="Visa",
        last4="3155",
        exp_month=12,
        exp_year=2039,
        is_default=True,
    )
    login_over_http(page, live_server, alice.user.email, PASSWORD)
    page.goto(f"{live_server.url}/billing/invoices/{invoices[0].number}/pay/")
    expect(page.get_by_label("Visa •••• 3155, your default card")).to_be_checked()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator("#review-method")).to_contain_text("Visa •••• 3155")
    assert check_page(page, "review, saved card") == []
    page.get_by_role("button", name="Confirm and pay €121.00").click()
    expect(page.locator("main h1")).to_have_text("Confirm this payment")
    page.get_by_role("button", name="Confirm the payment").click()
    expect(page.locator("main h1")).to_have_text("Payment received")
    invoices[0].refresh_from_db()
    assert invoices[0].status == InvoiceStatus.PAID
