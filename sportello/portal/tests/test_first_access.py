"""First access and password reset: neutral answers, single-use links, never past 2FA."""

import datetime as dt
import re

import pytest
from allauth.account import forms as allauth_forms
from allauth.mfa.models import Authenticator
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from sportello.accounts.models import Role, User
from sportello.accounts.services import membership_add, user_create
from sportello.accounts.tokens import password_link_tokens
from sportello.core.models import AuditEvent
from sportello.core.testing import without_tokens
from sportello.notifications.models import EmailLog

NEW_PASSWORD = "violet-harbour-canoe-47"


@pytest.fixture
def newcomer(alice):
    """Created by staff with no password yet, as a member of alice's account."""
    user = user_create(email="nora@example.org", full_name="Nora Quinn", language="es")
    membership_add(account=alice.account, user=user, role=Role.FINANCE)
    return user


def link_in(message) -> str:
    return re.search(r"https?://[^\s\"<]+", message.body).group(0)


def ask_first_access(client, email, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("first-access"), {"email": email})


@pytest.mark.django_db
def test_known_and_unknown_emails_get_the_same_answer(client, newcomer, django_capture_on_commit_callbacks):
    known = ask_first_access(client, "nora@example.org", django_capture_on_commit_callbacks)
    unknown = ask_first_access(client, "nobody@example.org", django_capture_on_commit_callbacks)
    assert (
        (known.status_code, known["Location"])
        == (unknown.status_code, unknown["Location"])
        == (
            302,
            reverse("first-access-sent"),
        )
    )
    assert without_tokens(client.get(known["Location"]).content) == without_tokens(
        client.get(unknown["Location"]).content
    )
    assert [m.to for m in mail.outbox] == [["nora@example.org"]]


@pytest.mark.django_db
def test_first_access_sets_the_password_confirms_the_email_and_logs_in(
    client, newcomer, django_capture_on_commit_callbacks
):
    ask_first_access(client, "NORA@example.org", django_capture_on_commit_callbacks)
    message = mail.outbox[0]
    assert message.subject == "Elija su contraseña para el área de clientes de Sportello Demo Hosting"
    link = link_in(message)
    assert link.startswith("http://127.0.0.1:8000/accounts/first-access/")
    path = link.removeprefix("http://127.0.0.1:8000")

    assert client.get(path).status_code == 200
    response = client.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:dashboard")
    assert client.session[SESSION_KEY] == str(newcomer.pk)
    newcomer.refresh_from_db()
    assert newcomer.check_password(NEW_PASSWORD)
    assert newcomer.emailaddress_set.get().verified is True
    assert list(AuditEvent.objects.filter(target=f"accounts.user:{newcomer.pk}").values_list("action", flat=True)) == [
        "user.login",
        "user.first_access",
        "user.first_access_requested",
        "user.created",
    ]
    # The email log keeps the email exactly as sent.
    logged = EmailLog.objects.get(recipient=newcomer)
    assert (logged.subject, logged.body_text, logged.status) == (message.subject, message.body, "sent")

    # Used: the same link no longer works, and nothing changes.
    client.logout()
    reused = client.post(path, {"password1": "another-long-passphrase-9", "password2": "another-long-passphrase-9"})
    assert reused.status_code == 400
    newcomer.refresh_from_db()
    assert newcomer.check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_a_newer_link_kills_the_older_one(client, newcomer, django_capture_on_commit_callbacks):
    ask_first_access(client, "nora@example.org", django_capture_on_commit_callbacks)
    ask_first_access(client, "nora@example.org", django_capture_on_commit_callbacks)
    older, newer = (link_in(m).removeprefix("http://127.0.0.1:8000") for m in mail.outbox)
    assert client.get(older).status_code == 400
    assert client.post(older, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 400
    assert not User.objects.get(pk=newcomer.pk).has_usable_password()
    assert client.get(newer).status_code == 200


@pytest.mark.django_db
def test_a_link_expires_after_an_hour(client, newcomer, monkeypatch, django_capture_on_commit_callbacks):
    ask_first_access(client, "nora@example.org", django_capture_on_commit_callbacks)
    path = link_in(mail.outbox[0]).removeprefix("http://127.0.0.1:8000")
    issued = password_link_tokens._now()
    monkeypatch.setattr(password_link_tokens, "_now", lambda: issued + dt.timedelta(minutes=59))
    assert client.get(path).status_code == 200
    monkeypatch.setattr(password_link_tokens, "_now", lambda: issued + dt.timedelta(minutes=61))
    assert client.get(path).status_code == 400


@pytest.mark.django_db
def test_weak_or_mismatched_passwords_are_refused_with_the_reason(client, newcomer, django_capture_on_commit_callbacks):
    ask_first_access(client, "nora@example.org", django_capture_on_commit_callbacks)
    path = link_in(mail.outbox[0]).removeprefix("http://127.0.0.1:8000")
    weak = client.post(
        path, {"password1": "password123", "password2": "password123"}, headers={"accept-language": "en"}
    )
    assert weak.status_code == 200
    assert "This password is too common." in weak.content.decode()
    mismatch = client.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"})
    assert "The two passwords are not the same." in mismatch.content.decode()
    assert not User.objects.get(pk=newcomer.pk).has_usable_password()
    assert client.get(path).status_code == 200  # the link is still good: nothing was set


@pytest.mark.django_db
def test_a_64_character_passphrase_is_accepted(client, newcomer, django_capture_on_commit_callbacks):
    passphrase = "the quiet orange lighthouse keeps counting seventeen silver herrings"
    assert len(passphrase) > 64
    ask_first_access(client, "nora@example.org", django_capture_on_commit_callbacks)
    path = link_in(mail.outbox[0]).removeprefix("http://127.0.0.1:8000")
    assert client.post(path, {"password1": passphrase, "password2": passphrase}).status_code == 302
    assert User.objects.get(pk=newcomer.pk).check_password(passphrase)


@pytest.mark.django_db
def test_first_access_is_throttled_per_email(client, newcomer, django_capture_on_commit_callbacks):
    codes = [
        ask_first_access(client, "nora@example.org", django_capture_on_commit_callbacks).status_code for _ in range(4)
    ]
    assert codes == [302, 302, 302, 429]
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_links_are_built_from_site_url_not_the_host_header(
    client, newcomer, settings, django_capture_on_commit_callbacks
):
    settings.ALLOWED_HOSTS = ["*"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("first-access"), {"email": "nora@example.org"}, headers={"host": "evil.example"})
    assert link_in(mail.outbox[0]).startswith("http://127.0.0.1:8000/")


@pytest.mark.django_db
def test_reset_never_bypasses_two_factor(client, alice, django_capture_on_commit_callbacks):
    Authenticator.objects.create(user=alice.user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "alice@example.org"})
    link = link_in(mail.outbox[0])
    assert link.startswith("http://127.0.0.1:8000/accounts/password/reset/key/")
    page = client.get(link.removeprefix("http://127.0.0.1:8000"), follow=True)
    response = client.post(page.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert SESSION_KEY not in client.session  # not logged in by the reset
    login = client.post(reverse("account_login"), {"login": "alice@example.org", "password": NEW_PASSWORD})
    assert login["Location"] == reverse("mfa_authenticate")
    assert SESSION_KEY not in client.session  # the second factor is still asked for


@pytest.mark.django_db
def test_a_reset_link_dies_when_a_newer_one_is_sent(client, alice, django_capture_on_commit_callbacks):
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("account_reset_password"), {"email": "alice@example.org"})
    older, newer = (link_in(m).removeprefix("http://127.0.0.1:8000") for m in mail.outbox)
    assert "This link no longer works" in client.get(older, follow=True).content.decode()
    assert allauth_forms.default_token_generator.__class__.__name__ == "PasswordLinkTokenGenerator"
    assert client.get(newer, follow=True).status_code == 200


@pytest.mark.django_db
def test_reset_answers_the_same_for_unknown_emails(client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("account_reset_password"), {"email": "alice@example.org"})
        unknown = client.post(reverse("account_reset_password"), {"email": "ghost@example.org"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert [m.to for m in mail.outbox] == [["alice@example.org"]]
