# ruff: noqa: F811  (fixtures imported from the payments tests are redefined as parameters)
"""The client area's payment pages: pay one invoice or several, by card (on the processor's
page), transfer or credit; the result pages; account credit and adding funds."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership, Role
from sportello.billing.models import Invoice, InvoiceStatus, Settlement
from sportello.conftest import make_member
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.payments.models import CreditEntry, Payment, PaymentStatus
from sportello.payments.selectors import credit_balance
from sportello.payments.services import credit_adjust
from sportello.payments.tests.conftest import (  # noqa: F401
    _testcard_on,
    billing_setup,
    expired_card,
    issued_invoice,
    make_invoice,
    pay_confirmed,
    seller,
    tax_rates,
)

pytestmark = pytest.mark.django_db
TODAY = utc_now().date()


@pytest.fixture
def invoice(make_invoice: Callable[..., Invoice]) -> Invoice:
    return make_invoice("100.00", as_of=TODAY, due=TODAY + dt.timedelta(days=10))


def card(client: Client, hosted_page: str, number: str, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(hosted_page, {"number": number, "expiry": "12/39", "cvc": "123", "name": "Alice"})


def test_it_pays_one_invoice_by_card_on_the_processors_page(
    alice_client: Client, invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    url = reverse("portal:invoice-pay", args=[invoice.number])
    page = alice_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert f"Pay invoice {invoice.number}" in text and "€121.00" in text
    assert "cc-number" not in text and 'name="number"' not in text, "no card field on our own pages"
    response = pay_confirmed(alice_client, url, {"invoices": invoice.number, "method": "testcard"})
    assert response.status_code == 302
    hosted_page = response["Location"]
    assert re.fullmatch(r"http://testserver/testcard/pay/[\w-]+/", hosted_page)
    response = card(alice_client, hosted_page, "4242424242424242", django_capture_on_commit_callbacks)
    payment = Payment.objects.get()
    assert response["Location"] == f"http://testserver{reverse('portal:payment', args=[payment.public_id])}"
    result = alice_client.get(response["Location"]).content.decode()
    assert "Payment received" in result and "Visa •••• 4242" in result
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_a_declined_card_says_so_and_offers_a_retry_and_another_method(
    alice_client: Client, invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    response = pay_confirmed(
        alice_client,
        reverse("portal:invoice-pay", args=[invoice.number]),
        {"invoices": invoice.number, "method": "testcard"},
    )
    response = card(alice_client, response["Location"], "4000000000000002", django_capture_on_commit_callbacks)
    result = alice_client.get(response["Location"]).content.decode()
    assert "Your card was declined. No money was taken." in result
    assert "Try again" in result and f"/billing/pay/?invoice={invoice.number}" in result
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    # Trying again opens a new payment for the same invoice.
    retry = pay_confirmed(alice_client, reverse("portal:pay"), {"invoices": invoice.number, "method": "testcard"})
    assert retry.status_code == 302 and "/testcard/pay/" in retry["Location"]
    assert list(Payment.objects.order_by("id").values_list("status", flat=True)) == ["failed", "initiated"]


def test_several_invoices_are_paid_in_one_payment(
    alice_client: Client,
    make_invoice: Callable[..., Invoice],
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = make_invoice("100.00", as_of=TODAY, due=TODAY + dt.timedelta(days=3))
    second = make_invoice("10.00", as_of=TODAY, due=TODAY + dt.timedelta(days=1))
    page = alice_client.get(reverse("portal:pay")).content.decode()
    assert page.count('name="invoices"') == 2 and page.count(" checked") >= 2
    assert "Selected: €133.10." in page
    response = pay_confirmed(
        alice_client, reverse("portal:pay"), {"invoices": [first.number, second.number], "method": "testcard"}
    )
    payment = Payment.objects.get()
    assert payment.amount_minor == 13310
    response = card(alice_client, response["Location"], "4242424242424242", django_capture_on_commit_callbacks)
    result = alice_client.get(response["Location"]).content.decode()
    assert "Payment received" in result and first.number in result and second.number in result
    assert set(Invoice.objects.values_list("status", flat=True)) == {InvoiceStatus.PAID}


def test_invoices_in_two_currencies_cannot_be_paid_together(
    alice: Membership, alice_client: Client, invoice: Invoice
) -> None:
    other = issued_invoice(alice.account, "10.00", as_of=TODAY, currency="BRL")
    response = alice_client.post(
        reverse("portal:pay"), {"invoices": [invoice.number, other.number], "method": "testcard"}
    )
    assert response.status_code == 400
    assert "one payment cannot mix BRL, EUR" in response.content.decode()
    assert Payment.objects.count() == 0


def test_a_bank_transfer_shows_the_instructions_and_waits(alice_client: Client, invoice: Invoice) -> None:
    response = pay_confirmed(
        alice_client,
        reverse("portal:invoice-pay", args=[invoice.number]),
        {"invoices": invoice.number, "method": "bank_transfer"},
    )
    payment = Payment.objects.get()
    assert response["Location"] == reverse("portal:payment", args=[payment.public_id])
    page = alice_client.get(response["Location"]).content.decode()
    assert "Waiting for your transfer" in page and "ES9121000418450200051332" in page and "CAIXESBBXXX" in page
    reference = payment.gateway_reference
    assert " ".join(reference[i : i + 4] for i in range(0, len(reference), 4)) in page
    assert 'src="data:image/svg+xml' in page, "the EPC QR code"
    assert payment.status == PaymentStatus.INITIATED


def test_credit_pays_at_once_and_can_go_first(alice: Membership, alice_client: Client, invoice: Invoice) -> None:
    credit_adjust(account=alice.account, amount=Money("21.00", "EUR"), note="goodwill", by=None)  # type: ignore[arg-type]
    page = alice_client.get(reverse("portal:invoice-pay", args=[invoice.number])).content.decode()
    assert "Use my account credit first (€21.00 available)" in page
    response = alice_client.post(
        reverse("portal:invoice-pay", args=[invoice.number]), {"invoices": invoice.number, "method": "credit"}
    )
    assert response.status_code == 400 and "does not cover €121.00" in response.content.decode()
    response = pay_confirmed(
        alice_client,
        reverse("portal:invoice-pay", args=[invoice.number]),
        {"invoices": invoice.number, "method": "testcard", "use_credit": "on"},
    )
    assert response.status_code == 302
    assert Payment.objects.get().amount_minor == 10000
    assert credit_balance(account=alice.account, currency="EUR") == Money("0.00", "EUR")  # type: ignore[arg-type]


def test_adding_funds_then_paying_the_funds_invoice_adds_credit(
    alice: Membership,
    alice_client: Client,
    billing_setup: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    credit_adjust(account=alice.account, amount=Money("10.00", "EUR"), note="goodwill", by=None)  # type: ignore[arg-type]
    response = alice_client.post(reverse("portal:credit"), {"amount": "50"})
    funds = Invoice.objects.get(source="funds")
    assert response["Location"] == reverse("portal:invoice-pay", args=[funds.number])
    page = alice_client.get(response["Location"]).content.decode()
    assert 'value="testcard"' in page
    assert 'value="credit"' not in page and "use_credit" not in page, "credit cannot buy credit"
    response = pay_confirmed(alice_client, response["Location"], {"invoices": funds.number, "method": "testcard"})
    card(alice_client, response["Location"], "4242424242424242", django_capture_on_commit_callbacks)
    assert credit_balance(account=alice.account, currency="EUR") == Money("60.00", "EUR")  # type: ignore[arg-type]
    page = alice_client.get(reverse("portal:credit")).content.decode()
    assert "€60.00" in page and "Funds added" in page and "goodwill" in page


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1", "The amount is below the minimum."),
        ("abc", "Enter a number."),
        ("1.234", "Use at most the decimals of EUR."),
    ],
)
def test_bad_amounts_of_funds_are_refused(alice_client: Client, billing_setup: None, amount: str, message: str) -> None:
    response = alice_client.post(reverse("portal:credit"), {"amount": amount})
    assert response.status_code == 400 and message in response.content.decode()
    assert Invoice.objects.count() == 0


def test_other_accounts_invoices_and_payments_are_not_found(
    alice_client: Client, bob: Membership, invoice: Invoice, client: Client
) -> None:
    pay_confirmed(
        alice_client,
        reverse("portal:invoice-pay", args=[invoice.number]),
        {"invoices": invoice.number, "method": "bank_transfer"},
    )
    payment = Payment.objects.get()
    client.force_login(bob.user)
    assert client.get(reverse("portal:invoice-pay", args=[invoice.number])).status_code == 404
    assert client.get(reverse("portal:payment", args=[payment.public_id])).status_code == 404
    response = client.post(reverse("portal:pay"), {"invoices": invoice.number, "method": "testcard"})
    assert response.status_code == 400 and Payment.objects.count() == 1
    assert invoice.number not in client.get(reverse("portal:pay")).content.decode()


def test_read_only_members_see_but_cannot_pay(alice: Membership, invoice: Invoice, client: Client) -> None:
    reader = make_member("reader@example.org", "Unused", role=Role.READ_ONLY)
    reader.account = alice.account
    reader.save()
    client.force_login(reader.user)
    url = reverse("portal:invoice-pay", args=[invoice.number])
    assert "Your role lets you see invoices, but not pay them." in client.get(url).content.decode()
    assert client.post(url, {"invoices": invoice.number, "method": "testcard"}).status_code == 404
    confirm = {"invoices": invoice.number, "method": "testcard", "confirm": "1", "review": str(uuid.uuid4())}
    assert client.post(url, confirm).status_code == 404
    assert client.post(reverse("portal:credit"), {"amount": "50"}).status_code == 404
    assert (Payment.objects.count(), CreditEntry.objects.count(), Settlement.objects.count()) == (0, 0, 0)


def test_saved_cards_are_listed_flagged_and_managed(
    alice: Membership,
    alice_client: Client,
    bob: Membership,
    client: Client,
    billing_setup: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from sportello.payments.models import SavedPaymentMethod

    old = expired_card(alice.account, is_default=True)
    page = alice_client.get(reverse("portal:payment-methods")).content.decode()
    assert "Visa •••• 0069" in page and "This card has expired" in page
    response = alice_client.post(reverse("portal:payment-method-add"))
    assert "/testcard/pay/" in response["Location"]
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            response["Location"], {"number": "4242424242424242", "expiry": "12/39", "cvc": "123", "name": "A"}
        )
    new = SavedPaymentMethod.objects.exclude(pk=old.pk).get()
    alice_client.post(reverse("portal:payment-method-default", args=[new.pk]))
    response = alice_client.post(reverse("portal:payment-method-remove", args=[old.pk]), follow=True)
    assert "Visa •••• 0069 was removed." in response.content.decode()
    page = alice_client.get(reverse("portal:payment-methods")).content.decode()
    assert "Visa •••• 4242" in page and "0069" not in page and "Default" in page
    response = alice_client.post(reverse("portal:payment-methods"), {"apply_credit": "on", "autopay": "on"})
    assert response.status_code == 302
    alice.account.payment_preference.refresh_from_db()
    assert (alice.account.payment_preference.autopay, alice.account.payment_preference.apply_credit) == (True, True)
    # Bob cannot touch alice's card.
    client.force_login(bob.user)
    assert client.post(reverse("portal:payment-method-remove", args=[new.pk])).status_code == 404
    assert client.post(reverse("portal:payment-method-default", args=[new.pk])).status_code == 404
    new.refresh_from_db()
    assert (new.is_default, new.removed_at) == (True, None)


def test_a_made_up_payment_address_is_not_found(alice_client: Client) -> None:
    for made_up in ("x1", "00000000-0000-0000-0000-000000000000"):
        assert alice_client.get(reverse("portal:payment", args=[made_up])).status_code == 404


def test_the_invoice_page_and_the_billing_overview_lead_to_paying(alice_client: Client, invoice: Invoice) -> None:
    page = alice_client.get(reverse("portal:invoice", args=[invoice.number])).content.decode()
    assert f'href="{reverse("portal:invoice-pay", args=[invoice.number])}"' in page
    overview = alice_client.get(reverse("portal:billing")).content.decode()
    assert f'href="{reverse("portal:pay")}"' in overview
    assert (
        f'href="{reverse("portal:credit")}"' in overview and f'href="{reverse("portal:payment-methods")}"' in overview
    )


def test_part_of_an_invoice_is_paid_now_and_the_rest_stays_payable(
    alice_client: Client, invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    url = reverse("portal:invoice-pay", args=[invoice.number])
    page = alice_client.get(url).content.decode()
    assert 'name="amount"' in page and 'value="121.00"' in page
    assert "Up to €121.00. Pay less now and the rest later, if you prefer." in page
    response = pay_confirmed(alice_client, url, {"invoices": invoice.number, "method": "testcard", "amount": "50.00"})
    assert response.status_code == 302
    card(alice_client, response["Location"], "4242424242424242", django_capture_on_commit_callbacks)
    assert Payment.objects.get().amount_minor == 5000
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    again = alice_client.get(url).content.decode()
    assert 'value="71.00"' in again and "€71.00 to pay" in again


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("121.01", "The amount is above the maximum."),
        ("0", "Enter an amount above zero."),
        ("-5", "Enter an amount above zero."),
        ("12.345", "This amount has more decimals than its currency allows."),
        ("cinquanta", "Enter an amount, such as 50.00."),
    ],
)
def test_a_part_that_cannot_be_paid_is_refused_with_a_clear_message(
    alice_client: Client, invoice: Invoice, amount: str, message: str
) -> None:
    url = reverse("portal:invoice-pay", args=[invoice.number])
    response = alice_client.post(url, {"invoices": invoice.number, "method": "testcard", "amount": amount})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Payment.objects.count() == 0
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def methods_shown(page: str) -> list[tuple[str, str, str]]:
    """The payment methods a pay page offers: (code, label, clearing time), in order."""
    found = re.findall(
        r'<input type="radio" name="method" value="([\w]+)"[^>]*>\s*([^<]+?)\s*</label>\s*'
        r'<span class="field-help" id="method-\1-clearing">Money received:\s*([^<]+?)\s*</span>',
        page,
    )
    return [(code, label, clearing) for code, label, clearing in found]


def test_the_pay_pages_show_each_method_with_its_clearing_time(
    settings: Any, alice: Membership, alice_client: Client, make_invoice: Callable[..., Invoice]
) -> None:
    settings.PAYMENTS_STRIPE_SECRET_KEY = "sk_test_x"
    settings.PAYMENTS_STRIPE_WEBHOOK_SECRET = "whsec_x"
    settings.PAYMENTS_BANK_TRANSFER_CLEARING_DAYS = 5
    first = make_invoice("100.00", as_of=TODAY, due=TODAY + dt.timedelta(days=3))
    make_invoice("10.00", as_of=TODAY, due=TODAY + dt.timedelta(days=1))
    credit_adjust(account=alice.account, amount=Money("21.00", "EUR"), note="goodwill", by=None)  # type: ignore[arg-type]
    page = alice_client.get(reverse("portal:invoice-pay", args=[first.number])).content.decode()
    assert methods_shown(page) == [
        ("stripe", "Card", "Immediately"),
        ("testcard", "Card", "Immediately"),
        ("bank_transfer", "Bank transfer", "Within 5 business days after you send it"),
        ("credit", "Account credit", "Immediately · available: €21.00"),
    ]
    # The mass payment page, with the clearing days changed: the text follows the setting.
    settings.PAYMENTS_BANK_TRANSFER_CLEARING_DAYS = 1
    settings.PAYMENTS_STRIPE_SECRET_KEY = ""
    page = alice_client.get(reverse("portal:pay")).content.decode()
    assert methods_shown(page) == [
        ("testcard", "Card", "Immediately"),
        ("bank_transfer", "Bank transfer", "Within 1 business day after you send it"),
        ("credit", "Account credit", "Immediately · available: €21.00"),
    ]
    # The waiting page of a transfer gives the same figure.
    pay_confirmed(alice_client, reverse("portal:pay"), {"invoices": [first.number], "method": "bank_transfer"})
    waiting = alice_client.get(reverse("portal:payment", args=[Payment.objects.get().public_id])).content.decode()
    assert "usually within 1 business day." in waiting
    settings.PAYMENTS_BANK_TRANSFER_CLEARING_DAYS = 0
    assert methods_shown(alice_client.get(reverse("portal:pay")).content.decode())[1] == (
        "bank_transfer",
        "Bank transfer",
        "The same business day you send it",
    )


def test_a_declined_card_is_explained_in_the_members_language(
    alice: Membership, alice_client: Client, invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    alice.user.language = "es"
    alice.user.save(update_fields=["language"])
    response = pay_confirmed(
        alice_client,
        reverse("portal:invoice-pay", args=[invoice.number]),
        {"invoices": invoice.number, "method": "testcard"},
    )
    response = card(alice_client, response["Location"], "4000000000000002", django_capture_on_commit_callbacks)
    result = alice_client.get(response["Location"])
    assert result["Content-Language"] == "es"
    text = result.content.decode()
    assert "Su tarjeta ha sido rechazada. No se ha cobrado nada." in text
    assert "Your card was declined" not in text
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert (Payment.objects.get().status, Payment.objects.get().failure_code) == ("failed", "card_declined")
    assert Settlement.objects.count() == 0
