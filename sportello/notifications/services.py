"""Sending email: render in the recipient's language, log, deliver after commit.

Every email goes through `email_send`: it stores the rendered message in the email log
inside the caller's transaction, and delivery (the SMTP conversation or the file
outbox) happens after commit through a task, so a rolled-back change sends nothing and
a failed delivery is retried without sending twice.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from sportello.accounts.models import Account, Contact, Membership, User
from sportello.core.effects import after_commit
from sportello.core.time import utc_now
from sportello.notifications.models import EmailLog, EmailStatus
from sportello.notifications.topics import topic_allowed


@dataclass(frozen=True)
class EmailAttachment:
    """A file sent with an email: its name as the recipient sees it, and its bytes."""

    name: str
    # The type is read from the name's extension at delivery (.csv -> text/csv).
    content: bytes


def attachment_path(email_id: int, index: int) -> str:
    """Where the `index`-th attachment of a logged email is kept, for delivery and retries.

    Under the default storage (the data directory, never served over HTTP), by position
    rather than by name, so that a customer's file name never becomes part of a path.
    """
    return f"email-attachments/{email_id}/{index}"


def _store_attachments(entry: EmailLog, attachments: Sequence[EmailAttachment]) -> None:
    for index, attachment in enumerate(attachments):
        path = attachment_path(entry.pk, index)
        # A rolled-back email may have left a file at this id (SQLite reuses the highest
        # id): replace it, so that the path is exactly ours and not a renamed copy.
        if default_storage.exists(path):
            default_storage.delete(path)
        default_storage.save(path, ContentFile(attachment.content))


def _render(template: str, context: dict[str, Any], language: str) -> tuple[str, str, str]:
    with translation.override(language):
        subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
        text = render_to_string(f"emails/{template}.txt", context).strip() + "\n"
        html = render_to_string(f"emails/{template}.html", context).strip()
    return subject, text, html


def email_send(
    *,
    template: str,
    kind: str,
    to_email: str,
    context: dict[str, Any],
    language: str,
    account: Account | None = None,
    recipient: User | None = None,
    attachments: Sequence[EmailAttachment] = (),
    reply_to: str = "",
) -> EmailLog:
    """Render `emails/<template>_subject.txt`, `.txt` and `.html` in `language`, log and send
    (with `attachments`, kept with the log entry until delivered)."""
    base = {
        "PROVIDER_NAME": settings.PROVIDER_NAME,
        "SITE_URL": settings.SITE_URL,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
    }
    subject, text, html = _render(template, {**base, **context}, language)
    return email_send_rendered(
        kind=kind,
        to_email=to_email,
        subject=subject,
        text=text,
        html=html,
        account=account,
        recipient=recipient,
        attachments=attachments,
        reply_to=reply_to,
    )


def email_send_rendered(
    *,
    kind: str,
    to_email: str,
    subject: str,
    text: str,
    html: str = "",
    account: Account | None = None,
    recipient: User | None = None,
    attachment_names: Iterable[str] = (),
    attachments: Sequence[EmailAttachment] = (),
    reply_to: str = "",
) -> EmailLog:
    """Log an already rendered email and deliver it once the transaction commits.

    `attachments` are stored with the entry (their names first in `attachment_names`) and
    attached at delivery; `attachment_names` alone only records names.
    """
    entry = EmailLog.objects.create(
        account=account,
        recipient=recipient,
        kind=kind,
        to_email=to_email,
        from_email=settings.DEFAULT_FROM_EMAIL,
        subject=subject[:300],
        reply_to=reply_to,
        body_text=text,
        body_html=html,
        attachment_names=[attachment.name for attachment in attachments] + list(attachment_names),
        created_at=utc_now(),
    )
    _store_attachments(entry, attachments)
    from sportello.notifications.tasks import email_deliver

    after_commit(email_deliver.enqueue, email_id=entry.pk)
    return entry


def email_deliver_now(*, email_id: int) -> EmailLog:
    """Hand one logged email to the mail backend and mark it sent, or failed (and re-raise).

    The row is claimed with a conditional update (queued or failed -> sending) so that two
    workers never send the same email, and no lock is held during the SMTP conversation.
    A process killed mid-send leaves the row "sending": it is not sent again automatically
    (at most once), and staff see it in the log.
    """
    claimed = EmailLog.objects.filter(pk=email_id, status__in=[EmailStatus.QUEUED, EmailStatus.FAILED]).update(
        status=EmailStatus.SENDING
    )
    entry = EmailLog.objects.get(pk=email_id)
    if not claimed:
        return entry
    message = EmailMultiAlternatives(
        subject=entry.subject,
        body=entry.body_text,
        from_email=entry.from_email,
        to=[entry.to_email],
        headers={"X-Sportello-Email": str(entry.pk)},
        reply_to=[entry.reply_to] if entry.reply_to else None,
    )
    if entry.body_html:
        message.attach_alternative(entry.body_html, "text/html")
    for index, name in enumerate(entry.attachment_names):
        path = attachment_path(entry.pk, index)
        if default_storage.exists(path):
            with default_storage.open(path, "rb") as stored:
                mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
                message.attach(name, stored.read(), mimetype)
    try:
        message.send()
    except Exception as exc:
        EmailLog.objects.filter(pk=entry.pk).update(status=EmailStatus.FAILED, error=str(exc)[:2000])
        raise
    EmailLog.objects.filter(pk=entry.pk).update(status=EmailStatus.SENT, sent_at=utc_now(), error="")
    entry.refresh_from_db()
    return entry


def contacts_receiving(*, account: Account, topic: str) -> list[Contact]:
    """The account's contacts who chose `topic`; invoices always reach the billing contact.

    A contact who is a member receives the topic only while their current areas allow it
    (a preference kept from a wider role does not count): the email's links must open.
    """
    memberships = {m.user_id: m for m in Membership.objects.filter(account=account)}

    def may_receive(contact: Contact) -> bool:
        if contact.user_id is None:
            return True
        member = memberships.get(contact.user_id)
        return member is not None and topic_allowed(member, topic)

    contacts = [c for c in account.contacts.all() if may_receive(c)]
    chosen = [c for c in contacts if topic in c.topics]
    if topic == "invoices" and not any(c.is_billing_default for c in chosen):
        chosen += [c for c in contacts if c.is_billing_default]
    return chosen
