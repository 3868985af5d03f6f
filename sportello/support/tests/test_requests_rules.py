"""Rules around requests: merges that would change who sees a conversation, card numbers
never stored, hidden departments, and where attachments are kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from sportello.accounts.models import Role, User
from sportello.accounts.services import membership_add
from sportello.support.errors import InvalidRequestData, MergeWouldChangeAccess
from sportello.support.models import Attachment, Department, Ticket, TicketEvent, TicketMessage, TicketStatus
from sportello.support.redaction import card_numbers_redact, luhn_valid
from sportello.support.selectors import tickets_visible_to
from sportello.support.services import (
    member_may_write,
    ticket_change_department,
    ticket_merge,
    ticket_open,
    ticket_reply_by_email,
    ticket_reply_customer,
    ticket_reply_staff,
)
from sportello.support.tests.conftest import NOW, PDF, upload
from sportello.support.tests.test_inbound import reply

pytestmark = pytest.mark.django_db

LATER = NOW + dt.timedelta(hours=3)


def snapshot() -> tuple[list[tuple], tuple[int, int, int]]:
    tickets = Ticket.objects.values_list("pk", "status", "merged_into_id", "closed_at", "department_id", "subject")
    return sorted(tickets), (TicketMessage.objects.count(), Attachment.objects.count(), TicketEvent.objects.count())


# --- Merge -----------------------------------------------------------------------------------------


def test_a_colleagues_request_is_not_merged_into_one_they_cannot_see(alice, colleague, alice_ticket, finance, staff):
    theirs = ticket_open(membership=colleague, department=finance, subject="Charged twice", body="Mine", now=NOW)
    before = snapshot()
    with pytest.raises(MergeWouldChangeAccess) as refused:
        ticket_merge(source=theirs, target=alice_ticket, by=staff, now=LATER)
    assert refused.value.requester == "carlos@example.org"
    # Nor the other way round: carlos would then read alice's conversation.
    with pytest.raises(MergeWouldChangeAccess):
        ticket_merge(source=alice_ticket, target=theirs, by=staff, now=LATER)
    assert snapshot() == before
    assert list(tickets_visible_to(membership=colleague)) == [theirs]
    assert list(theirs.messages.values_list("body", flat=True)) == ["Mine"]


def test_a_read_only_members_request_is_not_merged_into_one_they_cannot_answer(alice, alice_ticket, finance, staff):
    user = User.objects.create_user("reader@example.org", "x")
    reader = membership_add(account=alice.account, user=user, role=Role.READ_ONLY)
    theirs = ticket_open(membership=reader, department=finance, subject="Question", body="Hi", now=NOW)
    before = snapshot()
    with pytest.raises(MergeWouldChangeAccess):
        ticket_merge(source=theirs, target=alice_ticket, by=staff, now=LATER)
    assert snapshot() == before


def test_requests_of_members_who_see_everything_merge(alice, alice_technician, alice_ticket, finance, staff):
    theirs = ticket_open(membership=alice_technician, department=finance, subject="Same", body="Also", now=NOW)
    ticket_merge(source=theirs, target=alice_ticket, by=staff, now=LATER)
    theirs.refresh_from_db()
    assert (theirs.status, theirs.merged_into) == (TicketStatus.CLOSED, alice_ticket)
    assert member_may_write(alice_technician, alice_ticket)


def test_a_members_own_requests_merge_and_their_email_replies_still_arrive(
    alice, colleague, finance, staff, support_settings
):
    first = ticket_open(membership=colleague, department=finance, subject="Refund", body="First", now=NOW)
    second = ticket_open(membership=colleague, department=finance, subject="Refund again", body="Second", now=NOW)
    ticket_merge(source=second, target=first, by=staff, now=LATER)
    assert list(tickets_visible_to(membership=colleague).order_by("pk")) == [first, second]
    # An answer to the merged request's notification joins the request it was merged into.
    added = ticket_reply_by_email(
        raw=reply(second, sender="carlos@example.org", body="Any news?").as_bytes(), now=LATER + dt.timedelta(hours=1)
    )
    assert (added.ticket, added.author, added.body) == (first, colleague.user, "Any news?")
    assert list(first.messages.values_list("body", flat=True)) == ["First", "Second", "Any news?"]


def test_a_former_members_request_merges(alice, colleague, alice_ticket, finance, staff):
    theirs = ticket_open(membership=colleague, department=finance, subject="Charged twice", body="Mine", now=NOW)
    colleague.delete()  # carlos left the account: he sees neither request any more
    ticket_merge(source=theirs, target=alice_ticket, by=staff, now=LATER)
    assert alice_ticket.messages.filter(body="Mine").exists()


# --- Card numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Charge 4242 4242 4242 4242 please", "Charge •••• •••• •••• 4242 please"),
        ("card 4111-1111-1111-1111.", "card •••• •••• •••• 1111."),
        ("5555555555554444", "•••• •••• •••• 4444"),
        ("Amex 378282246310005 exp 12/30", "Amex •••• •••• •••• 0005 exp 12/30"),
        ("Diners 3056 9309 0259 04", "Diners •••• •••• •••• 5904"),
        ("19 digits 4000 0566 5566 5556 122?", "19 digits •••• •••• •••• 6122?"),
        ("19 digits failing Luhn 4000 0566 5566 5556 123", "19 digits failing Luhn 4000 0566 5566 5556 123"),
        ("two: 4242424242424242 and 4000056655665556", "two: •••• •••• •••• 4242 and •••• •••• •••• 5556"),
        # Not a card: the Luhn check fails, and the text stays as typed.
        ("Charge 4242 4242 4242 4241 please", "Charge 4242 4242 4242 4241 please"),
        # Too short, too long, or part of a longer number: kept.
        ("Order 424242424242", "Order 424242424242"),
        ("IBAN ES91 2100 0418 4502 0005 1332", "IBAN ES91 2100 0418 4502 0005 1332"),
        ("ref 99424242424242424242", "ref 99424242424242424242"),
        ("Invoice INV-2026-00042, phone +34 600 123 456", "Invoice INV-2026-00042, phone +34 600 123 456"),
    ],
)
def test_card_numbers_are_masked_and_other_numbers_kept(typed, stored):
    masked, count = card_numbers_redact(typed)
    assert masked == stored
    assert count == stored.count("••••") // 3


def test_the_luhn_check():
    assert [luhn_valid(n) for n in ("4242424242424242", "79927398713", "4242424242424241", "0")] == [
        True,
        True,
        False,
        True,
    ]


def test_a_card_number_never_reaches_the_database(alice, finance, staff, support_settings):
    ticket = ticket_open(
        membership=alice,
        department=finance,
        subject="Pay with 4242 4242 4242 4242",
        body="Number 4111-1111-1111-1111, not 4242 4242 4242 4241.",
        now=NOW,
    )
    ticket.refresh_from_db()
    first = ticket.messages.get()
    assert ticket.subject == "Pay with •••• •••• •••• 4242"
    assert (first.body, first.cards_redacted) == ("Number •••• •••• •••• 1111, not 4242 4242 4242 4241.", 2)
    assert "4111" not in first.body_html and "•••• •••• •••• 1111" in first.body_html

    by_web = ticket_reply_customer(ticket=ticket, membership=alice, body="Or 5555 5555 5555 4444", now=LATER)
    assert (by_web.body, by_web.cards_redacted) == ("Or •••• •••• •••• 4444", 1)
    by_email = ticket_reply_by_email(
        raw=reply(ticket, body="Try 378282246310005").as_bytes(), now=LATER + dt.timedelta(minutes=5)
    )
    assert (by_email.body, by_email.cards_redacted) == ("Try •••• •••• •••• 0005", 1)
    quoted = ticket_reply_staff(ticket=ticket, by=staff, body="You wrote 4242424242424242", now=LATER)
    assert (quoted.body, quoted.cards_redacted) == ("You wrote •••• •••• •••• 4242", 1)
    stored = " ".join(TicketMessage.objects.values_list("body", flat=True)) + ticket.subject
    for number in ("4242424242424242", "4242 4242 4242 4242", "4111-1111", "5555 5555", "378282246310005"):
        assert number not in stored
    plain = ticket_reply_customer(ticket=ticket, membership=alice, body="Thanks", now=LATER)
    assert plain.cards_redacted == 0


# --- Departments -------------------------------------------------------------------------------------


@pytest.fixture
def abuse(db) -> Department:
    """A department customers cannot choose: staff move requests there."""
    return Department.objects.create(slug="abuse", name="Abuse desk", is_public=False, position=9)


def stored_files() -> list[str]:
    folders = default_storage.listdir("support")[0] if default_storage.exists("support") else []
    return sorted(name for folder in folders for name in default_storage.listdir(f"support/{folder}")[1])


def test_a_hidden_department_refuses_new_requests(alice, abuse):
    files = stored_files()
    with pytest.raises(InvalidRequestData) as refused:
        ticket_open(
            membership=alice, department=abuse, subject="Spam", body="x", uploads=[upload(PDF, "a.pdf")], now=NOW
        )
    assert refused.value.field == "department"
    assert (Ticket.objects.count(), TicketMessage.objects.count(), Attachment.objects.count()) == (0, 0, 0)
    assert stored_files() == files


def test_staff_move_a_request_into_a_hidden_department(alice, alice_ticket, abuse, staff):
    ticket_change_department(ticket=alice_ticket, department=abuse, by=staff, now=LATER)
    alice_ticket.refresh_from_db()
    assert alice_ticket.department == abuse
    event = alice_ticket.events.order_by("-id").first()
    assert (event.transition, event.data) == ("assign", {"department": ["finance", "abuse"]})
    # The customer keeps the request, and may still answer it.
    assert list(tickets_visible_to(membership=alice)) == [alice_ticket]
    ticket_reply_customer(ticket=alice_ticket, membership=alice, body="Still here", now=LATER)


# --- Storage -----------------------------------------------------------------------------------------


def test_attachments_are_kept_under_the_media_root_outside_the_static_root(alice_ticket):
    attachment = Attachment.objects.get()
    media_root = Path(settings.MEDIA_ROOT).resolve()
    static_root = Path(settings.STATIC_ROOT).resolve()
    path = Path(default_storage.path(attachment.stored_name)).resolve()
    assert path.is_file() and path.read_bytes() == PDF
    assert path.is_relative_to(media_root)
    assert not path.is_relative_to(static_root) and not media_root.is_relative_to(static_root)
    assert attachment.stored_name.startswith(f"support/{alice_ticket.account_id}/")
    assert "statement" not in attachment.stored_name  # the server's name, never the user's
