"""My services in the client area: the list, the service page and every action on it.

Time is set by hand (the views' clock), never read from the machine: the test catalog's
web hosting is renewed 14 days ahead (invoice lead days) and reactivable for 60 days.
Every refused path checks that nothing changed: the account's services, their events and
provisioning tasks are compared before and after.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Account, Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.catalog.models import Cycle, PriceVersion
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.core.testing import Clock
from sportello.orders.models import Order
from sportello.orders.services import order_mark_paid
from sportello.services.models import ProvisioningTask, Service, ServiceEvent, ServiceStatus
from sportello.services.services import service_cancel, usage_record
from sportello.services.tests.conftest import service_in

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 1, 20)


# --- Fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(dt.datetime.combine(TODAY, dt.time(10), tzinfo=dt.UTC))
    monkeypatch.setattr("sportello.portal.views.services.utc_now", clock)
    monkeypatch.setattr("sportello.portal.templatetags.portal_services.utc_now", clock)
    return clock


def set_today(clock: Clock, day: dt.date) -> None:
    clock.now = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)


@pytest.fixture
def catalog(db: None) -> Catalog:
    return hosting_catalog()


@pytest.fixture
def seller_vat(db: None) -> None:
    """A seller in Spain charging 21 % IVA, for the orders that Renew, Reactivate and Upgrade place."""
    from sportello.billing.models import Seller, TaxRate

    Seller.objects.update_or_create(pk=1, defaults={"name": "Sportello Hosting S.L.", "country": "ES"})
    TaxRate.objects.create(country="ES", name="IVA 21%", rate=Decimal(21), valid_from=dt.date(2000, 1, 1))


def price(catalog: Catalog, plan: str = "basic", cycle: str = Cycle.MONTHLY, currency: str = "EUR") -> PriceVersion:
    return catalog.prices[(plan, currency, cycle)]


def hosting(account: Account, catalog: Catalog, status: str = ServiceStatus.ACTIVE, **fields: Any) -> Service:
    """Linux Hosting Basic, monthly, from 1 January 2026 (period 1 Jan - 1 Feb) unless told."""
    fields.setdefault("label", "www.alice.example")
    plan_price = fields.pop("price", None) or price(catalog)
    return service_in(account, plan_price, status, **fields)


@pytest.fixture
def client_of(client: Client):
    def login(membership: Membership) -> Client:
        client.force_login(membership.user)
        return client

    return login


def member(account: Account, email: str, role: str) -> Membership:
    user = User.objects.create_user(email, "x" * 12, full_name=email.split("@")[0].title())
    return membership_add(account=account, user=user, role=role)


def main(response: Any) -> str:
    """The page's <main>, whitespace collapsed (so texts split over lines still match)."""
    body = response.content.decode()
    body = body[body.index('<main id="main"') : body.index("</main>")]
    return re.sub(r"\s+", " ", body)


def text(response: Any) -> str:
    """What <main> says, without its tags."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main(response))).replace("&amp;", "&")


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def state_of(account: Account) -> dict[str, Any]:
    """Everything these pages can change in an account's services, row by row."""
    services = Service.objects.filter(account=account).order_by("pk")
    return {
        "services": list(services.values()),
        "events": list(ServiceEvent.objects.filter(account=account).values_list("pk", flat=True)),
        "tasks": ProvisioningTask.objects.filter(service__account=account).count(),
    }


def detail(service: Service) -> str:
    return reverse("portal:service-detail", args=[service.pk])


def url(name: str, service: Service) -> str:
    return reverse(f"portal:{name}", args=[service.pk])


# The controls of each action, by the address they use.
ACTION_URLS = {
    "renew": "service-renew",
    "auto_renew": "service-auto-renew",
    "cycle": "service-cycle",
    "cancel": "service-cancel",
    "withdraw": "service-cancel-withdraw",
    "reactivate": "service-reactivate",
    "plan": "service-plan",
}


def actions_shown(response: Any, service: Service) -> set[str]:
    body = main(response)
    return {name for name, url_name in ACTION_URLS.items() if f'"{url(url_name, service)}"' in body}


# --- The list ---------------------------------------------------------------------------------


def test_the_list_shows_each_service_with_status_period_due_date_price_and_renewal(
    alice, bob, catalog, client_of, clock
):
    active = hosting(alice.account, catalog, label="www.alice.example")
    expiring = hosting(
        alice.account, catalog, price=price(catalog, "pro", Cycle.ANNUAL), auto_renew=False, label="shop.alice.example"
    )
    hosting(bob.account, catalog, price=price(catalog, currency="BRL"), label="bob.example")
    response = client_of(alice).get(reverse("portal:services"))
    assert response.status_code == 200
    rows = [text_of_row(row) for row in re.findall(r"<tr>(.*?)</tr>", main(response).split("<tbody>")[1])]
    assert rows == [
        "Linux Hosting Pro shop.alice.example Active 1 Jan 2026 – 31 Dec 2026 Expires 1 Jan 2027 €250.00 Annual Off",
        "Linux Hosting Basic www.alice.example Active 1 Jan 2026 – 31 Jan 2026 Next due 1 Feb 2026 €10.00 Monthly On",
    ]
    body = main(response)
    assert f'href="{detail(active)}"' in body
    assert f'href="{detail(expiring)}"' in body
    assert "bob.example" not in body
    assert "<caption" in body


def text_of_row(row: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()


@pytest.mark.parametrize(
    ("status", "labels"),
    [
        ("", ["active.example", "suspended.example", "expired.example", "cancelled.example"]),
        ("active", ["active.example"]),
        ("suspended", ["suspended.example"]),
        ("expired", ["expired.example"]),
        ("cancelled", ["cancelled.example"]),
        ("no-such-status", ["active.example", "suspended.example", "expired.example", "cancelled.example"]),
    ],
)
def test_the_list_filters_by_status(alice, catalog, client_of, clock, status, labels):
    for label in ["cancelled.example", "expired.example", "suspended.example", "active.example"]:
        hosting(alice.account, catalog, status=label.split(".")[0], label=label)
    response = client_of(alice).get(reverse("portal:services"), {"status": status})
    assert response.status_code == 200
    assert re.findall(r'<span class="muted">([a-z.]+)</span>', main(response)) == labels


def test_the_list_says_when_there_is_nothing_to_show(alice, catalog, client_of, clock):
    client = client_of(alice)
    empty = text(client.get(reverse("portal:services")))
    assert "No services yet" in empty
    assert "Status" not in empty  # no filter without services
    hosting(alice.account, catalog)
    filtered = text(client.get(reverse("portal:services"), {"status": "suspended"}))
    assert "No services with status “Suspended”" in filtered
    assert "Show all services" in filtered


# --- The expiry in red, from 90 days before ---------------------------------------------------


@pytest.mark.parametrize(
    ("today", "red", "marker"),
    [
        (dt.date(2026, 1, 1), True, "Expires in 90 days"),  # 1 April is 90 days away
        (dt.date(2025, 12, 31), False, None),  # 91 days away
        (dt.date(2026, 3, 31), True, "Expires in 1 day"),
        (dt.date(2026, 4, 1), True, "Ends today"),
    ],
)
def test_an_expiry_is_red_with_a_text_marker_from_90_days_before(alice, catalog, client_of, clock, today, red, marker):
    service = hosting(
        alice.account, catalog, price=price(catalog, cycle=Cycle.QUARTERLY), auto_renew=False
    )  # 1 Jan - 1 Apr
    set_today(clock, today)
    client = client_of(alice)
    for page in (reverse("portal:services"), detail(service)):
        body = main(client.get(page))
        assert "Expires 1 Apr 2026" in text_of_row(body)
        assert ("due-warning" in body) is red
        if marker:
            assert f'<strong class="due-marker"><span aria-hidden="true">⚠ </span>{marker}</strong>' in body
        else:
            assert "due-marker" not in body


def test_a_renewing_service_shows_its_next_due_date_without_red(alice, catalog, client_of, clock):
    hosting(alice.account, catalog)  # auto-renew on, due 1 Feb: 12 days away
    body = main(client_of(alice).get(reverse("portal:services")))
    assert "Next due 1 Feb 2026" in text_of_row(body)
    assert "due-warning" not in body


def test_a_cancellation_at_period_end_is_red_too(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog)
    service_cancel(service=service, reason="moving", immediately=False)
    body = main(client_of(alice).get(reverse("portal:services")))
    assert "Ends 1 Feb 2026 (cancellation requested) ⚠ Cancelled in 12 days" in text_of_row(body)
    assert "due-warning" in body


# --- Usage bars -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "shown", "red"),
    [
        ("8.5", "8.5 of 10 GB (85 %)", True),
        ("8", "8 of 10 GB (80 %)", False),
        ("8.01", "8.01 of 10 GB (80.1 %)", True),
        ("12", "12 of 10 GB (120 %)", True),
    ],
)
def test_usage_is_a_bar_with_figures_red_above_80_percent(alice, catalog, client_of, clock, stored, shown, red):
    service = hosting(alice.account, catalog)
    usage_record(
        service=service,
        metric="storage_gb",
        quantity=Decimal(stored),
        at=dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC),
        idempotency_key="s1",
    )
    body = main(client_of(alice).get(detail(service)))
    storage, traffic = re.findall(r'<li class="quota[^"]*">.*?</li>', body)
    assert shown in text_of_row(storage)
    assert f'<meter class="quota-bar" min="0" max="10" value="{Decimal(stored):.6f}"' in storage
    assert ('<li class="quota quota-warning">' in storage) is red
    assert ("⚠" in storage) is red
    # The traffic quota (nothing used) is never red.
    assert text_of_row(traffic) == "Traffic 0 of 100 GB (0 %)"
    assert '<li class="quota">' in traffic


def test_the_usage_bar_carries_the_figures_for_the_browser(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog)
    usage_record(
        service=service,
        metric="storage_gb",
        quantity=Decimal("8.5"),
        at=dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC),
        idempotency_key="s1",
    )
    alice.user.language = "it"
    alice.user.save()
    body = main(client_of(alice).get(detail(service), headers={"accept-language": "it"}))
    # The attributes stay machine-readable in every language; the text follows the locale.
    assert '<meter class="quota-bar" min="0" max="10" value="8.500000"' in body
    assert "8,5" in text_of_row(body)


# --- Which actions each status shows ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fields", "today", "expected"),
    [
        ("pending", {}, TODAY, {"auto_renew"}),
        ("active", {}, TODAY, {"auto_renew", "cycle", "cancel", "plan"}),
        # Auto-renew off, 12 days before the end: inside the 14-day renewal window.
        ("active", {"auto_renew": False}, TODAY, {"renew", "auto_renew", "cycle", "cancel", "plan"}),
        # ... and 15 days before it: not yet.
        ("active", {"auto_renew": False}, dt.date(2026, 1, 17), {"auto_renew", "cycle", "cancel", "plan"}),
        ("active", {"cancel_at_period_end": True}, TODAY, {"auto_renew", "cycle", "withdraw", "plan"}),
        ("suspended", {}, TODAY, {"auto_renew", "cycle"}),
        # Expired on 1 February, reactivable until 2 April.
        ("expired", {}, dt.date(2026, 4, 2), {"reactivate"}),
        ("expired", {}, dt.date(2026, 4, 3), set()),
        ("cancelled", {}, TODAY, set()),
        ("terminated", {}, TODAY, set()),
    ],
)
def test_a_service_page_shows_the_actions_its_state_allows(
    alice, catalog, client_of, clock, status, fields, today, expected
):
    service = hosting(alice.account, catalog, status=status, **fields)
    set_today(clock, today)
    response = client_of(alice).get(detail(service))
    assert response.status_code == 200
    assert actions_shown(response, service) == expected
    page = text(response)
    assert f"Linux Hosting Basic {ServiceStatus(status).label} · www.alice.example" in page
    if not expected:
        assert "No changes are possible on this service right now." in page


def test_the_page_shows_billing_options_and_a_pending_cycle_change(alice, catalog, client_of, clock):
    storage = catalog.storage_prices[("EUR", Cycle.MONTHLY)]
    service = hosting(
        alice.account,
        catalog,
        quantity=2,
        options={"storage_gb": {"quantity": 50, "unit_price": "0.045000", "price_version": storage.pk}},
    )
    client = client_of(alice)
    client.post(url("service-cycle", service), {"cycle": Cycle.ANNUAL})
    page = text(client.get(detail(service)))
    assert "Billing cycle Monthly" in page
    assert "Plan price €10.00 × 2" in page
    # 2 x 10.00 + 50 x 0.045 = 22.25; annual: 2 x 100.00 + 50 x 0.50 = 225.00
    assert "Price per period €22.25 (with options)" in page
    assert "Next billing cycle Annual from 1 Feb 2026: €225.00 per period" in page
    assert "Automatic renewal On" in page
    assert "Extra storage 50 GB €2.25" in page


def test_the_renew_hint_says_when_renewal_opens(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog, auto_renew=False)
    set_today(clock, dt.date(2026, 1, 10))
    page = text(client_of(alice).get(detail(service)))
    assert "Renew Renewal opens on 18 Jan 2026." in page


# --- Renew ------------------------------------------------------------------------------------


def test_renew_places_a_renewal_order_whose_payment_extends_the_service(alice, catalog, client_of, clock, seller_vat):
    service = hosting(alice.account, catalog, auto_renew=False)
    before = state_of(alice.account)
    response = client_of(alice).post(url("service-renew", service), follow=True)
    order = Order.objects.get(account=alice.account)
    assert response.redirect_chain == [(reverse("portal:order-detail", args=[order.number]), 302)]
    assert messages_of(response) == [
        f"Order {order.number} for €12.10 is placed and awaits payment: the change is made once it is paid."
    ]
    assert (order.type, order.status) == ("renewal", "awaiting_payment")
    assert state_of(alice.account) == before  # the service waits for the payment
    order_mark_paid(order=order, as_of=TODAY)
    service.refresh_from_db()
    assert (service.status, service.current_period_start, service.current_period_end, service.next_due_date) == (
        "active",
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 1),
    )
    assert ServiceEvent.objects.filter(service=service).latest("id").transition == "renew"


@pytest.mark.parametrize(
    ("fields", "today", "message"),
    [
        ({}, TODAY, "Automatic renewal is on: the service renews by itself."),
        ({"auto_renew": False}, dt.date(2026, 1, 17), "Renewal opens on 18 Jan 2026."),
        (
            {"auto_renew": False, "cancel_at_period_end": True},
            TODAY,
            "A cancellation is requested for the end of the period: withdraw it first.",
        ),
        ({"auto_renew": False, "status": "suspended"}, TODAY, "This is not possible while the service is “Suspended”."),
    ],
)
def test_renew_is_refused_when_the_rules_do_not_allow_it_now(alice, catalog, client_of, clock, fields, today, message):
    service = hosting(alice.account, catalog, **fields)
    set_today(clock, today)
    before = state_of(alice.account)
    response = client_of(alice).post(url("service-renew", service), follow=True)
    assert messages_of(response) == [message]
    assert state_of(alice.account) == before


def test_renew_twice_orders_once(alice, catalog, client_of, clock, seller_vat):
    service = hosting(alice.account, catalog, auto_renew=False)
    client = client_of(alice)
    client.post(url("service-renew", service), follow=True)
    order = Order.objects.get(account=alice.account)
    after_first = state_of(alice.account)
    response = client.post(url("service-renew", service), follow=True)
    assert messages_of(response) == [
        f"Order {order.number} for this service is still awaiting payment: pay or cancel it first."
    ]
    assert state_of(alice.account) == after_first
    assert Order.objects.filter(account=alice.account).count() == 1
    assert f"Order {order.number} for this service awaits payment." in text(client.get(detail(service)))
    order_mark_paid(order=order, as_of=TODAY)
    response = client.post(url("service-renew", service), follow=True)
    # The next period ends on 1 March: its renewal window opens on 15 February.
    assert messages_of(response) == ["Renewal opens on 15 Feb 2026."]


# --- Automatic renewal ------------------------------------------------------------------------


def test_turning_auto_renew_off_makes_renew_appear_and_on_again_hides_it(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog)
    client = client_of(alice)
    response = client.post(url("service-auto-renew", service), {"enabled": "off"}, follow=True)
    assert messages_of(response) == ["Automatic renewal is off: the service expires on 1 Feb 2026 unless you renew it."]
    assert "renew" in actions_shown(response, service)
    assert Service.objects.get(pk=service.pk).auto_renew is False
    response = client.post(url("service-auto-renew", service), {"enabled": "on"}, follow=True)
    assert messages_of(response) == ["Automatic renewal is on: the service renews by itself at the end of each period."]
    assert "renew" not in actions_shown(response, service)
    assert Service.objects.get(pk=service.pk).auto_renew is True
    assert list(
        ServiceEvent.objects.filter(service=service, transition="set_auto_renew").values_list("data", flat=True)
    ) == [
        {"auto_renew": False, "as_customer": True},
        {"auto_renew": True, "as_customer": True},
    ]


@pytest.mark.parametrize(
    ("status", "data", "message"),
    [
        ("active", {"enabled": "maybe"}, "Choose whether the service renews by itself."),
        ("expired", {"enabled": "on"}, "This is not possible while the service is “Expired”."),
        ("cancelled", {"enabled": "on"}, "This is not possible while the service is “Cancelled”."),
    ],
)
def test_auto_renew_refusals_change_nothing(alice, catalog, client_of, clock, status, data, message):
    service = hosting(alice.account, catalog, status=status, auto_renew=False)
    before = state_of(alice.account)
    response = client_of(alice).post(url("service-auto-renew", service), data, follow=True)
    assert messages_of(response) == [message]
    assert state_of(alice.account) == before


# --- Billing cycle ----------------------------------------------------------------------------


def test_the_cycle_select_offers_the_cycles_priced_in_the_account_currency(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog)
    body = main(client_of(alice).get(detail(service)))
    assert re.findall(
        r'<option value="(\w+)"[^>]*>([^<]+)</option>', body.split('name="cycle"')[1].split("</select>")[0]
    ) == [
        ("monthly", "Monthly · €10.00"),
        ("quarterly", "Quarterly · €28.00"),
        ("annual", "Annual · €100.00"),
    ]


def test_a_cycle_change_waits_for_the_next_renewal_and_can_be_withdrawn(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog)
    client = client_of(alice)
    response = client.post(url("service-cycle", service), {"cycle": "annual"}, follow=True)
    assert messages_of(response) == ["From 1 Feb 2026 the billing cycle is Annual: €100.00 per period."]
    service.refresh_from_db()
    assert (service.cycle, service.pending_cycle, service.pending_price_version_id) == (
        "monthly",
        "annual",
        price(catalog, cycle=Cycle.ANNUAL).pk,
    )
    assert 'value="annual" selected' in main(response)
    response = client.post(url("service-cycle", service), {"cycle": "monthly"}, follow=True)
    assert messages_of(response) == ["The change of billing cycle is withdrawn: the service keeps its cycle."]
    service.refresh_from_db()
    assert (service.cycle, service.pending_cycle, service.pending_price_version_id) == ("monthly", "", None)


def test_a_cycle_without_a_price_is_refused(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog)
    before = state_of(alice.account)
    for cycle in ("biennial", "one_time", "weekly"):
        response = client_of(alice).post(url("service-cycle", service), {"cycle": cycle}, follow=True)
        assert messages_of(response) == ["That billing cycle is not available for this service."]
    assert state_of(alice.account) == before


def test_a_plan_sold_in_one_cycle_only_offers_no_cycle_change(bob, catalog, client_of, clock):
    # Basic is priced in BRL monthly only.
    service = hosting(bob.account, catalog, price=price(catalog, currency="BRL"))
    client = client_of(bob)
    assert "cycle" not in actions_shown(client.get(detail(service)), service)
    before = state_of(bob.account)
    response = client.post(url("service-cycle", service), {"cycle": "annual"}, follow=True)
    assert messages_of(response) == ["This plan is sold in no other billing cycle."]
    assert state_of(bob.account) == before


# --- Cancellation -----------------------------------------------------------------------------


def test_the_cancel_page_offers_only_the_end_of_the_period_when_the_product_says_so(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog)
    response = client_of(alice).get(url("service-cancel", service))
    body = main(response)
    assert re.findall(r'name="when" value="(\w+)"', body) == ["end_of_period"]
    assert "At the end of the current period (service until 31 Jan 2026)" in text(response)
    assert '<label for="id_reason">' in body
    assert "<legend>When</legend>" in body


def test_a_cancellation_at_period_end_keeps_the_service_until_then_and_can_be_withdrawn(
    alice, catalog, client_of, clock
):
    service = hosting(alice.account, catalog)
    client = client_of(alice)
    response = client.post(
        url("service-cancel", service),
        {"when": "end_of_period", "reason": "Moving to a bigger plan elsewhere"},
        follow=True,
    )
    assert messages_of(response) == [
        "Cancellation requested: the service stays active until 31 Jan 2026 and is not renewed."
    ]
    service.refresh_from_db()
    assert (service.status, service.cancel_at_period_end, service.cancellation_reason) == (
        "active",
        True,
        "Moving to a bigger plan elsewhere",
    )
    assert actions_shown(response, service) == {"auto_renew", "cycle", "withdraw", "plan"}
    response = client.post(url("service-cancel-withdraw", service), follow=True)
    assert messages_of(response) == ["The cancellation request is withdrawn: the service continues as before."]
    service.refresh_from_db()
    assert (service.status, service.cancel_at_period_end, service.cancellation_reason) == ("active", False, "")


def test_an_immediate_cancellation_is_refused_when_the_product_does_not_allow_it(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog)
    before = state_of(alice.account)
    response = client_of(alice).post(
        url("service-cancel", service), {"when": "immediately", "reason": "now"}, follow=True
    )
    assert messages_of(response) == ["This product can only be cancelled at the end of its period."]
    assert state_of(alice.account) == before


def test_an_immediate_cancellation_where_the_product_allows_it(alice, client_of, clock):
    catalog = hosting_catalog(customers_may_cancel_immediately=True)
    service = hosting(alice.account, catalog)
    client = client_of(alice)
    body = main(client.get(url("service-cancel", service)))
    assert re.findall(r'name="when" value="(\w+)"', body) == ["end_of_period", "immediately"]
    response = client.post(url("service-cancel", service), {"when": "immediately", "reason": "Closed"}, follow=True)
    assert messages_of(response) == ["The service is cancelled."]
    service.refresh_from_db()
    assert (service.status, service.cancellation_reason) == ("cancelled", "Closed")
    assert actions_shown(response, service) == set()


def test_a_cancellation_without_a_reason_is_shown_again_with_the_error(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog)
    before = state_of(alice.account)
    response = client_of(alice).post(url("service-cancel", service), {"when": "end_of_period", "reason": " "})
    assert response.status_code == 200
    assert "This field is required." in text(response)
    assert re.findall(r'name="when" value="(\w+)"', main(response)) == ["end_of_period"]
    assert state_of(alice.account) == before


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        (
            {"cancel_at_period_end": True},
            "service-cancel",
            "A cancellation is already requested for the end of the period.",
        ),
        ({}, "service-cancel-withdraw", "No cancellation is requested."),
        ({"status": "suspended"}, "service-cancel", "This is not possible while the service is “Suspended”."),
        ({"status": "expired"}, "service-cancel-withdraw", "This is not possible while the service is “Expired”."),
    ],
)
def test_cancellation_refusals_change_nothing(alice, catalog, client_of, clock, fields, path, message):
    service = hosting(alice.account, catalog, **fields)
    before = state_of(alice.account)
    data = {"when": "end_of_period", "reason": "x"}
    response = client_of(alice).post(url(path, service), data, follow=True)
    assert messages_of(response) == [message]
    assert state_of(alice.account) == before


# --- Reactivation -----------------------------------------------------------------------------


def test_an_expired_service_is_reactivated_inside_the_window(alice, catalog, client_of, clock, seller_vat):
    service = hosting(alice.account, catalog, status="expired", auto_renew=False)  # expired on 1 February
    set_today(clock, dt.date(2026, 4, 2))  # the 60th day
    client = client_of(alice)
    assert "It can be reactivated until 2 Apr 2026." in text(client.get(detail(service)))
    response = client.post(url("service-reactivate", service), follow=True)
    order = Order.objects.get(account=alice.account)
    assert messages_of(response) == [
        f"Order {order.number} for €12.10 is placed and awaits payment: the change is made once it is paid."
    ]
    assert Service.objects.get(pk=service.pk).status == "expired"
    order_mark_paid(order=order, as_of=dt.date(2026, 4, 2))
    service.refresh_from_db()
    assert (service.status, service.current_period_start, service.current_period_end) == (
        "active",
        dt.date(2026, 4, 2),
        dt.date(2026, 5, 2),
    )


def test_reactivation_outside_the_window_is_refused_with_the_reason(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog, status="expired", auto_renew=False)
    set_today(clock, dt.date(2026, 4, 3))
    message = (
        "This service expired on 1 Feb 2026 and could be reactivated until 2 Apr 2026. "
        "That time is over: please order it again."
    )
    client = client_of(alice)
    page = client.get(detail(service))
    assert message in text(page)
    assert "reactivate" not in actions_shown(page, service)
    before = state_of(alice.account)
    response = client.post(url("service-reactivate", service), follow=True)
    assert messages_of(response) == [message]
    assert state_of(alice.account) == before


def test_only_an_expired_service_is_reactivated(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog, status="suspended")
    before = state_of(alice.account)
    response = client_of(alice).post(url("service-reactivate", service), follow=True)
    assert messages_of(response) == ["This is not possible while the service is “Suspended”."]
    assert state_of(alice.account) == before


# --- Upgrade and downgrade --------------------------------------------------------------------


def test_an_upgrade_shows_its_proration_then_is_confirmed(alice, catalog, client_of, clock, seller_vat):
    service = hosting(alice.account, catalog)  # Basic, 10.00 a month, 1 Jan - 1 Feb
    client = client_of(alice)
    preview = client.get(url("service-plan", service), {"plan": catalog.pro.pk})
    assert preview.status_code == 200
    page = text(preview)
    assert "Upgrade to Pro" in page
    # (25.00 - 10.00) x 12 days left of 31 = 5.806... -> 5.81
    assert "Rest of the current period 12 of 31 days" in page
    assert "Difference to pay €5.81" in page
    assert "From the next renewal €25.00 per period, from 1 Feb 2026" in page
    assert "Storage 10 GB 50 GB" in page
    assert Service.objects.get(pk=service.pk).plan_id == catalog.basic.pk  # a preview changes nothing

    response = client.post(url("service-plan", service), {"plan": catalog.pro.pk, "shown_minor": 581}, follow=True)
    order = Order.objects.get(account=alice.account)
    # 5.81 + 21 % IVA 1.22
    assert messages_of(response) == [
        f"Order {order.number} for €7.03 is placed and awaits payment: the change is made once it is paid."
    ]
    assert (order.type, order.lines.get().amount_minor) == ("upgrade", 581)
    assert Service.objects.get(pk=service.pk).plan_id == catalog.basic.pk
    order_mark_paid(order=order, as_of=TODAY)
    service.refresh_from_db()
    assert (service.plan_id, service.price_version_id) == (catalog.pro.pk, price(catalog, "pro").pk)
    event = ServiceEvent.objects.filter(service=service).latest("id")
    assert (event.transition, event.data["proration_minor"]) == ("change_plan", 581)


def test_a_downgrade_shows_a_credit_and_warns_about_usage_above_the_new_quota(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog, price=price(catalog, "pro"))
    usage_record(
        service=service,
        metric="storage_gb",
        quantity=Decimal("12"),
        at=dt.datetime(2026, 1, 15, tzinfo=dt.UTC),
        idempotency_key="s",
    )
    page = text(client_of(alice).get(url("service-plan", service), {"plan": catalog.basic.pk}))
    assert "Downgrade to Basic" in page
    assert "Credited to your account €5.81" in page
    assert "€5.81 for the rest of the current period will be credited to your account." in page
    assert "You use 12 GB now: more than the new plan includes." in page


def test_a_proration_that_changed_since_the_preview_is_shown_again(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog)
    before = state_of(alice.account)
    response = client_of(alice).post(url("service-plan", service), {"plan": catalog.pro.pk, "shown_minor": 600})
    assert response.status_code == 200
    assert messages_of(response) == ["The amount changed since it was shown to you: please check it again."]
    assert 'name="shown_minor" value="581"' in main(response)
    assert state_of(alice.account) == before


@pytest.mark.parametrize("plan", ["basic", "other-product", "missing", "text"])
def test_a_plan_that_is_not_offered_is_refused(alice, catalog, client_of, clock, plan):
    service = hosting(alice.account, catalog)
    other = hosting_catalog_other_plan() if plan == "other-product" else None
    plan_id = {"basic": catalog.basic.pk, "other-product": other, "missing": 999999, "text": "pro"}[plan]
    before = state_of(alice.account)
    client = client_of(alice)
    for response in (
        client.get(url("service-plan", service), {"plan": plan_id}, follow=True),
        client.post(url("service-plan", service), {"plan": plan_id, "shown_minor": 0}, follow=True),
    ):
        assert messages_of(response) == ["That plan is not available for this service."]
    assert state_of(alice.account) == before


def hosting_catalog_other_plan() -> int:
    from sportello.catalog.models import Product, ProductCategory
    from sportello.catalog.services import plan_create, price_create
    from sportello.catalog.tests.factories import SINCE

    category = ProductCategory.objects.create(name="Mail", slug="mail")
    product = Product.objects.create(category=category, name="Mail", slug="mail")
    plan = plan_create(product=product, name="Mail Pro", code="mail-pro")
    price_create(plan=plan, currency="EUR", cycle=Cycle.MONTHLY, amount_minor=100, valid_from=SINCE)
    return plan.pk


def test_a_suspended_service_cannot_change_plan(alice, catalog, client_of, clock):
    service = hosting(alice.account, catalog, status="suspended")
    before = state_of(alice.account)
    response = client_of(alice).post(
        url("service-plan", service), {"plan": catalog.pro.pk, "shown_minor": 581}, follow=True
    )
    assert messages_of(response) == ["This is not possible while the service is “Suspended”."]
    assert state_of(alice.account) == before


# --- Who may see and do what ------------------------------------------------------------------

GET_URLS = ("service-detail", "service-cancel", "service-plan")
POST_URLS = (
    "service-renew",
    "service-auto-renew",
    "service-cycle",
    "service-cancel",
    "service-cancel-withdraw",
    "service-reactivate",
    "service-plan",
)


def test_another_accounts_service_is_not_found_on_every_url(alice, bob, catalog, client_of, clock):
    service = hosting(alice.account, catalog, auto_renew=False)
    client = client_of(bob)
    before = state_of(alice.account)
    for name in GET_URLS:
        assert client.get(url(name, service), {"plan": catalog.pro.pk}).status_code == 404, name
    data = {"enabled": "off", "cycle": "annual", "when": "end_of_period", "reason": "x", "plan": catalog.pro.pk}
    for name in POST_URLS:
        assert client.post(url(name, service), {**data, "shown_minor": 581}).status_code == 404, name
    assert state_of(alice.account) == before
    assert "www.alice.example" not in main(client.get(reverse("portal:services")))


def test_a_member_without_the_services_right_gets_404_everywhere_and_no_menu_link(alice, catalog, client, clock):
    finance = member(alice.account, "fiona@example.org", Role.FINANCE)
    service = hosting(alice.account, catalog)
    client.force_login(finance.user)
    assert client.get(reverse("portal:services")).status_code == 404
    for name in GET_URLS:
        assert client.get(url(name, service)).status_code == 404, name
    before = state_of(alice.account)
    for name in POST_URLS:
        assert client.post(url(name, service), {"enabled": "off"}).status_code == 404, name
    assert state_of(alice.account) == before
    dashboard = client.get(reverse("portal:dashboard")).content.decode()
    assert f'href="{reverse("portal:services")}"' not in dashboard
    assert "active service" not in dashboard


def test_a_read_only_member_sees_everything_but_no_action_and_changes_nothing(alice, catalog, client, clock):
    reader = member(alice.account, "rita@example.org", Role.READ_ONLY)
    expiring = hosting(alice.account, catalog, auto_renew=False)  # Renew would show for the owner
    expired = hosting(alice.account, catalog, status="expired", label="old.alice.example")
    client.force_login(reader.user)
    assert "www.alice.example" in text(client.get(reverse("portal:services")))
    for service in (expiring, expired):
        page = client.get(detail(service))
        assert page.status_code == 200
        assert actions_shown(page, service) == set()
        assert "<form" not in main(page)
        assert "Your role lets you see this service, but not change it." in text(page)
        assert "cancel" not in actions_shown(client.get(url("service-cancel", service)), service)
    before = state_of(alice.account)
    data = {"enabled": "on", "cycle": "annual", "when": "end_of_period", "reason": "x", "plan": catalog.pro.pk}
    for service in (expiring, expired):
        for name in POST_URLS:
            response = client.post(url(name, service), {**data, "shown_minor": 581}, follow=True)
            assert response.redirect_chain == [(detail(service), 302)], name
            assert messages_of(response) == ["Your role lets you see services, but not change them."], name
    assert state_of(alice.account) == before


def test_actions_are_post_only_and_need_the_csrf_token(alice, catalog, clock):
    service = hosting(alice.account, catalog, auto_renew=False)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice.user)
    before = state_of(alice.account)
    for name in (
        "service-renew",
        "service-auto-renew",
        "service-cycle",
        "service-cancel-withdraw",
        "service-reactivate",
    ):
        assert browser.get(url(name, service)).status_code == 405, name
    for name in POST_URLS:
        assert browser.post(url(name, service), {"enabled": "on"}).status_code == 403, name
    assert state_of(alice.account) == before


# --- The dashboard ----------------------------------------------------------------------------


def test_the_dashboard_counts_active_services_and_those_expiring_within_30_days(alice, bob, catalog, client_of, clock):
    hosting(alice.account, catalog)  # renews by itself
    hosting(alice.account, catalog, auto_renew=False)  # ends 1 Feb: 12 days
    hosting(alice.account, catalog, auto_renew=False, cancel_at_period_end=True)  # asked to end: not "expiring"
    hosting(alice.account, catalog, price=price(catalog, cycle=Cycle.QUARTERLY), auto_renew=False)  # 71 days
    hosting(alice.account, catalog, status="suspended", auto_renew=False)
    hosting(bob.account, catalog, price=price(catalog, currency="BRL"), auto_renew=False)
    card = dashboard_card(client_of(alice))
    assert card == "4 active services. ⚠ 1 expires within 30 days."


def test_the_dashboard_says_nothing_expires_when_nothing_does(alice, catalog, client_of, clock):
    hosting(alice.account, catalog)
    assert dashboard_card(client_of(alice)) == "1 active service."


def dashboard_card(client: Client) -> str:
    body = client.get(reverse("portal:dashboard")).content.decode()
    card = body.split('<ul class="cards">')[1].split('href="/services/"')[1].split("</li>")[0]
    return text_of_row(card.split("<p>")[1].split("</p>")[0])
