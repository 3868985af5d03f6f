"""The demo's catalog and services: every state of the lifecycle, dated from a fixed day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from sportello.accounts.models import Membership, User
from sportello.billing.selectors_portal import SuspensionCause, suspensions_explained
from sportello.catalog.models import AddOn, AddOnPriceVersion, ConfigurableOption, PriceVersion, Product
from sportello.core.money import Money
from sportello.core.testing import Clock
from sportello.demo.data import DEMO_SERVICES, DEMO_STAFF_SUSPENSION_REASON, demo_load
from sportello.portal.views.services import due_date, service_actions
from sportello.services.models import Service, ServiceStatus, UsageRecord
from sportello.services.selectors import QuotaUsage, quota_usage, services_summary
from sportello.services.services import reactivation_last_day

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 3, 10)
NUBECLARA = "Nubeclara Servicios Digitales S.L."
FERRI = "Studio Ferri Consulenza S.r.l."


@pytest.fixture
def demo(settings) -> dict[str, int]:
    settings.SPORTELLO_DEMO = True
    return demo_load(as_of=AS_OF)


def service(label: str) -> Service:
    return Service.objects.select_related("plan__product", "account").get(label=label)


def ana_in(account_name: str) -> Membership:
    return Membership.objects.get(user__email="ana@example.com", account__name=account_name)


def test_it_creates_the_catalog_and_services_once(demo, settings):
    assert (demo["products"], demo["services"], demo["usage_records"]) == (2, 19, 12)
    again = demo_load(as_of=AS_OF + dt.timedelta(days=40))
    assert (again["products"], again["services"], again["usage_records"]) == (0, 0, 0)
    # And one service for each demo order (sportello/demo/data.py DEMO_ORDERS).
    assert Service.objects.count() == len(DEMO_SERVICES) + 3 == 22
    assert UsageRecord.objects.count() == 12


def test_the_catalog_is_priced_in_euros_and_reais_with_an_option_and_an_add_on(demo):
    hosting = Product.objects.get(slug="web-hosting")
    assert [(plan.code, plan.quotas) for plan in hosting.plans.order_by("position")] == [
        ("basic", {"storage_gb": "10", "traffic_gb": "100"}),
        ("pro", {"storage_gb": "50", "traffic_gb": "500"}),
    ]
    prices = set(
        PriceVersion.objects.filter(plan__product=hosting).values_list(
            "plan__code", "currency", "cycle", "amount_minor"
        )
    )
    assert prices == {
        ("basic", "EUR", "monthly", 599),
        ("basic", "EUR", "annual", 5990),
        ("basic", "BRL", "monthly", 2990),
        ("basic", "BRL", "annual", 29900),
        ("pro", "EUR", "monthly", 1299),
        ("pro", "EUR", "annual", 12990),
        ("pro", "BRL", "monthly", 6990),
        ("pro", "BRL", "annual", 69900),
    }
    assert (hosting.invoice_lead_days, hosting.reactivation_window_days) == (30, 60)
    assert ConfigurableOption.objects.get(product=hosting).code == "mailboxes"
    backups = AddOn.objects.get(product=hosting)
    assert backups.name == "Backup add-on"
    assert AddOnPriceVersion.objects.filter(addon=backups).count() == 4
    wordpress = Product.objects.get(slug="managed-wordpress")
    assert wordpress.customers_may_cancel_immediately is True


def test_every_state_is_in_the_demo_and_all_of_them_at_nubeclara(demo):
    every = set(ServiceStatus.values)
    assert set(Service.objects.values_list("status", flat=True)) == every
    assert set(Service.objects.filter(account__name=NUBECLARA).values_list("status", flat=True)) == every
    for account in ("Studio Ferri Consulenza S.r.l.", "Bruno Tecnologia Ltda."):
        assert Service.objects.filter(account__name=account).count() >= 4
    # Every service is in its account's currency.
    for item in Service.objects.select_related("account", "price_version"):
        assert item.price_version.currency == item.account.currency


def test_a_service_expires_in_30_days_with_auto_renew_off_and_renew_offered(demo):
    tienda = service("tienda.nubeclara.example.com")
    assert (tienda.status, tienda.auto_renew, tienda.cycle) == ("active", False, "annual")
    assert (tienda.current_period_start, tienda.current_period_end) == (dt.date(2025, 4, 9), dt.date(2026, 4, 9))
    due = due_date(tienda, as_of=AS_OF)
    assert (due.kind, due.days_left, due.warning) == ("expires", 30, True)
    assert service_actions(service=tienda, membership=ana_in(NUBECLARA), as_of=AS_OF).renew
    summary = services_summary(membership=ana_in(NUBECLARA), as_of=AS_OF)
    assert (summary.active, summary.expiring) == (4, 1)


def test_a_service_uses_85_percent_of_its_storage(demo):
    fotos = service("fotos.nubeclara.example.com")
    storage, traffic = quota_usage(service=fotos)
    assert storage == QuotaUsage("storage_gb", "Storage", "GB", Decimal("8.5"), Decimal(10), Decimal("85.0"))
    assert storage.near_limit
    assert traffic == QuotaUsage("traffic_gb", "Traffic", "GB", Decimal("41.6"), Decimal(100), Decimal("41.6"))
    assert not traffic.near_limit


def test_expired_services_inside_and_outside_the_reactivation_window(demo):
    inside = service("blog.nubeclara.example.com")
    outside = service("antiguo.nubeclara.example.com")
    assert (inside.status, inside.current_period_end) == ("expired", dt.date(2026, 2, 18))
    assert reactivation_last_day(service=inside) == dt.date(2026, 4, 19)
    assert (outside.status, outside.current_period_end) == ("expired", dt.date(2025, 12, 10))
    assert reactivation_last_day(service=outside) == dt.date(2026, 2, 8)
    ana = ana_in(NUBECLARA)
    assert service_actions(service=inside, membership=ana, as_of=AS_OF).reactivate
    assert not service_actions(service=outside, membership=ana, as_of=AS_OF).reactivate


def test_the_other_states_are_as_described(demo):
    assert service("campanas.nubeclara.example.com").cancel_at_period_end is True
    ferri = service("studioferri.example.com")
    assert (ferri.status, ferri.cycle, ferri.pending_cycle) == ("active", "monthly", "annual")
    assert service("clienti.studioferri.example.com").suspended_reason == DEMO_STAFF_SUSPENSION_REASON
    assert service("staging.nubeclara.example.com").current_period_start is None
    assert service("pruebas.nubeclara.example.com").terminated_at is not None
    assert service("promo.nubeclara.example.com").cancelled_at is not None


def test_a_suspended_service_is_explained_by_its_unpaid_renewal(demo):
    intranet = service("intranet.nubeclara.example.com")
    (explained,) = suspensions_explained(membership=ana_in(NUBECLARA), as_of=AS_OF, service=intranet)
    renewal = explained.invoice
    assert renewal is not None
    # Due when its period ended, ten days ago; suspended after the 7 grace days; terminated
    # 30 days after the due date unless paid.
    assert (renewal.invoice.source, renewal.invoice.status, renewal.invoice.due_date, renewal.due) == (
        "renewal",
        "overdue",
        AS_OF - dt.timedelta(days=10),
        Money("7.25", "EUR"),
    )
    assert renewal.invoice.lines.get().service == intranet
    assert (explained.cause, explained.suspended_on, explained.terminates_on) == (
        SuspensionCause.UNPAID,
        dt.date(2026, 3, 7),
        dt.date(2026, 3, 30),
    )
    assert intranet.suspended_reason == f"Unpaid invoice {renewal.invoice.display_number}"
    # Paying lifts it only once nothing overdue is left: every overdue EUR invoice, ticked.
    assert [figure.amount.currency for figure in explained.to_pay] == ["EUR"]
    assert renewal.invoice.display_number in explained.to_pay[0].numbers
    (staff,) = suspensions_explained(membership=ana_in(FERRI), as_of=AS_OF)
    assert (staff.cause, staff.reason, staff.terminates_on) == (
        SuspensionCause.STAFF,
        DEMO_STAFF_SUSPENSION_REASON,
        None,
    )


def test_ana_sees_the_demo_in_her_client_area(demo, client, monkeypatch):
    clock = Clock(dt.datetime.combine(AS_OF, dt.time(9), tzinfo=dt.UTC))
    monkeypatch.setattr("sportello.portal.views.services.utc_now", clock)
    ana = User.objects.get(email="ana@example.com")
    ana.language = "en"
    ana.save()
    client.force_login(ana)
    body = client.get(reverse("portal:services")).content.decode()
    assert body.count("<tr>") == 12  # the header, ten services and the one of the order awaiting payment
    assert "Expires in 30 days" in body
    fotos = client.get(reverse("portal:service-detail", args=[service("fotos.nubeclara.example.com").pk]))
    page = fotos.content.decode()
    assert '<li class="quota quota-warning">' in page
    assert "8.5 of 10 GB (85 %)" in page
