"""The "invoice issued" email: each issued invoice and credit note, with its PDF, to the
account's contacts who receive invoices.

- When: in the background task that renders the PDFs of issued documents
  (`tasks_pdf.invoice_pdfs_render`, enqueued after the issue commits by
  `pdf.invoices_pdf_on_issue`), once the PDF is stored, never in the issuing transaction:
  the billing run issues thousands of invoices and sends nothing itself. Every issue takes
  that path (the billing run, staff, orders, late fees, credit notes).
- Once: `InvoiceEmailed` is one-to-one with the document and written in the transaction
  that logs the emails; a task run again (a retry, a re-run) finds it and sends nothing.
  A failure rolls the marker back with the log, so the retry sends it.
- What: number, issue date, due date, total and balance due, formatted by the helpers the
  invoice page uses (`money_display`, `date_display`; the balance is the page's
  `document_state`), so the figures are the page's and the PDF's; a link to the document's
  page; the stored PDF attached under the name the portal downloads it with.
- A renewal paid at once from account credit or auto-pay is still sent: it is the
  document, and the payment has its own receipt. Its balance due then reads zero.
- With numbering at payment, the payment request is sent under its own number (the
  customer pays it); its PDF is rendered for the email, as for a download (payment
  requests are not kept). Taking the fiscal number at payment sends nothing more.
- Not sent: drafts, documents cancelled before the task ran, BILLING_INVOICE_EMAILS off.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation

from sportello.accounts.models import Account, Contact, EmailTopic
from sportello.billing.models import DocumentKind, Invoice, InvoiceEmailed, InvoiceStatus
from sportello.billing.pdf import invoice_pdf_file
from sportello.billing.printed import safe_filename
from sportello.billing.selectors_portal import document_state
from sportello.core.formatting import date_display, money_display
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.notifications.models import EmailKind
from sportello.notifications.services import EmailAttachment, contacts_receiving, email_send

logger = logging.getLogger(__name__)

# Documents that are no longer worth telling the customer about when the task runs.
NOT_SENT = frozenset({InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED})


def contact_language(contact: Contact, account: Account) -> str:
    """A contact's language: their own as a member, else the account's."""
    return (contact.user.language if contact.user and contact.user.language else "") or account.language


def invoice_link(invoice: Invoice) -> str:
    """The document's page in the customer area."""
    name = "portal:credit-note" if invoice.is_credit_note else "portal:invoice"
    return f"{settings.SITE_URL}{reverse(name, args=[invoice.display_number])}"


def invoice_email_context(invoice: Invoice, *, name: str, language: str) -> dict[str, object]:
    """What the email shows, formatted in `language` as the invoice page is."""
    # The balance as the page computes it (the date only decides the status shown).
    state = document_state(invoice, as_of=invoice.issue_date or dt.date.min)
    return {
        "name": name,
        "credit_note": invoice.is_credit_note,
        "payment_request": invoice.kind == DocumentKind.INVOICE and not invoice.number,
        "number": invoice.display_number,
        "corrects": invoice.corrects.display_number if invoice.corrects_id and invoice.corrects else "",
        "issue_date": date_display(invoice.issue_date, language) if invoice.issue_date else "",
        "due_date": date_display(invoice.due_date, language) if invoice.due_date and not invoice.is_credit_note else "",
        "total": money_display(Money.from_minor(invoice.total_minor * invoice.shown_sign, invoice.currency), language),
        "balance": money_display(state.due, language),
        "paid": state.due.minor == 0 and not invoice.is_credit_note,
        "link": invoice_link(invoice),
    }


def invoice_email_send(*, invoice_id: int) -> int:
    """Email the issued document `invoice_id` to its account's invoice contacts, once; return
    how many emails were logged now (0 when it is not to be sent, or was already)."""
    if not settings.BILLING_INVOICE_EMAILS:
        return 0
    with transaction.atomic():
        invoice = Invoice.objects.select_related("corrects").get(pk=invoice_id)
        if invoice.status in NOT_SENT or invoice.issue_date is None:
            return 0
        try:
            with transaction.atomic():
                marker = InvoiceEmailed.objects.create(invoice=invoice, sent_at=utc_now())
        except IntegrityError:
            return 0  # sent before, by this task or another run of it
        attachment = EmailAttachment(
            name=safe_filename(invoice.display_number, "invoice"), content=invoice_pdf_file(invoice=invoice)
        )
        account = Account.objects.get(pk=invoice.account_id)
        contacts = contacts_receiving(account=account, topic=EmailTopic.INVOICES)
        for contact in contacts:
            language = contact_language(contact, account)
            with translation.override(language):
                context = invoice_email_context(invoice, name=contact.name, language=language)
            email_send(
                template="billing_invoice",
                kind=EmailKind.INVOICE,
                to_email=contact.email,
                language=language,
                account=account,
                recipient=contact.user,
                context=context,
                attachments=[attachment],
            )
        InvoiceEmailed.objects.filter(pk=marker.pk).update(recipients=len(contacts))
    return len(contacts)
