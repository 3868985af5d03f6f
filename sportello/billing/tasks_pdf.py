"""The task that renders and keeps an issued invoice's PDF (enqueued after the issue commits)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.tasks import task

from sportello.billing.pdf import invoice_pdf_store

logger = logging.getLogger(__name__)


@task
def invoice_pdf_render(invoice_id: int) -> str:
    """Render and store the invoice's PDF once; a second run finds it stored and does nothing."""
    return invoice_pdf_store(invoice_id=invoice_id).pdf_sha256


@task
def invoice_pdfs_render(invoice_ids: list[int]) -> int:
    """Render and store the PDFs of a batch of issued invoices, then email each with its PDF
    (`billing.emails`, once per document); return how many PDFs it stored.

    A failure is logged and leaves that invoice without a file: the next download renders
    and stores it (`invoice_pdf_file`), so one bad document never blocks the others. An
    email that fails is logged and left unsent; running the task again sends it.
    """
    from sportello.billing.emails import invoice_email_send

    stored = 0
    for invoice_id in invoice_ids:
        try:
            if settings.BILLING_PDF_ON_ISSUE:
                invoice_pdf_store(invoice_id=invoice_id)
                stored += 1
        except Exception:
            logger.exception("could not render the PDF of invoice %s", invoice_id)
            continue
        try:
            invoice_email_send(invoice_id=invoice_id)
        except Exception:
            logger.exception("could not email invoice %s", invoice_id)
    return stored
