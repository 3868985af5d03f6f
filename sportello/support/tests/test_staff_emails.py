"""Staff hear of customers' new requests and messages by email: who, in which language, what
the email says, customer text literal in it; never of staff replies, never of a refused write."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest
from django.core import mail
from django.urls import reverse

from sportello.accounts.models import User
from sportello.notifications.models import EmailLog
from sportello.support import references
from sportello.support.errors import AttachmentRefused, InboundRefused, RelatedNotFound
from sportello.support.services import (
    ticket_assign,
    ticket_open,
    ticket_reply_by_email,
    ticket_reply_customer,
    ticket_reply_staff,
)
from sportello.support.tests.conftest import EXE, NOW, PDF, XSS, upload

pytestmark = pytest.mark.django_db

LATER = NOW + dt.timedelta(hours=2)


def staff_emails() -> list[EmailLog]:
    return list(EmailLog.objects.exclude(to_email="alice@example.org").order_by("id"))


def change_url(ticket) -> str:
    from django.conf import settings

    return settings.SITE_URL + reverse("admin:support_ticket_change", args=[ticket.pk])


@pytest.fixture
def lead(db) -> User:
    """A second agent, who reads the back office in Spanish."""
    return User.objects.create_user("lead@provider.example", "x", full_name="Lucía Lead", is_staff=True, language="es")


def open_request(alice, department, **extra):
    values = {
        "subject": "Invoice 2026-0042 charged twice",
        "body": "Please refund **one** of the two charges.",
        "uploads": [upload(PDF, "statement.pdf")],
        "now": NOW,
    }
    values.update(extra)
    return ticket_open(membership=alice, department=department, **values)


def test_a_new_request_reaches_the_departments_active_staff_in_their_language(alice, finance, staff, lead):
    gone = User.objects.create_user("gone@provider.example", "x", is_staff=True, is_active=False)
    not_staff = User.objects.create_user("friend@example.net", "x")
    finance.staff.add(staff, lead, gone, not_staff)

    ticket = open_request(alice, finance)

    sent = staff_emails()
    assert [(e.to_email, e.recipient, e.kind, e.account, e.reply_to) for e in sent] == [
        ("agent@provider.example", staff, "support", None, ""),
        ("lead@provider.example", lead, "support", None, ""),
    ]
    assert {e.subject for e in sent} == {f"[{ticket.public_id}] Invoice 2026-0042 charged twice"}
    assert sent[0].body_text == (
        f"Alice Servicios S.L. opened request {ticket.public_id}.\n"
        "\n"
        "Subject: Invoice 2026-0042 charged twice\n"
        "Department: Finance\n"
        "Priority: Normal\n"
        "Requester: Alice <alice@example.org>\n"
        "From: Alice (Customer area)\n"
        "\n"
        "Please refund **one** of the two charges.\n"
        "\n"
        "Attached files: statement.pdf\n"
        "\n"
        "Answer it in the back office:\n"
        f"{change_url(ticket)}\n"
    )
    assert f'<a href="{change_url(ticket)}"' in sent[0].body_html
    # Lucía reads Spanish: the department's and the channel's names, and what is translated.
    assert "Departamento: Facturación\n" in sent[1].body_text
    assert "De: Alice (Área de clientes)\n" in sent[1].body_text
    assert "Archivos adjuntos: statement.pdf\n" in sent[1].body_text
    # The customer's own email is unchanged: one, to her.
    assert EmailLog.objects.filter(to_email="alice@example.org").count() == 1


def test_customer_messages_reach_staff_by_web_and_by_email_but_staff_replies_do_not(
    alice, finance, staff, support_settings
):
    finance.staff.add(staff)
    ticket = open_request(alice, finance)
    assert len(staff_emails()) == 1

    ticket_reply_staff(ticket=ticket, by=staff, body="We are on it.", now=LATER)
    ticket_reply_staff(ticket=ticket, by=staff, body="Check the bank first.", internal=True, now=LATER)
    assert len(staff_emails()) == 1

    ticket_reply_customer(ticket=ticket, membership=alice, body="Here is the statement.", now=LATER)
    web = staff_emails()[-1]
    assert (len(staff_emails()), web.to_email, web.subject) == (
        2,
        "agent@provider.example",
        f"[{ticket.public_id}] Invoice 2026-0042 charged twice",
    )
    assert web.body_text.startswith(f"Alice Servicios S.L. wrote again on request {ticket.public_id}.\n")
    assert "From: Alice (Customer area)\n\nHere is the statement.\n\nAnswer it in the back office:\n" in web.body_text

    answer = EmailMessage()
    answer["From"] = "Alice <alice@example.org>"
    answer["To"] = references.reply_address(ticket.public_id)
    answer["Subject"] = "Re: your request"
    answer["Message-ID"] = "<answer-1@mail.alice.example>"
    answer.set_content("Sent from my phone: thanks.")
    ticket_reply_by_email(raw=answer.as_bytes(), now=LATER + dt.timedelta(hours=1))
    emailed = staff_emails()[-1]
    assert len(staff_emails()) == 3
    assert "From: Alice (Email)\n\nSent from my phone: thanks.\n\nAnswer it in the back office:\n" in (
        emailed.body_text
    )
    # The same email delivered again is refused: no second message, no second email.
    with pytest.raises(InboundRefused, match="duplicate"):
        ticket_reply_by_email(raw=answer.as_bytes(), now=LATER + dt.timedelta(hours=1))
    assert len(staff_emails()) == 3


def test_the_assignee_hears_too_and_without_anyone_the_configured_address(alice, technical, staff, lead, settings):
    settings.SUPPORT_STAFF_EMAIL = ""
    quiet = open_request(alice, technical, subject="Nobody works this queue")
    assert staff_emails() == []

    settings.SUPPORT_STAFF_EMAIL = "helpdesk@provider.example"
    ticket = open_request(alice, technical, subject="Site down")
    assert [(e.to_email, e.recipient, e.subject) for e in staff_emails()] == [
        ("helpdesk@provider.example", None, f"[{ticket.public_id}] Site down")
    ]
    assert "Department: Technical support\n" in staff_emails()[0].body_text

    # Assigned (to someone outside the department): the assignee, not the fallback address.
    ticket_assign(ticket=ticket, to=lead, by=staff, now=LATER)
    ticket_reply_customer(ticket=ticket, membership=alice, body="Still down.", now=LATER)
    assert [e.to_email for e in staff_emails()] == ["helpdesk@provider.example", "lead@provider.example"]

    # A department with staff: its staff and the assignee, each once.
    technical.staff.add(staff, lead)
    ticket_reply_customer(ticket=ticket, membership=alice, body="And now?", now=LATER)
    assert [e.to_email for e in staff_emails()][2:] == ["agent@provider.example", "lead@provider.example"]
    assert not EmailLog.objects.filter(subject__contains=quiet.public_id).exclude(to_email="alice@example.org")


def test_what_customers_type_is_literal_in_staff_emails(alice, finance, staff):
    finance.staff.add(staff)
    ticket = ticket_open(
        membership=alice,
        department=finance,
        subject=XSS,
        body=XSS,
        uploads=[upload(b"notes", "<svg onload=alert(3)>{{7*7}}.txt")],
        now=NOW,
    )
    ticket_reply_customer(ticket=ticket, membership=alice, body=XSS, now=LATER)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &lt;svg onload=alert(2)&gt; {{7*7}}"
    sent = staff_emails()
    assert len(sent) == 2
    for email in sent:
        assert email.subject == f"[{ticket.public_id}] {XSS}"  # a subject is plain text: literal
        assert f"Subject: {XSS}\n" in email.body_text
        assert f"\n\n{XSS}\n\n" in email.body_text
        assert f"<td>{escaped}</td>" in email.body_html
        assert f'<div style="border-left:3px solid #d5dae1;padding-left:12px;">{escaped}</div>' in email.body_html
        assert "<script>alert" not in email.body_html and "<svg onload" not in email.body_html
        # {{7*7}} never became 49 (the random reference and the id may hold those digits).
        assert "49" not in email.body_text.replace(ticket.public_id, "").replace(str(ticket.pk), "")
    assert "Attached files: <svg onload=alert(3)>{{7*7}}.txt\n" in sent[0].body_text
    assert "Attached files: &lt;svg onload=alert(3)&gt;{{7*7}}.txt</p>" in sent[0].body_html


def test_nothing_reaches_staff_when_opening_fails(
    alice, finance, staff, bob_service, support_settings, django_capture_on_commit_callbacks
):
    finance.staff.add(staff)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RelatedNotFound):
            open_request(alice, finance, related_service_id=bob_service.pk)
        with pytest.raises(AttachmentRefused):
            open_request(alice, finance, uploads=[upload(EXE, "setup.exe")])
    assert EmailLog.objects.count() == 0
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_request(alice, finance)
    delivered = sorted((m.to, m.subject) for m in mail.outbox)
    assert delivered == [
        (["agent@provider.example"], f"[{ticket.public_id}] Invoice 2026-0042 charged twice"),
        (
            ["alice@example.org"],
            f"Request received: Invoice 2026-0042 charged twice {references.subject_tag(ticket.public_id)}",
        ),
    ]
