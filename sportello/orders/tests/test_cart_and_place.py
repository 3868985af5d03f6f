"""The cart and placing it: prices recomputed on the server, tampering refused, promo codes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sportello.catalog.models import Cycle
from sportello.orders.errors import CartEmpty, InvalidCartItem, OrderNotAllowed, PriceChanged, PromoRefused
from sportello.orders.models import Cart, CartItem, Order, OrderStatus, PromoCode, PromoKind, PromoRedemption
from sportello.orders.services import cart_add, cart_promo_apply, cart_quote, order_cancel, order_place
from sportello.services.models import Service

from .conftest import AS_OF, AT, fill_cart, snapshot

pytestmark = pytest.mark.django_db


def quote_of(membership):
    cart = Cart.objects.get(account=membership.account, user=membership.user)
    return cart_quote(cart=cart, account=membership.account, as_of=AS_OF)


def place(membership, **overrides):
    quote = quote_of(membership)
    values = {"shown_total_minor": quote.total_minor, "shown_currency": quote.currency}
    values.update(overrides)
    return order_place(acting=membership, as_of=AS_OF, at=AT, by=membership.user, **values)


def test_it_prices_a_cart_from_the_price_versions_with_tax_per_rate(alice, catalog):
    fill_cart(alice, catalog)
    quote = quote_of(alice)
    rows = [
        (line.description, line.quantity, line.amount_minor, line.setup_fee_minor, line.tax_minor)
        for line in quote.lines
    ]
    assert rows == [
        ("Linux Hosting Basic (www.alice.example)", 1, 1000, 500, 315),
        ("Extra storage (GB)", 20, 90, 0, 19),
        ("Daily backups", 1, 300, 100, 84),
    ]
    # 19.90 net x 21 % = 4.179 -> 4.18, once for the rate; the lines' shares add up to it.
    assert (quote.subtotal_minor, quote.setup_minor, quote.net_minor, quote.tax_minor, quote.total_minor) == (
        1390,
        600,
        1990,
        418,
        2408,
    )
    assert [(t.rate, t.category, t.name) for t in quote.taxes] == [(Decimal("21.0000"), "S", "IVA 21%")]


def test_it_places_the_cart_as_an_order_with_pending_services(alice, catalog):
    fill_cart(alice, catalog, quantity=2)
    order = place(alice)
    assert (order.number, order.type, order.status, order.currency) == (
        "O-2026-000001",
        "new",
        "awaiting_payment",
        "EUR",
    )
    assert (order.subtotal_minor, order.setup_minor, order.tax_minor, order.total_minor) == (2390, 600, 628, 3618)
    service = Service.objects.get(account=alice.account)
    assert (service.status, service.quantity, service.label, service.plan_id) == (
        "pending",
        2,
        "www.alice.example",
        catalog.basic.pk,
    )
    assert service.options == {
        "storage_gb": {
            "quantity": 20,
            "unit_price": "0.045000",
            "price_version": catalog.storage_prices[("EUR", Cycle.MONTHLY)].pk,
        }
    }
    assert list(service.addons) == ["backups"]
    assert list(order.lines.values_list("service_id", flat=True)) == [service.pk] * 3
    assert list(order.lines.values_list("action", flat=True)) == ["activate", "", ""]
    assert list(order.events.values_list("transition", "to_status")) == [("place", "awaiting_payment")]
    assert not CartItem.objects.filter(cart__account=alice.account).exists()


def test_numbers_follow_a_counter_per_year(alice, catalog):
    numbers = []
    for _ in range(2):
        fill_cart(alice, catalog)
        numbers.append(place(alice).number)
    fill_cart(alice, catalog)
    quote = quote_of(alice)
    next_year = order_place(
        acting=alice,
        as_of=dt.date(2027, 1, 2),
        at=AT,
        shown_total_minor=quote.total_minor,
        shown_currency="EUR",
    )
    assert [*numbers, next_year.number] == ["O-2026-000001", "O-2026-000002", "O-2027-000001"]


@pytest.mark.parametrize(
    ("shown_total", "shown_currency"),
    [(1, "EUR"), (2407, "EUR"), (2408, "BRL"), (2408, "eur"), (None, "EUR"), (-2408, "EUR")],
)
def test_a_tampered_or_changed_total_or_currency_is_refused_and_changes_nothing(
    alice, catalog, shown_total, shown_currency
):
    fill_cart(alice, catalog)
    before = snapshot(alice.account)
    with pytest.raises(PriceChanged) as refused:
        place(alice, shown_total_minor=shown_total, shown_currency=shown_currency)
    assert refused.value.computed_minor == 2408
    assert snapshot(alice.account) == before


@pytest.mark.parametrize(
    ("choice", "field", "reason"),
    [
        ({"quantity": 0}, "quantity", "out_of_range"),
        ({"quantity": -1}, "quantity", "out_of_range"),
        ({"quantity": "2.5"}, "quantity", "not_a_number"),
        ({"quantity": True}, "quantity", "not_a_number"),
        ({"quantity": 101}, "quantity", "out_of_range"),
        ({"quantity": "99999999999999999999"}, "quantity", "not_a_number"),
        ({"cycle": "weekly"}, "cycle", "unknown"),
        ({"cycle": Cycle.SEMIANNUAL}, "cycle", "not_priced"),
        ({"options": {"ram_gb": 4}}, "options", "unknown"),
        ({"options": {"storage_gb": -5}}, "options", "out_of_range"),
        ({"options": {"storage_gb": 1001}}, "options", "out_of_range"),
        ({"options": {"storage_gb": "lots"}}, "options", "not_a_number"),
        ({"addons": ["firewall"]}, "addons", "unknown"),
        ({"addons": ["backups", "backups"]}, "addons", "unknown"),
        ({"label": "x" * 201}, "label", "too_long"),
    ],
)
def test_choices_the_catalog_does_not_offer_are_refused(alice, catalog, choice, field, reason):
    before = snapshot(alice.account)
    with pytest.raises(InvalidCartItem) as refused:
        fill_cart(alice, catalog, **choice)
    assert (refused.value.field, refused.value.reason) == (field, reason)
    assert snapshot(alice.account) == before


def test_a_plan_not_on_sale_is_refused_in_the_cart_and_at_checkout(alice, catalog):
    fill_cart(alice, catalog)
    catalog.basic.is_active = False
    catalog.basic.save()
    with pytest.raises(InvalidCartItem) as refused:
        fill_cart(alice, catalog)
    assert refused.value.reason == "not_on_sale"
    before = snapshot(alice.account)
    with pytest.raises(InvalidCartItem):
        order_place(acting=alice, as_of=AS_OF, at=AT, shown_total_minor=2408, shown_currency="EUR")
    assert snapshot(alice.account) == before


def test_an_empty_cart_is_not_an_order(alice, catalog):
    with pytest.raises(CartEmpty):
        order_place(acting=alice, as_of=AS_OF, at=AT, shown_total_minor=0, shown_currency="EUR")
    assert not Order.objects.exists()


def test_bob_pays_in_his_currency_without_eu_vat(bob, catalog):
    fill_cart(bob, catalog, options={}, addons=[], label="")
    order = place(bob)
    assert (order.currency, order.subtotal_minor, order.setup_minor, order.tax_minor, order.total_minor) == (
        "BRL",
        5000,
        500,
        0,
        5500,
    )
    assert order.lines.get().tax_category == "O"


def test_a_read_only_member_cannot_order(alice, catalog):
    from sportello.accounts.models import Role, User
    from sportello.accounts.services import membership_add

    reader = membership_add(
        account=alice.account, user=User.objects.create_user("rita@example.org", "x" * 12), role=Role.READ_ONLY
    )
    with pytest.raises(OrderNotAllowed):
        fill_cart(reader, catalog)
    assert not CartItem.objects.exists()


# --- Promo codes ------------------------------------------------------------------------------


def promo(code: str = "WELCOME10", **fields) -> PromoCode:
    values = {"kind": PromoKind.PERCENT, "percent": Decimal(10)}
    values.update(fields)
    return PromoCode.objects.create(code=code, **values)


def test_a_percent_code_discounts_each_period_amount_but_not_setup_fees(alice, catalog):
    promo()
    fill_cart(alice, catalog)
    cart_promo_apply(acting=alice, code="  welcome10 ", as_of=AS_OF, at=AT)
    quote = quote_of(alice)
    assert [line.discount_minor for line in quote.lines] == [100, 9, 30]
    # 19.90 - 1.39 = 18.51; x 21 % = 3.8871 -> 3.89
    assert (quote.discount_minor, quote.net_minor, quote.tax_minor, quote.total_minor) == (139, 1851, 389, 2240)
    order = place(alice)
    assert (order.discount_minor, order.total_minor, order.promo.code) == (139, 2240, "WELCOME10")
    use = PromoRedemption.objects.get()
    assert (use.order, use.account, use.amount_minor, use.currency) == (order, alice.account, 139, "EUR")


def test_a_fixed_code_is_split_over_the_lines_without_losing_a_cent(alice, catalog):
    promo("FIVE", kind=PromoKind.FIXED, percent=None, amounts={"EUR": 500})
    fill_cart(alice, catalog)
    cart_promo_apply(acting=alice, code="FIVE", as_of=AS_OF, at=AT)
    quote = quote_of(alice)
    assert [line.discount_minor for line in quote.lines] == [360, 32, 108]
    assert (quote.discount_minor, quote.net_minor, quote.tax_minor, quote.total_minor) == (500, 1490, 313, 1803)


def test_a_fixed_code_never_discounts_more_than_the_period_amounts(alice, catalog):
    promo("BIG", kind=PromoKind.FIXED, percent=None, amounts={"EUR": 100000})
    fill_cart(alice, catalog)
    cart_promo_apply(acting=alice, code="BIG", as_of=AS_OF, at=AT)
    quote = quote_of(alice)
    # Only the setup fees are left to pay, with their tax.
    assert (quote.discount_minor, quote.net_minor, quote.total_minor) == (1390, 600, 726)


@pytest.mark.parametrize(
    ("fields", "typed", "reason"),
    [
        ({}, "NOPE", "unknown"),
        ({"is_active": False}, "WELCOME10", "unknown"),
        ({"valid_from": AT + dt.timedelta(seconds=1)}, "WELCOME10", "not_started"),
        ({"valid_until": AT}, "WELCOME10", "expired"),
        ({"cycles": [Cycle.ANNUAL]}, "WELCOME10", "not_applicable"),
        ({"kind": PromoKind.FIXED, "percent": None, "amounts": {"BRL": 500}}, "WELCOME10", "currency"),
        ({}, "x" * 41, "unknown"),
    ],
)
def test_promo_refusals_leave_the_cart_as_it_was(alice, catalog, fields, typed, reason):
    promo(**fields)
    fill_cart(alice, catalog)
    with pytest.raises(PromoRefused) as refused:
        cart_promo_apply(acting=alice, code=typed, as_of=AS_OF, at=AT)
    assert refused.value.reason == reason
    assert Cart.objects.get(account=alice.account).promo is None


def test_a_code_for_other_products_applies_to_nothing(alice, catalog):
    from sportello.catalog.models import Product, ProductCategory

    code = promo()
    other = Product.objects.create(
        category=ProductCategory.objects.create(name="Mail", slug="mail"), name="Mail", slug="mail"
    )
    code.products.add(other)
    fill_cart(alice, catalog)
    with pytest.raises(PromoRefused) as refused:
        cart_promo_apply(acting=alice, code="WELCOME10", as_of=AS_OF, at=AT)
    assert refused.value.reason == "not_applicable"


def test_limits_count_uses_of_orders_not_cancelled(alice, bob, catalog):
    code = promo(max_redemptions=2, max_per_account=1)
    fill_cart(alice, catalog)
    cart_promo_apply(acting=alice, code="WELCOME10", as_of=AS_OF, at=AT)
    first = place(alice)
    fill_cart(alice, catalog)
    with pytest.raises(PromoRefused) as refused:
        cart_promo_apply(acting=alice, code="WELCOME10", as_of=AS_OF, at=AT)
    assert refused.value.reason == "used_up_for_account"
    # Cancelling the order gives the use back.
    order_cancel(order=first, by=alice.user, acting=alice)
    cart_promo_apply(acting=alice, code="WELCOME10", as_of=AS_OF, at=AT)
    place(alice)
    fill_cart(bob, catalog, options={}, addons=[], label="")
    code.max_redemptions = 1
    code.save()
    with pytest.raises(PromoRefused) as refused:
        cart_promo_apply(acting=bob, code="WELCOME10", as_of=AS_OF, at=AT)
    assert refused.value.reason == "used_up"


def test_a_code_used_up_between_the_cart_and_the_order_refuses_the_order(alice, bob, catalog):
    promo(max_redemptions=1)
    fill_cart(alice, catalog)
    fill_cart(bob, catalog, options={}, addons=[], label="")
    cart_promo_apply(acting=alice, code="WELCOME10", as_of=AS_OF, at=AT)
    cart_promo_apply(acting=bob, code="WELCOME10", as_of=AS_OF, at=AT)
    place(alice)
    before = snapshot(bob.account)
    with pytest.raises(PromoRefused) as refused:
        place(bob)
    assert refused.value.reason == "used_up"
    assert snapshot(bob.account) == before


# --- The review rule --------------------------------------------------------------------------


def test_a_first_order_above_the_threshold_waits_for_review(alice, catalog, settings):
    settings.ORDERS_REVIEW_FIRST_ORDER_OVER = ["EUR:20.00", "BRL:100"]
    fill_cart(alice, catalog)
    held = place(alice)  # 24.08 > 20.00
    assert (held.status, held.review_reason) == ("fraud_review", "first order over 20.00 EUR")
    from sportello.orders.services import order_accept, order_mark_paid

    order_accept(order=held, as_of=AS_OF, by=None)
    order_mark_paid(order=held, as_of=AS_OF)
    fill_cart(alice, catalog)
    assert place(alice).status == "awaiting_payment"  # no longer the first order


def test_below_the_threshold_or_without_the_rule_an_order_awaits_payment(alice, catalog, settings):
    settings.ORDERS_REVIEW_FIRST_ORDER_OVER = ["EUR:24.08"]
    fill_cart(alice, catalog)
    assert place(alice).status == OrderStatus.AWAITING_PAYMENT


def test_a_malformed_rule_is_reported_at_start_up(settings):
    from sportello.orders.checks import review_rule_check

    settings.ORDERS_REVIEW_FIRST_ORDER_OVER = ["EUR500"]
    errors = review_rule_check()
    assert [error.id for error in errors] == ["orders.E001"]
    assert "EUR500" in errors[0].msg


def test_cart_add_outside_any_order_does_not_touch_other_members_carts(alice, catalog):
    from sportello.accounts.models import Role, User
    from sportello.accounts.services import membership_add

    colleague = membership_add(
        account=alice.account, user=User.objects.create_user("tom@example.org", "x" * 12), role=Role.TECHNICAL
    )
    fill_cart(alice, catalog)
    cart_add(
        acting=colleague,
        plan=catalog.pro,
        cycle=Cycle.ANNUAL,
        quantity=1,
        options={},
        addons=[],
        label="",
        as_of=AS_OF,
    )
    assert quote_of(alice).total_minor == 2408
    assert quote_of(colleague).total_minor == 30855  # (250.00 + 5.00) x 1.21
