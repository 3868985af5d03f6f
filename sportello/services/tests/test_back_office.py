"""The back office moves services only through the transitions, with a reason."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from sportello.accounts.models import User
from sportello.catalog.models import Cycle, PriceVersion
from sportello.core.models import AuditEvent
from sportello.services.models import ServiceEvent, ServiceStatus

from .conftest import service_in
from .test_transitions import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root@provider.example", "ops-staff-passphrase-1"))
    return client


def act(client, action, services, reason):
    return client.post(
        reverse("admin:services_service_changelist"),
        {"action": action, "_selected_action": [s.pk for s in services], "reason": reason, "index": 0},
        follow=True,
    )


def test_every_page_opens(admin_client, alice, catalog):
    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    pages = [
        reverse(f"admin:{label}_{model}_changelist")
        for label, model in [
            ("catalog", "productcategory"),
            ("catalog", "product"),
            ("catalog", "plan"),
            ("catalog", "usagemetric"),
            ("catalog", "configurableoption"),
            ("catalog", "addon"),
            ("catalog", "priceversion"),
            ("catalog", "optionpriceversion"),
            ("catalog", "addonpriceversion"),
            ("services", "service"),
            ("services", "serviceevent"),
            ("services", "usagerecord"),
            ("services", "provisioningtask"),
        ]
    ] + [
        reverse("admin:catalog_product_change", args=[catalog.product.pk]),
        reverse("admin:catalog_plan_change", args=[catalog.basic.pk]),
        reverse("admin:catalog_priceversion_add"),
        reverse("admin:services_service_change", args=[service.pk]),
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page


def test_staff_add_a_price_version_through_the_service(admin_client, catalog):
    form = {
        "plan": catalog.basic.pk,
        "currency": "eur",
        "cycle": Cycle.MONTHLY,
        "amount_minor": 1200,
        "setup_fee_minor": 0,
        "valid_from_0": "2026-03-01",
        "valid_from_1": "00:00:00",
    }
    response = admin_client.post(reverse("admin:catalog_priceversion_add"), form)
    assert response.status_code == 302
    price = PriceVersion.objects.get(amount_minor=1200)
    assert price.currency == "EUR"
    assert AuditEvent.objects.filter(action="catalog.price_created", target=f"catalog.priceversion:{price.pk}").exists()
    # The same start again is refused, and shown.
    count = PriceVersion.objects.count()
    response = admin_client.post(reverse("admin:catalog_priceversion_add"), form, follow=True)
    assert "Not saved" in response.content.decode()
    assert PriceVersion.objects.count() == count


def test_staff_suspend_with_a_reason(admin_client, alice, catalog):
    active = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    terminated = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.TERMINATED)
    before = snapshot(terminated)
    response = act(admin_client, "suspend", [active, terminated], "abuse report #12")
    text = response.content.decode()
    assert "1 service changed." in text
    assert "is not allowed" in text
    active.refresh_from_db()
    assert (active.status, active.suspended_reason) == ("suspended", "abuse report #12")
    event = ServiceEvent.objects.get(service=active)
    assert (event.reason, event.actor.email) == ("abuse report #12", "root@provider.example")
    assert snapshot(terminated) == before


def test_a_manual_transition_needs_a_reason_and_the_permission(client, admin_client, alice, catalog):
    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    before = snapshot(service)
    response = act(admin_client, "terminate", [service], "  ")
    assert "Type the reason" in response.content.decode()
    viewer = User.objects.create_user("viewer@provider.example", "x" * 12, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_service"))
    client.force_login(viewer)
    act(client, "terminate", [service], "I should not")
    assert snapshot(service) == before
    assert client.get(reverse("admin:services_service_changelist")).status_code == 200
