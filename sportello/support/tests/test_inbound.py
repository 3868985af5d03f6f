"""Emailed replies: the endpoint and the command add them to the right request, or touch nothing."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pytest
from django.core.management import call_command

from sportello.accounts.models import User
from sportello.accounts.services import contact_create
from sportello.support import references
from sportello.support.models import Attachment, Channel, TicketMessage, TicketStatus
from sportello.support.services import reply_text, ticket_close, ticket_reply_staff
from sportello.support.tests.conftest import HTML, NOW, PNG

INBOUND = "/support/inbound/"
SECRET = {"X-Sportello-Secret": "inbound-secret-for-tests"}


def reply(
    ticket, *, sender="alice@example.org", to=None, subject="Re: your request", body="Thanks, refunded.", **headers
):
    message = EmailMessage()
    message["From"] = f"Alice <{sender}>"
    message["To"] = to if to is not None else references.reply_address(ticket.public_id)
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", "<reply-1@mail.alice.example>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(
        f"{body}\n\nOn Mon, 2 Mar 2026, Support wrote:\n> ##- Please type your reply above this line -##\n> Hello,\n"
    )
    return message


def post(client, message, **extra):
    return client.post(INBOUND, data=message.as_bytes(), content_type="message/rfc822", headers={**SECRET, **extra})


def state(ticket):
    ticket.refresh_from_db()
    return ticket.status, TicketMessage.objects.filter(ticket=ticket).count(), Attachment.objects.count()


@pytest.mark.django_db
def test_a_reply_by_email_joins_its_request(client, alice, alice_ticket, staff, support_settings):
    ticket_reply_staff(ticket=alice_ticket, by=staff, body="Refund issued.", now=NOW)
    message = reply(alice_ticket)
    message.add_attachment(PNG, maintype="image", subtype="png", filename="receipt.png")
    message.add_attachment(HTML, maintype="text", subtype="html", filename="evil.html")
    response = post(client, message)
    assert (response.status_code, response.content.decode()) == (200, f"added to {alice_ticket.public_id}\n")
    added = alice_ticket.messages.order_by("-id").first()
    assert (added.body, added.channel, added.author, added.author_kind) == (
        "Thanks, refunded.",
        Channel.EMAIL,
        alice.user,
        "customer",
    )
    # The HTML attachment was left out; the image arrived.
    assert list(added.attachments.values_list("filename", "content_type")) == [("receipt.png", "image/png")]
    alice_ticket.refresh_from_db()
    assert alice_ticket.status == TicketStatus.CUSTOMER_REPLY

    again = post(client, message)  # the mail server delivered it twice
    assert (again.status_code, again.content) == (202, b"refused: duplicate\n")
    assert alice_ticket.messages.count() == 3


@pytest.mark.django_db
def test_the_subject_reference_is_enough(client, alice, alice_ticket, support_settings):
    message = reply(
        alice_ticket, to="support@provider.example", subject=f"Re: x {references.subject_tag(alice_ticket.public_id)}"
    )
    assert post(client, message).status_code == 200
    assert alice_ticket.messages.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sender": "mallory@evil.example"}, "unknown_sender"),
        ({"sender": "bob@example.org"}, "unknown_sender"),
        ({"to": "support@provider.example"}, "no_reference"),
        ({"to": "support+aaaaaaaaaa-0123456789abcdef0123@provider.example"}, "bad_signature"),
        ({"Auto_Submitted": "auto-replied"}, "auto_reply"),
        ({"body": ""}, "empty"),
    ],
)
def test_refused_emails_touch_nothing(client, alice_ticket, bob, support_settings, change, reason):
    before = state(alice_ticket)
    response = post(client, reply(alice_ticket, **change))
    assert (response.status_code, response.content.decode()) == (202, f"refused: {reason}\n")
    assert state(alice_ticket) == before


@pytest.mark.django_db
def test_a_colleague_without_the_support_area_cannot_write_by_email(client, alice_ticket, colleague, support_settings):
    before = state(alice_ticket)
    response = post(client, reply(alice_ticket, sender="carlos@example.org"))
    assert (response.status_code, response.content) == (202, b"refused: unknown_sender\n")
    assert state(alice_ticket) == before


@pytest.mark.django_db
def test_a_support_contact_without_a_login_may_answer(client, alice, alice_ticket, support_settings):
    contact_create(
        account=alice.account, name="Outside IT", email="it@partner.example", topics=["support"], acting=None, by=None
    )
    assert post(client, reply(alice_ticket, sender="it@partner.example")).status_code == 200
    added = alice_ticket.messages.order_by("-id").first()
    assert (added.author, added.author_name, added.author_email) == (None, "Outside IT", "it@partner.example")


@pytest.mark.django_db
def test_a_reply_to_a_request_closed_too_long_ago_is_refused(client, alice, alice_ticket, support_settings):
    # Closed years before any day this test may run on (the endpoint reads the clock).
    ticket_close(ticket=alice_ticket, membership=alice, by=alice.user, now=NOW.replace(year=2020))
    before = state(alice_ticket)
    response = post(client, reply(alice_ticket))
    assert (response.status_code, response.content) == (202, b"refused: closed\n")
    assert state(alice_ticket) == before


@pytest.mark.django_db
def test_the_endpoint_wants_the_secret(client, alice_ticket, support_settings, settings):
    before = state(alice_ticket)
    message = reply(alice_ticket)
    assert post(client, message, **{"X-Sportello-Secret": "wrong"}).status_code == 403
    assert client.post(INBOUND, data=message.as_bytes(), content_type="message/rfc822").status_code == 403
    settings.SUPPORT_INBOUND_SECRET = ""
    assert post(client, message).status_code == 404
    assert client.get(INBOUND, headers=SECRET).status_code == 405
    assert state(alice_ticket) == before


@pytest.mark.django_db
def test_the_command_reads_a_message_from_stdin(alice, alice_ticket, support_settings, monkeypatch):
    out = io.StringIO()
    raw = reply(alice_ticket, body="Sent from the command.").as_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    call_command("support_inbound", stdout=out)
    assert out.getvalue() == f"added to {alice_ticket.public_id}\n"
    assert alice_ticket.messages.order_by("-id").first().body == "Sent from the command."

    out = io.StringIO()
    raw = reply(alice_ticket, sender="mallory@evil.example", message_id="<2@x>").as_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    call_command("support_inbound", stdout=out)
    assert out.getvalue() == "refused: unknown_sender\n"
    assert alice_ticket.messages.count() == 2


def test_it_keeps_only_the_new_part_of_a_reply():
    text = "Yes, thanks.\nBye\n\nEl lun, 2 mar 2026, Soporte escribió:\n> ##- Escribe tu respuesta -##\n> Hola\n"
    assert reply_text(text) == "Yes, thanks.\nBye"
    assert reply_text("Top\n##- Please type your reply above this line -##\nold") == "Top"
    assert reply_text("> only quoted\n> lines") == ""


@pytest.mark.django_db
def test_inactive_users_are_unknown_senders(client, alice, alice_ticket, support_settings):
    User.objects.filter(pk=alice.user.pk).update(is_active=False)
    response = post(client, reply(alice_ticket))
    assert response.content == b"refused: unknown_sender\n"
