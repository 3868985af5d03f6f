"""Fixtures of the orders tests: the test catalog, a seller in Spain with its tax rates,
alice (Spain, EUR, 21 % VAT) and bob (Brazil, BRL, outside EU VAT)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from sportello.accounts.models import Membership, User
from sportello.billing.models import Seller, TaxCategory, TaxRate
from sportello.catalog.models import Cycle
from sportello.catalog.services import price_create
from sportello.catalog.tests.factories import SINCE, Catalog, hosting_catalog
from sportello.orders.models import Order
from sportello.orders.services import cart_add

AS_OF = dt.date(2026, 1, 20)
AT = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)


def orders_catalog() -> Catalog:
    catalog = hosting_catalog()
    # Bob pays in BRL: Basic is sold monthly in BRL by the factory; Pro too, here.
    price_create(plan=catalog.pro, currency="BRL", cycle=Cycle.MONTHLY, amount_minor=12000, valid_from=SINCE)
    return catalog


def seller_in_spain() -> None:
    """The seller in Spain with its 21 % IVA (Bob, in Brazil, is outside EU VAT)."""
    Seller.objects.update_or_create(pk=1, defaults={"name": "Sportello Hosting S.L.", "country": "ES"})
    TaxRate.objects.create(
        country="ES",
        tax_class="standard",
        name="IVA 21%",
        rate=Decimal(21),
        category=TaxCategory.STANDARD,
        valid_from=dt.date(2000, 1, 1),
    )


@pytest.fixture
def catalog(db: None) -> Catalog:
    return orders_catalog()


@pytest.fixture(autouse=True)
def taxes(db: None) -> None:
    seller_in_spain()


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("ops@provider.example", "x" * 12, is_staff=True)


def fill_cart(membership: Membership, catalog: Catalog, **choice: Any) -> None:
    """Basic monthly with 20 GB of extra storage and daily backups, unless told."""
    values: dict[str, Any] = {
        "plan": catalog.basic,
        "cycle": Cycle.MONTHLY,
        "quantity": 1,
        "options": {"storage_gb": 20},
        "addons": ["backups"],
        "label": "www.alice.example",
    }
    values.update(choice)
    cart_add(acting=membership, as_of=AS_OF, **values)


def snapshot(account: Any) -> dict[str, Any]:
    """Everything the orders domain can change for an account."""
    from sportello.orders.models import CartItem, OrderEvent, OrderLine, PromoRedemption
    from sportello.services.models import Service, ServiceEvent

    return {
        "orders": list(Order.objects.filter(account=account).values()),
        "lines": list(OrderLine.objects.filter(order__account=account).values()),
        "events": list(OrderEvent.objects.filter(account=account).values_list("pk", flat=True)),
        "cart": list(CartItem.objects.filter(cart__account=account).values()),
        "promo_uses": PromoRedemption.objects.filter(account=account).count(),
        "services": list(Service.objects.filter(account=account).values()),
        "service_events": list(ServiceEvent.objects.filter(account=account).values_list("pk", flat=True)),
    }
