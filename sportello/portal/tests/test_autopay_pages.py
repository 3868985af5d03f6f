# ruff: noqa: F811  (fixtures imported from the payments tests are redefined as parameters)
"""Auto-pay in the client area: the switch for one service on its page (billing right
needed, checked again on submit) and the prompt to replace a failing card."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.billing.tests.run_helpers import service_for
from sportello.catalog.models import Cycle
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.conftest import PASSWORD
from sportello.payments.models import SavedPaymentMethod, ServicePaymentPreference
from sportello.payments.services import payment_preference_set
from sportello.payments.tests.conftest import _testcard_on, billing_setup, seller, tax_rates  # noqa: F401
from sportello.services.models import Service

pytestmark = pytest.mark.django_db

ON = "On: this service's invoices are charged to your default card when they are issued."
OFF = "Off: this service's invoices are not charged to your card; pay them yourself."
DECLINED = "Your card Visa •••• 0002 was declined the last time we charged it."


@pytest.fixture
def catalog(billing_setup: None) -> Catalog:
    return hosting_catalog()


@pytest.fixture
def service(alice: Membership, catalog: Catalog) -> Service:
    payment_preference_set(account=alice.account, apply_credit=True, autopay=True, by=None)
    return service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])


def colleague(alice: Membership, client: Client, role: str) -> Client:
    user = User.objects.create_user(f"{role}@example.org", PASSWORD, full_name=role.title())
    membership_add(account=alice.account, user=user, role=role)
    client.force_login(user)
    return client


def service_page(client: Client, service: Service) -> str:
    response = client.get(reverse("portal:service-detail", args=[service.pk]))
    assert response.status_code == 200
    return response.content.decode()


def card(alice: Membership, *, failure_code: str = "", exp_year: int = 2039, last4: str = "0002") -> SavedPaymentMethod:
    return SavedPaymentMethod.objects.create(
        account=alice.account,
        gateway="testcard",
        token=f"card_{last4}",
        brand="Visa",
        last4=last4,
        exp_month=12,
        exp_year=exp_year,
        is_default=True,
        failure_code=failure_code,
    )


def test_the_service_page_turns_auto_pay_off_and_on_for_one_service(alice_client: Client, service: Service) -> None:
    page = service_page(alice_client, service)
    assert ON in page and "Turn automatic payment off for this service" in page
    url = reverse("portal:service-autopay", args=[service.pk])
    response = alice_client.post(url, {"enabled": "off"}, follow=True)
    assert response.redirect_chain == [(reverse("portal:service-detail", args=[service.pk]), 302)]
    text = response.content.decode()
    assert "Automatic payment is off for this service: its invoices are not charged to your card." in text
    assert OFF in text and "Turn automatic payment on for this service" in text
    assert ServicePaymentPreference.objects.get(service=service).autopay is False
    alice_client.post(url, {"enabled": "on"})
    assert ServicePaymentPreference.objects.get(service=service).autopay is True


def test_with_account_auto_pay_off_the_service_page_points_to_payment_methods(
    alice: Membership, alice_client: Client, service: Service
) -> None:
    payment_preference_set(account=alice.account, apply_credit=True, autopay=False, by=None)
    page = service_page(alice_client, service)
    assert "Automatic payment is off for your account" in page
    assert f'href="{reverse("portal:payment-methods")}"' in page and ON not in page


@pytest.mark.parametrize("role", [Role.TECHNICAL, Role.READ_ONLY])
def test_without_the_right_to_change_billing_the_switch_is_not_shown_nor_accepted(
    alice: Membership, client: Client, service: Service, role: str
) -> None:
    member = colleague(alice, client, role)
    page = service_page(member, service)
    assert "Turn automatic payment off" not in page
    # Technical members do not see billing at all; read-only ones see it but change nothing.
    assert (ON in page) is (role == Role.READ_ONLY)
    response = member.post(reverse("portal:service-autopay", args=[service.pk]), {"enabled": "off"})
    assert response.status_code == 404
    assert ServicePaymentPreference.objects.count() == 0


def test_another_accounts_service_is_not_found_and_bad_input_changes_nothing(
    alice_client: Client, bob: Membership, client: Client, service: Service
) -> None:
    response = alice_client.post(reverse("portal:service-autopay", args=[service.pk]), {"enabled": "sometimes"})
    assert response.status_code == 302
    page = alice_client.get(response["Location"]).content.decode()
    assert "Choose whether this service is paid automatically." in page
    client.force_login(bob.user)
    assert client.post(reverse("portal:service-autopay", args=[service.pk]), {"enabled": "off"}).status_code == 404
    assert ServicePaymentPreference.objects.count() == 0


def test_a_declined_card_is_flagged_on_the_dashboard_and_the_payment_methods_page(
    alice: Membership, alice_client: Client, bob: Membership, client: Client, billing_setup: None
) -> None:
    card(alice, failure_code="card_declined")
    dashboard = alice_client.get(reverse("portal:dashboard")).content.decode()
    assert DECLINED in dashboard
    assert "Replace it with another card so that automatic payment keeps working." in dashboard
    assert f'<a href="{reverse("portal:payment-methods")}">Replace the card</a>' in dashboard
    methods = alice_client.get(reverse("portal:payment-methods")).content.decode()
    assert DECLINED in methods and "Replace the card" not in methods
    client.force_login(bob.user)
    assert DECLINED not in client.get(reverse("portal:dashboard")).content.decode()


def test_an_expired_card_is_flagged_and_a_working_one_is_not(
    alice: Membership, alice_client: Client, client: Client, billing_setup: None
) -> None:
    working = card(alice, last4="4242")
    assert "Replace the card" not in alice_client.get(reverse("portal:dashboard")).content.decode()
    working.is_default = False
    working.save()
    card(alice, exp_year=2020, last4="0069")
    dashboard = alice_client.get(reverse("portal:dashboard")).content.decode()
    assert "Your card Visa •••• 0069 has expired." in dashboard and "4242" not in dashboard
    # A member without the billing right is not told about cards.
    member = colleague(alice, client, Role.TECHNICAL)
    assert "has expired" not in member.get(reverse("portal:dashboard")).content.decode()
