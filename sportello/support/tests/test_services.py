"""The request lifecycle: transitions, rights, limits, merge, notifications; refusals change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from sportello.accounts.models import Contact, EmailTopic, Role, User
from sportello.accounts.services import contact_create, membership_add
from sportello.core.models import AuditEvent
from sportello.notifications.models import EmailLog
from sportello.support import references
from sportello.support.errors import (
    AttachmentRefused,
    IllegalTransition,
    InvalidRequestData,
    NotAllowed,
    RelatedNotFound,
    ReopenWindowClosed,
)
from sportello.support.models import Attachment, RelatedKind, Ticket, TicketEvent, TicketMessage, TicketStatus
from sportello.support.selectors import (
    invoice_to_link,
    invoices_to_link,
    order_to_link,
    orders_to_link,
    tickets_visible_to,
)
from sportello.support.services import (
    support_recipients,
    ticket_close,
    ticket_hold,
    ticket_merge,
    ticket_open,
    ticket_reopen,
    ticket_reply_customer,
    ticket_reply_staff,
)
from sportello.support.tests.conftest import EXE, INVOICE_DAY, NOW, PDF, PNG, POLYGLOT, SVG, issued_invoice, upload

LATER = NOW + dt.timedelta(hours=3)


def snapshot() -> tuple[int, int, int, int, list[str]]:
    return (
        Ticket.objects.count(),
        TicketMessage.objects.count(),
        Attachment.objects.count(),
        TicketEvent.objects.count(),
        sorted(Ticket.objects.values_list("status", flat=True)),
    )


def stored_files() -> list[str]:
    folders = default_storage.listdir("support")[0] if default_storage.exists("support") else []
    return sorted(name for folder in folders for name in default_storage.listdir(f"support/{folder}")[1])


@pytest.mark.django_db
def test_it_opens_a_request_with_its_message_file_event_and_email(alice, alice_ticket):
    ticket = alice_ticket
    assert (ticket.status, ticket.requester, ticket.account) == (TicketStatus.OPEN, alice.user, alice.account)
    assert len(ticket.public_id) == 10
    message = ticket.messages.get()
    assert message.body_html == "<p>Please refund <strong>one</strong> of the two charges.</p>"
    attachment = ticket.attachments.get()
    assert (attachment.filename, attachment.content_type, attachment.size) == (
        "statement.pdf",
        "application/pdf",
        len(PDF),
    )
    assert attachment.stored_name.startswith(f"support/{alice.account.pk}/")
    assert "statement" not in attachment.stored_name
    assert default_storage.open(attachment.stored_name).read() == PDF
    assert list(ticket.events.values_list("transition", "to_status")) == [("open", "open")]
    email = EmailLog.objects.get(to_email="alice@example.org")
    assert email.kind == "support"
    assert email.reply_to == references.reply_address(ticket.public_id)
    assert (
        email.subject == f"Request received: Invoice 2026-0042 charged twice {references.subject_tag(ticket.public_id)}"
    )
    assert "Please refund **one** of the two charges." in email.body_text
    assert "statement.pdf" in email.body_text


@pytest.mark.django_db
def test_it_walks_the_status_table(alice, alice_ticket, staff):
    ticket = alice_ticket
    ticket_reply_customer(ticket=ticket, membership=alice, body="Also the fee.", now=NOW + dt.timedelta(minutes=5))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN  # nobody has answered yet

    ticket_reply_staff(ticket=ticket, by=staff, body="Refunded.", now=LATER)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.first_response_at, ticket.first_response_time) == ("answered", LATER, 3 * 3600.0)

    ticket_reply_customer(ticket=ticket, membership=alice, body="Thanks!", now=LATER + dt.timedelta(hours=1))
    ticket_hold(ticket=ticket, by=staff, now=LATER + dt.timedelta(hours=2))
    closed = ticket_close(ticket=ticket, by=staff, now=NOW + dt.timedelta(days=1))
    assert (closed.status, closed.resolution_time) == ("closed", 86400.0)
    assert list(ticket.events.values_list("transition", "from_status", "to_status")) == [
        ("open", "", "open"),
        ("customer_reply", "open", "open"),
        ("staff_reply", "open", "answered"),
        ("customer_reply", "answered", "customer_reply"),
        ("hold", "customer_reply", "on_hold"),
        ("close", "on_hold", "closed"),
    ]
    with pytest.raises(IllegalTransition):
        ticket_hold(ticket=ticket, by=staff, now=LATER)
    ticket.refresh_from_db()
    assert ticket.status == "closed"


@pytest.mark.django_db
def test_internal_notes_change_nothing_the_customer_sees(alice, alice_ticket, staff):
    emails = EmailLog.objects.count()
    ticket_reply_staff(ticket=alice_ticket, by=staff, body="Customer is on the VIP list.", internal=True, now=LATER)
    alice_ticket.refresh_from_db()
    assert (alice_ticket.status, alice_ticket.first_response_at) == (TicketStatus.OPEN, None)
    assert EmailLog.objects.count() == emails
    assert TicketMessage.objects.filter(ticket=alice_ticket, is_internal=True).count() == 1


@pytest.mark.django_db
def test_customers_reopen_only_within_the_window(alice, alice_ticket, support_settings):
    ticket_close(ticket=alice_ticket, membership=alice, by=alice.user, now=NOW)
    ticket_reopen(ticket=alice_ticket, membership=alice, by=alice.user, now=NOW + dt.timedelta(days=7))
    alice_ticket.refresh_from_db()
    assert (alice_ticket.status, alice_ticket.closed_at) == ("open", None)

    ticket_close(ticket=alice_ticket, membership=alice, by=alice.user, now=NOW + dt.timedelta(days=8))
    before = snapshot()
    with pytest.raises(ReopenWindowClosed):
        ticket_reopen(ticket=alice_ticket, membership=alice, by=alice.user, now=NOW + dt.timedelta(days=15, hours=1))
    with pytest.raises(ReopenWindowClosed):
        ticket_reply_customer(ticket=alice_ticket, membership=alice, body="Hi", now=NOW + dt.timedelta(days=16))
    assert snapshot() == before


@pytest.mark.django_db
def test_a_reply_within_the_window_reopens(alice, alice_ticket, support_settings):
    ticket_close(ticket=alice_ticket, membership=alice, by=alice.user, now=NOW)
    ticket_reply_customer(ticket=alice_ticket, membership=alice, body="It broke again.", now=NOW + dt.timedelta(days=2))
    alice_ticket.refresh_from_db()
    assert alice_ticket.status == TicketStatus.OPEN
    assert list(alice_ticket.events.values_list("transition", flat=True)) == [
        "open",
        "close",
        "reopen",
        "customer_reply",
    ]


@pytest.mark.django_db
def test_members_without_the_support_area_see_and_write_only_their_own(alice, colleague, alice_ticket, finance):
    own = ticket_open(membership=colleague, department=finance, subject="Mine", body="x", now=NOW)
    assert list(tickets_visible_to(membership=colleague)) == [own]
    assert set(tickets_visible_to(membership=alice)) == {own, alice_ticket}
    before = snapshot()
    with pytest.raises(NotAllowed):
        ticket_reply_customer(ticket=alice_ticket, membership=colleague, body="Peek", now=LATER)
    with pytest.raises(NotAllowed):
        ticket_close(ticket=alice_ticket, membership=colleague, by=colleague.user, now=LATER)
    assert snapshot() == before


@pytest.mark.django_db
def test_read_only_members_read_everything_but_write_only_their_own(alice, alice_ticket, finance):
    user = User.objects.create_user("reader@example.org", "x")
    reader = membership_add(account=alice.account, user=user, role=Role.READ_ONLY)
    assert alice_ticket in tickets_visible_to(membership=reader)
    with pytest.raises(NotAllowed):
        ticket_reply_customer(ticket=alice_ticket, membership=reader, body="Hi", now=LATER)
    own = ticket_open(membership=reader, department=finance, subject="Question", body="Hi", now=NOW)
    ticket_reply_customer(ticket=own, membership=reader, body="More", now=LATER)


@pytest.mark.django_db
def test_a_request_links_only_a_service_of_its_account(alice, finance, alice_service, bob_service):
    mine, theirs = alice_service, bob_service
    ticket = ticket_open(
        membership=alice, department=finance, subject="About it", body="x", related_service_id=mine.pk, now=NOW
    )
    assert (ticket.related_kind, ticket.related_object) == (RelatedKind.SERVICE, mine)
    before = snapshot()
    with pytest.raises(RelatedNotFound):
        ticket_open(
            membership=alice, department=finance, subject="Theirs", body="x", related_service_id=theirs.pk, now=NOW
        )
    assert snapshot() == before


@pytest.mark.django_db
def test_the_database_refuses_a_kind_without_its_object(alice_ticket):
    with pytest.raises(IntegrityError):
        Ticket.objects.filter(pk=alice_ticket.pk).update(related_kind=RelatedKind.SERVICE)


# --- Requests about an invoice ------------------------------------------------------------------


def everything_written() -> tuple[tuple[int, int, int, int, list[str]], int, int]:
    """What opening a request writes: the request and its rows, the emails, the audit log."""
    return snapshot(), EmailLog.objects.count(), AuditEvent.objects.count()


def open_about(membership, department, *, invoice_id=None, service_id=None, order_id=None):
    return ticket_open(
        membership=membership,
        department=department,
        subject="Charged twice",
        body="The invoice was charged twice.",
        related_invoice_id=invoice_id,
        related_service_id=service_id,
        related_order_id=order_id,
        now=NOW,
    )


@pytest.mark.django_db
def test_a_request_links_an_issued_invoice_of_its_account(alice, finance, alice_invoice):
    ticket = open_about(alice, finance, invoice_id=alice_invoice.pk)
    ticket.refresh_from_db()
    assert (ticket.related_kind, ticket.related_invoice, ticket.related_service) == (
        RelatedKind.INVOICE,
        alice_invoice,
        None,
    )
    assert ticket.related_object == alice_invoice
    assert alice_invoice.display_number == "INV-2026-00001"
    assert list(alice_invoice.support_tickets.all()) == [ticket]


@pytest.mark.django_db
def test_a_request_links_a_credit_note(alice, finance, alice_credit_note):
    ticket = open_about(alice, finance, invoice_id=alice_credit_note.pk)
    assert (ticket.related_kind, ticket.related_invoice) == (RelatedKind.INVOICE, alice_credit_note)
    assert (alice_credit_note.kind, alice_credit_note.display_number) == ("credit_note", "CN-2026-00001")


@pytest.mark.django_db
def test_another_accounts_invoice_is_refused_and_nothing_is_written(alice, finance, alice_ticket, bob_invoice):
    before = everything_written()
    with pytest.raises(RelatedNotFound) as refused:
        open_about(alice, finance, invoice_id=bob_invoice.pk)
    assert refused.value.kind == RelatedKind.INVOICE
    assert everything_written() == before
    assert not bob_invoice.support_tickets.exists()


@pytest.mark.django_db
def test_a_draft_is_refused_like_another_accounts_invoice(alice, finance, alice_ticket, alice_draft):
    assert alice_draft.status == "draft" and alice_draft.account == alice.account
    before = everything_written()
    with pytest.raises(RelatedNotFound) as refused:
        open_about(alice, finance, invoice_id=alice_draft.pk)
    assert refused.value.kind == RelatedKind.INVOICE
    assert everything_written() == before


@pytest.mark.django_db
def test_without_the_billing_area_every_invoice_is_not_found(alice_technician, finance, alice_ticket, alice_invoice):
    """Decision: to a member without billing, the account's invoices do not exist (as on the
    billing pages, which answer 404). Their invoice and a made-up id get the very same
    refusal, so it cannot be used to learn which numbers or ids exist."""
    before = everything_written()
    refusals = []
    for invoice_id in (alice_invoice.pk, alice_invoice.pk + 1000):
        with pytest.raises(RelatedNotFound) as refused:
            open_about(alice_technician, finance, invoice_id=invoice_id)
        refusals.append((type(refused.value), refused.value.kind, str(refused.value)))
    assert refusals[0] == refusals[1] == (RelatedNotFound, "invoice", "invoice not found")
    assert everything_written() == before
    # The same member still opens requests, and links what they may see.
    assert open_about(alice_technician, finance).related_kind == RelatedKind.NONE


@pytest.mark.django_db
def test_a_request_is_about_one_thing_at_most(alice, finance, alice_service, alice_invoice):
    before = everything_written()
    with pytest.raises(InvalidRequestData) as refused:
        open_about(alice, finance, invoice_id=alice_invoice.pk, service_id=alice_service.pk)
    assert refused.value.field == "related"
    assert everything_written() == before


@pytest.mark.django_db
def test_the_database_keeps_the_kind_and_the_invoice_together(alice, finance, alice_ticket, alice_invoice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=alice_ticket.pk).update(related_kind=RelatedKind.INVOICE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=alice_ticket.pk).update(related_invoice=alice_invoice)
    linked = open_about(alice, finance, invoice_id=alice_invoice.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=linked.pk).update(related_kind=RelatedKind.SERVICE)


@pytest.mark.django_db
def test_the_invoices_offered_are_the_accounts_issued_ones_most_recent_first(
    alice, alice_technician, alice_invoice, alice_credit_note, alice_draft, bob_invoice
):
    later = issued_invoice(alice.account, "10.00", on=INVOICE_DAY + dt.timedelta(days=10))
    assert [i.display_number for i in invoices_to_link(membership=alice, limit=10)] == [
        later.display_number,
        "CN-2026-00001",
        "INV-2026-00001",
    ]
    assert invoices_to_link(membership=alice, limit=2) == [later, alice_credit_note]
    assert invoices_to_link(membership=alice_technician, limit=10) == []
    assert invoice_to_link(membership=alice, number="INV-2026-00001") == alice_invoice
    assert invoice_to_link(membership=alice, number=" CN-2026-00001 ") == alice_credit_note
    assert invoice_to_link(membership=alice, number=bob_invoice.display_number) is None
    assert invoice_to_link(membership=alice, number="") is None
    assert invoice_to_link(membership=alice_technician, number="INV-2026-00001") is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ([("big.pdf", PDF + b"x" * 3000)], "too_large"),
        ([("a.pdf", PDF), ("b.pdf", PDF), ("c.png", PNG)], "too_many"),
        ([("page.pdf", b"<html><script>alert(1)</script></html>")], "type_refused"),
        ([("logo.svg", SVG)], "type_refused"),
        ([("cat.gif", POLYGLOT)], "type_refused"),
        ([("setup.pdf", EXE)], "type_refused"),
        ([("empty.txt", b"")], "empty"),
    ],
)
def test_refused_files_leave_nothing_behind(alice, finance, support_settings, files, reason):
    before, stored = snapshot(), stored_files()
    with pytest.raises(AttachmentRefused) as refused:
        ticket_open(
            membership=alice,
            department=finance,
            subject="Files",
            body="x",
            uploads=[upload(content, name) for name, content in files],
            now=NOW,
        )
    assert refused.value.reason == reason
    assert snapshot() == before
    assert stored_files() == stored
    assert EmailLog.objects.count() == 0


@pytest.mark.django_db
def test_a_failed_write_removes_the_files_it_stored(alice, alice_ticket, support_settings):
    ticket_close(ticket=alice_ticket, membership=alice, by=alice.user, now=NOW)
    stored = stored_files()
    with pytest.raises(ReopenWindowClosed):
        ticket_reply_customer(
            ticket=alice_ticket,
            membership=alice,
            body="late",
            uploads=[upload(PNG, "late.png")],
            now=NOW + dt.timedelta(days=30),
        )
    assert stored_files() == stored


@pytest.mark.django_db
def test_it_refuses_an_empty_subject_or_body(alice, finance):
    for subject, body in (("  ", "x"), ("x", " \n "), ("x" * 201, "x")):
        with pytest.raises(InvalidRequestData):
            ticket_open(membership=alice, department=finance, subject=subject, body=body, now=NOW)
    assert Ticket.objects.count() == 0


@pytest.mark.django_db
def test_merge_moves_the_conversation_and_closes_the_source(alice, alice_ticket, finance, staff, bob):
    second = ticket_open(membership=alice, department=finance, subject="Same charge", body="Again", now=LATER)
    target = ticket_merge(source=second, target=alice_ticket, by=staff, now=LATER + dt.timedelta(minutes=1))
    second.refresh_from_db()
    assert (second.status, second.merged_into) == (TicketStatus.CLOSED, alice_ticket)
    assert list(target.messages.values_list("body", flat=True)) == [
        "Please refund **one** of the two charges.",
        "Again",
    ]
    with pytest.raises(IllegalTransition):
        ticket_reopen(ticket=second, by=staff, now=LATER)
    bobs = ticket_open(membership=bob, department=finance, subject="Bob", body="x", now=NOW)
    before = snapshot()
    with pytest.raises(InvalidRequestData):
        ticket_merge(source=bobs, target=alice_ticket, by=staff, now=LATER)
    assert snapshot() == before


@pytest.mark.django_db
def test_emails_go_to_the_requester_and_support_contacts_who_may_see_it(alice, colleague, finance):
    contact_create(
        account=alice.account, name="Outside IT", email="it@partner.example", topics=["support"], acting=None, by=None
    )
    contact_create(
        account=alice.account, name="Accountant", email="acc@partner.example", topics=["invoices"], acting=None, by=None
    )
    # The colleague's own contact kept support ticked from a wider role, but lacks the support area.
    Contact.objects.filter(user=colleague.user).update(topics=[EmailTopic.INVOICES, EmailTopic.SUPPORT])
    ticket = ticket_open(membership=alice, department=finance, subject="Hi", body="x", now=NOW)
    assert sorted(address for address, _language, _user in support_recipients(ticket)) == [
        "alice@example.org",
        "it@partner.example",
    ]
    theirs = ticket_open(membership=colleague, department=finance, subject="Mine", body="x", now=NOW)
    assert sorted(address for address, _language, _user in support_recipients(theirs)) == [
        "alice@example.org",
        "carlos@example.org",
        "it@partner.example",
    ]


# --- Requests about an order --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_links_an_order_of_its_account(alice, finance, alice_order):
    ticket = open_about(alice, finance, order_id=alice_order.pk)
    ticket.refresh_from_db()
    assert (ticket.related_kind, ticket.related_order, ticket.related_invoice, ticket.related_service) == (
        RelatedKind.ORDER,
        alice_order,
        None,
        None,
    )
    assert ticket.related_object == alice_order
    assert alice_order.number == "O-2026-000001"
    assert list(alice_order.support_tickets.all()) == [ticket]


@pytest.mark.django_db
def test_another_accounts_order_is_refused_and_nothing_is_written(alice, finance, alice_ticket, alice_order, bob_order):
    before = everything_written()
    with pytest.raises(RelatedNotFound) as refused:
        open_about(alice, finance, order_id=bob_order.pk)
    assert (refused.value.kind, str(refused.value)) == (RelatedKind.ORDER, "order not found")
    assert everything_written() == before
    assert not bob_order.support_tickets.exists()


@pytest.mark.django_db
def test_without_the_orders_area_every_order_is_not_found(alice, colleague, finance, alice_ticket, alice_order):
    """As for invoices: to a member without the orders area (here billing only) the account's
    orders do not exist, as on the orders pages (404); their order and a made-up id get the
    very same refusal, and nothing is written."""
    assert not colleague.has_area("orders") and colleague.account_id == alice_order.account_id
    before = everything_written()
    refusals = []
    for order_id in (alice_order.pk, alice_order.pk + 1000):
        with pytest.raises(RelatedNotFound) as refused:
            open_about(colleague, finance, order_id=order_id)
        refusals.append((type(refused.value), refused.value.kind, str(refused.value)))
    assert refusals[0] == refusals[1] == (RelatedNotFound, "order", "order not found")
    assert everything_written() == before
    assert not alice_order.support_tickets.exists()


@pytest.mark.django_db
def test_a_request_about_a_service_and_an_order_is_refused(alice, finance, alice_service, alice_order):
    before = everything_written()
    with pytest.raises(InvalidRequestData) as refused:
        open_about(alice, finance, order_id=alice_order.pk, service_id=alice_service.pk)
    assert refused.value.field == "related"
    assert everything_written() == before


@pytest.mark.django_db
def test_the_database_keeps_the_kind_and_the_order_together(alice, finance, alice_ticket, alice_order):
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=alice_ticket.pk).update(related_kind=RelatedKind.ORDER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=alice_ticket.pk).update(related_order=alice_order)
    linked = open_about(alice, finance, order_id=alice_order.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=linked.pk).update(related_kind=RelatedKind.INVOICE)


@pytest.mark.django_db
def test_the_orders_offered_are_the_accounts_most_recent_first(alice, colleague, alice_order, bob_order, hosting):
    from sportello.support.tests.conftest import placed_order

    later = placed_order(alice, hosting, label="blog.alice.example")
    assert [o.number for o in orders_to_link(membership=alice, limit=10)] == ["O-2026-000003", "O-2026-000001"]
    assert orders_to_link(membership=alice, limit=1) == [later]
    assert orders_to_link(membership=colleague, limit=10) == []
    assert order_to_link(membership=alice, number=" O-2026-000001 ") == alice_order
    assert order_to_link(membership=alice, number=bob_order.number) is None
    assert order_to_link(membership=alice, number="") is None
    assert order_to_link(membership=colleague, number="O-2026-000001") is None
