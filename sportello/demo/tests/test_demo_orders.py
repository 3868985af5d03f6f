"""The demo's orders and promo code: one order in each state a customer meets first."""

from __future__ import annotations

import datetime as dt

import pytest

from sportello.orders.models import Order, PromoCode, PromoRedemption
from sportello.services.models import Service

AS_OF = dt.date(2026, 1, 20)


@pytest.mark.django_db
def test_the_demo_has_an_order_awaiting_payment_an_active_one_and_a_cancelled_one(settings):
    from sportello.demo.data import demo_load

    settings.SPORTELLO_DEMO = True
    demo_load(as_of=AS_OF)
    rows = sorted(Order.objects.values_list("account__name", "status", "type", "currency", "total_minor"))
    assert rows == [
        ("Bruno Tecnologia Ltda.", "cancelled", "new", "BRL", 2990),
        # Basic 5.99 + 2 mailboxes 2.00 + backups 2.00, less 10 % = 8.99; + 21 % IVA 1.89 = 10.88
        ("Nubeclara Servicios Digitales S.L.", "awaiting_payment", "new", "EUR", 1088),
        # Starter quarterly 42.00, reverse charge for an Italian VAT-registered business.
        ("Studio Ferri Consulenza S.r.l.", "active", "new", "EUR", 4200),
    ]
    statuses = {s.label: s.status for s in Service.objects.filter(order_lines__isnull=False).distinct()}
    assert statuses == {
        "nuevo.nubeclara.example.com": "pending",
        "shop.studioferri.example.com": "active",
        "extra.brunotec.example.com": "cancelled",
    }
    assert PromoCode.objects.get().code == "WELCOME10"
    assert PromoRedemption.objects.get().order.account.name == "Nubeclara Servicios Digitales S.L."
