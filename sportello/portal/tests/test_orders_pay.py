"""Paying an order awaiting payment from its page: the pay page of its invoice in the order's
words (amount, methods with how long each takes to clear), the order carried out once the
payment is received, and every refusal (another account's order, an order cancelled or
already paid, a member without billing) changing nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.billing.models import Invoice, InvoiceStatus, Seller
from sportello.catalog.tests.factories import Catalog
from sportello.core.money import Money
from sportello.orders.models import Cart, Order
from sportello.orders.services import cart_quote, order_cancel, order_mark_paid, order_place
from sportello.orders.tests.conftest import AS_OF, AT, fill_cart, orders_catalog, seller_in_spain, snapshot
from sportello.payments.models import CreditEntry, Payment
from sportello.payments.services import credit_adjust
from sportello.payments.tests.conftest import pay_confirmed, review_fields
from sportello.services.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db: None) -> Catalog:
    return orders_catalog()


@pytest.fixture(autouse=True)
def seller(db: None, settings: Any) -> None:
    settings.PAYMENTS_TESTCARD_ENABLED = True
    seller_in_spain()
    # A bank account, so that bank transfer is offered too.
    Seller.objects.filter(pk=1).update(iban="ES9121000418450200051332", bic="CAIXESBBXXX")


def placed(membership: Membership, catalog: Catalog) -> Order:
    """Basic monthly with 20 GB more storage and daily backups: €19.90, plus 21 % IVA = €24.08."""
    fill_cart(membership, catalog)
    cart = Cart.objects.get(account=membership.account, user=membership.user)
    total = cart_quote(cart=cart, account=membership.account, as_of=AS_OF).total_minor
    return order_place(
        acting=membership, as_of=AS_OF, at=AT, shown_total_minor=total, shown_currency=membership.account.currency
    )


@pytest.fixture
def order(alice: Membership, catalog: Catalog) -> Order:
    order = placed(alice, catalog)
    assert order.status == "awaiting_payment"
    return order


def text(response: Any) -> str:
    body = response.content.decode()
    if '<main id="main"' in body:
        body = body[body.index('<main id="main"') : body.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).replace("&amp;", "&").replace("&#x27;", "'")


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def pay_url(order: Order) -> str:
    return reverse("portal:order-pay", args=[order.number])


def everything(account: Any) -> dict[str, Any]:
    """What paying could change: the order side, the invoices, the payments and the credit."""
    return {
        **snapshot(account),
        "invoices": list(Invoice.objects.filter(account=account).values("pk", "status", "paid_date")),
        "payments": list(Payment.objects.filter(account=account).values("pk", "status")),
        "credit": list(CreditEntry.objects.filter(account=account).values_list("pk", flat=True)),
    }


def card(client: Client, hosted_page: str, number: str, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(hosted_page, {"number": number, "expiry": "12/39", "cvc": "123", "name": "Alice"})


def test_the_order_page_and_the_orders_list_lead_to_paying_it(alice_client: Client, order: Order) -> None:
    page = alice_client.get(reverse("portal:order-detail", args=[order.number])).content.decode()
    assert f'<a class="button button-primary" href="{pay_url(order)}">Pay now</a>' in page
    listing = alice_client.get(reverse("portal:orders")).content.decode()
    assert f'href="{pay_url(order)}">Pay<span class="visually-hidden"> {order.number}</span></a>' in listing


def test_the_pay_page_shows_the_amount_and_the_methods_with_their_clearing_times(
    alice_client: Client, order: Order
) -> None:
    assert order.invoice is not None
    response = alice_client.get(pay_url(order))
    assert response.status_code == 200
    page = text(response)
    assert f"Pay order {order.number}" in page
    assert f"€24.08 to pay, on invoice {order.invoice.display_number}." in page
    assert "Card Money received: Immediately" in page
    assert "Bank transfer Money received: Within 3 business days after you send it" in page
    body = response.content.decode()
    assert f'<a class="button" href="/orders/{order.number}/">Cancel</a>' in body
    assert f'<input type="hidden" name="invoices" value="{order.invoice.display_number}">' in body


def test_paying_by_card_activates_the_order_and_leads_back_to_it(
    alice_client: Client, order: Order, django_capture_on_commit_callbacks: Any
) -> None:
    assert order.invoice is not None
    number = order.invoice.display_number
    response = pay_confirmed(alice_client, pay_url(order), {"invoices": number, "method": "testcard"})
    assert response.status_code == 302 and "/testcard/pay/" in response["Location"]
    assert order.status == "awaiting_payment"  # starting a payment carries out nothing
    response = card(alice_client, response["Location"], "4242424242424242", django_capture_on_commit_callbacks)
    payment = Payment.objects.get()
    assert (payment.status, payment.amount_minor, payment.currency) == ("succeeded", 2408, "EUR")
    result = alice_client.get(response["Location"])
    page = text(result)
    assert "Payment received" in page
    assert f"Orders in this payment Order {order.number} · Active" in page
    assert f'href="/orders/{order.number}/"' in result.content.decode()
    order.refresh_from_db()
    assert order.status == "active"
    assert Invoice.objects.get(pk=order.invoice.pk).status == InvoiceStatus.PAID
    assert list(Service.objects.filter(account=order.account).values_list("label", "status")) == [
        ("www.alice.example", "active")
    ]
    detail = text(alice_client.get(reverse("portal:order-detail", args=[order.number])))
    assert "Active" in detail and "Pay now" not in detail


def test_a_declined_card_leaves_the_order_awaiting_payment(
    alice_client: Client, order: Order, django_capture_on_commit_callbacks: Any
) -> None:
    assert order.invoice is not None
    response = pay_confirmed(
        alice_client, pay_url(order), {"invoices": order.invoice.display_number, "method": "testcard"}
    )
    response = card(alice_client, response["Location"], "4000000000000002", django_capture_on_commit_callbacks)
    page = text(alice_client.get(response["Location"]))
    assert "Your card was declined. No money was taken." in page
    assert f"Order {order.number} · Awaiting payment" in page
    order.refresh_from_db()
    assert order.status == "awaiting_payment"
    assert alice_client.get(pay_url(order)).status_code == 200  # and it can be paid again


def test_credit_that_covers_the_order_pays_it_at_once(alice: Membership, alice_client: Client, order: Order) -> None:
    assert order.invoice is not None
    credit_adjust(account=alice.account, amount=Money("25.00", "EUR"), note="goodwill", by=None)
    assert "Account credit Money received: Immediately · available: €25.00" in text(alice_client.get(pay_url(order)))
    review = alice_client.post(pay_url(order), {"invoices": order.invoice.display_number, "method": "credit"})
    assert "Credit before €25.00" in text(review) and "Credit after €0.92" in text(review)
    confirm = {**review_fields(review), "confirm": "1"}
    response = alice_client.post(pay_url(order), confirm, follow=True)
    assert response.redirect_chain == [(f"/orders/{order.number}/", 302)]
    assert messages_of(response) == ["Paid with your account credit. Thank you."]
    order.refresh_from_db()
    assert order.status == "active"
    # The confirmation sent again leads back to the order and pays nothing more.
    again = alice_client.post(pay_url(order), confirm, follow=True)
    assert again.redirect_chain == [(f"/orders/{order.number}/", 302)]
    assert messages_of(again) == ["This payment was already confirmed: nothing was paid twice."]
    assert list(CreditEntry.objects.order_by("id").values_list("kind", "amount_minor")) == [
        ("adjustment", 2500),
        ("applied", -2408),
    ]


def test_another_accounts_order_is_not_found_and_nothing_changes(
    alice: Membership, bob: Membership, catalog: Catalog, client: Client
) -> None:
    order = placed(alice, catalog)
    assert order.invoice is not None
    client.force_login(bob.user)
    before = everything(alice.account)
    for number in (order.number, "O-2026-999999", "x"):
        url = reverse("portal:order-pay", args=[number])
        assert client.get(url).status_code == 404, number
        assert client.post(url, {"invoices": order.invoice.display_number, "method": "testcard"}).status_code == 404
    assert everything(alice.account) == before
    assert Payment.objects.count() == 0


def test_a_cancelled_order_cannot_be_paid_and_nothing_changes(
    alice: Membership, alice_client: Client, order: Order
) -> None:
    assert order.invoice is not None
    order_cancel(order=order, by=alice.user, acting=alice, reason="wrong plan")
    before = everything(alice.account)
    for response in (
        alice_client.get(pay_url(order), follow=True),
        alice_client.post(
            pay_url(order), {"invoices": order.invoice.display_number, "method": "testcard"}, follow=True
        ),
    ):
        assert response.redirect_chain == [(f"/orders/{order.number}/", 302)]
        assert messages_of(response) == ["This order cannot be paid: it is “Cancelled”."]
    assert everything(alice.account) == before
    assert Payment.objects.count() == 0
    assert "Pay now" not in text(alice_client.get(reverse("portal:order-detail", args=[order.number])))


def test_a_paid_order_is_not_paid_twice(alice: Membership, alice_client: Client, order: Order) -> None:
    assert order.invoice is not None
    order_mark_paid(order=order, as_of=AS_OF)
    before = everything(alice.account)
    response = alice_client.post(
        pay_url(order), {"invoices": order.invoice.display_number, "method": "testcard"}, follow=True
    )
    assert messages_of(response) == [f"Order {order.number} is already paid."]
    assert everything(alice.account) == before
    assert Payment.objects.count() == 0


def test_paying_the_order_s_invoice_from_the_billing_pages_carries_the_order_out_too(
    alice: Membership, alice_client: Client, order: Order
) -> None:
    assert order.invoice is not None
    credit_adjust(account=alice.account, amount=Money("24.08", "EUR"), note="goodwill", by=None)
    pay_confirmed(
        alice_client,
        reverse("portal:invoice-pay", args=[order.invoice.display_number]),
        {"invoices": order.invoice.display_number, "method": "credit"},
        follow=True,
    )
    order.refresh_from_db()
    assert order.status == "active"  # the same seam, reached from the invoice
    response = alice_client.get(pay_url(order), follow=True)
    assert messages_of(response) == [f"Order {order.number} is already paid."]


def test_a_member_without_billing_cannot_reach_the_pay_page(alice: Membership, order: Order, client: Client) -> None:
    user = User.objects.create_user("otto@example.org", "x" * 12)
    membership_add(account=alice.account, user=user, role=Role.CUSTOM, custom_areas=["orders"])
    client.force_login(user)
    before = everything(alice.account)
    detail = text(client.get(reverse("portal:order-detail", args=[order.number])))
    assert "A colleague with access to billing can pay it." in detail and "Pay now" not in detail
    assert pay_url(order) not in client.get(reverse("portal:orders")).content.decode()
    assert client.get(pay_url(order)).status_code == 404
    assert client.post(pay_url(order), {"method": "testcard"}).status_code == 404
    assert everything(alice.account) == before
