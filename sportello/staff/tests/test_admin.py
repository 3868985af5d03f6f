"""The back office writes through the services: rules and audit apply to staff too."""

import pytest
from django.core import mail
from django.urls import reverse

from sportello.accounts.models import Account, Contact, Membership, Role, User
from sportello.core.models import AuditEvent


@pytest.fixture
def admin_client(client, db):
    staff = User.objects.create_superuser("ops@example.com", "ops-staff-passphrase-1")
    client.force_login(staff)
    return client


ACCOUNT_FORM = {
    "kind": "company",
    "name": "Nuova S.r.l.",
    "country": "IT",
    "currency": "EUR",
    "language": "it",
    "time_zone": "Europe/Rome",
    "vat_id": "IT12345670892",
    "tax_id": "12345670892",
    "address_line1": "Via Po 1",
    "memberships-TOTAL_FORMS": "0",
    "memberships-INITIAL_FORMS": "0",
    "contacts-TOTAL_FORMS": "0",
    "contacts-INITIAL_FORMS": "0",
}


@pytest.mark.django_db
def test_staff_create_an_account_through_the_service(admin_client):
    response = admin_client.post(reverse("admin:accounts_account_add"), ACCOUNT_FORM)
    assert response.status_code == 302
    account = Account.objects.get()
    assert (account.reference, account.vat_id) == (f"C-{account.pk:05d}", "IT12345670892")
    assert AuditEvent.objects.filter(action="account.created", account=account).count() == 1


@pytest.mark.django_db
def test_an_invalid_tax_id_is_a_field_error_and_creates_nothing(admin_client):
    response = admin_client.post(reverse("admin:accounts_account_add"), {**ACCOUNT_FORM, "tax_id": "12345670891"})
    assert response.status_code == 200
    assert "invalid_it" in response.content.decode()
    assert Account.objects.count() == 0


@pytest.mark.django_db
def test_demoting_the_last_owner_is_refused_and_rolled_back(admin_client, alice):
    membership = alice
    contact = Contact.objects.get(account=alice.account)
    data = {
        **ACCOUNT_FORM,
        "name": alice.account.name,
        "country": "ES",
        "vat_id": "ESB12345674",
        "tax_id": "",
        "city": "Sevilla",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-0-id": str(membership.pk),
        "memberships-0-account": str(alice.account.pk),
        "memberships-0-user": str(alice.user.pk),
        "memberships-0-role": "finance",
        "memberships-0-custom_areas": "[]",
        "contacts-TOTAL_FORMS": "1",
        "contacts-INITIAL_FORMS": "1",
        "contacts-0-id": str(contact.pk),
        "contacts-0-account": str(alice.account.pk),
        "contacts-0-name": contact.name,
        "contacts-0-email": contact.email,
        "contacts-0-phone": "",
        "contacts-0-topics": '["invoices"]',
    }
    response = admin_client.post(reverse("admin:accounts_account_change", args=[alice.account.pk]), data, follow=True)
    assert "Not saved: an account keeps at least one owner" in response.content.decode()
    assert Membership.objects.get(pk=membership.pk).role == Role.OWNER
    alice.account.refresh_from_db()
    assert alice.account.city == "Madrid"  # the account's own changes were rolled back too


@pytest.mark.django_db
def test_staff_add_a_person_and_send_the_first_access_email(admin_client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:accounts_user_add"),
            {"email": "new@example.org", "full_name": "New Person", "language": "es", "send_first_access": "on"},
        )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.org")
    assert not user.has_usable_password()
    assert mail.outbox == []  # not a member of any account yet: nothing to open
    Membership.objects.create(account=alice.account, user=user, role=Role.FINANCE)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "send_first_access", "_selected_action": [user.pk]},
        )
    assert [m.to for m in mail.outbox] == [["new@example.org"]]


@pytest.mark.django_db
def test_disabling_a_user_ends_their_sessions(admin_client, client, alice):
    from django.test import Client

    customer = Client()
    customer.force_login(alice.user)
    assert customer.get(reverse("portal:dashboard")).status_code == 200
    admin_client.post(
        reverse("admin:accounts_user_changelist"), {"action": "disable_users", "_selected_action": [alice.user.pk]}
    )
    assert User.objects.get(pk=alice.user.pk).is_active is False
    assert customer.get(reverse("portal:dashboard"))["Location"].startswith(reverse("account_login"))
