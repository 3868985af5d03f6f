"""The list of logged-in browsers: kept by SessionTrackingMiddleware, ended by the services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sportello.accounts.models import Membership, Role, User, UserSession
from sportello.accounts.services import (
    account_suspend,
    membership_add,
    user_disable,
    user_session_record,
    user_session_rotated,
)
from sportello.conftest import PASSWORD
from sportello.core.testing import CHROME_LINUX, FIREFOX_WINDOWS, Clock, logged_in_browser

T0 = dt.datetime(2025, 3, 10, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(T0)
    monkeypatch.setattr("sportello.accounts.middleware_security.utc_now", clock)
    return clock


def browser(user: User, **kwargs: str) -> Client:
    return logged_in_browser(user, first_page="/", **kwargs)


def session_key(client: Client) -> str:
    return client.cookies["sessionid"].value


def is_logged_out(client: Client) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response["Location"] == "/accounts/login/?next=/"


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]


# --- Tracking ---------------------------------------------------------------------------------


def test_it_records_a_session_that_has_no_row_on_its_first_request(alice: Membership, clock: Clock) -> None:
    client = Client(headers={"user-agent": CHROME_LINUX}, REMOTE_ADDR="203.0.113.7")
    client.force_login(alice.user)  # Django's login, without allauth's adapter: no row yet
    assert UserSession.objects.count() == 0

    assert client.get("/").status_code == 200

    assert list(
        UserSession.objects.values_list(
            "session_key", "user_id", "ip_address", "user_agent", "created_at", "last_seen", "impersonator_id"
        )
    ) == [(session_key(client), alice.user.pk, "203.0.113.7", CHROME_LINUX, T0, T0, None)]


def test_it_writes_last_seen_at_most_once_a_minute(alice: Membership, clock: Clock) -> None:
    client = browser(alice.user)

    clock.now = T0 + dt.timedelta(seconds=59)
    client.defaults["REMOTE_ADDR"] = "198.51.100.1"
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    assert writes(queries) == []
    assert UserSession.objects.values_list("ip_address", "last_seen").get() == ("203.0.113.7", T0)

    clock.now = T0 + dt.timedelta(seconds=60)
    assert client.get("/").status_code == 200
    assert UserSession.objects.values_list("ip_address", "created_at", "last_seen").get() == (
        "198.51.100.1",
        T0,
        T0 + dt.timedelta(seconds=60),
    )


def test_it_leaves_anonymous_requests_static_files_and_healthz_alone(
    client: Client, alice: Membership, clock: Clock
) -> None:
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/static/portal/css/sportello.css").status_code == 200
    assert "sessionid" not in client.cookies

    client.force_login(alice.user)
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/static/portal/css/sportello.css").status_code == 200
    assert UserSession.objects.count() == 0


def test_the_session_id_changes_at_login_and_the_row_follows_the_new_one(alice: Membership, clock: Clock) -> None:
    client = Client(headers={"user-agent": FIREFOX_WINDOWS}, REMOTE_ADDR="203.0.113.9")
    anonymous = client.session  # an anonymous session, as a visitor has before logging in
    anonymous["seen_before_login"] = True
    anonymous.save()
    before = anonymous.session_key

    response = client.post("/accounts/login/", {"login": "alice@example.org", "password": PASSWORD})

    assert response.status_code == 302
    after = session_key(client)
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert list(UserSession.objects.values_list("session_key", "user_id", "ip_address", "user_agent")) == [
        (after, alice.user.pk, "203.0.113.9", FIREFOX_WINDOWS)
    ]


def test_logging_out_removes_the_sessions_row(alice: Membership, clock: Clock) -> None:
    client = browser(alice.user)
    other = browser(alice.user, user_agent=FIREFOX_WINDOWS)

    assert client.post("/accounts/logout/").status_code == 302

    assert list(UserSession.objects.values_list("session_key", flat=True)) == [session_key(other)]
    assert is_logged_out(client)
    assert client.get("/").status_code == 302
    assert other.get("/").status_code == 200


def test_a_session_made_invalid_by_a_new_password_loses_its_row_on_its_next_request(
    alice: Membership, clock: Clock
) -> None:
    client = browser(alice.user)
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [session_key(client)]
    user = User.objects.get(pk=alice.user.pk)
    user.set_password("a completely different passphrase for alice")
    user.save()

    assert is_logged_out(client)
    assert UserSession.objects.count() == 0


# --- Ending sessions from outside -------------------------------------------------------------


def test_disabling_a_user_ends_all_their_sessions_at_once(alice: Membership, bob: Membership, clock: Clock) -> None:
    first, second = browser(alice.user), browser(alice.user, user_agent=FIREFOX_WINDOWS)
    bobs = browser(bob.user)
    staff = User.objects.create_user("staff@example.net", PASSWORD, is_staff=True)

    user_disable(user=alice.user, by=staff)

    assert not Session.objects.filter(session_key__in=[session_key(first), session_key(second)]).exists()
    assert list(UserSession.objects.values_list("user_id", flat=True)) == [bob.user.pk]
    assert is_logged_out(first)
    assert is_logged_out(second)
    assert bobs.get("/").status_code == 200


def test_suspending_an_account_logs_its_members_out_and_their_other_accounts_still_work(
    alice: Membership, bob: Membership, clock: Clock
) -> None:
    # Bob also works for Alice's company.
    membership_add(account=alice.account, user=bob.user, role=Role.TECHNICAL)
    alices, bobs = browser(alice.user), browser(bob.user)
    staff = User.objects.create_user("staff@example.net", PASSWORD, is_staff=True)

    account_suspend(account=alice.account, by=staff, reason="unpaid")

    assert is_logged_out(alices)
    assert is_logged_out(bobs)
    assert UserSession.objects.count() == 0
    # Bob logs in again: his own account works, the suspended one is gone from his list.
    bobs.force_login(bob.user)
    response = bobs.get("/")
    assert response.status_code == 200
    assert response.context["current_account"] == bob.account
    assert response.context["other_memberships"] == []
    # Alice has no other account: logged in again, she is told she has none.
    alices.force_login(alice.user)
    assert alices.get("/").status_code == 403


# --- The rotation service ---------------------------------------------------------------------


def record(user: User, key: str, when: dt.datetime = T0) -> UserSession:
    return user_session_record(user=user, session_key=key, ip_address="203.0.113.7", user_agent="ua", now=when)


def test_a_rotated_session_keeps_its_row_and_login_time(alice: Membership) -> None:
    record(alice.user, "old-key-0123456789")

    user_session_rotated(old_key="old-key-0123456789", new_key="new-key-0123456789", user=alice.user)

    assert list(UserSession.objects.values_list("session_key", "user_id", "created_at")) == [
        ("new-key-0123456789", alice.user.pk, T0)
    ]


def test_a_row_already_recorded_for_the_new_id_wins(alice: Membership) -> None:
    record(alice.user, "old-key-0123456789")
    record(alice.user, "new-key-0123456789", T0 + dt.timedelta(hours=1))

    user_session_rotated(old_key="old-key-0123456789", new_key="new-key-0123456789", user=alice.user)

    assert list(UserSession.objects.values_list("session_key", "created_at")) == [
        ("new-key-0123456789", T0 + dt.timedelta(hours=1))
    ]


@pytest.mark.parametrize("new_key", [None, "new-key-0123456789"])
def test_an_ended_session_or_one_taken_over_by_another_user_loses_its_row(
    alice: Membership, bob: Membership, new_key: str | None
) -> None:
    record(alice.user, "old-key-0123456789")
    record(alice.user, "kept-key-0123456789")

    user_session_rotated(old_key="old-key-0123456789", new_key=new_key, user=bob.user if new_key else None)

    assert list(UserSession.objects.values_list("session_key", "user_id")) == [("kept-key-0123456789", alice.user.pk)]
