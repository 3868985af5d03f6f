"""The task that renders and keeps an issued invoice's PDF (enqueued after the issue commits)."""

from __future__ import annotations

from django.tasks import task

from sportello.billing.pdf import invoice_pdf_store


@task
def invoice_pdf_render(invoice_id: int) -> str:
    """Render and store the invoice's PDF once; a second run finds it stored and does nothing."""
    return invoice_pdf_store(invoice_id=invoice_id).pdf_sha256
