"""The door: login by email, throttling, two-factor codes and recovery codes."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, hotp_value
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from sportello.conftest import PASSWORD
from sportello.core.models import AuditEvent
from sportello.core.testing import without_tokens


def log_in(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


@pytest.mark.django_db
def test_a_member_logs_in_by_email_in_any_case(client, alice):
    response = log_in(client, "Alice@Example.org", PASSWORD)
    assert response["Location"] == reverse("portal:dashboard")
    assert client.session[SESSION_KEY] == str(alice.user.pk)
    event = AuditEvent.objects.get(action="user.login")
    assert (event.actor, event.account, event.ip_address) == (alice.user, alice.account, "127.0.0.1")


@pytest.mark.django_db
def test_wrong_password_and_unknown_email_get_the_same_page(client, alice):
    wrong = log_in(client, "alice@example.org", "not-the-password")
    unknown = log_in(client, "nobody@example.org", "not-the-password")
    assert wrong.status_code == unknown.status_code == 200
    # The pages differ only by the email typed, echoed back in the field.
    assert without_tokens(wrong.content).replace("alice@example.org", "EMAIL") == without_tokens(
        unknown.content
    ).replace("nobody@example.org", "EMAIL")
    assert SESSION_KEY not in client.session
    failures = AuditEvent.objects.filter(action="user.login_failed")
    assert [(e.account_id, e.data) for e in failures.order_by("id")] == [
        (alice.account_id, {"user": "alice@example.org"}),
        (None, {"known": False}),
    ]


@pytest.mark.django_db
def test_failed_logins_are_throttled_per_email(client, alice):
    for _ in range(5):
        assert log_in(client, "alice@example.org", "not-the-password").status_code == 200
    blocked = log_in(client, "alice@example.org", PASSWORD)  # even the right password now
    assert blocked.status_code == 200
    assert "Too many failed login attempts" in blocked.content.decode()
    assert SESSION_KEY not in client.session


@pytest.fixture
def alice_with_totp(alice):
    secret = "JBSWY3DPEHPK3PXP"
    TOTP.activate(alice.user, secret)
    codes = RecoveryCodes.activate(alice.user)
    return secret, codes.get_unused_codes()


FIXED_TIME = 1_800_000_000  # the codes below are computed for this moment, not for today


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch):
    from allauth.mfa.totp.internal import auth

    monkeypatch.setattr(auth.time, "time", lambda: FIXED_TIME)


def current_code(secret: str) -> str:
    return f"{hotp_value(secret, FIXED_TIME // 30):06d}"


@pytest.mark.django_db
def test_two_factor_asks_for_a_code_and_accepts_it_once(client, alice, alice_with_totp):
    secret, _ = alice_with_totp
    assert log_in(client, "alice@example.org", PASSWORD)["Location"] == reverse("mfa_authenticate")
    assert SESSION_KEY not in client.session
    assert client.post(reverse("mfa_authenticate"), {"code": "000000"}).status_code == 200
    assert SESSION_KEY not in client.session
    code = current_code(secret)
    assert client.post(reverse("mfa_authenticate"), {"code": code})["Location"] == reverse("portal:dashboard")
    assert client.session[SESSION_KEY] == str(alice.user.pk)
    # The same code never works twice.
    client.logout()
    log_in(client, "alice@example.org", PASSWORD)
    assert client.post(reverse("mfa_authenticate"), {"code": code}).status_code == 200
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_a_recovery_code_works_once(client, alice, alice_with_totp):
    _, codes = alice_with_totp
    log_in(client, "alice@example.org", PASSWORD)
    assert client.post(reverse("mfa_authenticate"), {"code": codes[0]})["Location"] == reverse("portal:dashboard")
    client.logout()
    log_in(client, "alice@example.org", PASSWORD)
    assert client.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 200
    assert SESSION_KEY not in client.session
    unused = RecoveryCodes(Authenticator.objects.get(user=alice.user, type="recovery_codes")).get_unused_codes()
    assert codes[0] not in unused and len(unused) == len(codes) - 1
