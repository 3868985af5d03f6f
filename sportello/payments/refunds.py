"""Refunds by staff: all or part of a payment, back to its payment method or to account credit.

What a refund may take, and in which order (`refund_parts`):
1. To the payment method only: the payment's overpayment (the excess that became credit), as
   far as that credit is still there: it is taken back from the ledger. Refunded to credit
   it would be credit twice, so a refund to credit never takes it.
2. The invoices the payment paid, latest due date first (the newest charge is the likeliest
   to be refunded, and the oldest stays paid), each for what this payment paid it less
   what earlier refunds of the payment took back. On each, `billing.refunds.invoice_refund`
   corrects a paid fiscal invoice with a credit note of exactly that part, or takes the
   money back from an invoice still owed. A funds invoice (credit bought) can only be
   refunded to the payment method and only while its credit is there, which is taken back.
A refund never exceeds what the payment received less its earlier refunds; two refunds of one
payment run one after the other (the payment's lock), so together they never exceed it either.

A refund to credit is one transaction: the refund row, the invoices' corrections, a "refund"
credit entry, the payment's "refunded" event. A refund to the payment method cannot be one
(the gateway is an outside system): the row is written first, pending, with the credit it
takes back reserved in the ledger (so it cannot be spent meanwhile); then the gateway is
asked, with the idempotency key "refund-<id>"; its answer is recorded in a second
transaction: refused, the row fails and the reserved credit returns, nothing else changed;
done, the invoices are corrected and the event appended. Invoices changed meanwhile so that
the planned correction no longer fits (a credit note issued in between) do not undo money
that has left: the refund is recorded and the reconciliation queue asks staff to correct them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Account, EmailTopic, User
from sportello.billing.credit_notes import invoice_creditable_minor
from sportello.billing.errors import BillingError
from sportello.billing.models import PAYABLE_STATUSES, Invoice, InvoiceSource, InvoiceStatus, Settlement, SettlementKind
from sportello.billing.refunds import invoice_owed_back_minor, invoice_refund, invoice_refund_check
from sportello.core.formatting import date_display, money_display
from sportello.core.models import AUDIT_ACTIONS
from sportello.core.money import Money
from sportello.core.services import audit_record
from sportello.core.time import utc_now
from sportello.notifications.models import EmailKind
from sportello.notifications.services import contacts_receiving, email_send
from sportello.payments.adapters import gateway_get
from sportello.payments.adapters.base import Gateway as GatewayAdapter
from sportello.payments.errors import (
    GatewayError,
    InvalidAmount,
    MethodUnavailable,
    RefundAboveRefundable,
    RefundRefused,
)
from sportello.payments.models import (
    CreditEntry,
    CreditKind,
    Payment,
    PaymentEventKind,
    PaymentStatus,
    ReconciliationItem,
    ReconciliationKind,
    Refund,
    RefundDestination,
    RefundStatus,
)
from sportello.payments.selectors import (
    credit_balance,
    payment_overpayment_minor,
    payment_received_minor,
    payment_refunded_minor,
    payment_settlements,
)

AUDIT_ACTIONS.update(
    {
        "payment.refunded": _("Payment refunded"),
        "payment.refund_failed": _("Refund refused by the payment service"),
    }
)

OVERPAYMENT = "overpayment"
INVOICE = "invoice"


def gateway_refunds(adapter: GatewayAdapter) -> bool:
    """Whether the gateway can give money back (it implements `refund`): cards can, bank
    transfers and PIX cannot (their money can only go to account credit)."""
    return type(adapter).refund is not GatewayAdapter.refund


def _lock(payment: Payment) -> Payment:
    Account.objects.select_for_update().filter(pk=payment.account_id).values_list("pk", flat=True).get()
    return Payment.objects.select_for_update().get(pk=payment.pk)


@dataclass(frozen=True)
class RefundPart:
    # OVERPAYMENT or INVOICE
    source: str
    amount_minor: int
    invoice: Invoice | None = None
    # A funds invoice: its credit is taken back with the money.
    takes_credit: bool = False

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source, "amount_minor": self.amount_minor}
        if self.invoice is not None:
            data.update(invoice=self.invoice.pk, number=self.invoice.display_number)
        if self.takes_credit:
            data["takes_credit"] = True
        return data


def _reversed_minor(payment: Payment, invoice: Invoice) -> int:
    """What this payment's refunds took back from `invoice`."""
    references = [f"refund:{pk}" for pk in Refund.objects.filter(payment_id=payment.pk).values_list("pk", flat=True)]
    total = Settlement.objects.filter(
        invoice_id=invoice.pk, kind=SettlementKind.REVERSAL, reference__in=references
    ).aggregate(total=Sum("amount_minor"))["total"]
    return -int(total or 0)


def _overpayment_refunded_minor(payment: Payment) -> int:
    return sum(
        part["amount_minor"]
        for refund in Refund.objects.filter(payment_id=payment.pk, status=RefundStatus.SUCCEEDED)
        for part in refund.parts
        if part["source"] == OVERPAYMENT
    )


def refund_parts(*, payment: Payment, destination: str) -> list[RefundPart]:
    """Everything of `payment` that a refund to `destination` may still take, in the order it
    takes it (module docstring). The amounts are maxima; a refund takes them in order."""
    parts: list[RefundPart] = []
    credit = credit_balance(account=payment.account, currency=payment.currency).minor
    if destination == RefundDestination.GATEWAY:
        left = payment_overpayment_minor(payment=payment) - _overpayment_refunded_minor(payment)
        take = max(min(left, credit), 0)
        if take:
            parts.append(RefundPart(OVERPAYMENT, take))
            credit -= take
    settlements = sorted(
        payment_settlements(payment=payment),
        key=lambda s: (s.invoice.due_date or dt.date.min, s.invoice_id),
        reverse=True,
    )
    for settlement in settlements:
        invoice = settlement.invoice
        left = settlement.amount_minor - _reversed_minor(payment, invoice)
        takes_credit = invoice.source == InvoiceSource.FUNDS
        if takes_credit:
            if destination == RefundDestination.CREDIT:
                continue
            left = min(left, credit)
            credit -= max(left, 0)
        if invoice.status in (InvoiceStatus.PAID, InvoiceStatus.REFUNDED):
            correctable = (
                invoice_creditable_minor(invoice=invoice) + invoice_owed_back_minor(invoice=invoice)
                if invoice.number
                else 0
            )
            left = min(left, correctable)
        elif invoice.status not in PAYABLE_STATUSES:
            left = 0
        if left > 0:
            parts.append(RefundPart(INVOICE, left, invoice=invoice, takes_credit=takes_credit))
    return parts


def payment_refundable_minor(*, payment: Payment, destination: str) -> int:
    """What a refund of `payment` to `destination` may give back now."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return 0
    remainder = payment_received_minor(payment=payment) - payment_refunded_minor(payment=payment)
    available = sum(part.amount_minor for part in refund_parts(payment=payment, destination=destination))
    return max(min(remainder, available), 0)


def refund_credit_note_numbers(*, refund: Refund) -> list[str]:
    """The credit notes that covered the refund on its invoices."""
    numbers = (
        Settlement.objects.filter(kind=SettlementKind.CREDIT_NOTE, reference__startswith=f"refund:{refund.pk}:")
        .order_by("pk")
        .values_list("credit_note__number", flat=True)
    )
    return [number for number in numbers if number]


def _plan(parts: list[RefundPart], amount_minor: int) -> list[RefundPart]:
    plan = []
    left = amount_minor
    for part in parts:
        take = min(part.amount_minor, left)
        if take:
            plan.append(RefundPart(part.source, take, invoice=part.invoice, takes_credit=part.takes_credit))
            left -= take
    return plan


def _credit_taken_minor(refund: Refund) -> int:
    """The credit a refund to the payment method takes back: the overpayment and funds parts."""
    return sum(
        part["amount_minor"] for part in refund.parts if part["source"] == OVERPAYMENT or part.get("takes_credit")
    )


@transaction.atomic
def _refund_open(
    *,
    payment: Payment,
    amount: Money,
    destination: str,
    reason: str,
    by: User | None,
    as_of: dt.date,
    idempotency_key: str,
) -> Refund:
    payment = _lock(payment)
    if idempotency_key:
        existing = Refund.objects.filter(idempotency_key=idempotency_key[:255]).first()
        if existing is not None:
            return existing
    reason = " ".join(reason.split())[:500]
    if not reason:
        raise RefundRefused("reason_required")
    if destination not in RefundDestination.values:
        raise RefundRefused("destination")
    if amount.currency != payment.currency:
        raise InvalidAmount("currency")
    if amount.minor <= 0:
        raise InvalidAmount("not_positive")
    remainder = payment_received_minor(payment=payment) - payment_refunded_minor(payment=payment)
    if payment.status == PaymentStatus.REFUNDED:
        raise RefundAboveRefundable(refundable_minor=0, wanted_minor=amount.minor, currency=amount.currency)
    if payment.status != PaymentStatus.SUCCEEDED:
        raise RefundRefused("not_succeeded")
    if Refund.objects.filter(payment_id=payment.pk, status=RefundStatus.PENDING).exists():
        raise RefundRefused("in_progress")
    if destination == RefundDestination.GATEWAY:
        try:
            adapter = gateway_get(payment.gateway)
        except MethodUnavailable:
            raise RefundRefused("gateway_cannot_refund") from None
        if not gateway_refunds(adapter) or not payment.gateway_reference:
            raise RefundRefused("gateway_cannot_refund")
    if amount.minor > remainder:
        raise RefundAboveRefundable(refundable_minor=remainder, wanted_minor=amount.minor, currency=amount.currency)
    parts = refund_parts(payment=payment, destination=destination)
    available = min(sum(part.amount_minor for part in parts), remainder)
    if amount.minor > available:
        if available == 0 and destination == RefundDestination.CREDIT:
            raise RefundRefused("already_credit")
        raise RefundAboveRefundable(refundable_minor=available, wanted_minor=amount.minor, currency=amount.currency)
    plan = _plan(parts, amount.minor)
    for part in plan:
        if part.invoice is not None:
            # Refused now, before any money moves, rather than after the gateway gave it back.
            invoice_refund_check(invoice=part.invoice, amount=Money.from_minor(part.amount_minor, payment.currency))
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                account_id=payment.account_id,
                payment=payment,
                amount_minor=amount.minor,
                currency=amount.currency,
                destination=destination,
                reason=reason,
                parts=[part.as_json() for part in plan],
                idempotency_key=idempotency_key[:255],
                requested_on=as_of,
                by=by if by is not None and by.pk else None,
            )
    except IntegrityError:
        # The same key used for another payment, or a pending refund committed in between.
        raise RefundRefused("in_progress") from None
    if destination == RefundDestination.CREDIT:
        _refund_apply(refund, payment, by=by, strict=True)
    else:
        taken = _credit_taken_minor(refund)
        if taken:
            # Reserved now, under the account's lock: the customer cannot spend it while the
            # gateway is asked. Given back if the gateway refuses.
            CreditEntry.objects.create(
                account_id=payment.account_id,
                currency=payment.currency,
                amount_minor=-taken,
                kind=CreditKind.ADJUSTMENT,
                payment=payment,
                once_key=f"refund:{refund.pk}:taken",
                note=_in(payment.account.language, _("Refunded to the payment method")),
                by=refund.by,
                at=utc_now(),
            )
    return refund


def _in(language: str, text: Any) -> str:
    with translation.override(language):
        return str(text)[:300]


def _refund_apply(refund: Refund, payment: Payment, *, by: User | None, strict: bool) -> None:
    """Correct the invoices, credit the account (to credit), append the payment's event and
    close the refund. Runs in the caller's transaction, under the payment's lock."""
    account = payment.account
    invoice_parts = [part for part in refund.parts if part["source"] == INVOICE]
    method = (
        _in(account.language, _("Refund to account credit"))
        if refund.destination == RefundDestination.CREDIT
        else _in(account.language, _("Refund to %(method)s") % {"method": payment.method_label or payment.gateway})
    )
    credit_notes: list[str] = []
    try:
        with transaction.atomic():
            for part in invoice_parts:
                done = invoice_refund(
                    invoice=Invoice.objects.get(pk=part["invoice"]),
                    amount=Money.from_minor(part["amount_minor"], refund.currency),
                    reference=f"refund:{refund.pk}",
                    reason=refund.reason,
                    as_of=refund.requested_on,
                    method=method,
                    by=by,
                )
                credit_notes += [note.number for note in done.credit_notes]
    except BillingError as error:
        if strict:
            raise
        ReconciliationItem.objects.create(
            kind=ReconciliationKind.REFUND_NOT_APPLIED,
            gateway=payment.gateway,
            account_id=payment.account_id,
            payment=payment,
            reference=refund.gateway_reference,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            details={"refund": refund.pk, "parts": refund.parts, "error": error.code, "detail": str(error)},
        )
    if refund.destination == RefundDestination.CREDIT:
        CreditEntry.objects.create(
            account_id=payment.account_id,
            currency=refund.currency,
            amount_minor=refund.amount_minor,
            kind=CreditKind.REFUND,
            payment=payment,
            once_key=f"refund:{refund.pk}",
            note=refund.reason[:300],
            by=refund.by,
            at=utc_now(),
        )
    from sportello.payments.services import payment_event_record

    payment_event_record(
        payment,
        kind=PaymentEventKind.REFUNDED,
        source="staff",
        amount_minor=refund.amount_minor,
        by=by,
        data={
            "refund": refund.pk,
            "destination": refund.destination,
            "gateway_reference": refund.gateway_reference,
            "credit_notes": credit_notes,
        },
    )
    refund.status = RefundStatus.SUCCEEDED
    refund.completed_at = utc_now()
    refund.save(update_fields=["status", "completed_at", "gateway_reference", "updated_at"])
    audit_record(
        action="payment.refunded",
        actor=by,
        account=account,
        target=payment,
        data={
            "refund": refund.pk,
            "amount_minor": refund.amount_minor,
            "currency": refund.currency,
            "destination": refund.destination,
            "reason": refund.reason,
            "credit_notes": credit_notes,
        },
    )
    refund_notice_send(refund=refund, payment=payment, credit_notes=credit_notes)


@transaction.atomic
def _refund_record(refund: Refund, *, gateway_reference: str, by: User | None) -> Refund:
    payment = _lock(refund.payment)
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.status != RefundStatus.PENDING:
        return refund
    refund.gateway_reference = gateway_reference[:255]
    _refund_apply(refund, payment, by=by, strict=False)
    return refund


@transaction.atomic
def _refund_fail(refund: Refund, *, failure_code: str, by: User | None) -> Refund:
    payment = _lock(refund.payment)
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.status != RefundStatus.PENDING:
        return refund
    refund.status = RefundStatus.FAILED
    refund.failure_code = failure_code[:64]
    refund.completed_at = utc_now()
    refund.save(update_fields=["status", "failure_code", "completed_at", "updated_at"])
    taken = _credit_taken_minor(refund)
    if taken:
        CreditEntry.objects.create(
            account_id=payment.account_id,
            currency=refund.currency,
            amount_minor=taken,
            kind=CreditKind.ADJUSTMENT,
            payment=payment,
            once_key=f"refund:{refund.pk}:returned",
            note=_in(payment.account.language, _("Refund refused by the payment service: credit given back")),
            by=refund.by,
            at=utc_now(),
        )
    audit_record(
        action="payment.refund_failed",
        actor=by,
        account=payment.account,
        target=payment,
        data={"refund": refund.pk, "amount_minor": refund.amount_minor, "code": refund.failure_code},
    )
    return refund


def payment_refund(
    *,
    payment: Payment,
    amount: Money,
    destination: str,
    reason: str,
    by: User | None,
    as_of: dt.date,
    idempotency_key: str = "",
) -> Refund:
    """Give back `amount` of `payment` to its payment method or to account credit, by the
    rules in this module's docstring. Refusals (`RefundRefused`, `RefundAboveRefundable`,
    `InvalidAmount`, billing's `CreditAmountUnreachable`) change nothing; a gateway that
    refuses leaves a failed refund and raises its `GatewayError`. The same
    `idempotency_key` returns the refund it made the first time.
    """
    refund = _refund_open(
        payment=payment,
        amount=amount,
        destination=destination,
        reason=reason,
        by=by,
        as_of=as_of,
        idempotency_key=idempotency_key,
    )
    if refund.status != RefundStatus.PENDING or refund.destination != RefundDestination.GATEWAY:
        return refund
    return _refund_ask_gateway(refund, payment, by=by)


def _refund_ask_gateway(refund: Refund, payment: Payment, *, by: User | None) -> Refund:
    """Ask the gateway to refund, under the refund's own idempotency key, and record its answer."""
    try:
        result = gateway_get(payment.gateway).refund(
            gateway_reference=payment.gateway_reference,
            amount=Money.from_minor(refund.amount_minor, refund.currency),
            idempotency_key=f"refund-{refund.pk}",
        )
    except GatewayError as error:
        if error.retryable:
            raise  # still pending: asked again by `refunds_pending_resume`
        _refund_fail(refund, failure_code=error.reason, by=by)
        raise
    return _refund_record(refund, gateway_reference=result.refund_reference, by=by)


# A refund to the card still pending this long after it was asked for was interrupted (the
# process stopped, the gateway did not answer): it is asked for again.
REFUND_RESUME_AFTER = dt.timedelta(minutes=10)


def refunds_pending_resume(*, now: dt.datetime) -> dict[str, int]:
    """Finish refunds to the card left pending: ask the gateway again under the same
    idempotency key (so money never leaves twice) and record what it says. Safe to run twice."""
    counts = {"resumed": 0, "refunded": 0, "failed": 0}
    pending = Refund.objects.filter(
        status=RefundStatus.PENDING,
        destination=RefundDestination.GATEWAY,
        created_at__lte=now - REFUND_RESUME_AFTER,
    ).select_related("payment")
    for refund in pending.order_by("pk"):
        counts["resumed"] += 1
        try:
            refund = _refund_ask_gateway(refund, refund.payment, by=None)
        except GatewayError:
            refund.refresh_from_db()
        if refund.status == RefundStatus.SUCCEEDED:
            counts["refunded"] += 1
        elif refund.status == RefundStatus.FAILED:
            counts["failed"] += 1
    return counts


# --- The customer's notice ------------------------------------------------------------------


def notice_contacts(account: Account) -> list[Any]:
    """Who hears about the account's payments: the contacts who chose receipts, or else
    those who receive its invoices (the billing contact at least)."""
    return contacts_receiving(account=account, topic=EmailTopic.RECEIPTS) or contacts_receiving(
        account=account, topic=EmailTopic.INVOICES
    )


def refund_notice_send(*, refund: Refund, payment: Payment, credit_notes: list[str]) -> None:
    """Tell the account's payment contacts that money was given back (logged in this
    transaction, delivered after commit)."""
    account = payment.account
    amount = Money.from_minor(refund.amount_minor, refund.currency)
    link = settings.SITE_URL + reverse("portal:payment-receipt", args=[payment.public_id])
    for contact in notice_contacts(account):
        language = (contact.user.language if contact.user and contact.user.language else "") or account.language
        with translation.override(language):
            context = {
                "name": contact.name,
                "amount": money_display(amount, language),
                "to_credit": refund.destination == RefundDestination.CREDIT,
                "method": payment.method_label,
                "date": date_display(refund.requested_on, language),
                "paid_on": date_display(payment.started_on, language),
                "credit_notes": credit_notes,
                "reason": refund.reason,
                "link": link,
            }
        email_send(
            template="payment_refund",
            kind=EmailKind.PAYMENT,
            to_email=contact.email,
            language=language,
            account=account,
            recipient=contact.user,
            context=context,
        )
