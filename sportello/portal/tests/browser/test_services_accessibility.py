"""My services in a real Chromium: axe-core (WCAG 2.0/2.1/2.2 A and AA) on every page the
services issue adds, in English and Spanish and at phone width, and the demo's services
doing what the issue promises (red expiry, Renew with auto-renew off, the red usage bar,
cancellation at period end, reactivation inside the window and refused outside it).

The demo is loaded for today (the live server reads the real clock), so these tests
find their services by label, never by date.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from sportello.catalog.models import Plan
from sportello.portal.tests.browser.helpers import ANA, login_over_http, set_user_language
from sportello.services.models import Service

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
PHONE = {"width": 360, "height": 740}
axe = Axe()


def violations_of(page: Page, screen: str) -> list[str]:
    lines = []
    for violation in axe.run(page, options=AXE_OPTIONS).response["violations"]:
        for node in violation["nodes"]:
            lines.append(f"{screen}: {violation['id']} ({violation['impact']}) {', '.join(map(str, node['target']))}")
    return lines


def service_id(label: str) -> int:
    return Service.objects.get(label=label).pk


def screens() -> dict[str, str]:
    """Every kind of services page, on the demo's services."""
    fotos = service_id("fotos.nubeclara.example.com")
    basic = Plan.objects.get(product__slug="web-hosting", code="basic")
    pro = Plan.objects.get(product__slug="web-hosting", code="pro")
    paths = {
        "list": "/services/",
        "list-filtered": "/services/?status=expired",
        "list-empty-filter": "/services/?status=suspended&page=1",
        "cancel": f"/services/{fotos}/cancel/",
        "upgrade-preview": f"/services/{fotos}/plan/?plan={pro.pk}",
        "downgrade-preview": f"/services/{service_id('nubeclara.example.com')}/plan/?plan={basic.pk}",
    }
    for service in Service.objects.filter(account__name__startswith="Nubeclara"):
        paths[f"detail-{service.status}-{service.label}"] = f"/services/{service.pk}/"
    return paths


@pytest.mark.parametrize("language", ["en", "es"])
def test_no_axe_violations_on_the_services_pages(page: Page, live_server, demo_data, language: str) -> None:
    set_user_language(ANA, language)
    login_over_http(page, live_server, ANA)
    problems = []
    for screen, path in screens().items():
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, screen
        expect(page.locator("main h1")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", language)
        problems += violations_of(page, f"{screen} [{language}, 1280px]")
        if language == "en":
            page.set_viewport_size(PHONE)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                problems.append(f"{screen} [360px]: the page scrolls sideways ({width}px wide)")
            problems += violations_of(page, f"{screen} [{language}, 360px]")
            page.set_viewport_size({"width": 1280, "height": 800})
    assert not problems, "\n".join(problems)


def test_the_dashboard_counts_the_services(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/")
    card = page.locator(".cards li", has=page.locator('a[href="/services/"]'))
    expect(card).to_contain_text("4 active services.")
    expect(card).to_contain_text("1 expires within 30 days.")
    assert violations_of(page, "dashboard") == []


def open_service(page: Page, live_server, label: str) -> None:
    page.goto(f"{live_server.url}/services/{service_id(label)}/")
    expect(page.locator("main h1")).to_be_visible()


def test_the_expiry_is_red_and_renew_follows_auto_renew(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    open_service(page, live_server, "tienda.nubeclara.example.com")
    marker = page.locator(".due-warning .due-marker").first
    expect(marker).to_have_text(re.compile(r"Expires in 30 days"))
    # Red, and said in words too.
    assert page.evaluate("getComputedStyle(document.querySelector('.due-warning')).color") == "rgb(180, 35, 24)"
    renew = page.get_by_role("button", name="Renew for another period")
    expect(renew).to_be_visible()
    page.get_by_role("button", name="Turn automatic renewal on").click()
    expect(page.locator(".messages")).to_contain_text("Automatic renewal is on")
    expect(renew).to_have_count(0)
    page.get_by_role("button", name="Turn automatic renewal off").click()
    expect(renew).to_be_visible()


def test_the_usage_bar_is_red_at_85_percent(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    open_service(page, live_server, "fotos.nubeclara.example.com")
    storage = page.locator("li.quota", has_text="Storage")
    expect(storage).to_have_class(re.compile(r"quota-warning"))
    expect(storage).to_contain_text("8.5 of 10 GB (85 %)")
    expect(storage).to_contain_text("Almost full")
    expect(page.get_by_role("meter", name="Storage")).to_have_attribute("value", "8.500000")


def test_a_cancellation_at_the_end_of_the_period(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    open_service(page, live_server, "fotos.nubeclara.example.com")
    page.get_by_role("link", name="Request cancellation").click()
    expect(page.get_by_role("radio")).to_have_count(1)  # this product cancels only at period end
    page.get_by_role("radio").check()
    page.get_by_label("Why are you cancelling?").fill("Moving the photos elsewhere")
    page.get_by_role("button", name="Request cancellation").click()
    expect(page.locator(".messages")).to_contain_text("Cancellation requested")
    expect(page.get_by_role("button", name="Withdraw the cancellation request")).to_be_visible()
    assert Service.objects.get(label="fotos.nubeclara.example.com").cancel_at_period_end


def test_reactivation_inside_the_window_and_refused_outside(page: Page, live_server, demo_data) -> None:
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    open_service(page, live_server, "antiguo.nubeclara.example.com")
    expect(page.locator("main .alert-error")).to_contain_text("That time is over: please order it again.")
    expect(page.get_by_role("button", name="Reactivate")).to_have_count(0)
    open_service(page, live_server, "blog.nubeclara.example.com")
    page.get_by_role("button", name="Reactivate").click()
    # Reactivating is a renewal order; its payment brings the service back.
    expect(page.locator(".messages")).to_contain_text("is placed and awaits payment")
    from sportello.core.time import today_utc
    from sportello.orders.models import Order
    from sportello.orders.services import order_mark_paid

    order = Order.objects.get(lines__service__label="blog.nubeclara.example.com")
    assert (order.type, order.status) == ("renewal", "awaiting_payment")
    assert Service.objects.get(label="blog.nubeclara.example.com").status == "expired"
    order_mark_paid(order=order, as_of=today_utc())
    assert Service.objects.get(label="blog.nubeclara.example.com").status == "active"
