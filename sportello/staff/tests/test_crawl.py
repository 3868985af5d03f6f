"""Every back-office page opens: lists, add pages, an existing row's page, own pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse

from sportello.accounts.models import User
from sportello.demo.data import demo_load
from sportello.staff import urls as staff_urls

AS_OF = dt.date(2026, 3, 16)


@pytest.fixture
def admin_client(client: Client, db: None, settings) -> Client:
    settings.SPORTELLO_DEMO = True
    demo_load(as_of=AS_OF)
    client.force_login(User.objects.create_superuser("crawl@provider.example", "ops-staff-passphrase-1"))
    # A failing page is a 500 answer to collect, not an exception that stops the crawl.
    client.raise_request_exception = False
    return client


def back_office_pages() -> list[str]:
    pages = [reverse("admin:index")]
    request = _request()
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{name}_changelist"))
        pages.append(reverse(f"{name}_add"))
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            pages.append(reverse(f"{name}_change", args=[first.pk]))
            pages.append(reverse(f"{name}_history", args=[first.pk]))
    for pattern in staff_urls.urlpatterns:
        if isinstance(pattern, URLPattern) and not pattern.pattern.converters:
            pages.append(reverse(pattern.name))
    return pages


def _request() -> HttpRequest:
    request = RequestFactory().get("/staff/")
    request.user = User.objects.get(email="crawl@provider.example")
    return request


@pytest.mark.django_db
def test_no_back_office_page_fails(admin_client):
    pages = back_office_pages()
    assert len(pages) > 3 * len(admin.site._registry)
    failures = []
    for page in pages:
        status = admin_client.get(page).status_code
        if status >= 500:
            failures.append(f"{status} {page}")
    assert failures == [], "\n".join(failures)


@pytest.mark.django_db
def test_a_promo_code_use_opens_with_its_order(admin_client):
    from sportello.orders.models import PromoRedemption

    use = PromoRedemption.objects.select_related("promo", "account", "order").get()
    response = admin_client.get(reverse("admin:orders_promoredemption_change", args=[use.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    for shown in (
        f'<div class="readonly"><a href="/staff/orders/promocode/{use.promo.pk}/change/">WELCOME10</a></div>',
        f'<a href="/staff/orders/order/{use.order.pk}/change/">{use.order.number}</a>',
        f'<a href="/staff/accounts/account/{use.account.pk}/change/">'
        f"Nubeclara Servicios Digitales S.L. ({use.account.reference})</a>",
        '<div class="readonly">100</div>',
        '<div class="readonly">EUR</div>',
    ):
        assert shown in page
    assert use.order.number == "O-2026-000001"
