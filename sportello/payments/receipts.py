"""Payment receipts: the email sent when money is received, and what the receipt page shows.

A receipt states what Sportello's own records say: the amount received, how, on which day,
the invoices it paid (what each received from it) and any excess that became account
credit. The email is logged in the transaction that records the payment (so a rolled-back
payment sends nothing) and delivered after commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from sportello.billing.models import Invoice
from sportello.core.formatting import date_display, money_display
from sportello.core.money import Money
from sportello.notifications.models import EmailKind
from sportello.notifications.services import email_send
from sportello.payments.models import Payment, PaymentEvent, PaymentEventKind, Refund, RefundStatus
from sportello.payments.selectors import (
    payment_overpayment_minor,
    payment_received_minor,
    payment_settlements,
)


@dataclass(frozen=True)
class ReceiptLine:
    invoice: Invoice
    amount: Money


@dataclass(frozen=True)
class Receipt:
    payment: Payment
    received: Money
    # The business day the money was received (the invoices' settlement date).
    received_on: dt.date
    lines: list[ReceiptLine]
    # What exceeded the invoices and became account credit.
    overpayment: Money
    refunds: list[Refund]


def payment_receipt(*, payment: Payment) -> Receipt:
    """The receipt of a payment that received money."""
    settlements = list(payment_settlements(payment=payment).order_by("invoice__due_date", "invoice_id"))
    if settlements:
        received_on = settlements[0].settled_on
    else:
        event = PaymentEvent.objects.filter(payment_id=payment.pk, kind=PaymentEventKind.SUCCEEDED).first()
        received_on = event.at.date() if event is not None else payment.started_on
    return Receipt(
        payment=payment,
        received=Money.from_minor(payment_received_minor(payment=payment), payment.currency),
        received_on=received_on,
        lines=[
            ReceiptLine(invoice=s.invoice, amount=Money.from_minor(s.amount_minor, payment.currency))
            for s in settlements
        ],
        overpayment=Money.from_minor(payment_overpayment_minor(payment=payment), payment.currency),
        refunds=list(payment.refunds.filter(status=RefundStatus.SUCCEEDED).order_by("created_at", "id")),
    )


def receipt_url(payment: Payment) -> str:
    return settings.SITE_URL + reverse("portal:payment-receipt", args=[payment.public_id])


def receipt_send(*, payment: Payment, received_on: dt.date) -> int:
    """Email the receipt of `payment` to the account's payment contacts, each in their language
    (the contacts who chose receipts, or else those who receive invoices). Returns how many."""
    from sportello.payments.refunds import notice_contacts

    account = payment.account
    receipt = payment_receipt(payment=payment)
    contacts = notice_contacts(account)
    for contact in contacts:
        language = (contact.user.language if contact.user and contact.user.language else "") or account.language
        with translation.override(language):
            context = {
                "name": contact.name,
                "amount": money_display(receipt.received, language),
                "method": payment.method_label,
                "date": date_display(received_on, language),
                "invoices": [
                    {"number": line.invoice.display_number, "amount": money_display(line.amount, language)}
                    for line in receipt.lines
                ],
                "overpayment": money_display(receipt.overpayment, language) if receipt.overpayment.minor else "",
                "reference": str(payment.public_id),
                "link": receipt_url(payment),
            }
        email_send(
            template="payment_receipt",
            kind=EmailKind.RECEIPT,
            to_email=contact.email,
            language=language,
            account=account,
            recipient=contact.user,
            context=context,
        )
    return len(contacts)
