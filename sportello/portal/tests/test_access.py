"""Who sees what in the client area: login everywhere, tenancy always, areas by role."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from sportello.accounts.models import Role, User
from sportello.accounts.services import membership_add
from sportello.portal import urls as portal_urls


def portal_paths() -> list[str]:
    """Every URL of the client area, with a made-up value for each argument."""
    paths = []
    for pattern in portal_urls.urlpatterns:
        assert isinstance(pattern, URLPattern | URLResolver)
        converters = pattern.pattern.converters if hasattr(pattern.pattern, "converters") else {}
        kwargs = {name: ("1" if type(conv).__name__ == "IntConverter" else "x1") for name, conv in converters.items()}
        paths.append(reverse(f"portal:{pattern.name}", kwargs=kwargs))
    return paths


def test_every_portal_view_is_wrapped_in_member_required():
    for pattern in portal_urls.urlpatterns:
        view = pattern.callback
        assert getattr(view, "member_required", False), f"{pattern.name} is not behind member_required"


@pytest.mark.django_db
@pytest.mark.parametrize("path", portal_paths())
def test_every_portal_url_requires_login(client, path):
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('account_login')}?next={path}"


@pytest.mark.django_db
def test_the_portal_is_mounted_at_the_root():
    assert get_resolver().resolve("/").url_name == "dashboard"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["dashboard", "billing", "account"])
def test_a_page_of_account_a_never_shows_account_b(client, alice, bob, name):
    client.force_login(alice.user)
    body = client.get(reverse(f"portal:{name}")).content.decode()
    assert alice.account.name in body
    for secret in (bob.account.name, bob.account.reference, bob.user.email, "Recife"):
        assert secret not in body


@pytest.mark.django_db
def test_the_members_list_shows_only_the_acting_account(client, alice, bob):
    client.force_login(alice.user)
    body = client.get(reverse("portal:account")).content.decode()
    assert "alice@example.org" in body
    assert "bob@example.org" not in body


@pytest.mark.django_db
def test_an_area_without_the_right_answers_404_and_is_not_in_the_menu(client, alice):
    diego = User.objects.create_user("diego@example.org", "x" * 12)
    membership_add(account=alice.account, user=diego, role=Role.TECHNICAL)
    client.force_login(diego)
    assert client.get(reverse("portal:billing")).status_code == 404
    dashboard = client.get(reverse("portal:dashboard")).content.decode()
    assert f'href="{reverse("portal:billing")}"' not in dashboard
    assert f'href="{reverse("portal:services")}"' in dashboard


@pytest.mark.django_db
def test_a_user_without_account_gets_an_explanation(client):
    staff = User.objects.create_user("staff@example.org", "x" * 12, is_staff=True)
    client.force_login(staff)
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 403
    assert "Your login is not linked to a customer account" in response.content.decode()


@pytest.mark.django_db
def test_switching_to_an_account_of_ones_own(client, alice, bob):
    membership_add(account=bob.account, user=alice.user, role=Role.FINANCE)
    client.force_login(alice.user)
    response = client.post(reverse("portal:account-switch"), {"account": bob.account_id})
    assert response.status_code == 302
    body = client.get(reverse("portal:dashboard")).content.decode()
    assert "Bob Tecnologia Ltda." in body
    assert "Your role: Finance" in body


@pytest.mark.django_db
def test_switching_to_someone_elses_account_changes_nothing(client, alice, bob):
    client.force_login(alice.user)
    response = client.post(reverse("portal:account-switch"), {"account": bob.account_id}, follow=True)
    body = response.content.decode()
    assert "That account is not available to you." in body
    assert "Alice Servicios S.L." in body
    assert "Bob Tecnologia" not in body
    assert "portal_account_id" not in client.session
