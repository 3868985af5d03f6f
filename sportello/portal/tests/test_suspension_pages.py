"""A suspended service explained, on its page and on the dashboard: the unpaid invoice that
suspended it (amount, link, Pay button) or the staff's reason, the day the billing run will
terminate it, and how to bring it back.

The test catalog's hosting is suspended 7 days after an unpaid renewal falls due and
terminated 30 days after; Alice's monthly Basic (12.10 EUR) falls due on 1 February 2026.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.billing.models import Invoice, SettlementKind
from sportello.billing.run import billing_run
from sportello.billing.services import invoice_settle
from sportello.billing.tests.run_helpers import DUE, RUN_DAY, service_for
from sportello.catalog.models import Cycle
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.core.money import Money
from sportello.core.testing import Clock
from sportello.services.models import Service, ServiceStatus
from sportello.services.services import service_suspend

pytestmark = pytest.mark.django_db

SUSPENDED_ON = DUE + dt.timedelta(days=7)
TODAY = dt.date(2026, 2, 10)


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(dt.datetime.combine(TODAY, dt.time(10), tzinfo=dt.UTC))
    monkeypatch.setattr("sportello.portal.views.services.utc_now", clock)
    monkeypatch.setattr("sportello.portal.templatetags.portal_services.utc_now", clock)
    monkeypatch.setattr("sportello.portal.templatetags.portal_billing.utc_now", clock)


@pytest.fixture
def catalog(billing_setup: None) -> Catalog:
    return hosting_catalog(grace_days_before_suspension=7, days_before_termination=30)


@pytest.fixture
def unpaid(alice: Membership, catalog: Catalog) -> tuple[Service, Invoice]:
    """Alice's service, suspended by the run of 8 February for its unpaid renewal."""
    service = service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], label="www.alice.example")
    billing_run(as_of=RUN_DAY)
    billing_run(as_of=SUSPENDED_ON)
    service.refresh_from_db()
    assert service.status == ServiceStatus.SUSPENDED
    return service, Invoice.objects.get(account=alice.account)


def text(response: Any) -> str:
    assert response.status_code == 200
    return response.content.decode()


def suspension_of(body: str) -> str:
    start = body.index('id="suspension"')
    return body[start : body.index("</div>", start)]


def panel_of(body: str) -> str:
    start = body.index('id="suspended-services"')
    return body[start : body.index("</section>", start)]


def member(alice: Membership, role: str) -> User:
    user = User.objects.create_user(f"{role}@example.org", "x" * 12)
    membership_add(account=alice.account, user=user, role=role)
    return user


def test_the_service_page_says_which_invoice_suspended_it_and_when_it_ends(
    alice_client: Client, unpaid: tuple[Service, Invoice]
) -> None:
    service, invoice = unpaid
    number = invoice.display_number
    alert = suspension_of(text(alice_client.get(reverse("portal:service-detail", args=[service.pk]))))
    invoice_url = reverse("portal:invoice", args=[number])
    assert (
        f'Suspended on 8 Feb 2026 because invoice <a href="{invoice_url}">{number}</a> is unpaid: '
        "€12.10 to pay, due on 1 Feb 2026."
    ) in alert
    # 30 days after the due date, as the billing run counts it.
    assert "If what is overdue is not paid, the service and its data will be removed on 3 Mar 2026." in alert
    assert "To bring it back, pay every overdue invoice of the account" in alert
    assert f'<a class="button button-primary" href="{reverse("portal:pay")}?invoice={number}">Pay €12.10</a>' in alert
    assert "Contact support to find out why" not in alert


def test_the_pay_button_leads_to_the_pay_page_with_the_invoice_ticked(
    alice_client: Client, unpaid: tuple[Service, Invoice]
) -> None:
    _service, invoice = unpaid
    body = text(alice_client.get(reverse("portal:pay"), {"invoice": invoice.display_number}))
    assert f'value="{invoice.display_number}" id="invoice-1"' in body
    assert 'data-pay-currency="EUR" data-pay-exponent="2" checked>' in body


def test_the_dashboard_lists_suspended_services_with_why_and_how_to_pay(
    alice_client: Client, unpaid: tuple[Service, Invoice]
) -> None:
    service, invoice = unpaid
    panel = panel_of(text(alice_client.get(reverse("portal:dashboard"))))
    assert "<h2" in panel and "Suspended services</h2>" in panel
    assert f'<a href="{reverse("portal:service-detail", args=[service.pk])}">Linux Hosting Basic</a>' in panel
    assert "www.alice.example" in panel
    assert f">{invoice.display_number}</a> is unpaid: €12.10 to pay" in panel
    assert "removed on 3 Mar 2026" in panel
    assert f'href="{reverse("portal:pay")}?invoice={invoice.display_number}">Pay €12.10</a>' in panel


def test_a_staff_suspension_gives_the_staff_reason_and_says_to_contact_support(
    alice: Membership, alice_client: Client, catalog: Catalog
) -> None:
    service = service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])
    service_suspend(service=service, reason="Spam sent from this site.")
    alert = suspension_of(text(alice_client.get(reverse("portal:service-detail", args=[service.pk]))))
    assert "Suspended by our staff. The reason: Spam sent from this site." in alert
    assert f'To bring it back, <a href="{reverse("portal:support-new")}">contact support</a>.' in alert
    assert "removed on" not in alert and "Pay " not in alert
    panel = panel_of(text(alice_client.get(reverse("portal:dashboard"))))
    assert "Suspended by our staff. The reason: Spam sent from this site." in panel


def test_a_member_without_billing_sees_why_but_no_amounts(
    client: Client, alice: Membership, unpaid: tuple[Service, Invoice]
) -> None:
    service, invoice = unpaid
    client.force_login(member(alice, Role.TECHNICAL))
    alert = suspension_of(text(client.get(reverse("portal:service-detail", args=[service.pk]))))
    assert "Suspended on 8 Feb 2026 because an invoice for it is unpaid." in alert
    assert "removed on 3 Mar 2026" in alert
    assert "A person with access to billing on this account can pay it." in alert
    assert "€" not in alert and invoice.display_number not in alert and reverse("portal:pay") not in alert


def test_a_read_only_member_gets_no_pay_button(
    client: Client, alice: Membership, unpaid: tuple[Service, Invoice]
) -> None:
    service, invoice = unpaid
    client.force_login(member(alice, Role.READ_ONLY))
    alert = suspension_of(text(client.get(reverse("portal:service-detail", args=[service.pk]))))
    assert f">{invoice.display_number}</a> is unpaid: €12.10 to pay" in alert
    assert reverse("portal:pay") not in alert
    assert reverse("portal:pay") not in text(client.get(reverse("portal:dashboard")))


def test_another_account_sees_nothing_of_it(client: Client, bob: Membership, unpaid: tuple[Service, Invoice]) -> None:
    service, invoice = unpaid
    client.force_login(bob.user)
    assert client.get(reverse("portal:service-detail", args=[service.pk])).status_code == 404
    body = text(client.get(reverse("portal:dashboard")))
    assert 'id="suspended-services"' not in body and invoice.display_number not in body


def test_once_paid_the_service_works_and_the_panel_is_gone(
    alice_client: Client, unpaid: tuple[Service, Invoice]
) -> None:
    service, invoice = unpaid
    invoice_settle(
        invoice=invoice, amount=Money("12.10", "EUR"), kind=SettlementKind.PAYMENT, reference="p1", settled_on=TODAY
    )
    body = text(alice_client.get(reverse("portal:dashboard")))
    assert 'id="suspended-services"' not in body
    page = text(alice_client.get(reverse("portal:service-detail", args=[service.pk])))
    assert 'id="suspension"' not in page
