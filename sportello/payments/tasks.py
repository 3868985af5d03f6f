"""Background work of the payments app: auto-pay charges (enqueued after an invoice is issued)
and the hourly look at card payments whose notification never came and at interrupted refunds."""

from __future__ import annotations

import datetime as dt

from django.tasks import task

from sportello.core.scheduler import periodic
from sportello.core.time import ensure_aware, parse_as_of
from sportello.payments.refunds import refunds_pending_resume
from sportello.payments.services import invoice_autopay, payments_pending_refresh


@task
def invoice_autopay_task(invoice_id: int, as_of: str) -> str:
    """Charge the default saved method for one invoice (once per invoice and day)."""
    payment = invoice_autopay(invoice_id=invoice_id, as_of=parse_as_of(as_of))
    return payment.status if payment is not None else "skipped"


@periodic("payments.pending_refresh", every="hourly")
@task
def payments_pending_refresh_task(now: str) -> dict[str, int]:
    """Ask gateways about card payments whose notification never came; give up on abandoned ones;
    finish refunds to the card that were interrupted."""
    moment = ensure_aware(dt.datetime.fromisoformat(now))
    return payments_pending_refresh(now=moment) | refunds_pending_resume(now=moment)
