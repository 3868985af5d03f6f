"""Emailed replies: the endpoint and the command add them to the right request, or touch nothing."""

from __future__ import annotations

import hashlib
import io
from email.message import EmailMessage

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.core.management import call_command

from sportello.accounts.models import User
from sportello.accounts.services import contact_create
from sportello.notifications.models import EmailLog
from sportello.portal.views.support import INBOUND_MAX_BYTES, support_inbound
from sportello.support import references
from sportello.support.models import Attachment, Channel, TicketMessage, TicketStatus
from sportello.support.services import reply_text, ticket_close, ticket_reply_staff
from sportello.support.tests.conftest import EXE, HTML, NOW, PNG

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


# --- Large replies, and the endpoint's own limit ----------------------------------------------------


def big_pdf(size: int) -> bytes:
    """A PDF of about `size` bytes: comment lines, nothing a check refuses."""
    line = b"% " + b"0123456789" * 10 + b"\n"
    return b"%PDF-1.4\n" + line * (size // len(line)) + b"%%EOF\n"


@pytest.mark.django_db
def test_a_reply_larger_than_djangos_upload_limit_joins_its_request(
    client, alice, alice_ticket, support_settings, settings
):
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    scan = big_pdf(2_800_000)
    message = reply(alice_ticket, body="The bank's statement is attached.")
    message.add_attachment(scan, maintype="application", subtype="pdf", filename="statement-march.pdf")
    raw = message.as_bytes()
    # Larger than DATA_UPLOAD_MAX_MEMORY_SIZE, which `request.body` refuses with a 400 page.
    assert len(raw) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = client.post(INBOUND, data=raw, content_type="message/rfc822", headers=SECRET)
    assert (response.status_code, response.content.decode()) == (200, f"added to {alice_ticket.public_id}\n")
    added = alice_ticket.messages.order_by("-id").first()
    assert added.body == "The bank's statement is attached."
    attachment = added.attachments.get()
    assert (attachment.filename, attachment.content_type, attachment.size, attachment.sha256) == (
        "statement-march.pdf",
        "application/pdf",
        len(scan),
        hashlib.sha256(scan).hexdigest(),
    )
    with default_storage.open(attachment.stored_name, "rb") as stored:
        assert stored.read() == scan


@pytest.mark.django_db
def test_a_message_over_the_endpoints_limit_is_refused_unread(client, alice_ticket, support_settings):
    before = state(alice_ticket)
    raw = reply(alice_ticket).as_bytes()
    raw += b"x" * (INBOUND_MAX_BYTES + 1 - len(raw))
    response = client.post(INBOUND, data=raw, content_type="message/rfc822", headers=SECRET)
    assert (response.status_code, response["Content-Type"], response.content) == (
        413,
        "text/plain",
        b"too large\n",
    )
    assert state(alice_ticket) == before


def asgi_request(body: bytes, headers: dict[str, str]) -> ASGIRequest:
    """A POST as an ASGI server hands it over: the whole body, whatever the headers say."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": INBOUND,
        "query_string": b"",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
    }
    return ASGIRequest(scope, io.BytesIO(body))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},  # a chunked upload: no Content-Length at all
        {"Content-Length": "1024"},  # a Content-Length smaller than the body
        {"Content-Length": "many"},  # one that is not a number
    ],
)
def test_the_limit_holds_whatever_content_length_says(alice_ticket, support_settings, headers):
    before = state(alice_ticket)
    raw = reply(alice_ticket).as_bytes()
    raw += b"x" * (INBOUND_MAX_BYTES + 1 - len(raw))
    response = support_inbound(asgi_request(raw, {**SECRET, "Content-Type": "message/rfc822", **headers}))
    assert (response.status_code, response["Content-Type"], response.content) == (413, "text/plain", b"too large\n")
    assert state(alice_ticket) == before


@pytest.mark.django_db
def test_a_content_length_that_is_not_a_number_is_no_error(client, alice_ticket, support_settings):
    before = state(alice_ticket)
    raw = reply(alice_ticket).as_bytes()
    # The WSGI request then reads no body at all: the message has no sender.
    response = client.post(INBOUND, data=raw, content_type="message/rfc822", headers=SECRET, CONTENT_LENGTH="many")
    assert (response.status_code, response.content) == (202, b"refused: unknown_sender\n")
    assert state(alice_ticket) == before


# --- Files left out of an emailed reply ------------------------------------------------------------


@pytest.mark.django_db
def test_the_sender_hears_which_files_were_left_out_and_why(
    client, alice, alice_ticket, staff, support_settings, django_capture_on_commit_callbacks
):
    alice.user.language = "es"
    alice.user.save()
    message = reply(alice_ticket, body="Here are the files.")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="receipt.png")
    message.add_attachment(HTML, maintype="text", subtype="html", filename="<svg onload=x>.html")
    message.add_attachment(b"%PDF-1.4\n" + b"0" * 4096, maintype="application", subtype="pdf", filename="big.pdf")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="second.png")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="third.png")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, message)
    assert response.status_code == 200
    added = alice_ticket.messages.order_by("-id").first()
    assert list(added.attachments.order_by("id").values_list("filename", flat=True)) == ["receipt.png", "second.png"]
    assert added.files_left_out == [
        {"name": "<svg onload=x>.html", "reason": "type_refused"},
        {"name": "big.pdf", "reason": "too_large"},
        {"name": "third.png", "reason": "too_many"},
    ]

    told = [sent for sent in mail.outbox if sent.subject.startswith("Archivos no incluidos")]
    assert len(told) == 1
    sent = told[0]
    tag = references.subject_tag(alice_ticket.public_id)
    assert (sent.to, sent.reply_to, sent.subject) == (
        ["alice@example.org"],
        [references.reply_address(alice_ticket.public_id)],
        f"Archivos no incluidos en su respuesta: Invoice 2026-0042 charged twice {tag}",
    )
    link = f"{settings.SITE_URL}/support/requests/{alice_ticket.public_id}/"
    assert sent.body == (
        "##- Escriba su respuesta por encima de esta línea -##\n\n"
        "Hola:\n\n"
        "Su respuesta a la solicitud «Invoice 2026-0042 charged twice» (referencia "
        f"{alice_ticket.public_id}) se ha añadido, pero estos archivos no se incluyeron:\n\n"
        "- <svg onload=x>.html: no es un tipo de archivo que aceptemos\n"
        "- big.pdf: supera el tamaño máximo\n"
        "- third.png: más archivos de los que admite un mensaje\n\n"
        "Un mensaje puede llevar hasta 2 archivos de 2 KB como máximo cada uno: PDF, imágenes, ZIP o texto sin"
        " formato.\n\n"
        "Para enviarlos, responda a este correo con los archivos adjuntos o añádalos a la solicitud en su área"
        " de cliente:\n"
        f"{link}\n"
    )
    html = sent.alternatives[0][0]
    assert "<li>&lt;svg onload=x&gt;.html: no es un tipo de archivo que aceptemos</li>" in html
    assert "<svg onload" not in html
    log = EmailLog.objects.get(subject=sent.subject)
    assert (log.account, log.recipient, log.kind) == (alice.account, alice.user, "support")


@pytest.mark.django_db
def test_a_reply_with_every_file_kept_sends_no_such_email(
    client, alice_ticket, support_settings, django_capture_on_commit_callbacks
):
    message = reply(alice_ticket)
    message.add_attachment(PNG, maintype="image", subtype="png", filename="receipt.png")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, message).status_code == 200
    assert alice_ticket.messages.order_by("-id").first().files_left_out == []
    assert [m.subject for m in mail.outbox if m.subject.startswith("Files left out")] == []
    assert EmailLog.objects.filter(subject__startswith="Files left out").count() == 0


@pytest.mark.django_db
def test_a_support_contact_hears_of_left_out_files_in_the_accounts_language(
    client, alice, alice_ticket, support_settings
):
    contact_create(
        account=alice.account, name="Outside IT", email="it@partner.example", topics=["support"], acting=None, by=None
    )
    message = reply(alice_ticket, sender="it@partner.example")
    message.add_attachment(EXE, maintype="application", subtype="octet-stream", filename="setup.exe")
    assert post(client, message).status_code == 200
    log = EmailLog.objects.get(subject__startswith="Files left out")
    assert (log.to_email, log.recipient, log.account) == ("it@partner.example", None, alice.account)
    assert "- setup.exe: not a type of file we accept\n" in log.body_text
