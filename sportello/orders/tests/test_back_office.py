"""The back office: promo codes validated on save, the orders queue, transitions with a reason."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.accounts.models import User
from sportello.orders.models import Cart, Order, PromoCode
from sportello.orders.services import cart_quote, order_place

from .conftest import AS_OF, AT, fill_cart, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root@provider.example", "ops-staff-passphrase-1"))
    return client


def placed(membership, catalog) -> Order:
    fill_cart(membership, catalog)
    cart = Cart.objects.get(account=membership.account, user=membership.user)
    total = cart_quote(cart=cart, account=membership.account, as_of=AS_OF).total_minor
    return order_place(acting=membership, as_of=AS_OF, at=AT, shown_total_minor=total, shown_currency="EUR")


PROMO_FORM = {
    "code": "SPRING",
    "description": "",
    "kind": "percent",
    "percent": "15",
    "amounts": "{}",
    "duration": "first_period",
    "cycles": "[]",
    "is_active": "on",
}


def test_a_promo_code_is_saved_with_its_figures_checked(admin_client):
    response = admin_client.post(reverse("admin:orders_promocode_add"), PROMO_FORM)
    assert response.status_code == 302
    assert PromoCode.objects.get().percent == 15
    for bad in (
        {"code": "spring"},  # the same code in other case
        {"percent": "0"},
        {"percent": "150"},
        {"kind": "fixed", "amounts": '{"EUR": -5}'},
        {"kind": "fixed", "amounts": '{"XYZ": 500}'},
        {"kind": "fixed", "amounts": "{}"},
        {"cycles": '["weekly"]'},
    ):
        response = admin_client.post(reverse("admin:orders_promocode_add"), {**PROMO_FORM, **bad})
        assert response.status_code == 200, bad
        assert response.context["adminform"].form.errors, bad
    assert PromoCode.objects.count() == 1


def test_the_queue_opens_and_staff_move_orders_with_a_reason(admin_client, alice, catalog):
    first = placed(alice, catalog)
    second = placed(alice, catalog)
    Order.objects.filter(pk=second.pk).update(status="fraud_review")
    queue = admin_client.get(reverse("admin:orders_order_changelist"))
    assert queue.status_code == 200
    assert [order.number for order in queue.context["cl"].result_list] == [second.number, first.number]
    assert admin_client.get(reverse("admin:orders_order_change", args=[first.pk])).status_code == 200
    assert admin_client.get(reverse("admin:orders_promocode_changelist")).status_code == 200

    before = snapshot(alice.account)
    response = admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "cancel", "_selected_action": [first.pk], "reason": "", "index": 0},
        follow=True,
    )
    assert "Type the reason" in response.content.decode()
    assert snapshot(alice.account) == before
    admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "mark_fraud", "_selected_action": [first.pk], "reason": "card country differs", "index": 0},
    )
    admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "accept", "_selected_action": [second.pk], "reason": "", "index": 0},
    )
    statuses = dict(Order.objects.values_list("number", "status"))
    assert statuses == {first.number: "fraud_review", second.number: "awaiting_payment"}
    assert Order.objects.get(pk=first.pk).events.latest("id").reason == "card country differs"
