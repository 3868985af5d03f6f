"""The billing run's report in the back office: per date, read-only, with its errors."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from sportello.accounts.models import User
from sportello.billing.models import BillingRun
from sportello.catalog.models import OveragePrice
from sportello.catalog.tests.factories import hosting_catalog


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("ops@example.com", "ops-staff-passphrase-1"))
    return client


@pytest.fixture
def report(db):
    return BillingRun.objects.create(
        as_of=dt.date(2026, 1, 18),
        partition="all",
        status="done",
        attempts=2,
        services_billed=3,
        invoices_issued=2,
        totals={"EUR": 4235, "BRL": 5000},
        reminders_sent=1,
        errors=[{"step": "renewal", "account": 7, "error": "TaxRateMissing: no 'luxury' tax rate for ES"}],
    )


@pytest.mark.django_db
def test_staff_see_the_report_per_date(admin_client, report):
    listing = admin_client.get(reverse("admin:billing_billingrun_changelist"))
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "€42.35" in text and "R$50.00" in text

    page = admin_client.get(reverse("admin:billing_billingrun_change", args=[report.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "<strong>renewal</strong> account 7 — TaxRateMissing: no &#x27;luxury&#x27; tax rate for ES" in text
    assert 'name="_save"' not in text


@pytest.mark.django_db
def test_the_report_cannot_be_changed(admin_client, report):
    response = admin_client.post(
        reverse("admin:billing_billingrun_change", args=[report.pk]), {"invoices_issued": "99"}
    )
    assert response.status_code == 403
    assert admin_client.get(reverse("admin:billing_billingrun_add")).status_code == 403
    report.refresh_from_db()
    assert report.invoices_issued == 2


@pytest.mark.django_db
def test_customers_do_not_see_it(client, report):
    user = User.objects.create_user("alice@example.org", "x" * 12)
    client.force_login(user)
    response = client.get(reverse("admin:billing_billingrun_changelist"))
    assert response.status_code == 302


@pytest.mark.django_db
def test_staff_add_an_overage_price_through_the_catalog_service(admin_client):
    catalog = hosting_catalog()
    response = admin_client.post(
        reverse("admin:catalog_overageprice_add"),
        {
            "plan": catalog.basic.pk,
            "metric": "traffic_gb",
            "currency": "eur",
            "unit_price": "0.10",
            "valid_from_0": "2026-01-01",
            "valid_from_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    price = OveragePrice.objects.get()
    assert (price.currency, price.unit_price) == ("EUR", Decimal("0.1"))
    refused = admin_client.post(
        reverse("admin:catalog_overageprice_add"),
        {
            "plan": catalog.basic.pk,
            "metric": "traffic gb!",
            "currency": "EUR",
            "unit_price": "0.10",
            "valid_from_0": "2026-02-01",
            "valid_from_1": "00:00:00",
        },
    )
    assert refused.status_code in (200, 302)
    assert OveragePrice.objects.count() == 1
