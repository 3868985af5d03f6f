"""The email log and email preferences in the client area."""

import re

import pytest
from django.urls import reverse

from sportello.accounts.errors import InvalidAccountData
from sportello.accounts.models import Contact, Role, User
from sportello.accounts.services import contact_update, membership_add
from sportello.core.models import AuditEvent
from sportello.core.time import utc_now
from sportello.notifications.models import EmailLog


def log_email(*, account, recipient, subject, html="", to=None):
    return EmailLog.objects.create(
        account=account,
        recipient=recipient,
        kind="account",
        to_email=to or (recipient.email if recipient else "billing@example.org"),
        from_email="billing@example.com",
        subject=subject,
        body_text=f"{subject} text",
        body_html=html,
        created_at=utc_now(),
        status="sent",
    )


@pytest.mark.django_db
def test_members_see_their_own_emails_and_owners_the_whole_account(client, alice, bob):
    finance = User.objects.create_user("fin@example.org", "x" * 12)
    membership_add(account=alice.account, user=finance, role=Role.FINANCE)
    to_owner = log_email(account=alice.account, recipient=alice.user, subject="To the owner")
    to_finance = log_email(account=alice.account, recipient=finance, subject="To finance")
    personal = log_email(account=None, recipient=finance, subject="Reset link")
    other = log_email(account=bob.account, recipient=bob.user, subject="Bob's invoice")

    client.force_login(alice.user)
    body = client.get(reverse("portal:email-log")).content.decode()
    assert "To the owner" in body and "To finance" in body
    assert "Reset link" not in body and "Bob&#x27;s invoice" not in body and "Bob's invoice" not in body

    client.force_login(finance)
    body = client.get(reverse("portal:email-log")).content.decode()
    assert "To finance" in body and "Reset link" in body
    assert "To the owner" not in body
    assert client.get(reverse("portal:email-detail", args=[to_owner.pk])).status_code == 404
    assert client.get(reverse("portal:email-detail", args=[to_finance.pk])).status_code == 200
    for email in (other,):
        assert client.get(reverse("portal:email-detail", args=[email.pk])).status_code == 404
        assert client.get(reverse("portal:email-body", args=[email.pk])).status_code == 404
    assert client.get(reverse("portal:email-detail", args=[personal.pk])).status_code == 200


@pytest.mark.django_db
def test_an_email_body_is_shown_without_script_or_remote_loads(client, alice):
    hostile = (
        '<p onclick="steal()">Hello</p><script>alert(1)</script><img src="https://tracker.example/p.gif">'
        '<a href="javascript:alert(1)">x</a><iframe src="https://evil.example"></iframe><b>bold</b>'
    )
    email = log_email(account=alice.account, recipient=alice.user, subject="Hostile", html=hostile)
    client.force_login(alice.user)
    detail = client.get(reverse("portal:email-detail", args=[email.pk])).content.decode()
    assert f'src="{reverse("portal:email-body", args=[email.pk])}"' in detail
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in detail
    body = client.get(reverse("portal:email-body", args=[email.pk]))
    html = body.content.decode()
    for forbidden in ("<script", "onclick", "tracker.example", "javascript:", "<iframe"):
        assert forbidden not in html
    assert "<p>Hello</p>" in html and "<b>bold</b>" in html
    assert body["Content-Security-Policy"].startswith("default-src 'none'; img-src data:;")


@pytest.mark.django_db
def test_a_member_chooses_the_emails_they_receive(client, alice):
    client.force_login(alice.user)
    response = client.post(reverse("portal:email-preferences"), {"topics": ["support", "marketing"]})
    assert response.status_code == 302
    assert Contact.objects.get(user=alice.user).topics == ["marketing", "support"]
    refused = client.post(reverse("portal:email-preferences"), {"topics": ["spam"]})
    assert refused.status_code == 200
    assert Contact.objects.get(user=alice.user).topics == ["marketing", "support"]


@pytest.mark.django_db
def test_the_activity_log_needs_the_contacts_right(client, alice, bob):
    tech = User.objects.create_user("tech@example.org", "x" * 12)
    membership_add(account=alice.account, user=tech, role=Role.TECHNICAL)
    client.force_login(tech)
    assert client.get(reverse("portal:activity")).status_code == 404
    client.force_login(alice.user)
    body = client.get(reverse("portal:activity"), headers={"accept-language": "en"}).content.decode()
    assert "Person given access" in body
    assert "tech@example.org" in body
    assert "bob@example.org" not in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "offered"),
    [
        (Role.OWNER, ["invoices", "receipts", "services", "domains", "support", "marketing"]),
        (Role.FINANCE, ["invoices", "receipts", "support", "marketing"]),
        (Role.TECHNICAL, ["services", "domains", "support", "marketing"]),
        (Role.READ_ONLY, ["invoices", "receipts", "services", "domains", "support", "marketing"]),
    ],
)
def test_the_preferences_page_offers_only_the_topics_of_the_members_areas(client, alice, role, offered):
    user = alice.user
    if role != Role.OWNER:
        user = User.objects.create_user("member@example.org", "x" * 12)
        membership_add(account=alice.account, user=user, role=role)
    client.force_login(user)
    body = client.get(reverse("portal:email-preferences")).content.decode()
    assert re.findall(r'name="topics" value="(\w+)"', body) == offered


@pytest.mark.django_db
def test_a_forged_topic_outside_the_members_areas_is_refused_and_changes_nothing(client, alice):
    tech = User.objects.create_user("tech@example.org", "x" * 12, language="es")
    membership_add(account=alice.account, user=tech, role=Role.TECHNICAL)
    contact = Contact.objects.get(user=tech)
    assert contact.topics == ["services", "domains", "support"]
    events = AuditEvent.objects.count()
    client.force_login(tech)
    refused = client.post(
        reverse("portal:email-preferences"), {"topics": ["support", "invoices"]}, headers={"accept-language": "es"}
    )
    assert refused.status_code == 200
    assert "Su rol no incluye estos correos: elija entre los de la lista." in refused.content.decode()
    contact.refresh_from_db()
    assert contact.topics == ["services", "domains", "support"]
    assert AuditEvent.objects.count() == events

    # The service refuses it too, whoever asks.
    with pytest.raises(InvalidAccountData):
        contact_update(contact=contact, topics=["receipts"], acting=alice, by=alice.user)
    contact.refresh_from_db()
    assert contact.topics == ["services", "domains", "support"]

    saved = client.post(reverse("portal:email-preferences"), {"topics": ["support"]})
    assert saved.status_code == 302
    contact.refresh_from_db()
    assert contact.topics == ["support"]
