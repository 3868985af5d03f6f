"""The forward billing schedule in the client area: the page, the CSV and the iCalendar file.

The clock is set by hand to 23:30 UTC on 31 January 2026, which is already 1 February in
alice's time zone (Europe/Madrid): the schedule starts from the account's today.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Account, Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.catalog.models import Cycle, Product
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.core.testing import Clock
from sportello.portal.views.schedule import csv_safe, ics_fold, ics_text
from sportello.services.models import Service, ServiceStatus
from sportello.services.tests.conftest import service_in

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC)
URL_NAMES = ["portal:billing-schedule", "portal:billing-schedule-csv", "portal:billing-schedule-ics"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(NOW)
    monkeypatch.setattr("sportello.portal.views.schedule.utc_now", clock)
    return clock


@pytest.fixture
def catalog(db: None) -> Catalog:
    return hosting_catalog()


def service(
    account: Account, catalog: Catalog, plan: str, cycle: str, start: dt.date, label: str, **fields: Any
) -> Service:
    price = catalog.prices[(plan, account.currency, cycle)]
    return service_in(account, price, ServiceStatus.ACTIVE, start=start, label=label, **fields)


@pytest.fixture
def alice_services(alice: Membership, bob: Membership, catalog: Catalog) -> tuple[Service, Service]:
    """Pro yearly from 15 March 2025 (next charge 15 March 2026) and Basic quarterly from
    1 January 2026 (next charges 1 April, 1 July, 1 October, 1 January); and bob's own."""
    yearly = service(alice.account, catalog, "pro", Cycle.ANNUAL, dt.date(2025, 3, 15), "shop.alice.example")
    quarterly = service(alice.account, catalog, "basic", Cycle.QUARTERLY, dt.date(2026, 1, 1), "www.alice.example")
    # Renews by itself only with auto-renew on: never in the schedule.
    service(alice.account, catalog, "basic", Cycle.MONTHLY, dt.date(2026, 1, 1), "off.alice.example", auto_renew=False)
    service(bob.account, catalog, "basic", Cycle.MONTHLY, dt.date(2026, 1, 10), "bob.example")
    return yearly, quarterly


def member(account: Account, email: str, role: str) -> Membership:
    user = User.objects.create_user(email, "x" * 12, full_name=email.split("@")[0].title())
    return membership_add(account=account, user=user, role=role)


def login(client: Client, membership: Membership) -> Client:
    client.force_login(membership.user)
    return client


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def table_rows(response: Any, section: str) -> list[str]:
    body = response.content.decode()
    part = body.split(f"<{section}>")[1].split(f"</{section}>")[0]
    return [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", part, flags=re.S)]


# --- The page ---------------------------------------------------------------------------------


def test_it_lists_every_upcoming_charge_with_totals(alice, alice_services, client, clock):
    response = login(client, alice).get(reverse("portal:billing-schedule"))
    assert response.status_code == 200
    assert table_rows(response, "tbody") == [
        "15 Mar 2026 Linux Hosting Pro shop.alice.example 15 Mar 2026 – 14 Mar 2027 €250.00",
        "1 Apr 2026 Linux Hosting Basic www.alice.example 1 Apr 2026 – 30 Jun 2026 €28.00",
        "1 Jul 2026 Linux Hosting Basic www.alice.example 1 Jul 2026 – 30 Sept 2026 €28.00",
        "1 Oct 2026 Linux Hosting Basic www.alice.example 1 Oct 2026 – 31 Dec 2026 €28.00",
        "1 Jan 2027 Linux Hosting Basic www.alice.example 1 Jan 2027 – 31 Mar 2027 €28.00",
    ]
    assert table_rows(response, "tfoot") == ["Total in EUR €362.00"]
    body = response.content.decode()
    assert "Upcoming charges, next 12 months" in body
    assert f'href="{reverse("portal:billing-schedule-csv")}"' in body
    assert f'href="{reverse("portal:billing-schedule-ics")}"' in body
    assert "bob.example" not in body
    assert "off.alice.example" not in body


def test_it_starts_from_today_in_the_accounts_time_zone(alice, catalog, client, clock):
    # Due on 31 January: still today at 22:59 UTC (23:59 in Madrid), past at 23:30 UTC (00:30 on 1 February).
    # The twelve months run from today (included) to the same day a year later (excluded).
    service(alice.account, catalog, "basic", Cycle.ANNUAL, dt.date(2025, 1, 31), "www.alice.example")
    client = login(client, alice)

    def dates() -> list[str]:
        rows = table_rows(client.get(reverse("portal:billing-schedule")), "tbody")
        return [row.split(" Linux")[0] for row in rows]

    clock.now = dt.datetime(2026, 1, 31, 22, 59, tzinfo=dt.UTC)
    assert dates() == ["31 Jan 2026"]
    clock.now = NOW
    assert dates() == ["31 Jan 2027"]


def test_it_says_when_there_is_nothing_to_charge(alice, client, clock):
    response = login(client, alice).get(reverse("portal:billing-schedule"))
    assert response.status_code == 200
    body = text_of(response.content.decode())
    assert "No upcoming charges" in body
    assert "None of your services will renew by itself in the next 12 months." in body
    assert "<table" not in response.content.decode().split('<main id="main"')[1]


def test_the_services_list_links_to_the_schedule_only_for_billing_members(alice, client, clock):
    technical = member(alice.account, "tech@example.org", Role.TECHNICAL)
    link = f'href="{reverse("portal:billing-schedule")}"'
    assert link in login(client, alice).get(reverse("portal:services")).content.decode()
    assert link not in login(client, technical).get(reverse("portal:services")).content.decode()


# --- CSV --------------------------------------------------------------------------------------


def test_the_csv_has_one_row_per_charge(alice, alice_services, client, clock):
    response = login(client, alice).get(reverse("portal:billing-schedule-csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    reference = alice.account.reference
    assert response["Content-Disposition"] == f'attachment; filename="billing-schedule-{reference}.csv"'
    assert response.content.decode("utf-8") == (
        "\ufeffDate,Service,Period start,Period end,Amount,Currency\r\n"
        "2026-03-15,Linux Hosting Pro (shop.alice.example),2026-03-15,2027-03-14,250.00,EUR\r\n"
        "2026-04-01,Linux Hosting Basic (www.alice.example),2026-04-01,2026-06-30,28.00,EUR\r\n"
        "2026-07-01,Linux Hosting Basic (www.alice.example),2026-07-01,2026-09-30,28.00,EUR\r\n"
        "2026-10-01,Linux Hosting Basic (www.alice.example),2026-10-01,2026-12-31,28.00,EUR\r\n"
        "2027-01-01,Linux Hosting Basic (www.alice.example),2027-01-01,2027-03-31,28.00,EUR\r\n"
    )
    assert response.content.startswith(b"\xef\xbb\xbf")


def test_the_csv_neutralises_a_name_that_a_spreadsheet_would_run(alice, catalog, client, clock):
    # Names reach the file as they are typed; here the product's, the easiest to set.
    Product.objects.filter(pk=catalog.product.pk).update(name="=cmd")
    service(alice.account, catalog, "basic", Cycle.ANNUAL, dt.date(2025, 6, 1), "")
    response = login(client, alice).get(reverse("portal:billing-schedule-csv"))
    assert response.content.decode("utf-8").splitlines()[1] == "2026-06-01,'=cmd Basic,2026-06-01,2027-05-31,100.00,EUR"


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=cmd", "'=cmd"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("www.alice.example", "www.alice.example"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_csv_safe(value, safe):
    assert csv_safe(value) == safe


# --- iCalendar --------------------------------------------------------------------------------


def test_the_ics_has_one_all_day_event_per_charge(alice, alice_services, client, clock):
    yearly, quarterly = alice_services
    response = login(client, alice).get(reverse("portal:billing-schedule-ics"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    reference = alice.account.reference
    assert response["Content-Disposition"] == f'attachment; filename="billing-schedule-{reference}.ics"'
    body = response.content.decode("utf-8")
    assert body.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Sportello//Billing schedule//EN\r\n")
    assert body.endswith("END:VCALENDAR\r\n")
    assert "\n" not in body.replace("\r\n", "") and "\r" not in body.replace("\r\n", "")
    assert max(len(line) for line in response.content.split(b"\r\n")) <= 75
    assert body.count("BEGIN:VEVENT\r\n") == 5
    assert re.findall(r"DTSTART;VALUE=DATE:(\d+)", body) == ["20260315", "20260401", "20260701", "20261001", "20270101"]
    assert re.findall(r"UID:(\S+)", body) == [
        f"{yearly.pk}-20260315@sportello",
        f"{quarterly.pk}-20260401@sportello",
        f"{quarterly.pk}-20260701@sportello",
        f"{quarterly.pk}-20261001@sportello",
        f"{quarterly.pk}-20270101@sportello",
    ]
    assert re.findall(r"DTSTAMP:(\S+)", body) == ["20260131T233000Z"] * 5
    unfolded = body.replace("\r\n ", "")
    assert "SUMMARY:Linux Hosting Pro (shop.alice.example) — €250.00\r\n" in unfolded
    assert "bob.example" not in unfolded


def test_the_ics_escapes_and_folds_a_long_name(alice, catalog, client, clock):
    label = "Shop, main; EU\\ west\nsecond line of a label that is long enough to fold"
    service(alice.account, catalog, "basic", Cycle.ANNUAL, dt.date(2025, 6, 1), label)
    response = login(client, alice).get(reverse("portal:billing-schedule-ics"))
    assert max(len(line) for line in response.content.split(b"\r\n")) <= 75
    unfolded = response.content.decode("utf-8").replace("\r\n ", "")
    assert (
        "SUMMARY:Linux Hosting Basic (Shop\\, main\\; EU\\\\ west\\nsecond line of a label that is long "
        "enough to fold) — €100.00\r\n"
    ) in unfolded


def test_ics_text_escapes_what_rfc_5545_says():
    assert ics_text("a,b;c\\d\ne\r\nf\rg") == "a\\,b\\;c\\\\d\\ne\\nf\\ng"


def test_ics_fold_counts_octets_and_never_splits_a_character():
    line = "SUMMARY:" + "€" * 30  # 8 + 90 octets
    folded = ics_fold(line)
    assert folded == "SUMMARY:" + "€" * 22 + "\r\n " + "€" * 8
    assert [len(part.encode()) for part in folded.split("\r\n")] == [74, 25]
    assert ics_fold("X" * 75) == "X" * 75
    assert ics_fold("X" * 76) == "X" * 75 + "\r\n X"


# --- Who sees what ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", URL_NAMES)
def test_bob_never_sees_alices_charges(alice, bob, alice_services, client, clock, name):
    body = login(client, bob).get(reverse(name)).content.decode("utf-8")
    assert "alice.example" not in body
    assert "bob.example" in body
    assert "250" not in body and "28.00" not in body


def test_bobs_csv_has_only_his_charges(bob, alice_services, client, clock):
    lines = login(client, bob).get(reverse("portal:billing-schedule-csv")).content.decode("utf-8").splitlines()
    assert len(lines) == 13  # header + 12 monthly charges from 10 February 2026 to 10 January 2027
    assert lines[1] == "2026-02-10,Linux Hosting Basic (bob.example),2026-02-10,2026-03-09,50.00,BRL"
    assert all(line.endswith(",50.00,BRL") for line in lines[1:])


@pytest.mark.parametrize("name", URL_NAMES)
def test_a_member_without_billing_gets_404(alice, alice_services, client, clock, name):
    login(client, member(alice.account, "tech@example.org", Role.TECHNICAL))
    assert client.get(reverse(name)).status_code == 404


@pytest.mark.parametrize("name", URL_NAMES)
def test_anonymous_visitors_are_sent_to_login(client, name):
    path = reverse(name)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={path}"
