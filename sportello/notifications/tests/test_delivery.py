"""Emails are logged in the caller's transaction and delivered over SMTP after commit."""

import pytest
from django.db import transaction

from sportello.notifications.models import EmailLog
from sportello.notifications.services import email_deliver_now, email_send


def send_welcome(alice):
    return email_send(
        template="first_access",
        kind="first_access",
        to_email="alice@example.org",
        language="it",
        account=alice.account,
        recipient=alice.user,
        context={"name": "Alice", "link": "http://127.0.0.1:8000/x/", "minutes": 60},
    )


@pytest.mark.django_db(transaction=True)
def test_an_email_goes_over_smtp_after_commit_and_is_logged_as_sent(alice, smtp_inbox):
    with transaction.atomic():
        entry = send_welcome(alice)
        assert smtp_inbox.messages == []  # nothing leaves before commit
    entry.refresh_from_db()
    assert entry.status == "sent"
    assert smtp_inbox.envelopes == [("billing@example.com", ["alice@example.org"])]
    received = smtp_inbox.messages[0]
    assert received["Subject"] == entry.subject
    assert received["X-Sportello-Email"] == str(entry.pk)
    assert smtp_inbox.text_of(0) == entry.body_text
    assert smtp_inbox.link_in(0) == "http://127.0.0.1:8000/x/"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_sends_nothing(alice, smtp_inbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        send_welcome(alice)
        raise RuntimeError("the change fails")
    assert smtp_inbox.messages == []
    assert EmailLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_failed_delivery_is_recorded_and_a_retry_sends_once(alice, settings, smtp_inbox):
    good = settings.MAILERS
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
        }
    }
    with transaction.atomic():
        send_welcome(alice)  # the delivery after commit fails; the change itself stands
    entry = EmailLog.objects.get()
    assert entry.status == "failed"
    assert entry.error != ""
    settings.MAILERS = good
    assert email_deliver_now(email_id=entry.pk).status == "sent"
    assert email_deliver_now(email_id=entry.pk).status == "sent"  # a second run sends nothing more
    assert len(smtp_inbox.messages) == 1


@pytest.mark.django_db(transaction=True)
def test_the_hourly_job_retries_recent_failures(alice, smtp_inbox):
    import datetime as dt

    from sportello.notifications.tasks import email_retry_failed

    with transaction.atomic():
        entry = send_welcome(alice)
    EmailLog.objects.filter(pk=entry.pk).update(status="failed", error="timeout")
    old = send_welcome(alice)
    EmailLog.objects.filter(pk=old.pk).update(
        status="failed", created_at=entry.created_at - dt.timedelta(days=2), error="timeout"
    )
    now = entry.created_at + dt.timedelta(hours=1)
    assert email_retry_failed.call(now=now.isoformat()) == 1
    assert EmailLog.objects.get(pk=entry.pk).status == "sent"
    assert EmailLog.objects.get(pk=old.pk).status == "failed"  # older than a day: left to staff


@pytest.mark.django_db(transaction=True)
def test_attachments_are_kept_with_the_entry_and_sent_also_on_retry(alice, settings, smtp_inbox):
    from sportello.notifications.services import EmailAttachment

    good = settings.MAILERS
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9},
        }
    }
    content = "\ufeffNumber,Total\r\nINV-1,'=1+2\r\n".encode()
    with transaction.atomic():
        email_send(
            template="first_access",
            kind="list",
            to_email="alice@example.org",
            language="en",
            account=alice.account,
            recipient=alice.user,
            context={"name": "Alice", "link": "http://127.0.0.1:8000/x/", "minutes": 60},
            attachments=[EmailAttachment(name="list.csv", content=content)],
        )
    entry = EmailLog.objects.get()
    assert (entry.status, entry.attachment_names) == ("failed", ["list.csv"])
    settings.MAILERS = good
    assert email_deliver_now(email_id=entry.pk).status == "sent"
    [message] = smtp_inbox.messages
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "list.csv"
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content().replace("\r\n", "\n") == "\ufeffNumber,Total\nINV-1,'=1+2\n"
