"""Back office for API tokens: staff create integration tokens (secret shown once) and
revoke any token, through the services, audited; staff without the permission cannot."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import ApiToken, User
from sportello.accounts.services import api_token_authenticate
from sportello.api.tests.conftest import member_token
from sportello.core.models import AuditEvent
from sportello.core.time import utc_now

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"spt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def admin_client(client):
    staff = User.objects.create_superuser("ops@example.com", "ops-staff-passphrase-1")
    client.force_login(staff)
    return client


def test_staff_create_an_integration_token_and_see_its_secret_once(admin_client):
    response = admin_client.post(reverse("admin:accounts_apitoken_add"), {"name": "hosting panel"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = SECRET.search(response.content.decode()).group(0)
    token = ApiToken.objects.get()
    assert (token.kind, token.scopes, token.expires_at, token.created_by.email) == (
        "integration",
        ["usage:write"],
        None,
        "ops@example.com",
    )
    assert api_token_authenticate(secret=secret, now=utc_now()).pk == token.pk
    listing = admin_client.get(reverse("admin:accounts_apitoken_changelist")).content.decode()
    assert "hosting panel" in listing
    assert SECRET.search(listing) is None
    detail = admin_client.get(reverse("admin:accounts_apitoken_change", args=[token.pk])).content.decode()
    assert SECRET.search(detail) is None
    assert AuditEvent.objects.filter(action="api_token.created", actor__email="ops@example.com").count() == 1


def test_an_expiry_in_days_is_kept(admin_client):
    admin_client.post(reverse("admin:accounts_apitoken_add"), {"name": "panel", "expires_in_days": "30"})
    token = ApiToken.objects.get()
    assert (token.expires_at - token.created_at).days == 30


@pytest.mark.parametrize("fields", [{"name": ""}, {"name": "p", "expires_in_days": "0"}, {"name": "x" * 101}])
def test_bad_input_creates_nothing(admin_client, fields):
    response = admin_client.post(reverse("admin:accounts_apitoken_add"), fields)
    assert response.status_code == 200
    assert ApiToken.objects.count() == 0
    assert SECRET.search(response.content.decode()) is None


def test_staff_revoke_any_token(admin_client, alice):
    token, _secret = member_token(alice)
    response = admin_client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
        follow=True,
    )
    assert "1 token revoked." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_by.email == "ops@example.com"
    assert AuditEvent.objects.filter(action="api_token.revoked", account=alice.account).count() == 1


def test_staff_without_the_permissions_cannot_create_or_revoke(alice):
    viewer = User.objects.create_user("viewer@example.com", "x" * 12, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    client = Client()
    client.force_login(viewer)
    token, _secret = member_token(alice)
    assert client.post(reverse("admin:accounts_apitoken_add"), {"name": "panel"}).status_code == 403
    client.post(
        reverse("admin:accounts_apitoken_changelist"), {"action": "revoke_tokens", "_selected_action": [token.pk]}
    )
    assert ApiToken.objects.count() == 1
    token.refresh_from_db()
    assert token.revoked_at is None
