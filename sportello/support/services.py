"""Writes of the helpdesk. One function per transition of a request, each one transaction:
lock the request, check the transition table and the actor's rights, write the new
status, the message and a `TicketEvent`; emails are logged in the same transaction and
delivered after commit (notifications.email_send).

Who may write what:
- a member may open a request; with the support area they see and answer every request
  of their account, without it only the ones they opened;
- a read-only member answers, closes and reopens only their own requests;
- customers reopen a closed request within SUPPORT_REOPEN_DAYS (a reply in that window
  reopens it too); staff may reopen any request that was not merged.

Files are checked (limits, type by content) before anything is written, stored under
server-generated names, and removed again if the transaction does not commit.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import html
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.functional import lazy

from sportello.accounts.models import Account, Area, Contact, EmailTopic, Membership, Role, User
from sportello.billing.models import InvoiceQuerySet
from sportello.billing.selectors import invoices_visible_to
from sportello.core.services import audit_record
from sportello.core.time import ensure_aware
from sportello.notifications.models import EmailKind
from sportello.notifications.services import email_send
from sportello.orders.models import Order
from sportello.orders.selectors import orders_visible_to
from sportello.support import references
from sportello.support.errors import (
    AttachmentRefused,
    IllegalTransition,
    InboundRefused,
    InvalidRequestData,
    MergeWouldChangeAccess,
    NotAllowed,
    RelatedNotFound,
    ReopenWindowClosed,
)
from sportello.support.files import CheckedUpload, file_store, safe_filename, size_display, upload_check
from sportello.support.markup import render_markdown, sanitize_html
from sportello.support.models import (
    RELATED_FIELDS,
    TRANSITIONS,
    Attachment,
    Author,
    Channel,
    Department,
    KnowledgeArticle,
    KnowledgeFeedback,
    LeftOutReason,
    RelatedKind,
    SharedFile,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketPriority,
    TicketStatus,
    Transition,
)
from sportello.support.redaction import card_numbers_redact

SUBJECT_MAX = 200
BODY_MAX = 20_000


@dataclass(frozen=True)
class Upload:
    """A file as it arrives (a form's UploadedFile or an email part): its bytes and its name."""

    file: IO[bytes]
    name: str


@dataclass(frozen=True)
class LeftOut:
    """A file of an emailed reply that was not kept, and why (a LeftOutReason)."""

    name: str
    reason: str


# --- Rights -------------------------------------------------------------------------------


def member_sees_all(membership: Membership) -> bool:
    return membership.has_area(Area.SUPPORT)


def member_may_see(membership: Membership, ticket: Ticket) -> bool:
    if ticket.account_id != membership.account_id:
        return False
    return member_sees_all(membership) or ticket.requester_id == membership.user_id


def member_may_write(membership: Membership, ticket: Ticket) -> bool:
    """Answer, close or reopen: whoever sees it, except that read-only members act on their own only."""
    if not member_may_see(membership, ticket):
        return False
    return membership.role != Role.READ_ONLY or ticket.requester_id == membership.user_id


def invoices_linkable(membership: Membership) -> InvoiceQuerySet:
    """The documents `membership` may link to a request: the account's issued invoices and
    credit notes, for members with the billing area. To a member without it, the account's
    invoices do not exist, as on the billing pages (404): linking one is "not found", the
    same refusal as another account's invoice, a draft or a made-up id, so the answer never
    tells whether a number exists."""
    if not membership.has_area(Area.BILLING):
        return invoices_visible_to(membership=membership).none()
    return invoices_visible_to(membership=membership)


def orders_linkable(membership: Membership) -> QuerySet[Order]:
    """The orders `membership` may link to a request: the account's orders, for members with
    the orders area. Without it the account's orders do not exist to the member, as on the
    orders pages (404): linking one is "not found", like another account's order or a
    made-up id."""
    if not membership.has_area(Area.ORDERS):
        return orders_visible_to(membership=membership).none()
    return orders_visible_to(membership=membership)


def reopen_deadline(ticket: Ticket) -> dt.datetime | None:
    """Until when the customer may reopen the closed `ticket` (None: not closed, or merged)."""
    if ticket.status != TicketStatus.CLOSED or ticket.closed_at is None or ticket.merged_into_id:
        return None
    return ticket.closed_at + dt.timedelta(days=settings.SUPPORT_REOPEN_DAYS)


# --- Checks shared by the writes ----------------------------------------------------------


def _clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise InvalidRequestData("body", "empty")
    if len(body) > BODY_MAX:
        raise InvalidRequestData("body", "too long")
    return body


def _clean_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise InvalidRequestData("subject", "empty")
    if len(subject) > SUBJECT_MAX:
        raise InvalidRequestData("subject", "too long")
    return subject


def uploads_check(uploads: Sequence[Upload], *, already: int = 0) -> list[CheckedUpload]:
    """Every file within the count and size limits and of an accepted type, or AttachmentRefused."""
    limit = settings.SUPPORT_ATTACHMENT_MAX_COUNT
    if len(uploads) + already > limit:
        raise AttachmentRefused("too_many", limit=limit)
    return [upload_check(u.file, name=u.name, max_bytes=settings.SUPPORT_ATTACHMENT_MAX_BYTES) for u in uploads]


def _check_transition(ticket: Ticket, transition: str) -> str | None:
    sources, target = TRANSITIONS[transition]
    if ticket.status not in sources:
        raise IllegalTransition(transition, ticket.status)
    return target


def _lock(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _event(
    ticket: Ticket, transition: str, from_status: str, *, actor: User | None, at: dt.datetime, **data: Any
) -> None:
    TicketEvent.objects.create(
        ticket=ticket,
        at=at,
        transition=transition,
        from_status=from_status,
        to_status=ticket.status,
        actor=actor if actor is not None and actor.pk else None,
        data=data,
    )


def _store_files(
    checked: Sequence[CheckedUpload], *, ticket: Ticket, message: TicketMessage, at: dt.datetime, stored: list[str]
) -> None:
    for upload in checked:
        name, digest = file_store(upload, folder=f"support/{ticket.account_id}")
        stored.append(name)
        Attachment.objects.create(
            account_id=ticket.account_id,
            ticket=ticket,
            message=message,
            filename=upload.filename,
            stored_name=name,
            content_type=upload.content_type,
            size=upload.size,
            sha256=digest,
            created_at=at,
        )


def _atomic_with_files[R](write: Callable[[list[str]], R]) -> R:
    """Run `write(stored)` in one transaction; if it raises, delete the files it stored
    (their names are appended to `stored`), so that a refused write leaves no file behind."""
    stored: list[str] = []
    try:
        with transaction.atomic():
            return write(stored)
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise


def _message(
    ticket: Ticket,
    *,
    author: User | None,
    author_kind: str,
    body: str,
    channel: str,
    at: dt.datetime,
    internal: bool = False,
    author_name: str = "",
    author_email: str = "",
    email_message_id: str = "",
    cards_redacted: int = 0,
    files_left_out: Sequence[LeftOut] = (),
) -> TicketMessage:
    """Insert a message; `body` is stored with its card numbers masked (support.redaction),
    and `cards_redacted` adds those already masked elsewhere (the request's subject)."""
    body, masked = card_numbers_redact(body)
    return TicketMessage.objects.create(
        ticket=ticket,
        author=author,
        author_name=author_name or (author.get_full_name() if author else ""),
        author_email=author_email or (author.email if author else ""),
        author_kind=author_kind,
        is_internal=internal,
        body=body,
        body_html=render_markdown(body),
        channel=channel,
        email_message_id=email_message_id[:255],
        created_at=at,
        cards_redacted=cards_redacted + masked,
        files_left_out=[{"name": f.name, "reason": f.reason} for f in files_left_out],
    )


# --- Customer writes ----------------------------------------------------------------------


def ticket_open(
    *,
    membership: Membership,
    department: Department,
    subject: str,
    body: str,
    priority: str = TicketPriority.NORMAL,
    related_service_id: int | None = None,
    related_invoice_id: int | None = None,
    related_order_id: int | None = None,
    uploads: Sequence[Upload] = (),
    now: dt.datetime,
) -> Ticket:
    """Open a request from `membership` to `department`, with its first message and files.

    It may be about one service (a domain is a service), one invoice (or credit note) or
    one order: at most one of them. The service must be one of the member's account; the
    invoice one of the account's issued documents, for a member with the billing area
    (`invoices_linkable`); the order one of the account's, for a member with the orders
    area (`orders_linkable`). Anything else is RelatedNotFound, as if it did not exist,
    and nothing is written. The requester and the account's support contacts are emailed,
    and so is the department's staff (`staff_recipients`). Card numbers in the subject
    and the message are masked before they are stored (support.redaction); the first
    message counts them.
    """
    now = ensure_aware(now)
    subject, subject_cards = card_numbers_redact(subject)
    subject, body = _clean_subject(subject), _clean_body(body)
    if priority not in TicketPriority.values:
        raise InvalidRequestData("priority", "unknown")
    if not department.is_public:
        raise InvalidRequestData("department", "not open to customers")
    checked = uploads_check(uploads)

    def write(stored: list[str]) -> Ticket:
        account = Account.objects.select_for_update().get(pk=membership.account_id)  # lock order: account first
        related = _related_columns(
            membership,
            account,
            {
                RelatedKind.SERVICE: related_service_id,
                RelatedKind.INVOICE: related_invoice_id,
                RelatedKind.ORDER: related_order_id,
            },
        )
        ticket = _ticket_insert(
            account=account,
            department=department,
            requester=membership.user,
            subject=subject,
            priority=priority,
            created_at=now,
            last_message_at=now,
            **related,
        )
        message = _message(
            ticket,
            author=membership.user,
            author_kind=Author.CUSTOMER,
            body=body,
            channel=Channel.WEB,
            at=now,
            cards_redacted=subject_cards,
        )
        _store_files(checked, ticket=ticket, message=message, at=now, stored=stored)
        _event(ticket, Transition.OPEN, "", actor=membership.user, at=now)
        audit_record(action="support.opened", actor=membership.user, account=account, target=ticket, at=now)
        _notify_customers(ticket, message, template="support_opened")
        _notify_staff(ticket, message, opened=True)
        return ticket

    return _atomic_with_files(write)


def _related_columns(membership: Membership, account: Account, wanted: dict[str, int | None]) -> dict[str, Any]:
    """The related-object columns of a new request of `account`, from the ids `wanted` per kind
    (at most one given); RelatedNotFound when the member may not see that object."""
    given = [(kind, pk) for kind, pk in wanted.items() if pk is not None]
    if not given:
        return {"related_kind": RelatedKind.NONE}
    if len(given) > 1:
        raise InvalidRequestData("related", "about more than one thing")
    kind, pk = given[0]
    found: Any
    if kind == RelatedKind.SERVICE:
        from sportello.services.models import Service

        found = Service.objects.filter(pk=pk, account=account).first()
    elif kind == RelatedKind.INVOICE:
        # No lock: an issued document never changes account and never goes back to draft.
        found = invoices_linkable(membership).filter(pk=pk, account=account).first()
    elif kind == RelatedKind.ORDER:
        # No lock: an order never changes account (and PROTECT keeps it while a request names it).
        found = orders_linkable(membership).filter(pk=pk, account=account).first()
    else:
        raise InvalidRequestData("related", f"cannot link a {kind}")
    if found is None:
        raise RelatedNotFound(kind)
    return {"related_kind": kind, RELATED_FIELDS[kind]: found}


def _ticket_insert(**fields: Any) -> Ticket:
    """Insert with a fresh random public id; a (vanishingly rare) clash takes another one."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Ticket.objects.create(**fields)
        except IntegrityError:
            if "public_id" not in fields:
                continue
            raise
    raise RuntimeError("could not find a free request id")


def ticket_reply_customer(
    *,
    ticket: Ticket,
    membership: Membership | None,
    body: str,
    uploads: Sequence[Upload] = (),
    now: dt.datetime,
    channel: str = Channel.WEB,
    sender: Contact | None = None,
    email_message_id: str = "",
    files_left_out: Sequence[LeftOut] = (),
) -> TicketMessage:
    """Add a customer's message. `membership` acts (web, or an email from a member's
    address); an email from a contact without a login passes `sender` instead.

    `files_left_out` are the files of an emailed reply that were not kept: they are noted
    on the message, and the sender is told by email which ones and why.

    A closed request is reopened by the reply within SUPPORT_REOPEN_DAYS; later, the reply
    is refused (ReopenWindowClosed) and nothing changes.
    """
    now = ensure_aware(now)
    body = _clean_body(body)
    if membership is not None and not member_may_write(membership, ticket):
        raise NotAllowed("may not write to this request")
    checked = uploads_check(uploads)

    def write(stored: list[str]) -> TicketMessage:
        locked = _lock(ticket)
        author = membership.user if membership is not None else None
        if locked.status == TicketStatus.CLOSED:
            _reopen(locked, actor=author, at=now, by_customer=True)
        from_status = locked.status
        target = _check_transition(locked, Transition.CUSTOMER_REPLY)
        # A request nobody has answered yet stays "open": it still waits for its first answer.
        locked.status = TicketStatus.OPEN if from_status == TicketStatus.OPEN else (target or from_status)
        locked.last_message_at = now
        locked.save(update_fields=["status", "last_message_at"])
        try:
            with transaction.atomic():
                message = _message(
                    locked,
                    author=author,
                    author_kind=Author.CUSTOMER,
                    body=body,
                    channel=channel,
                    at=now,
                    author_name=sender.name if sender is not None else "",
                    author_email=sender.email if sender is not None else "",
                    email_message_id=email_message_id,
                    files_left_out=files_left_out,
                )
        except IntegrityError:
            # The same email delivered again: it is already here.
            raise InboundRefused("duplicate") from None
        _store_files(checked, ticket=locked, message=message, at=now, stored=stored)
        _event(locked, Transition.CUSTOMER_REPLY, from_status, actor=author, at=now, channel=channel)
        _notify_staff(locked, message, opened=False)
        if files_left_out:
            _notify_files_left_out(locked, message, membership=membership, sender=sender)
        return message

    return _atomic_with_files(write)


def _reopen(ticket: Ticket, *, actor: User | None, at: dt.datetime, by_customer: bool) -> None:
    from_status = ticket.status
    target = _check_transition(ticket, Transition.REOPEN)
    if ticket.merged_into_id:
        raise IllegalTransition(Transition.REOPEN, ticket.status)
    if by_customer:
        deadline = reopen_deadline(ticket)
        if deadline is None or at > deadline:
            raise ReopenWindowClosed(settings.SUPPORT_REOPEN_DAYS)
    ticket.status = target or from_status
    ticket.closed_at = None
    ticket.save(update_fields=["status", "closed_at"])
    _event(ticket, Transition.REOPEN, from_status, actor=actor, at=at)


@transaction.atomic
def ticket_close(*, ticket: Ticket, now: dt.datetime, membership: Membership | None = None, by: User) -> Ticket:
    """Close the request. A customer passes their `membership` (checked); staff pass only `by`."""
    now = ensure_aware(now)
    if membership is not None and not member_may_write(membership, ticket):
        raise NotAllowed("may not close this request")
    locked = _lock(ticket)
    from_status = locked.status
    locked.status = _check_transition(locked, Transition.CLOSE) or from_status
    locked.closed_at = now
    locked.save(update_fields=["status", "closed_at"])
    _event(locked, Transition.CLOSE, from_status, actor=by, at=now, by_customer=membership is not None)
    return locked


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, now: dt.datetime, membership: Membership | None = None, by: User) -> Ticket:
    """Reopen a closed request: customers within SUPPORT_REOPEN_DAYS of closing, staff any time."""
    now = ensure_aware(now)
    if membership is not None and not member_may_write(membership, ticket):
        raise NotAllowed("may not reopen this request")
    locked = _lock(ticket)
    _reopen(locked, actor=by, at=now, by_customer=membership is not None)
    return locked


# --- Staff writes -------------------------------------------------------------------------


def ticket_reply_staff(
    *,
    ticket: Ticket,
    by: User,
    body: str,
    now: dt.datetime,
    internal: bool = False,
    uploads: Sequence[Upload] = (),
    hold: bool = False,
) -> TicketMessage:
    """A staff reply (the request becomes "answered", or "on hold" with `hold`), or an
    internal note (`internal`: no status change, never shown or sent to the customer)."""
    now = ensure_aware(now)
    body = _clean_body(body)
    checked = uploads_check(uploads)

    def write(stored: list[str]) -> TicketMessage:
        locked = _lock(ticket)
        from_status = locked.status
        transition = Transition.NOTE if internal else Transition.STAFF_REPLY
        target = _check_transition(locked, transition)
        message = _message(
            locked,
            author=by,
            author_kind=Author.STAFF,
            body=body,
            channel=Channel.BACK_OFFICE,
            at=now,
            internal=internal,
        )
        _store_files(checked, ticket=locked, message=message, at=now, stored=stored)
        if not internal:
            locked.status = target or from_status
            locked.last_message_at = now
            if locked.first_response_at is None:
                locked.first_response_at = now
            locked.save(update_fields=["status", "last_message_at", "first_response_at"])
        _event(locked, transition, from_status, actor=by, at=now)
        if hold and not internal:
            _hold(locked, by=by, at=now)
        if not internal:
            _notify_customers(locked, message, template="support_reply")
        return message

    return _atomic_with_files(write)


def _hold(ticket: Ticket, *, by: User, at: dt.datetime) -> None:
    from_status = ticket.status
    ticket.status = _check_transition(ticket, Transition.HOLD) or from_status
    ticket.save(update_fields=["status"])
    _event(ticket, Transition.HOLD, from_status, actor=by, at=at)


@transaction.atomic
def ticket_hold(*, ticket: Ticket, by: User, now: dt.datetime) -> Ticket:
    locked = _lock(ticket)
    _hold(locked, by=by, at=ensure_aware(now))
    return locked


@transaction.atomic
def ticket_assign(*, ticket: Ticket, to: User | None, by: User, now: dt.datetime) -> Ticket:
    """Give the request to a staff member (or to nobody)."""
    if to is not None and not to.is_staff:
        raise InvalidRequestData("assigned_to", "not staff")
    locked = _lock(ticket)
    _check_transition(locked, Transition.ASSIGN)
    locked.assigned_to = to
    locked.save(update_fields=["assigned_to"])
    _event(locked, Transition.ASSIGN, locked.status, actor=by, at=ensure_aware(now), to=to.email if to else "")
    return locked


@transaction.atomic
def ticket_change_department(*, ticket: Ticket, department: Department, by: User, now: dt.datetime) -> Ticket:
    locked = _lock(ticket)
    previous = locked.department.slug
    locked.department = department
    locked.save(update_fields=["department"])
    _event(
        locked, Transition.ASSIGN, locked.status, actor=by, at=ensure_aware(now), department=[previous, department.slug]
    )
    return locked


def _merge_check_access(source: Ticket, target: Ticket) -> None:
    """Requests of the same requester merge freely. Otherwise a member without the support
    area would lose their own conversation (moved into a colleague's request they cannot
    see, and their emailed replies refused), or be shown a colleague's (moved into theirs);
    and a read-only member could no longer answer. So each requester who is still an active
    member must see and answer both requests, or the merge is refused (MergeWouldChangeAccess)."""
    if source.requester_id == target.requester_id:
        return
    requester_ids = [pk for pk in (source.requester_id, target.requester_id) if pk is not None]
    members = Membership.objects.filter(
        account_id=source.account_id, user_id__in=requester_ids, user__is_active=True
    ).select_related("user")
    for member in members:
        if not (member_may_write(member, source) and member_may_write(member, target)):
            raise MergeWouldChangeAccess(member.user.email)


@transaction.atomic
def ticket_merge(*, source: Ticket, target: Ticket, by: User, now: dt.datetime) -> Ticket:
    """Move `source`'s messages and files into `target` (same account) and close `source`,
    which then points at `target`. Both are locked, in id order, so that two merges of
    the same pair cannot interleave. Requests of different requesters merge only when that
    changes nobody's access (`_merge_check_access`)."""
    now = ensure_aware(now)
    if source.pk == target.pk:
        raise InvalidRequestData("target", "same request")
    first, second = sorted([source.pk, target.pk])
    locked = {t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")}
    source, target = locked[source.pk], locked[target.pk]
    if source.account_id != target.account_id:
        raise InvalidRequestData("target", "another account")
    if target.status == TicketStatus.CLOSED:
        raise IllegalTransition(Transition.MERGE, target.status)
    _merge_check_access(source, target)
    from_status = source.status
    source.status = _check_transition(source, Transition.MERGE) or from_status
    source.merged_into = target
    source.closed_at = now
    source.save(update_fields=["status", "merged_into", "closed_at"])
    moved = TicketMessage.objects.filter(ticket=source).update(ticket=target)
    Attachment.objects.filter(ticket=source).update(ticket=target)
    latest = TicketMessage.objects.filter(ticket=target, is_internal=False).order_by("-created_at").first()
    target.last_message_at = max(target.last_message_at, latest.created_at if latest else target.last_message_at)
    target.save(update_fields=["last_message_at"])
    _event(source, Transition.MERGE, from_status, actor=by, at=now, into=target.public_id, messages=moved)
    TicketEvent.objects.create(
        ticket=target,
        at=now,
        transition=Transition.MERGE,
        from_status=target.status,
        to_status=target.status,
        actor=by,
        data={"from": source.public_id, "messages": moved},
    )
    return target


# --- Email --------------------------------------------------------------------------------


def support_recipients(ticket: Ticket) -> list[tuple[str, str, User | None]]:
    """Who is emailed about `ticket`: (address, language, user) for the requester and the
    account's contacts who chose support emails. A contact who is a member without the
    support area gets only the requests they opened, like the pages show them."""
    account = ticket.account
    found: dict[str, tuple[str, str, User | None]] = {}
    requester = ticket.requester
    if requester is not None and requester.is_active:
        found[requester.email.lower()] = (requester.email, requester.language or account.language, requester)
    memberships = {m.user_id: m for m in Membership.objects.filter(account=account).select_related("user")}
    for contact in Contact.objects.filter(account=account).select_related("user"):
        if EmailTopic.SUPPORT not in contact.topics or contact.email.lower() in found:
            continue
        user = contact.user
        if user is not None:
            member = memberships.get(user.pk)
            if member is None or not user.is_active or not member_may_see(member, ticket):
                continue
            found[contact.email.lower()] = (contact.email, user.language or account.language, user)
        else:
            found[contact.email.lower()] = (contact.email, account.language, None)
    return list(found.values())


def _notify_customers(ticket: Ticket, message: TicketMessage, *, template: str) -> None:
    files = [a.filename for a in Attachment.objects.filter(message=message)]
    link = settings.SITE_URL + reverse("portal:support-request", args=[ticket.public_id])
    for address, language, user in support_recipients(ticket):
        email_send(
            template=template,
            kind=EmailKind.SUPPORT,
            to_email=address,
            language=language,
            account=ticket.account,
            recipient=user,
            reply_to=references.reply_address(ticket.public_id),
            context={
                "ticket_subject": ticket.subject,
                "reference": ticket.public_id,
                "subject_tag": references.subject_tag(ticket.public_id),
                "author": message.author_name or message.author_email,
                "body": message.body,
                "body_html": message.body_html,
                "files": files,
                "link": link,
            },
        )


def _notify_files_left_out(
    ticket: Ticket, message: TicketMessage, *, membership: Membership | None, sender: Contact | None
) -> None:
    """Tell whoever emailed `message` which of their files were left out and why, in their
    language, answerable like the other support emails (to send the files again)."""
    account = ticket.account
    if membership is not None:
        address, language, user = membership.user.email, membership.user.language or account.language, membership.user
    elif sender is not None:
        address, language, user = sender.email, account.language, None
    else:
        return
    email_send(
        template="support_files_left_out",
        kind=EmailKind.SUPPORT,
        to_email=address,
        language=language,
        account=account,
        recipient=user,
        reply_to=references.reply_address(ticket.public_id),
        context={
            "ticket_subject": ticket.subject,
            "reference": ticket.public_id,
            "subject_tag": references.subject_tag(ticket.public_id),
            # (name, why): the reasons are lazy, so they render in the email's language.
            "files": [(item["name"], LeftOutReason(item["reason"]).label) for item in message.files_left_out],
            "max_count": settings.SUPPORT_ATTACHMENT_MAX_COUNT,
            "max_size": lazy(size_display, str)(settings.SUPPORT_ATTACHMENT_MAX_BYTES),
            "link": settings.SITE_URL + reverse("portal:support-request", args=[ticket.public_id]),
        },
    )


def staff_recipients(ticket: Ticket) -> list[tuple[str, str, User | None]]:
    """Who in the back office hears of a customer's message on `ticket`: (address, language,
    user) for the active staff members of its department and the staff member it is
    assigned to (who may work it from another department's queue). When that is nobody,
    the SUPPORT_STAFF_EMAIL address, if one is set, in the site's language."""
    found: dict[str, tuple[str, str, User | None]] = {}
    people = list(ticket.department.staff.filter(is_active=True, is_staff=True).order_by("email"))
    assignee = ticket.assigned_to
    if assignee is not None and assignee.is_active and assignee.is_staff:
        people.append(assignee)
    for person in people:
        if person.email and person.email.lower() not in found:
            found[person.email.lower()] = (person.email, person.language or settings.LANGUAGE_CODE, person)
    if not found and settings.SUPPORT_STAFF_EMAIL:
        return [(settings.SUPPORT_STAFF_EMAIL, settings.LANGUAGE_CODE, None)]
    return list(found.values())


def _notify_staff(ticket: Ticket, message: TicketMessage, *, opened: bool) -> None:
    """Email the back office about a customer's new request (`opened`) or new message.

    The customer's words reach the templates only as context values: the text email
    carries them as typed, the HTML one escaped, and neither is ever parsed as a template.
    The email is logged without the account (`account=None`): the account's email log is
    readable in the client area, and this one, with its back-office address, is staff's.
    """
    recipients = staff_recipients(ticket)
    if not recipients:
        return
    requester = ticket.requester
    context = {
        "opened": opened,
        "reference": ticket.public_id,
        "ticket_subject": ticket.subject,
        "department": ticket.department,
        "priority": TicketPriority(ticket.priority).label,
        "account_name": ticket.account.name,
        "requester": (requester.get_full_name() or requester.email) if requester is not None else "",
        "requester_email": requester.email if requester is not None else "",
        "author": message.author_name or message.author_email,
        "author_email": message.author_email,
        "channel": Channel(message.channel).label,
        "body": message.body,
        "files": [a.filename for a in Attachment.objects.filter(message=message).order_by("id")],
        "link": settings.SITE_URL + reverse("admin:support_ticket_change", args=[ticket.pk]),
    }
    for address, language, user in recipients:
        email_send(
            template="support_staff",
            kind=EmailKind.SUPPORT,
            to_email=address,
            language=language,
            account=None,
            recipient=user,
            context=context,
        )


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = str(part.get_content())
    if part.get_content_type() == "text/html":
        # An HTML-only reply: keep its text (sanitised first, so no markup survives as text).
        content = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>|</p>", "\n", sanitize_html(content))))
    return content


QUOTE_MARKER = "##-"


def reply_text(text: str) -> str:
    """The new part of an emailed reply: what comes before our marker line, before the
    "On ... wrote:" line that introduces the quoted notification, and without trailing
    quoted lines."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(QUOTE_MARKER):
            break
        following = [later.strip() for later in lines[index + 1 : index + 3]]
        if (
            stripped.endswith(":")
            and following
            and all(f.startswith(">") or not f for f in following)
            and any(f.startswith(">") for f in following)
        ):
            break
        kept.append(line)
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    return "\n".join(kept).strip()


def _sender_of(ticket: Ticket, address: str) -> tuple[Membership | None, Contact | None]:
    """The member (or the contact without a login) of `ticket`'s account writing from
    `address`, allowed to write to it; InboundRefused("unknown_sender") otherwise."""
    member = (
        Membership.objects.filter(account_id=ticket.account_id, user__email__iexact=address, user__is_active=True)
        .select_related("user", "account")
        .first()
    )
    if member is not None:
        if member_may_write(member, ticket):
            return member, None
        raise InboundRefused("unknown_sender")
    contact = Contact.objects.filter(account_id=ticket.account_id, email__iexact=address, user__isnull=True).first()
    if contact is not None and EmailTopic.SUPPORT in contact.topics:
        return None, contact
    raise InboundRefused("unknown_sender")


def _part_bytes(content: bytes | str) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def ticket_reply_by_email(*, raw: bytes, now: dt.datetime, recipients: Iterable[str] = ()) -> TicketMessage:
    """Append an emailed reply (an RFC 822 message) to the request its signed reference names.

    The reference is looked for in the envelope `recipients`, the To/Cc/Delivered-To
    headers, then the subject (references.py). Refused with InboundRefused, changing
    nothing, when: there is no reference, its signature is wrong, the sender is not a
    member or support contact of the request's account allowed to write to it, the
    message is an automatic reply, it has no text, or it was already added (same
    Message-ID). A reply to a merged request goes to the request it was merged into.
    """
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        sender = email.utils.parseaddr(str(message.get("From", "")))[1].strip().lower()
    except Exception:
        raise InboundRefused("malformed") from None
    if not sender or "@" not in sender:
        raise InboundRefused("unknown_sender")
    auto = str(message.get("Auto-Submitted", "no")).lower()
    if auto != "no" or str(message.get("Precedence", "")).lower() in {"bulk", "junk", "auto_reply"}:
        raise InboundRefused("auto_reply")
    addresses = [
        *recipients,
        *(str(message.get(h, "")) for h in ("Delivered-To", "X-Original-To", "To", "Cc")),
    ]
    try:
        public_id = references.public_id_from(*addresses) or references.public_id_from(str(message.get("Subject", "")))
    except references.BadReference:
        raise InboundRefused("bad_signature") from None
    if public_id is None:
        raise InboundRefused("no_reference")
    ticket = Ticket.objects.filter(public_id=public_id).select_related("account").first()
    if ticket is None:
        raise InboundRefused("no_reference")
    while ticket.merged_into_id is not None:
        ticket = Ticket.objects.select_related("account").get(pk=ticket.merged_into_id)
    membership, contact = _sender_of(ticket, sender)
    body = reply_text(_text_of(message))
    if not body:
        raise InboundRefused("empty")
    uploads = [
        Upload(file=io.BytesIO(_part_bytes(part.get_content())), name=part.get_filename() or "attachment")
        for part in message.iter_attachments()
        if isinstance(part.get_content(), bytes | str)
    ]
    # A refused file is left out, and so is every acceptable one beyond the count limit; the
    # text still arrives, and the sender hears which files are missing and why.
    accepted: list[Upload] = []
    left_out: list[LeftOut] = []
    for upload in uploads:
        try:
            uploads_check([upload])
        except AttachmentRefused as refused:
            left_out.append(LeftOut(name=refused.filename, reason=refused.reason))
            continue
        if len(accepted) >= settings.SUPPORT_ATTACHMENT_MAX_COUNT:
            left_out.append(LeftOut(name=safe_filename(upload.name), reason=LeftOutReason.TOO_MANY))
            continue
        accepted.append(upload)
    try:
        return ticket_reply_customer(
            ticket=ticket,
            membership=membership,
            sender=contact,
            body=body,
            uploads=accepted,
            now=now,
            channel=Channel.EMAIL,
            email_message_id=str(message.get("Message-ID", "")).strip(),
            files_left_out=left_out,
        )
    except ReopenWindowClosed:
        raise InboundRefused("closed") from None


# --- Knowledge base, shared files ------------------------------------------------------------


def knowledge_feedback_record(*, article: KnowledgeArticle, user: User, helpful: bool, now: dt.datetime) -> None:
    """Record (or change) `user`'s answer to "was this helpful?": one answer per reader."""
    KnowledgeFeedback.objects.update_or_create(
        article=article, user=user, defaults={"helpful": helpful, "answered_at": ensure_aware(now)}
    )


def shared_file_add(
    *, account: Account, title: str, upload: Upload, area: str, by: User | None, now: dt.datetime
) -> SharedFile:
    """Put a file in `account`'s customer area for its members with `area`, and email them."""
    now = ensure_aware(now)
    title = _clean_subject(title) if title else ""
    if area not in Area.values:
        raise InvalidRequestData("area", "unknown")
    checked = upload_check(upload.file, name=upload.name, max_bytes=settings.SUPPORT_ATTACHMENT_MAX_BYTES)
    stored, digest = file_store(checked, folder=f"shared/{account.pk}")
    try:
        with transaction.atomic():
            shared = SharedFile.objects.create(
                account=account,
                title=title or checked.filename,
                area=area,
                filename=checked.filename,
                stored_name=stored,
                content_type=checked.content_type,
                size=checked.size,
                sha256=digest,
                created_at=now,
                uploaded_by=by,
            )
            audit_record(action="support.file_shared", actor=by, account=account, target=shared, at=now)
            link = settings.SITE_URL + reverse("portal:dashboard")
            for member in Membership.objects.filter(account=account, user__is_active=True).select_related("user"):
                if not member.has_area(area):
                    continue
                email_send(
                    template="shared_file",
                    kind=EmailKind.ACCOUNT,
                    to_email=member.user.email,
                    language=member.user.language or account.language,
                    account=account,
                    recipient=member.user,
                    context={"title": shared.title, "filename": shared.filename, "link": link},
                )
    except BaseException:
        default_storage.delete(stored)
        raise
    return shared
