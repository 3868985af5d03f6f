"""The service page's changes that cost something become orders; those that cost nothing
(or give a credit) are made at once, the credit recorded for the payments issue."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.catalog.models import Product, ProductCategory, ProductKind
from sportello.catalog.services import plan_create, price_create
from sportello.catalog.tests.factories import SINCE
from sportello.orders.models import Order
from sportello.orders.services import order_mark_paid
from sportello.portal.tests.test_services_pages import (  # noqa: F401  (fixtures)
    TODAY,
    catalog,
    client_of,
    clock,
    detail,
    hosting,
    messages_of,
    price,
    seller_vat,
    state_of,
    text,
    url,
)
from sportello.services.models import Service, ServiceEvent
from sportello.services.services import service_link_domain
from sportello.services.tests.conftest import service_in

pytestmark = pytest.mark.django_db


def extra(service: Service) -> str:
    return reverse("portal:service-extra", args=[service.pk])


def test_increase_space_previews_then_places_an_add_on_order(alice, catalog, client_of, clock, seller_vat):  # noqa: F811
    service = hosting(alice.account, catalog)  # Basic monthly, 1 Jan - 1 Feb, no options
    client = client_of(alice)
    assert "Increase space" in text(client.get(detail(service)))
    preview = client.get(extra(service), {"option": "storage_gb", "quantity": "30"})
    # 30 GB x 0.045 = 1.35 a month; 12 of 31 days left: 0.52
    assert "To pay now, before tax €0.52" in text(preview)
    before = state_of(alice.account)
    response = client.post(extra(service), {"option": "storage_gb", "quantity": "30", "shown_minor": "52"}, follow=True)
    order = Order.objects.get(account=alice.account)
    assert (order.type, order.subtotal_minor, order.total_minor) == ("addon", 52, 63)
    assert messages_of(response)[0].startswith(f"Order {order.number} for €0.63 is placed")
    assert state_of(alice.account) == before
    order_mark_paid(order=order, as_of=TODAY)
    assert Service.objects.get(pk=service.pk).options["storage_gb"]["quantity"] == 30


def test_less_space_is_made_at_once_and_the_credit_recorded(alice, catalog, client_of, clock):  # noqa: F811
    option_price = catalog.storage_prices[("EUR", "monthly")]
    service = hosting(
        alice.account,
        catalog,
        options={"storage_gb": {"quantity": 100, "unit_price": "0.045000", "price_version": option_price.pk}},
    )
    response = client_of(alice).post(
        extra(service), {"option": "storage_gb", "quantity": "20", "shown_minor": "-139"}, follow=True
    )
    # 80 GB fewer x 0.045 = 3.60 a month; 12 of 31 days: 1.39 back.
    assert messages_of(response) == [
        "Extra storage is now 20. €1.39 for the rest of the current period will be credited to your account."
    ]
    event = ServiceEvent.objects.filter(service=service).latest("id")
    assert (event.transition, event.data["credit_minor"]) == ("change_options", 139)
    assert not Order.objects.exists()


def test_a_downgrade_is_made_at_once_with_its_credit_on_the_event(alice, catalog, client_of, clock):  # noqa: F811
    service = hosting(alice.account, catalog, price=price(catalog, "pro"))
    client_of(alice).post(url("service-plan", service), {"plan": catalog.basic.pk, "shown_minor": -581})
    event = ServiceEvent.objects.filter(service=service).latest("id")
    assert (event.transition, event.data["proration_minor"], event.data["credit_minor"]) == ("change_plan", -581, 581)
    assert not Order.objects.exists()


def test_an_add_on_is_an_order_with_its_setup_fee(alice, catalog, client_of, clock, seller_vat):  # noqa: F811
    service = hosting(alice.account, catalog)
    client = client_of(alice)
    assert "€2.16" in text(client.get(extra(service), {"addon": "backups"}))  # 1.16 + 1.00 setup
    client.post(extra(service), {"addon": "backups", "shown_minor": "216"})
    order = Order.objects.get()
    assert (order.type, order.setup_minor, order.total_minor) == ("addon", 100, 261)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"option": "storage_gb", "quantity": "-1"}, "Choose a whole quantity from 0 to 100,000."),
        ({"option": "storage_gb", "quantity": "5000"}, "That quantity is not available for this option."),
        ({"option": "ram", "quantity": "5"}, "That option or add-on is not available for this service."),
        ({"addon": "firewall"}, "That option or add-on is not available for this service."),
        ({"option": "storage_gb", "quantity": "0"}, "That is the quantity the service has already."),
    ],
)
def test_bad_extras_are_refused_and_change_nothing(alice, catalog, client_of, clock, data, message):  # noqa: F811
    service = hosting(alice.account, catalog)
    before = state_of(alice.account)
    response = client_of(alice).post(extra(service), {**data, "shown_minor": "1"}, follow=True)
    assert messages_of(response) == [message]
    assert state_of(alice.account) == before


def test_bob_cannot_touch_alices_extras(alice, bob, catalog, client_of, clock):  # noqa: F811
    service = hosting(alice.account, catalog)
    client = client_of(bob)
    assert client.get(extra(service), {"addon": "backups"}).status_code == 404
    assert client.post(extra(service), {"addon": "backups", "shown_minor": "216"}).status_code == 404


def test_cancelling_with_the_box_ticked_stops_the_linked_domains_renewal(alice, catalog, client_of, clock):  # noqa: F811
    category = ProductCategory.objects.create(name="Domains", slug="domains")
    product = Product.objects.create(category=category, name="Domain", slug="domain", kind=ProductKind.DOMAIN)
    com = price_create(
        plan=plan_create(product=product, name=".com", code="com"),
        currency="EUR",
        cycle="annual",
        amount_minor=1200,
        valid_from=SINCE,
    )
    domain = service_in(alice.account, com, "active", label="alice.example")
    service = hosting(alice.account, catalog)
    service_link_domain(service=service, domain=domain)
    client = client_of(alice)
    assert "Do not renew the linked domain either: Domain alice.example" in text(
        client.get(url("service-cancel", service))
    )
    client.post(
        url("service-cancel", service),
        {"when": "end_of_period", "reason": "moving", "stop_linked_renewal": "on"},
    )
    domain.refresh_from_db()
    assert domain.auto_renew is False
    event = ServiceEvent.objects.filter(service=domain).latest("id")
    assert (event.transition, event.data["cancelled_service"], event.reason) == (
        "set_auto_renew",
        service.pk,
        "linked service cancelled",
    )


def test_without_the_box_the_linked_domain_keeps_renewing(alice, catalog, client_of, clock):  # noqa: F811
    category = ProductCategory.objects.create(name="Domains", slug="domains")
    product = Product.objects.create(category=category, name="Domain", slug="domain", kind=ProductKind.DOMAIN)
    com = price_create(
        plan=plan_create(product=product, name=".com", code="com"),
        currency="EUR",
        cycle="annual",
        amount_minor=1200,
        valid_from=SINCE,
    )
    domain = service_in(alice.account, com, "active", label="alice.example")
    service = hosting(alice.account, catalog)
    service_link_domain(service=service, domain=domain)
    client_of(alice).post(url("service-cancel", service), {"when": "end_of_period", "reason": "moving"})
    assert Service.objects.get(pk=domain.pk).auto_renew is True
    assert Service.objects.get(pk=service.pk).cancel_at_period_end is True


def test_a_hosting_cannot_link_another_hosting_or_another_accounts_domain(alice, bob, catalog):  # noqa: F811
    from sportello.services.errors import InvalidServiceData

    service = hosting(alice.account, catalog)
    other = hosting(alice.account, catalog, label="other")
    with pytest.raises(InvalidServiceData):
        service_link_domain(service=service, domain=other)
    with pytest.raises(InvalidServiceData):
        service_link_domain(service=service, domain=hosting(bob.account, catalog, price=price(catalog, currency="BRL")))
    assert Service.objects.get(pk=service.pk).linked_service_id is None
