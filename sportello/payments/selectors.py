"""Reads of the payments domain. Customer-facing ones take the acting membership, so another
account's payment or credit is simply not there (a 404 at the interface)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet, Sum

from sportello.accounts.models import Account
from sportello.billing.models import PAYABLE_STATUSES, DocumentKind, Invoice, Settlement, SettlementKind
from sportello.billing.selectors import invoice_balance_minor, invoices_visible_to
from sportello.core.money import Money
from sportello.core.tenancy import ActingMembership
from sportello.payments.models import (
    CreditEntry,
    Gateway,
    Payment,
    PaymentAllocation,
    PaymentEvent,
    PaymentEventKind,
    PaymentPreference,
    PaymentStatus,
    ReconciliationItem,
    SavedPaymentMethod,
    ServicePaymentPreference,
)
from sportello.services.models import Service


def credit_balance(*, account: Account, currency: str) -> Money:
    """The account's credit in `currency`: the sum of its ledger, never a stored figure."""
    total = CreditEntry.objects.filter(account_id=account.pk, currency=currency).aggregate(total=Sum("amount_minor"))
    return Money.from_minor(int(total["total"] or 0), currency)


def credit_balances(*, account: Account) -> list[Money]:
    """The account's credit in each currency it has ever had credit in, its own currency first."""
    currencies = set(CreditEntry.objects.filter(account_id=account.pk).values_list("currency", flat=True))
    currencies.add(account.currency)
    ordered = sorted(currencies, key=lambda code: (code != account.currency, code))
    return [credit_balance(account=account, currency=code) for code in ordered]


def credit_entries_visible_to(*, membership: ActingMembership) -> QuerySet[CreditEntry]:
    return CreditEntry.objects.visible_to(membership).select_related("invoice", "payment").order_by("-at", "-id")


def invoices_payable_by(*, membership: ActingMembership) -> list[Invoice]:
    """The account's invoices that still owe money, in the order a payment settles them
    (due date, then number order)."""
    invoices = (
        invoices_visible_to(membership=membership)
        .filter(kind=DocumentKind.INVOICE, status__in=PAYABLE_STATUSES)
        .order_by("due_date", "pk")
    )
    return [invoice for invoice in invoices if invoice_balance_minor(invoice=invoice) > 0]


def invoice_balance(*, invoice: Invoice) -> Money:
    return Money.from_minor(invoice_balance_minor(invoice=invoice), invoice.currency)


def payments_visible_to(*, membership: ActingMembership) -> QuerySet[Payment]:
    return Payment.objects.visible_to(membership)


def payments_listed_for(*, membership: ActingMembership) -> QuerySet[Payment]:
    """The account's payments, newest first, each with the invoices it is for (due-date order)."""
    planned = PaymentAllocation.objects.select_related("invoice").order_by("invoice__due_date", "invoice_id")
    return (
        payments_visible_to(membership=membership)
        .prefetch_related(Prefetch("allocations", queryset=planned))
        .order_by("-created_at", "-id")
    )


# What a customer still has to do for these, with the instructions the payment page shows.
AWAITING_GATEWAYS = (Gateway.BANK_TRANSFER, Gateway.PIX)


def payments_awaiting_for(*, membership: ActingMembership, invoice: Invoice) -> list[Payment]:
    """The bank transfers and PIX payments for `invoice` waiting for the customer's money, newest
    first: their instructions are the "second copy" the customer pays from."""
    return list(
        payments_visible_to(membership=membership)
        .filter(gateway__in=AWAITING_GATEWAYS, status=PaymentStatus.INITIATED, allocations__invoice=invoice)
        .exclude(gateway_reference="")
        .order_by("-created_at", "-id")
        .distinct()
    )


def payment_status_from_events(*, payment: Payment) -> str:
    """The status the payment's events say it has (the stored column must agree)."""
    last = PaymentEvent.objects.filter(payment_id=payment.pk).order_by("-at", "-id").first()
    return last.to_status if last is not None else PaymentStatus.INITIATED


def payment_received_minor(*, payment: Payment) -> int:
    total = PaymentEvent.objects.filter(payment_id=payment.pk, kind=PaymentEventKind.SUCCEEDED).aggregate(
        total=Sum("amount_minor")
    )["total"]
    return int(total or 0)


def payment_refunded_minor(*, payment: Payment) -> int:
    total = PaymentEvent.objects.filter(payment_id=payment.pk, kind=PaymentEventKind.REFUNDED).aggregate(
        total=Sum("amount_minor")
    )["total"]
    return int(total or 0)


def payment_settlements(*, payment: Payment) -> QuerySet[Settlement]:
    """What the payment paid, invoice by invoice."""
    return Settlement.objects.filter(kind=SettlementKind.PAYMENT, reference=f"payment:{payment.pk}").select_related(
        "invoice"
    )


def payment_overpayment_minor(*, payment: Payment) -> int:
    total = CreditEntry.objects.filter(payment_id=payment.pk, kind="overpayment").aggregate(total=Sum("amount_minor"))
    return int(total["total"] or 0)


def reconciliation_open() -> QuerySet[ReconciliationItem]:
    return ReconciliationItem.objects.filter(resolved_at__isnull=True)


def payment_preference_of(*, account: Account) -> PaymentPreference:
    """The account's preference, or the defaults (unsaved) when it never chose."""
    return PaymentPreference.objects.filter(account_id=account.pk).first() or PaymentPreference(account=account)


def methods_visible_to(*, membership: ActingMembership) -> QuerySet[SavedPaymentMethod]:
    return SavedPaymentMethod.objects.visible_to(membership).filter(removed_at__isnull=True)


def autopay_method_usable(*, method: SavedPaymentMethod, as_of: dt.date) -> bool:
    """Whether auto-pay may charge `method` on `as_of`: not flagged by a refused charge, not expired."""
    return not method.failure_code and not method.expired_on(as_of)


def methods_failing_of(*, membership: ActingMembership, as_of: dt.date) -> list[SavedPaymentMethod]:
    """The account's saved cards the customer should replace: refused by the last charge
    (flagged) or past their expiry month on `as_of`; the default first. None once the default
    card is usable: automatic payment charges only the default, so an old card left in the
    list harms nothing."""
    methods = list(methods_visible_to(membership=membership))
    if any(method.is_default and autopay_method_usable(method=method, as_of=as_of) for method in methods):
        return []
    return [method for method in methods if not autopay_method_usable(method=method, as_of=as_of)]


def methods_chargeable_of(*, membership: ActingMembership, as_of: dt.date) -> list[SavedPaymentMethod]:
    """The saved cards a member paying by hand may choose (the default first): not past their
    expiry month on `as_of` and still known to the card processor. A card refused off-session
    for wanting its owner present is offered, since paying by hand the owner is present."""
    return [
        method
        for method in methods_visible_to(membership=membership)
        if not method.expired_on(as_of) and method.failure_code != "no_such_card"
    ]


def credit_once_key(idempotency_key: str, invoice: Invoice) -> str:
    """The ledger key of the credit a keyed request to pay spends on `invoice`, so that the
    request sent twice spends it once; "" for a request without a key. A digest keeps any key
    (an API's runs to 255 characters) within the column."""
    if not idempotency_key:
        return ""
    return f"{_credit_key_prefix(idempotency_key)}{invoice.pk}"


def _credit_key_prefix(idempotency_key: str) -> str:
    return f"pay:{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}:"


@dataclass(frozen=True)
class PaymentConfirmed:
    """A request to pay already carried out under an idempotency key: the payment it opened,
    or None when account credit paid everything."""

    payment: Payment | None


def payment_confirmed_with(*, membership: ActingMembership, idempotency_key: str) -> PaymentConfirmed | None:
    """What the account's request to pay under `idempotency_key` did, or None when no request
    under that key went through (`payment_create`'s key, on the payment and on the credit spent)."""
    payment = payments_visible_to(membership=membership).filter(idempotency_key=idempotency_key[:255]).first()
    if payment is not None:
        return PaymentConfirmed(payment=payment)
    spent = CreditEntry.objects.visible_to(membership).filter(once_key__startswith=_credit_key_prefix(idempotency_key))
    return PaymentConfirmed(payment=None) if spent.exists() else None


def service_autopay_of(*, service: Service) -> bool:
    """Whether auto-pay may charge this service's invoices, as far as the service decides
    (the account's own auto-pay comes first: `payment_preference_of`)."""
    preference = ServicePaymentPreference.objects.filter(service_id=service.pk).first()
    return preference.autopay if preference is not None else True


def payments_receipted_by_invoice(*, membership: ActingMembership, invoice_ids: list[int]) -> dict[int, list[Payment]]:
    """The account's payments that paid each of `invoice_ids` (those with a receipt: money
    received), oldest first."""
    settlements = Settlement.objects.visible_to(membership).filter(
        invoice_id__in=invoice_ids, kind=SettlementKind.PAYMENT, reference__startswith="payment:"
    )
    paid_by: dict[int, list[int]] = {}
    for invoice_id, reference in settlements.order_by("pk").values_list("invoice_id", "reference"):
        payment_id = reference.partition(":")[2]
        if payment_id.isdigit():
            paid_by.setdefault(invoice_id, []).append(int(payment_id))
    payments = payments_visible_to(membership=membership).filter(
        pk__in={pk for pks in paid_by.values() for pk in pks},
        status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED],
    )
    by_id = {payment.pk: payment for payment in payments}
    return {invoice_id: [by_id[pk] for pk in pks if pk in by_id] for invoice_id, pks in paid_by.items()}
