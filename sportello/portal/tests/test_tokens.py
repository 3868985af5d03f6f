"""The API tokens page: a member lists, creates (the secret shown once) and revokes their
own tokens; a colleague's token is 404; a scope beyond the member's role is refused."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import ApiToken, Role, User
from sportello.accounts.services import api_token_authenticate, membership_add
from sportello.api.tests.conftest import member_token
from sportello.core.models import AuditEvent
from sportello.core.time import utc_now

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"spt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def create(client, **fields):
    data = {"name": "backup script", "scopes": ["read", "services"], "expires_in": "90", **fields}
    return client.post(reverse("portal:api-token-create"), data)


def test_the_security_page_links_to_the_tokens(alice_client):
    page = alice_client.get(reverse("portal:security")).content.decode()
    assert reverse("portal:api-tokens") in page


def test_it_creates_a_token_and_shows_the_secret_only_in_that_answer(alice_client, alice):
    response = create(alice_client)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    secret = SECRET.search(page).group(0)
    token = ApiToken.objects.get()
    assert api_token_authenticate(secret=secret, now=utc_now()).pk == token.pk
    assert (token.name, token.scopes, token.membership_id) == ("backup script", ["read", "services"], alice.pk)
    assert (token.expires_at - token.created_at).days == 90
    assert "shown only this once" in page
    again = alice_client.get(reverse("portal:api-tokens")).content.decode()
    assert SECRET.search(again) is None
    assert f"spt_{token.key_id}_…" in again
    assert "backup script" in again
    assert AuditEvent.objects.filter(action="api_token.created", account=alice.account).count() == 1


def test_a_scope_beyond_the_role_is_refused_next_to_the_field(alice):
    finance = membership_add(
        account=alice.account, user=User.objects.create_user("fin@example.org", "x" * 12), role=Role.FINANCE
    )
    client = Client()
    client.force_login(finance.user)
    page = client.get(reverse("portal:api-tokens")).content.decode()
    assert 'value="billing"' in page
    assert 'value="services"' not in page
    response = create(client, scopes=["read", "services"])
    assert response.status_code == 400
    assert "A token cannot do more than you can" in response.content.decode()
    assert ApiToken.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"scopes": []}, "This field is required."),
        ({"scopes": ["admin"]}, "Select a valid choice."),
        ({"expires_in": "1000"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(alice_client, fields, message):
    response = create(alice_client, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert ApiToken.objects.count() == 0


def test_it_revokes_a_token(alice_client, alice):
    create(alice_client)
    token = ApiToken.objects.get()
    response = alice_client.post(reverse("portal:api-token-revoke", args=[token.pk]), follow=True)
    assert "is revoked: it no longer works" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_token.revoked", actor=alice.user).count() == 1
    page = alice_client.get(reverse("portal:api-tokens")).content.decode()
    assert "Revoked" in page
    assert reverse("portal:api-token-revoke", args=[token.pk]) not in page


def test_a_colleague_s_token_is_not_found(alice_client, alice):
    colleague = membership_add(
        account=alice.account, user=User.objects.create_user("co@example.org", "x" * 12), role=Role.OWNER
    )
    theirs, _secret = member_token(colleague, ["read"])
    assert theirs.key_id not in alice_client.get(reverse("portal:api-tokens")).content.decode()
    response = alice_client.post(reverse("portal:api-token-revoke", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_another_account_s_token_is_not_found(alice_client, bob):
    theirs, _secret = member_token(bob, ["read"])
    assert alice_client.post(reverse("portal:api-token-revoke", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_the_page_needs_a_login(client):
    response = client.get(reverse("portal:api-tokens"))
    assert response.status_code == 302


def test_staff_logged_in_as_the_customer_cannot_create_a_token(client, alice):
    staff = User.objects.create_superuser("ops@example.com", "ops-staff-passphrase-1")
    client.force_login(staff)
    client.post(reverse("staff-impersonate", args=[alice.user.pk]))
    page = client.get(reverse("portal:api-tokens")).content.decode()
    assert "Provider staff acting as you cannot create API tokens." in page
    assert reverse("portal:api-token-create") not in page
    response = create(client)
    assert response.status_code == 400
    assert SECRET.search(response.content.decode()) is None
    assert ApiToken.objects.count() == 0
