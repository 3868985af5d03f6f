"""Accepting an invitation: new people create their login, existing ones log in first."""

import datetime as dt

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from sportello.accounts.models import Invitation, Membership, Role, User
from sportello.accounts.services import invitation_create
from sportello.core.time import utc_now

PASSWORD = "amber-otter-quietly-sings-8"


@pytest.fixture
def invite(alice):
    def make(email="nuno@example.org", role=Role.FINANCE, now=None):
        invitation, secret = invitation_create(acting=alice, email=email, role=role, now=now or utc_now())
        return invitation, reverse("invitation-accept", args=[secret])

    return make


@pytest.mark.django_db
def test_a_new_person_creates_a_login_and_joins(client, alice, invite):
    invitation, path = invite()
    page = client.get(path, headers={"accept-language": "en"})
    assert page.status_code == 200
    assert "Join Alice Servicios S.L." in page.content.decode()
    response = client.post(path, {"full_name": "Nuno Costa", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    user = User.objects.get(email="nuno@example.org")
    assert (user.full_name, user.check_password(PASSWORD)) == ("Nuno Costa", True)
    assert Membership.objects.get(user=user).role == Role.FINANCE
    assert client.session[SESSION_KEY] == str(user.pk)
    invitation.refresh_from_db()
    assert invitation.accepted_by == user
    # Single use: the link is dead now, for anyone.
    client.logout()
    assert client.get(path).status_code == 400


@pytest.mark.django_db
def test_an_existing_login_must_log_in_as_the_invited_email(client, alice, bob, invite):
    _, path = invite(email="bob@example.org")
    anonymous = client.get(path)
    assert f'href="{reverse("account_login")}?next={path}"' in anonymous.content.decode()
    assert client.post(path, {"full_name": "x", "password1": PASSWORD, "password2": PASSWORD}).status_code == 200
    assert not Membership.objects.filter(user=bob.user, account=alice.account).exists()

    client.force_login(alice.user)  # someone else: refused, nothing changes
    assert client.post(path).status_code == 403
    assert not Membership.objects.filter(user=bob.user, account=alice.account).exists()

    client.force_login(bob.user)
    assert client.post(path)["Location"] == reverse("portal:dashboard")
    assert Membership.objects.get(user=bob.user, account=alice.account).role == Role.FINANCE
    assert client.session["portal_account_id"] == alice.account_id


@pytest.mark.django_db
def test_expired_revoked_and_unknown_invitations_do_nothing(client, alice, invite):
    _, expired = invite(email="old@example.org", now=utc_now() - dt.timedelta(days=8))
    revoked_invitation, revoked = invite(email="rev@example.org")
    Invitation.objects.filter(pk=revoked_invitation.pk).update(revoked_at=utc_now())
    for path in (expired, revoked, reverse("invitation-accept", args=["made-up-secret"])):
        assert client.get(path).status_code == 400
        assert client.post(path, {"full_name": "x", "password1": PASSWORD, "password2": PASSWORD}).status_code == 400
    assert not User.objects.filter(email__in=["old@example.org", "rev@example.org"]).exists()


@pytest.mark.django_db
def test_the_invitation_email_is_logged_for_the_account(alice, invite, django_capture_on_commit_callbacks):
    from django.core import mail

    from sportello.notifications.models import EmailLog

    with django_capture_on_commit_callbacks(execute=True):
        invite()
    assert mail.outbox[0].subject == "Alice invites you to the customer area of Alice Servicios S.L."
    logged = EmailLog.objects.get()
    assert (logged.account, logged.kind, logged.to_email, logged.status) == (
        alice.account,
        "invitation",
        "nuno@example.org",
        "sent",
    )
