"""The store, cart, checkout and orders pages: prices from the server, tampering refused with
a translated message and nothing changed, and another account's orders answering 404."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Role, User
from sportello.accounts.services import membership_add
from sportello.catalog.tests.factories import Catalog
from sportello.core.testing import Clock
from sportello.orders.models import CartItem, Order, PromoCode, PromoKind
from sportello.orders.tests.conftest import fill_cart, orders_catalog, seller_in_spain, snapshot

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)


@pytest.fixture
def catalog(db: None) -> Catalog:
    return orders_catalog()


@pytest.fixture(autouse=True)
def taxes(db: None) -> None:
    seller_in_spain()


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(NOW)
    monkeypatch.setattr("sportello.portal.views.store.utc_now", clock)
    return clock


def text(response: Any) -> str:
    body = response.content.decode()
    if '<main id="main"' in body:
        body = body[body.index('<main id="main"') : body.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).replace("&amp;", "&").replace("&#x27;", "'")


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def configure(**overrides: str | list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "plan": "",
        "cycle": "monthly",
        "quantity": "1",
        "option_storage_gb": "20",
        "addons": ["backups"],
        "label": "www.alice.example",
        "action": "add",
    }
    data.update(overrides)
    return data


def product_url() -> str:
    return reverse("portal:store-product", args=["linux-hosting"])


def test_the_store_lists_products_with_a_price_in_the_account_currency(alice_client, catalog):
    page = text(alice_client.get(reverse("portal:store")))
    assert "Web hosting Linux Hosting" in page
    assert "From €10.00 (Monthly)" in page


def test_ordering_with_options_and_a_promo_code_through_the_pages(alice, alice_client, catalog):
    PromoCode.objects.create(code="WELCOME10", kind=PromoKind.PERCENT, percent=Decimal(10))
    response = alice_client.post(product_url(), configure(plan=str(catalog.basic.pk)), follow=True)
    assert response.redirect_chain == [(reverse("portal:cart"), 302)]
    assert messages_of(response) == ["Linux Hosting is in your cart."]
    assert "Total €24.08" in text(response)
    response = alice_client.post(reverse("portal:cart-promo"), {"code": "welcome10"}, follow=True)
    assert messages_of(response) == ["Promo code WELCOME10 applied."]
    assert "Discount (WELCOME10) −€1.39" in text(response)
    checkout = alice_client.get(reverse("portal:checkout"))
    assert 'name="shown_total_minor" value="2240"' in checkout.content.decode()
    assert "Place the order for €22.40" in text(checkout)
    response = alice_client.post(
        reverse("portal:checkout"), {"shown_total_minor": "2240", "shown_currency": "EUR"}, follow=True
    )
    order = Order.objects.get()
    assert response.redirect_chain == [(reverse("portal:order-detail", args=[order.number]), 302)]
    assert messages_of(response) == [f"Thank you: order {order.number} is placed and awaits payment."]
    page = text(response)
    assert "Awaiting payment" in page
    assert "Total €22.40" in page
    listing = text(alice_client.get(reverse("portal:orders")))
    assert f"{order.number} New purchase" in listing
    assert "1 1 month €22.40 Awaiting payment" in listing


def test_the_live_price_is_the_cart_price(alice_client, catalog):
    data = configure(plan=str(catalog.basic.pk))
    del data["action"]
    partial = alice_client.post(reverse("portal:store-price", args=["linux-hosting"]), data)
    assert "<main" not in partial.content.decode()
    page = text(partial)
    assert "Total before tax €19.90" in page
    assert "IVA 21% €4.18" in page
    assert "Total €24.08" in page
    # Without JavaScript: the "Show the price" button posts the form and nothing is added.
    fallback = alice_client.post(product_url(), {**data, "action": "preview"})
    assert "Total €24.08" in text(fallback)
    assert not CartItem.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"quantity": "-3"}, "The quantity must be a whole number from 1 to 100."),
        ({"quantity": "1e9"}, "The quantity must be a whole number."),
        ({"option_storage_gb": "5000"}, "Extra storage: choose a whole number from 0 to 1000."),
        ({"option_storage_gb": "-1"}, "Extra storage: choose a whole number from 0 to 1000."),
        ({"cycle": "semiannual"}, "Choose a plan and a billing cycle to see the price."),
        ({"addons": ["firewall"]}, "Choose a plan and a billing cycle to see the price."),
        ({"plan": "999999"}, "Choose a plan and a billing cycle to see the price."),
    ],
)
def test_tampered_choices_are_refused_with_a_message_and_change_nothing(
    alice,
    alice_client,
    catalog,
    overrides,
    message,
):
    before = snapshot(alice.account)
    response = alice_client.post(product_url(), {**configure(plan=str(catalog.basic.pk)), **overrides})
    assert response.status_code == 200
    assert message in text(response)
    assert snapshot(alice.account) == before


def test_a_tampered_total_at_checkout_is_refused_and_shown_again(alice, alice_client, catalog):
    fill_cart(alice, catalog)
    before = snapshot(alice.account)
    for data in (
        {"shown_total_minor": "1", "shown_currency": "EUR"},
        {"shown_total_minor": "2408", "shown_currency": "USD"},
        {},
    ):
        response = alice_client.post(reverse("portal:checkout"), data)
        assert response.status_code == 200
        assert messages_of(response) == [
            "The prices changed since they were shown to you: please check the new total and confirm again."
        ]
        assert 'name="shown_total_minor" value="2408"' in response.content.decode()
    assert snapshot(alice.account) == before


def test_an_unknown_promo_code_is_refused_with_its_reason(alice, alice_client, catalog):
    fill_cart(alice, catalog)
    response = alice_client.post(reverse("portal:cart-promo"), {"code": "FREE"}, follow=True)
    assert messages_of(response) == ["This promo code does not exist or is no longer active."]


def place(membership: Any, catalog: Any, client: Client) -> Order:
    fill_cart(
        membership,
        catalog,
        **({} if membership.account.currency == "EUR" else {"options": {}, "addons": [], "label": ""}),
    )
    form = client.get(reverse("portal:checkout")).content.decode()
    total = re.search(r'name="shown_total_minor" value="(\d+)"', form)
    assert total is not None
    client.post(
        reverse("portal:checkout"), {"shown_total_minor": total.group(1), "shown_currency": membership.account.currency}
    )
    return Order.objects.filter(account=membership.account).latest("id")


def test_cancelling_an_order_asks_for_confirmation(alice, alice_client, catalog):
    order = place(alice, catalog, alice_client)
    cancel_url = reverse("portal:order-cancel", args=[order.number])
    confirm = alice_client.get(cancel_url)
    assert f"Cancel order {order.number}?" in text(confirm)
    assert Order.objects.get(pk=order.pk).status == "awaiting_payment"  # asking changes nothing
    response = alice_client.post(cancel_url, {"reason": "wrong plan"}, follow=True)
    assert messages_of(response) == [f"Order {order.number} is cancelled."]
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    again = alice_client.post(cancel_url, follow=True)
    assert messages_of(again) == ["This order cannot be cancelled: it is “Cancelled”."]


def test_orders_filter_by_status(alice, alice_client, catalog):
    first = place(alice, catalog, alice_client)
    second = place(alice, catalog, alice_client)
    alice_client.post(reverse("portal:order-cancel", args=[first.number]))
    body = alice_client.get(reverse("portal:orders"), {"status": "cancelled"}).content.decode()
    table = body[body.index("<tbody>") : body.index("</tbody>")]
    assert first.number in table
    assert second.number not in table


def test_another_accounts_order_is_not_found_even_by_guessing_its_number(alice, bob, catalog, client):
    alice_browser = Client()
    alice_browser.force_login(alice.user)
    order = place(alice, catalog, alice_browser)
    client.force_login(bob.user)
    before = snapshot(alice.account)
    for number in (order.number, "O-2026-000001", "O-2026-000002", "1", "O-2026-999999"):
        assert client.get(reverse("portal:order-detail", args=[number])).status_code == 404, number
        assert client.get(reverse("portal:order-cancel", args=[number])).status_code == 404, number
        assert client.post(reverse("portal:order-cancel", args=[number])).status_code == 404, number
    assert order.number not in client.get(reverse("portal:orders")).content.decode()
    assert snapshot(alice.account) == before


def test_a_member_without_the_orders_area_gets_404(alice, catalog, client):
    user = User.objects.create_user("sam@example.org", "x" * 12)
    membership_add(account=alice.account, user=user, role=Role.CUSTOM, custom_areas=["support"])
    client.force_login(user)
    for name in ("portal:store", "portal:cart", "portal:checkout", "portal:orders"):
        assert client.get(reverse(name)).status_code == 404, name
    assert 'href="/orders/"' not in client.get(reverse("portal:dashboard")).content.decode()


def test_a_read_only_member_sees_orders_but_cannot_order(alice, catalog, client):
    reader = User.objects.create_user("rita@example.org", "x" * 12)
    membership_add(account=alice.account, user=reader, role=Role.READ_ONLY)
    client.force_login(reader)
    # Read-only members have no orders area by role: they do not see the store either.
    assert client.get(reverse("portal:store")).status_code == 404
