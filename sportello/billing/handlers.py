"""What billing does when an invoice is paid, registered with `services.on_invoice_paid`
from `BillingConfig.ready()`; it runs inside the transaction that makes the invoice paid.

- Renewal: each service a paid renewal invoice bills is renewed for the billed period
  (`services.service_renew`), and for any later period already paid, in order, so that
  invoices paid out of order still renew every period once.
- Suspension for non-payment: lifted once the account has nothing overdue left.

A service that can no longer be renewed (terminated, cancelled meanwhile) does not refuse
the payment: the money has arrived; the refusal is logged for staff to refund or credit.
"""

from __future__ import annotations

import logging

from sportello.billing.models import BilledPeriod, DocumentKind, DunningSuspension, Invoice, InvoiceStatus
from sportello.services.errors import ServicesError
from sportello.services.models import Service, ServiceStatus
from sportello.services.services import service_renew, service_unsuspend

logger = logging.getLogger(__name__)

# Invoices that keep a service suspended for non-payment.
UNPAID_STATUSES = [InvoiceStatus.OVERDUE, InvoiceStatus.COLLECTIONS]


def renew_paid_periods(*, service: Service) -> int:
    """Renew `service` for every consecutive period from its current end that a paid
    invoice billed; return how many."""
    renewed = 0
    while True:
        service = Service.objects.select_related("plan__product").get(pk=service.pk)
        if service.current_period_end is None or service.status not in (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED):
            return renewed
        paid = BilledPeriod.objects.filter(
            service=service, period_start=service.current_period_end, invoice__status=InvoiceStatus.PAID
        ).exists()
        if not paid:
            return renewed
        try:
            service_renew(service=service, period_start=service.current_period_end, reason="invoice paid")
        except ServicesError as error:
            logger.warning("paid renewal not applied", extra={"service": service.pk, "error": str(error)})
            return renewed
        renewed += 1


def lift_suspensions(*, account_id: int, as_of: object) -> int:
    """Unsuspend the account's services suspended for non-payment when nothing is overdue."""
    if Invoice.objects.filter(account_id=account_id, kind=DocumentKind.INVOICE, status__in=UNPAID_STATUSES).exists():
        return 0
    lifted = 0
    for suspension in DunningSuspension.objects.filter(service__account_id=account_id, lifted_on__isnull=True):
        service = Service.objects.get(pk=suspension.service_id)
        if service.status == ServiceStatus.SUSPENDED:
            try:
                service_unsuspend(service=service, reason="invoice paid")
            except ServicesError as error:
                logger.warning("unsuspension refused", extra={"service": service.pk, "error": str(error)})
                continue
            lifted += 1
        DunningSuspension.objects.filter(pk=suspension.pk).update(lifted_on=as_of)
    return lifted


def on_paid_renew_and_unsuspend(invoice: Invoice) -> None:
    if invoice.kind != DocumentKind.INVOICE:
        return
    service_ids = sorted(set(BilledPeriod.objects.filter(invoice=invoice).values_list("service_id", flat=True)))
    for service in Service.objects.filter(pk__in=service_ids).order_by("pk"):
        renew_paid_periods(service=service)
    lift_suspensions(account_id=invoice.account_id, as_of=invoice.paid_date)
