"""Races on PostgreSQL: orders redeeming the last use of a promo code, numbers taken at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from sportello.accounts.models import Role, User
from sportello.accounts.services import membership_add
from sportello.conftest import make_member
from sportello.orders.errors import OrdersError
from sportello.orders.models import Cart, Order, PromoCode, PromoKind, PromoRedemption
from sportello.orders.services import cart_promo_apply, cart_quote, order_place

from .conftest import AS_OF, AT, fill_cart


def race(*moves: Callable[[], object]) -> list[str]:
    barrier = threading.Barrier(len(moves))
    outcomes: list[str] = []

    def run(move: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            move()
            outcomes.append("done")
        except OrdersError as refused:
            outcomes.append(getattr(refused, "reason", type(refused).__name__))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(move,)) for move in moves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def ready_to_order(membership, catalog, code: str = ""):
    fill_cart(membership, catalog)
    if code:
        cart_promo_apply(acting=membership, code=code, as_of=AS_OF, at=AT)
    cart = Cart.objects.get(account=membership.account, user=membership.user)
    total = cart_quote(cart=cart, account=membership.account, as_of=AS_OF).total_minor
    return lambda: order_place(acting=membership, as_of=AS_OF, at=AT, shown_total_minor=total, shown_currency="EUR")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_accounts_racing_for_the_last_use_of_a_code_redeem_it_once(on_postgresql, alice, catalog, round_):
    PromoCode.objects.create(code="LAST", kind=PromoKind.PERCENT, percent=Decimal(10), max_redemptions=1)
    carol = make_member("carol@example.org", "Carol S.L.")
    outcomes = race(ready_to_order(alice, catalog, "LAST"), ready_to_order(carol, catalog, "LAST"))
    assert sorted(outcomes) == ["done", "used_up"]
    assert PromoRedemption.objects.count() == 1
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_members_of_one_account_racing_for_a_per_account_limit_redeem_it_once(on_postgresql, alice, catalog):
    PromoCode.objects.create(code="ONCE", kind=PromoKind.PERCENT, percent=Decimal(10), max_per_account=1)
    moves = [ready_to_order(alice, catalog, "ONCE")]
    for n in range(3):
        user = User.objects.create_user(f"tech{n}@example.org", "x" * 12)
        moves.append(
            ready_to_order(membership_add(account=alice.account, user=user, role=Role.TECHNICAL), catalog, "ONCE")
        )
    outcomes = race(*moves)
    assert sorted(outcomes) == ["done"] + ["used_up_for_account"] * 3
    assert PromoRedemption.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_orders_placed_at_once_take_distinct_consecutive_numbers(on_postgresql, alice, catalog):
    accounts = [make_member(f"buyer{n}@example.org", f"Buyer {n} S.L.") for n in range(4)]
    outcomes = race(*[ready_to_order(member, catalog) for member in accounts])
    assert outcomes == ["done"] * 4
    assert sorted(Order.objects.values_list("number", flat=True)) == [f"O-2026-00000{n}" for n in range(1, 5)]
