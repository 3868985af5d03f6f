"""Background work of the payments app: auto-pay charges, enqueued after an invoice is issued."""

from __future__ import annotations

from django.tasks import task

from sportello.core.time import parse_as_of
from sportello.payments.services import invoice_autopay


@task
def invoice_autopay_task(invoice_id: int, as_of: str) -> str:
    """Charge the default saved method for one invoice (once per invoice and day)."""
    payment = invoice_autopay(invoice_id=invoice_id, as_of=parse_as_of(as_of))
    return payment.status if payment is not None else "skipped"
