"""Email delivery, and the hourly second chance for deliveries that failed."""

import datetime as dt

from django.tasks import task

from sportello.core.scheduler import periodic
from sportello.notifications.models import EmailLog, EmailStatus
from sportello.notifications.services import email_deliver_now

# Failed deliveries are retried for this long; after that staff see them in the log.
RETRY_WINDOW = dt.timedelta(days=1)


@task
def email_deliver(email_id: int) -> str:
    return email_deliver_now(email_id=email_id).status


@periodic("notifications.retry_failed", every="hourly")
@task
def email_retry_failed(now: str) -> int:
    """Try again every email that failed in the last day; return how many were sent now."""
    moment = dt.datetime.fromisoformat(now)
    failed = EmailLog.objects.filter(status=EmailStatus.FAILED, created_at__gte=moment - RETRY_WINDOW)
    sent = 0
    for email_id in failed.values_list("pk", flat=True):
        try:
            sent += email_deliver_now(email_id=email_id).status == EmailStatus.SENT
        except Exception:  # noqa: S112 - recorded on the row; the next hour tries again
            continue
    return sent
