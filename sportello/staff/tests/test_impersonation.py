"""Staff logged in as a customer: explicit, time-limited, visible, audited, never staff."""

import datetime as dt

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from sportello.accounts.models import User, UserSession
from sportello.core.models import AuditEvent
from sportello.staff import impersonation


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("ops@example.com", "ops-staff-passphrase-1", full_name="Ops")


@pytest.mark.django_db
def test_staff_logs_in_as_a_customer_with_a_banner_and_an_audit_trail(client, staff, alice):
    client.force_login(staff)
    response = client.post(reverse("staff-impersonate", args=[alice.user.pk]))
    assert response["Location"] == reverse("portal:dashboard")
    assert client.session[SESSION_KEY] == str(alice.user.pk)
    page = client.get(reverse("portal:dashboard"), headers={"accept-language": "en"}).content.decode()
    assert "ops@example.com (provider staff) is logged in as alice@example.org." in page
    assert UserSession.objects.get(user=alice.user).impersonator == staff
    started = AuditEvent.objects.get(action="user.impersonation_started")
    assert (started.actor, started.account, started.data) == (
        staff,
        alice.account,
        {"user": "alice@example.org", "staff": "ops@example.com"},
    )
    # The customer sees it in their activity log too.
    assert "Provider staff logged in as this user" in client.get(reverse("portal:activity")).content.decode()

    back = client.post(reverse("staff-impersonate-end"))
    assert back["Location"] == reverse("admin:accounts_user_change", args=[alice.user.pk])
    assert client.session[SESSION_KEY] == str(staff.pk)
    assert AuditEvent.objects.filter(action="user.impersonation_ended", actor=staff).count() == 1


@pytest.mark.django_db
def test_the_session_ends_by_itself_after_thirty_minutes(client, staff, alice, monkeypatch):
    client.force_login(staff)
    client.post(reverse("staff-impersonate", args=[alice.user.pk]))
    start = dt.datetime.fromisoformat(client.session[impersonation.SESSION_UNTIL]) - dt.timedelta(minutes=30)
    monkeypatch.setattr(impersonation, "utc_now", lambda: start + dt.timedelta(minutes=29))
    assert client.get(reverse("portal:dashboard")).status_code == 200
    monkeypatch.setattr(impersonation, "utc_now", lambda: start + dt.timedelta(minutes=30))
    expired = client.get(reverse("portal:dashboard"))
    assert expired["Location"] == reverse("account_login")
    assert SESSION_KEY not in client.session
    assert AuditEvent.objects.filter(action="user.impersonation_ended").count() == 1


@pytest.mark.django_db
def test_staff_cannot_act_as_staff_nor_without_the_permission(client, staff, alice):
    other_staff = User.objects.create_user("ops2@example.com", "x" * 12, is_staff=True)
    client.force_login(staff)
    refused = client.post(reverse("staff-impersonate", args=[other_staff.pk]))
    assert refused["Location"] == reverse("admin:accounts_user_change", args=[other_staff.pk])
    assert client.session[SESSION_KEY] == str(staff.pk)

    client.force_login(other_staff)  # staff, but without accounts.impersonate_user
    client.post(reverse("staff-impersonate", args=[alice.user.pk]))
    assert client.session[SESSION_KEY] == str(other_staff.pk)

    client.force_login(alice.user)  # a customer is not staff at all
    response = client.post(reverse("staff-impersonate", args=[staff.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert client.session[SESSION_KEY] == str(alice.user.pk)
    assert not AuditEvent.objects.filter(action="user.impersonation_started").exists()


@pytest.mark.django_db
def test_starting_needs_a_post(client, staff, alice):
    client.force_login(staff)
    assert client.get(reverse("staff-impersonate", args=[alice.user.pk])).status_code == 405
    assert client.session[SESSION_KEY] == str(staff.pk)
