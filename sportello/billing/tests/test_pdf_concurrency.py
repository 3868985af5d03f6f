"""Two renders of one invoice's PDF finishing at the same moment, on PostgreSQL: one writes."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from sportello.billing import pdf as billing_pdf
from sportello.billing.models import Invoice
from sportello.billing.services import NewLine, invoice_create, invoice_issue


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_renders_racing_store_one_file(
    on_postgresql: None, alice: Any, billing_setup: None, settings: Any, monkeypatch: pytest.MonkeyPatch, round_: int
) -> None:
    settings.BILLING_PDF_ON_ISSUE = False
    settings.BILLING_INVOICE_EMAILS = False  # nor is it rendered to be emailed
    draft = invoice_create(
        account=alice.account,
        lines=[NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal(100))],
        as_of=dt.date(2026, 3, 2),
    )
    invoice = invoice_issue(invoice=draft, as_of=dt.date(2026, 3, 2))
    render = billing_pdf.invoice_pdf
    barrier = threading.Barrier(2)
    saved: list[str] = []
    save = default_storage.save

    def render_then_wait(document: Invoice, **kwargs: Any) -> bytes:
        data = render(document, **kwargs) + f"\n% render {threading.get_ident()}".encode()
        barrier.wait(timeout=30)  # both renders are done: both UPDATEs race
        return data

    def save_and_note(name: str, content: Any) -> str:
        saved.append(save(name, content))
        return saved[-1]

    monkeypatch.setattr(billing_pdf, "invoice_pdf", render_then_wait)
    monkeypatch.setattr(billing_pdf.default_storage, "save", save_and_note)

    def run() -> None:
        try:
            billing_pdf.invoice_pdf_store(invoice_id=invoice.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    stored = Invoice.objects.get(pk=invoice.pk)
    assert len(saved) == 2 and stored.pdf.name in saved
    assert [name for name in saved if default_storage.exists(name)] == [stored.pdf.name]
    assert hashlib.sha256(default_storage.open(stored.pdf.name).read()).hexdigest() == stored.pdf_sha256


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_email_tasks_racing_send_the_invoice_once(
    on_postgresql: None, alice: Any, billing_setup: None, settings: Any, round_: int
) -> None:
    from sportello.billing.emails import invoice_email_send
    from sportello.billing.models import InvoiceEmailed
    from sportello.notifications.models import EmailKind, EmailLog

    # Issued without its task (it would run at once here, each statement committing).
    settings.BILLING_PDF_ON_ISSUE = False
    settings.BILLING_INVOICE_EMAILS = False
    draft = invoice_create(
        account=alice.account,
        lines=[NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal(100))],
        as_of=dt.date(2026, 3, 2),
    )
    invoice = invoice_issue(invoice=draft, as_of=dt.date(2026, 3, 2))
    billing_pdf.invoice_pdf_store(invoice_id=invoice.pk)
    settings.BILLING_INVOICE_EMAILS = True
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            sent.append(invoice_email_send(invoice_id=invoice.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(sent) == [0, 1]
    assert InvoiceEmailed.objects.get(invoice=invoice).recipients == 1
    assert list(EmailLog.objects.filter(kind=EmailKind.INVOICE).values_list("to_email", flat=True)) == [
        "alice@example.org"
    ]
