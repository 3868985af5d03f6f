"""Writes of the payments domain: account credit, payments and their outcomes, bank transfers.

Each service is one transaction with locks in DESIGN's order: the account first, then
invoices (through `billing.services.invoice_lock`, which takes the account again, harmlessly),
then the payment row. Everything that changes what an invoice has received goes through
`billing.services.invoice_settle`, whose unique (invoice, kind, reference) means the same
payment or credit entry is never applied twice to one invoice.

Calls to a gateway leave the database: `payment_begin` and `payment_refresh` make them
outside any transaction and record the answer in a short one afterwards.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min, Q, Sum
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Account, User
from sportello.billing.errors import BillingError
from sportello.billing.models import (
    PAYABLE_STATUSES,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceSource,
    LineKind,
    SettlementKind,
    TaxCategory,
)
from sportello.billing.models_run import BillingRun
from sportello.billing.run import Partition, RunSummary, in_partition, run_count, run_error
from sportello.billing.selectors import invoice_balance_minor
from sportello.billing.services import NewLine, invoice_create, invoice_issue, invoice_lock, invoice_settle
from sportello.billing.taxes import TaxDecision
from sportello.core.effects import after_commit
from sportello.core.money import CurrencyError, Money, currency_exponent
from sportello.core.services import audit_record
from sportello.core.time import utc_now
from sportello.payments.adapters import gateway_get
from sportello.payments.adapters.bank_transfer import rf_references_in
from sportello.payments.adapters.base import Gateway as GatewayAdapter
from sportello.payments.adapters.base import GatewayOutcome, PaymentRequest, webhook_delivery_id
from sportello.payments.adapters.pix import end_to_end_id_valid
from sportello.payments.errors import (
    GatewayError,
    IllegalTransition,
    InsufficientCredit,
    InvalidAmount,
    InvoiceNotPayable,
    MethodUnavailable,
    MixedCurrencies,
    NothingToPay,
    PaymentsError,
    ServiceAutopayRefused,
    StatementInvalid,
    TransactionIdInvalid,
    WebhookRejected,
    WebhookReplayed,
)
from sportello.payments.models import (
    PAYMENT_TRANSITIONS,
    AutopayRetry,
    AutopayRetryOutcome,
    BankStatementLine,
    CreditEntry,
    CreditKind,
    Gateway,
    Payment,
    PaymentAllocation,
    PaymentEvent,
    PaymentEventKind,
    PaymentPreference,
    PaymentStatus,
    ProcessedWebhook,
    ReconciliationItem,
    ReconciliationKind,
    SavedPaymentMethod,
    ServicePaymentPreference,
    StatementLineOutcome,
)
from sportello.payments.receipts import receipt_send
from sportello.payments.selectors import (
    autopay_method_usable,
    credit_balance,
    credit_once_key,
    payment_preference_of,
    payment_received_minor,
    payment_refunded_minor,
)
from sportello.services.models import Service, ServiceStatus

logger = logging.getLogger(__name__)

CREDIT = "credit"  # the method that pays from the account's credit; not a gateway

# A credit top-up is not a supply: under the EU VAT rules for multi-purpose vouchers
# (Directive 2006/112/EC art. 30a-30b, as amended by Directive 2016/1065) and for payments on
# account of supplies not yet identified (art. 65; CJEU C-419/02 BUPA, C-549/11 Orfey), VAT is
# due when the credit is spent on an identified service, on the invoice it pays, not when the
# money is received. The funds invoice therefore carries no VAT and says why; the invoices
# later paid from credit carry their own VAT as usual.
FUNDS_TAX_TEXT = _(
    "Prepayment of account credit, not subject to VAT: VAT is charged on the invoices the credit pays "
    "(art. 30b and 65, Directive 2006/112/EC)."
)
FUNDS_TAX = TaxDecision(
    rate=Decimal(0),
    category=TaxCategory.OUTSIDE_SCOPE,
    name=TaxCategory.OUTSIDE_SCOPE.label,
    reverse_charge=False,
    exemption_text=FUNDS_TAX_TEXT,
)


def _lock_account(account: Account) -> Account:
    """Lock the account row: the first lock of every service that moves money (DESIGN)."""
    return Account.objects.select_for_update().get(pk=account.pk)


def _in_language(language: str, text: Any) -> str:
    with translation.override(language):
        return str(text)


def _user(by: User | None) -> User | None:
    return by if by is not None and by.pk else None


# --- Account credit -------------------------------------------------------------------------


def _payable(invoice: Invoice, account: Account) -> None:
    if (
        invoice.account_id != account.pk
        or invoice.kind != DocumentKind.INVOICE
        or invoice.status not in PAYABLE_STATUSES
        or invoice_balance_minor(invoice=invoice) <= 0
    ):
        raise InvoiceNotPayable(number=invoice.display_number)


@transaction.atomic
def credit_apply(
    *, account: Account, invoice: Invoice, amount: Money, by: User | None, as_of: dt.date, once_key: str = ""
) -> CreditEntry:
    """Pay part or all of `invoice` from the account's credit in its currency.

    `once_key`, when given, makes the spending happen at most once: a second call with the same
    key collides on the ledger's unique key (IntegrityError) and spends nothing.

    The account is locked before the balance is read, so two requests spending the same
    credit run one after the other and the second sees what the first spent: the balance
    never goes below zero. A funds invoice cannot be paid with credit (it would buy credit
    with itself).
    """
    account = _lock_account(account)
    invoice = invoice_lock(invoice)
    _payable(invoice, account)
    if invoice.source == InvoiceSource.FUNDS:
        raise InvoiceNotPayable(number=invoice.display_number)
    if amount.currency != invoice.currency:
        raise InvalidAmount("currency")
    if amount.minor <= 0:
        raise InvalidAmount("not_positive")
    balance = credit_balance(account=account, currency=invoice.currency)
    if amount > balance:
        raise InsufficientCredit(balance_minor=balance.minor, wanted_minor=amount.minor, currency=amount.currency)
    if amount.minor > invoice_balance_minor(invoice=invoice):
        raise InvalidAmount("above_invoice_balance")
    entry = CreditEntry.objects.create(
        account=account,
        currency=amount.currency,
        amount_minor=-amount.minor,
        kind=CreditKind.APPLIED,
        invoice=invoice,
        once_key=once_key,
        by=_user(by),
        at=utc_now(),
    )
    invoice_settle(
        invoice=invoice,
        amount=amount,
        kind=SettlementKind.CREDIT,
        reference=f"credit:{entry.pk}",
        settled_on=as_of,
        method=_in_language(invoice.language, _("Account credit")),
        by=by,
    )
    return entry


@transaction.atomic
def credit_adjust(*, account: Account, amount: Money, note: str, by: User | None) -> CreditEntry:
    """Staff add or take back credit by hand, with the reason; never below a zero balance."""
    account = _lock_account(account)
    note = note.strip()
    if not note:
        raise InvalidAmount("note_required")
    if amount.minor == 0:
        raise InvalidAmount("not_positive")
    balance = credit_balance(account=account, currency=amount.currency)
    if (balance + amount).minor < 0:
        raise InsufficientCredit(balance_minor=balance.minor, wanted_minor=-amount.minor, currency=amount.currency)
    entry = CreditEntry.objects.create(
        account=account,
        currency=amount.currency,
        amount_minor=amount.minor,
        kind=CreditKind.ADJUSTMENT,
        note=note[:300],
        by=_user(by),
        at=utc_now(),
    )
    audit_record(
        action="credit.adjusted",
        actor=by,
        account=account,
        target=entry,
        data={"amount_minor": amount.minor, "currency": amount.currency, "note": note[:300]},
    )
    return entry


def _funds_limits(currency: str) -> tuple[Money, Money]:
    exponent = currency_exponent(currency)
    low = Money(Decimal(settings.PAYMENTS_FUNDS_MIN), currency) if exponent >= 0 else Money.zero(currency)
    return low, Money(Decimal(settings.PAYMENTS_FUNDS_MAX), currency)


@transaction.atomic
def funds_invoice_create(*, account: Account, amount: Money, as_of: dt.date, by: User | None) -> Invoice:
    """Issue the invoice that, once paid, adds `amount` to the account's credit.

    Not subject to VAT (see FUNDS_TAX); due at once. The credit is added by
    `credit_from_paid_funds_invoice` in the transaction that makes it paid, exactly once.
    """
    low, high = _funds_limits(amount.currency)
    if amount.currency != account.currency:
        raise InvalidAmount("currency")
    if amount < low:
        raise InvalidAmount("below_minimum")
    if amount > high:
        raise InvalidAmount("above_maximum")
    line = NewLine(
        description=_in_language(account.language, _("Account credit")),
        quantity=Decimal(1),
        unit_price=amount.amount,
        kind=LineKind.FUNDS,
        tax=FUNDS_TAX,
    )
    draft = invoice_create(
        account=account,
        lines=[line],
        as_of=as_of,
        source=InvoiceSource.FUNDS,
        currency=amount.currency,
        prices_include_tax=False,
        by=by,
    )
    return invoice_issue(invoice=draft, as_of=as_of, due_date=as_of, by=by)


def credit_from_paid_funds_invoice(invoice: Invoice) -> None:
    """on_invoice_paid handler: a paid funds invoice adds its total to the account's credit.

    Runs inside the settling transaction (which holds the account's lock). The entry's
    once-key "funds:<invoice id>" is unique: however the payment got here, one entry.
    """
    if invoice.source != InvoiceSource.FUNDS or invoice.kind != DocumentKind.INVOICE:
        return
    try:
        with transaction.atomic():
            CreditEntry.objects.create(
                account_id=invoice.account_id,
                currency=invoice.currency,
                amount_minor=invoice.total_minor,
                kind=CreditKind.FUNDS,
                invoice=invoice,
                once_key=f"funds:{invoice.pk}",
                at=utc_now(),
            )
    except IntegrityError:
        pass


# --- Allocation -----------------------------------------------------------------------------


def allocation_split(amount_minor: int, balances: Sequence[int]) -> tuple[list[int], int]:
    """Split a received amount over invoices' balances, in the order given (due date first).

    Each invoice gets what it still owes or what is left, whichever is smaller; what no
    invoice can take is the excess (credited to the account). Invariants, tested with
    hypothesis: the parts plus the excess equal the amount; no part exceeds its balance
    nor is negative; a later invoice gets something only once the earlier ones are paid.
    """
    if amount_minor < 0 or any(balance < 0 for balance in balances):
        raise ValueError("amounts must not be negative")
    remaining = amount_minor
    parts = []
    for balance in balances:
        take = min(remaining, balance)
        parts.append(take)
        remaining -= take
    return parts, remaining


def _allocate(payment: Payment, *, received_minor: int, as_of: dt.date, by: User | None) -> None:
    """Apply what `payment` received to its invoices (due-date order) and credit the excess.

    An invoice paid meanwhile (by credit, another payment) has nothing left to take, so the
    money goes on to the next one and the rest becomes credit: nothing is applied twice,
    and the credit entry's once-key ("overpayment:<payment id>") makes the excess once only.
    """
    allocations = list(
        PaymentAllocation.objects.filter(payment=payment)
        .select_related("invoice")
        .order_by("invoice__due_date", "invoice_id")
    )
    invoices = [invoice_lock(allocation.invoice) for allocation in allocations]
    balances = [
        max(invoice_balance_minor(invoice=invoice), 0) if invoice.status in PAYABLE_STATUSES else 0
        for invoice in invoices
    ]
    parts, excess = allocation_split(received_minor, balances)
    for invoice, part in zip(invoices, parts, strict=True):
        if part:
            invoice_settle(
                invoice=invoice,
                amount=Money.from_minor(part, payment.currency),
                kind=SettlementKind.PAYMENT,
                reference=f"payment:{payment.pk}",
                settled_on=as_of,
                method=payment.method_label,
                by=by,
            )
    if excess:
        try:
            with transaction.atomic():
                CreditEntry.objects.create(
                    account_id=payment.account_id,
                    currency=payment.currency,
                    amount_minor=excess,
                    kind=CreditKind.OVERPAYMENT,
                    payment=payment,
                    once_key=f"overpayment:{payment.pk}",
                    at=utc_now(),
                )
        except IntegrityError:
            pass


# --- Payments -------------------------------------------------------------------------------


def payment_event_record(
    payment: Payment,
    *,
    kind: str,
    source: str,
    amount_minor: int = 0,
    by: User | None = None,
    gateway_event_id: str = "",
    data: dict[str, Any] | None = None,
) -> PaymentEvent:
    """Append an event and move the (locked) payment's status with it, by the transitions table."""
    from_status = payment.status
    if kind == PaymentEventKind.INITIATED:
        from_status, to_status = "", PaymentStatus.INITIATED
    else:
        if from_status not in PAYMENT_TRANSITIONS[kind]:
            raise IllegalTransition(event=kind, from_status=from_status)
        if kind == PaymentEventKind.REFUNDED:
            refunded = payment_refunded_minor(payment=payment) + amount_minor
            full = refunded >= payment_received_minor(payment=payment)
            to_status = PaymentStatus.REFUNDED if full else PaymentStatus.SUCCEEDED
        else:
            to_status = PaymentStatus(kind)
    payment.status = to_status
    payment.save(update_fields=["status", "method_label", "failure_code", "updated_at"])
    return PaymentEvent.objects.create(
        account_id=payment.account_id,
        payment=payment,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        amount_minor=amount_minor,
        source=source,
        gateway_event_id=gateway_event_id,
        actor=_user(by),
        at=utc_now(),
        data=data or {},
    )


@dataclass(frozen=True)
class PaymentPlan:
    """What asking to pay produced: credit applied at once, and the payment for the rest
    (None when credit paid everything)."""

    invoices: list[Invoice]
    credit_entries: list[CreditEntry]
    payment: Payment | None


def _lock_payable(account: Account, invoices: Sequence[Invoice]) -> list[Invoice]:
    if not invoices:
        raise NothingToPay()
    locked = [invoice_lock(invoice) for invoice in sorted(invoices, key=lambda invoice: invoice.pk)]
    for invoice in locked:
        _payable(invoice, account)
    currencies = sorted({invoice.currency for invoice in locked})
    if len(currencies) > 1:
        raise MixedCurrencies(currencies=currencies)
    return sorted(locked, key=lambda invoice: (invoice.due_date or dt.date.max, invoice.pk))


@transaction.atomic
def payment_create(
    *,
    account: Account,
    invoices: Sequence[Invoice],
    method: str,
    use_credit: bool,
    by: User | None,
    as_of: dt.date,
    idempotency_key: str = "",
    saved_method: SavedPaymentMethod | None = None,
    amount: Money | None = None,
) -> PaymentPlan:
    """Ask to pay `invoices` (one or several, one currency) with `method`.

    With `use_credit`, available credit pays first, invoice by invoice in due-date order.
    The method "credit" pays everything from credit or nothing (InsufficientCredit). Any
    other method opens one payment for what is left, planned over the invoices in due-date
    order; `payment_begin` then asks its gateway to start.

    `amount` pays part of one invoice (`_partial_plan`): never more than it still owes, and
    only with a gateway that takes partial payments.
    """
    account = _lock_account(account)
    ordered = _lock_payable(account, invoices)
    currency = ordered[0].currency
    if amount is not None:
        return _partial_plan(
            account=account,
            invoice=_single(ordered),
            amount=amount,
            method=method,
            use_credit=use_credit,
            by=by,
            as_of=as_of,
            idempotency_key=idempotency_key,
            saved_method=saved_method,
        )
    if any(invoice.source == InvoiceSource.FUNDS for invoice in ordered) and (use_credit or method == CREDIT):
        # Credit cannot buy credit.
        funds = next(invoice for invoice in ordered if invoice.source == InvoiceSource.FUNDS)
        raise InvoiceNotPayable(number=funds.display_number)
    if method == CREDIT:
        total_owed = sum(invoice_balance_minor(invoice=invoice) for invoice in ordered)
        balance = credit_balance(account=account, currency=currency)
        if balance.minor < total_owed:
            raise InsufficientCredit(balance_minor=balance.minor, wanted_minor=total_owed, currency=currency)
        entries = [
            credit_apply(
                account=account,
                invoice=invoice,
                amount=Money.from_minor(invoice_balance_minor(invoice=invoice), currency),
                by=by,
                as_of=as_of,
                once_key=credit_once_key(idempotency_key, invoice),
            )
            for invoice in ordered
        ]
        return PaymentPlan(invoices=ordered, credit_entries=entries, payment=None)
    gateway = gateway_get(method)
    if not gateway.available(currency=currency):
        raise MethodUnavailable(gateway=method)
    entries = []
    if use_credit:
        available = credit_balance(account=account, currency=currency).minor
        parts, _excess = allocation_split(available, [invoice_balance_minor(invoice=i) for i in ordered])
        for invoice, part in zip(ordered, parts, strict=True):
            if part:
                entries.append(
                    credit_apply(
                        account=account,
                        invoice=invoice,
                        amount=Money.from_minor(part, currency),
                        by=by,
                        as_of=as_of,
                        once_key=credit_once_key(idempotency_key, invoice),
                    )
                )
    balances = [(invoice, invoice_balance_minor(invoice=invoice)) for invoice in ordered]
    owed = [(invoice, balance) for invoice, balance in balances if balance > 0]
    if not owed:
        return PaymentPlan(invoices=ordered, credit_entries=entries, payment=None)
    payment = _payment_open(
        account=account,
        gateway=gateway,
        owed=owed,
        by=by,
        as_of=as_of,
        idempotency_key=idempotency_key,
        saved_method=saved_method,
    )
    return PaymentPlan(invoices=ordered, credit_entries=entries, payment=payment)


@dataclass(frozen=True)
class PaymentPreview:
    """What a request to pay would do, for the customer to review before confirming."""

    # Each invoice, in the order paid (due date first), with what this payment takes from it.
    lines: list[tuple[Invoice, Money]]
    total: Money
    # What the account's credit pays (all of it for the method "credit"), what the method collects.
    from_credit: Money
    from_method: Money
    credit_before: Money
    credit_after: Money


def payment_preview(
    *,
    account: Account,
    invoices: Sequence[Invoice],
    method: str,
    use_credit: bool,
    amount: Money | None = None,
) -> PaymentPreview:
    """What `payment_create` with the same arguments would pay, writing nothing and locking
    nothing; refused with the same errors. The figures are those of now: `payment_create`
    checks everything again when the customer confirms."""
    if not invoices:
        raise NothingToPay()
    for invoice in invoices:
        _payable(invoice, account)
    currencies = sorted({invoice.currency for invoice in invoices})
    if len(currencies) > 1:
        raise MixedCurrencies(currencies=currencies)
    ordered = sorted(invoices, key=lambda invoice: (invoice.due_date or dt.date.max, invoice.pk))
    currency = currencies[0]
    if amount is not None:
        invoice = _single(ordered)
        if amount.currency != currency:
            raise InvalidAmount("currency")
        if amount.minor <= 0:
            raise InvalidAmount("not_positive")
        if amount.minor > invoice_balance_minor(invoice=invoice):
            raise InvalidAmount("above_maximum")
        wanted = [(invoice, amount.minor)]
    else:
        if any(invoice.source == InvoiceSource.FUNDS for invoice in ordered) and (use_credit or method == CREDIT):
            funds = next(invoice for invoice in ordered if invoice.source == InvoiceSource.FUNDS)
            raise InvoiceNotPayable(number=funds.display_number)
        wanted = [(invoice, invoice_balance_minor(invoice=invoice)) for invoice in ordered]
    total = sum(minor for _invoice, minor in wanted)
    balance = credit_balance(account=account, currency=currency).minor
    if method == CREDIT:
        if balance < total:
            raise InsufficientCredit(balance_minor=balance, wanted_minor=total, currency=currency)
        from_credit = total
    else:
        gateway = gateway_get(method)
        if not gateway.available(currency=currency):
            raise MethodUnavailable(gateway=method)
        if amount is not None and not gateway.partial_payments:
            raise InvalidAmount("partial_unsupported")
        from_credit = min(balance, total) if use_credit else 0
    return PaymentPreview(
        lines=[(invoice, Money.from_minor(minor, currency)) for invoice, minor in wanted],
        total=Money.from_minor(total, currency),
        from_credit=Money.from_minor(from_credit, currency),
        from_method=Money.from_minor(total - from_credit, currency),
        credit_before=Money.from_minor(balance, currency),
        credit_after=Money.from_minor(balance - from_credit, currency),
    )


def _single(invoices: list[Invoice]) -> Invoice:
    if len(invoices) != 1:
        raise InvalidAmount("partial_several")
    return invoices[0]


def _partial_plan(
    *,
    account: Account,
    invoice: Invoice,
    amount: Money,
    method: str,
    use_credit: bool,
    by: User | None,
    as_of: dt.date,
    idempotency_key: str,
    saved_method: SavedPaymentMethod | None,
) -> PaymentPlan:
    """Pay `amount`, part (or all) of what `invoice` owes; the invoice and account are locked.

    Refused with InvalidAmount, nothing written: another currency ("currency"), not positive
    ("not_positive"), more than the invoice owes ("above_maximum"), or a gateway that collects whole invoices only
    ("partial_unsupported"). With `use_credit`, credit covers what it can of `amount` and the
    gateway the rest; the method "credit" takes all of `amount` from credit or nothing.
    """
    if amount.currency != invoice.currency:
        raise InvalidAmount("currency")
    wanted = amount.minor
    if wanted <= 0:
        raise InvalidAmount("not_positive")
    if wanted > invoice_balance_minor(invoice=invoice):
        raise InvalidAmount("above_maximum")
    currency = invoice.currency
    if method == CREDIT:
        balance = credit_balance(account=account, currency=currency)
        if balance.minor < wanted:
            raise InsufficientCredit(balance_minor=balance.minor, wanted_minor=wanted, currency=currency)
        entry = credit_apply(
            account=account,
            invoice=invoice,
            amount=amount,
            by=by,
            as_of=as_of,
            once_key=credit_once_key(idempotency_key, invoice),
        )
        return PaymentPlan(invoices=[invoice], credit_entries=[entry], payment=None)
    gateway = gateway_get(method)
    if not gateway.available(currency=currency):
        raise MethodUnavailable(gateway=method)
    if not gateway.partial_payments:
        raise InvalidAmount("partial_unsupported")
    entries = []
    if use_credit:
        from_credit = min(credit_balance(account=account, currency=currency).minor, wanted)
        if from_credit > 0:
            entries.append(
                credit_apply(
                    account=account,
                    invoice=invoice,
                    amount=Money.from_minor(from_credit, currency),
                    by=by,
                    as_of=as_of,
                    once_key=credit_once_key(idempotency_key, invoice),
                )
            )
            wanted -= from_credit
    if wanted == 0:
        return PaymentPlan(invoices=[invoice], credit_entries=entries, payment=None)
    payment = _payment_open(
        account=account,
        gateway=gateway,
        owed=[(invoice, wanted)],
        by=by,
        as_of=as_of,
        idempotency_key=idempotency_key,
        saved_method=saved_method,
    )
    return PaymentPlan(invoices=[invoice], credit_entries=entries, payment=payment)


def _payment_open(
    *,
    account: Account,
    gateway: GatewayAdapter,
    owed: list[tuple[Invoice, int]],
    by: User | None,
    as_of: dt.date,
    idempotency_key: str,
    saved_method: SavedPaymentMethod | None,
    source: str = "portal",
) -> Payment:
    """A new payment of the sum of `owed`, planned over its invoices, with its first event."""
    payment = Payment.objects.create(
        account=account,
        gateway=gateway.code,
        amount_minor=sum(minor for _invoice, minor in owed),
        currency=owed[0][0].currency,
        method_label=_in_language(account.language, gateway.label),
        started_on=as_of,
        created_by=_user(by),
        idempotency_key=idempotency_key[:255],
        saved_method=saved_method,
    )
    PaymentAllocation.objects.bulk_create(
        [PaymentAllocation(payment=payment, invoice=invoice, planned_minor=balance) for invoice, balance in owed]
    )
    payment_event_record(
        payment,
        kind=PaymentEventKind.INITIATED,
        source=source,
        by=by,
        data={"invoices": [invoice.display_number for invoice, _balance in owed]},
    )
    return payment


def payment_begin(*, payment: Payment, return_url: str, description: str = "") -> Payment:
    """Ask the payment's gateway to start: a hosted page to go to, or instructions to show.

    Called outside any transaction (the gateway is an outside system). A gateway that
    refuses makes the payment failed with its reason; the error is raised again, saying
    whether retrying can help.
    """
    gateway = gateway_get(payment.gateway)
    allocations = PaymentAllocation.objects.filter(payment=payment).select_related("invoice")
    documents = tuple(
        allocation.invoice.display_number for allocation in allocations.order_by("invoice__due_date", "invoice_id")
    )
    request = PaymentRequest(
        payment_id=payment.pk,
        public_id=str(payment.public_id),
        amount=Money.from_minor(payment.amount_minor, payment.currency),
        description=description or ", ".join(documents),
        documents=documents,
        return_url=return_url,
        language=payment.account.language,
    )
    for attempt in range(3):
        try:
            started = gateway.start(request)
        except GatewayError as error:
            _payment_fail(payment, failure_code=error.reason, source="gateway")
            raise
        try:
            with transaction.atomic():
                locked = Payment.objects.select_for_update().get(pk=payment.pk)
                locked.gateway_reference = started.gateway_reference
                locked.next_url = started.redirect_url
                locked.instructions = started.instructions
                if started.method_label:
                    locked.method_label = started.method_label
                locked.save(
                    update_fields=["gateway_reference", "next_url", "instructions", "method_label", "updated_at"]
                )
            return locked
        except IntegrityError:
            # The gateway gave a reference already in use (a random transfer reference
            # colliding): ask for another one.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def payment_charge_saved(*, payment: Payment, return_url: str, as_of: dt.date) -> Payment:
    """Charge the payment's saved card with the customer present (paying by hand): the same
    off-session charge auto-pay makes, except that a card whose bank wants its owner to
    confirm asks for the extra authentication step instead of failing. The payment then
    needs confirmation and `next_url` is the processor's page for it; the customer comes
    back to `return_url`, and the outcome arrives like any other (notification or asking).

    Called outside any transaction (the gateway is an outside system). The gateway's
    idempotency key is built from the payment's id, so a repeated call charges once.
    """
    method = payment.saved_method
    if method is None:
        raise MethodUnavailable(gateway=payment.gateway)
    allocations = PaymentAllocation.objects.filter(payment=payment).select_related("invoice")
    documents = [allocation.invoice.display_number for allocation in allocations.order_by("invoice__due_date", "pk")]
    try:
        outcome = gateway_get(payment.gateway).charge_saved(
            token=method.token,
            amount=Money.from_minor(payment.amount_minor, payment.currency),
            description=", ".join(documents),
            merchant_reference=str(payment.public_id),
            idempotency_key=f"payment-{payment.pk}",
            return_url=return_url,
        )
    except GatewayError as error:
        _payment_fail(payment, failure_code=error.reason, source="gateway")
        raise
    _charge_record(payment, method=method, outcome=outcome, as_of=as_of)
    payment.refresh_from_db()
    return payment


@transaction.atomic
@transaction.atomic
def _payment_fail(payment: Payment, *, failure_code: str, source: str) -> None:
    _lock_account(payment.account)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status in PAYMENT_TRANSITIONS[PaymentEventKind.FAILED]:
        payment.failure_code = failure_code[:64]
        payment_event_record(payment, kind=PaymentEventKind.FAILED, source=source, data={"code": failure_code})


def _flag(
    kind: str, *, gateway: str, payment: Payment | None, outcome: GatewayOutcome, details: dict[str, Any]
) -> ReconciliationItem:
    return ReconciliationItem.objects.create(
        kind=kind,
        gateway=gateway,
        account_id=payment.account_id if payment else None,
        payment=payment,
        reference=outcome.gateway_reference,
        amount_minor=outcome.amount.minor if outcome.amount else None,
        currency=outcome.amount.currency if outcome.amount else "",
        details=details,
    )


@dataclass(frozen=True)
class OutcomeResult:
    # "applied", "ignored" (nothing new), "flagged" (for staff), "unknown_payment", "duplicate".
    outcome: str
    payment_id: int | None = None


@transaction.atomic
def payment_outcome_record(
    *, gateway: str, outcome: GatewayOutcome, source: str, as_of: dt.date, by: User | None = None
) -> OutcomeResult:
    """Record what the gateway says happened to one of our payments.

    Money is applied only when the gateway reports exactly the amount and currency asked
    for; anything else is flagged for staff and applies nothing. Outcomes that come late or
    out of order (a failure after the success, a second success) change nothing.
    """
    found = Payment.objects.filter(gateway=gateway, gateway_reference=outcome.gateway_reference).first()
    if found is None:
        if outcome.kind != "succeeded":
            return OutcomeResult("ignored")
        _flag(ReconciliationKind.UNKNOWN_PAYMENT, gateway=gateway, payment=None, outcome=outcome, details={})
        return OutcomeResult("unknown_payment")
    _lock_account(found.account)
    payment = Payment.objects.select_for_update().get(pk=found.pk)
    if outcome.kind == "succeeded":
        received = outcome.amount
        if received is None or received.currency != payment.currency:
            _flag(
                ReconciliationKind.CURRENCY_MISMATCH,
                gateway=gateway,
                payment=payment,
                outcome=outcome,
                details={"expected_currency": payment.currency},
            )
            return OutcomeResult("flagged", payment.pk)
        if received.minor != payment.amount_minor:
            _flag(
                ReconciliationKind.AMOUNT_MISMATCH,
                gateway=gateway,
                payment=payment,
                outcome=outcome,
                details={"expected_minor": payment.amount_minor},
            )
            return OutcomeResult("flagged", payment.pk)
        if payment.status not in PAYMENT_TRANSITIONS[PaymentEventKind.SUCCEEDED]:
            return OutcomeResult("ignored", payment.pk)
        _succeed(
            payment,
            received_minor=received.minor,
            method_label=outcome.method_label,
            as_of=as_of,
            source=source,
            by=by,
            gateway_event_id=outcome.event_id,
        )
        return OutcomeResult("applied", payment.pk)
    if outcome.kind in (PaymentEventKind.FAILED, PaymentEventKind.REQUIRES_ACTION):
        if payment.status not in PAYMENT_TRANSITIONS[outcome.kind]:
            return OutcomeResult("ignored", payment.pk)
        if outcome.kind == PaymentEventKind.FAILED:
            payment.failure_code = outcome.failure_code[:64] or "failed"
        if outcome.method_label:
            payment.method_label = outcome.method_label[:100]
        payment_event_record(
            payment,
            kind=outcome.kind,
            source=source,
            by=by,
            gateway_event_id=outcome.event_id,
            data={"code": outcome.failure_code} if outcome.failure_code else {},
        )
        return OutcomeResult("applied", payment.pk)
    return OutcomeResult("ignored", payment.pk)


def _succeed(
    payment: Payment,
    *,
    received_minor: int,
    method_label: str,
    as_of: dt.date,
    source: str,
    by: User | None,
    gateway_event_id: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    if method_label:
        payment.method_label = method_label[:100]
    payment.failure_code = ""
    payment_event_record(
        payment,
        kind=PaymentEventKind.SUCCEEDED,
        source=source,
        amount_minor=received_minor,
        by=by,
        gateway_event_id=gateway_event_id,
        data=data,
    )
    _allocate(payment, received_minor=received_minor, as_of=as_of, by=by)
    # The receipt is logged with the payment and delivered after commit.
    receipt_send(payment=payment, received_on=as_of)


@transaction.atomic
def _webhook_record(*, gateway: str, outcome: GatewayOutcome, delivery: str, now: dt.datetime) -> OutcomeResult:
    try:
        # Inserted first: a concurrent delivery of the same event waits here on the unique
        # index and then fails, so an event acts once however often it is delivered.
        with transaction.atomic():
            record = ProcessedWebhook.objects.create(
                gateway=gateway,
                event_id=outcome.event_id[:255],
                delivery=delivery,
                event_type=outcome.event_type[:64],
                received_at=now,
                outcome="received",
            )
    except IntegrityError:
        # Read after the collision, so it sees the row of the delivery that won a race.
        if ProcessedWebhook.objects.filter(gateway=gateway, delivery=delivery).exists():
            raise WebhookReplayed from None
        return OutcomeResult("duplicate")
    if outcome.kind == "method_saved":
        result = method_saved_record(gateway=gateway, outcome=outcome)
    else:
        result = payment_outcome_record(gateway=gateway, outcome=outcome, source="webhook", as_of=now.date())
    record.outcome = result.outcome
    record.payment_id = result.payment_id
    record.save(update_fields=["outcome", "payment"])
    return result


def webhook_receive(
    *, gateway: str, body: bytes, headers: Mapping[str, str], now: dt.datetime | None = None
) -> OutcomeResult:
    """A gateway's notification: verified (signature, freshness) before anything is read,
    recorded once per (gateway, event id), then acted on. Raises WebhookRejected (a 4xx,
    nothing recorded) or MethodUnavailable (an unknown gateway). A notification of several
    events answers with their outcomes, comma separated.

    An event already processed is either sent again by the gateway, which signs every attempt
    anew ("duplicate": acknowledged so that it stops, nothing recorded twice), or the same
    signed request seen again, by an attacker or a proxy repeating it within the tolerance
    (WebhookReplayed, nothing recorded): the delivery id (`webhook_delivery_id`) tells them apart.
    """
    now = now or utc_now()
    adapter = gateway_get(gateway)
    outcomes = adapter.webhook_parse_all(body=body, headers=headers, now=now)
    if not outcomes or any(not outcome.event_id for outcome in outcomes):
        raise WebhookRejected("malformed")
    signature = adapter.webhook_signature(headers=headers)
    deliveries = [webhook_delivery_id(signature=signature, position=place) for place in range(len(outcomes))]
    if ProcessedWebhook.objects.filter(gateway=gateway, delivery__in=deliveries).exists():
        raise WebhookReplayed
    # One transaction per event: a notification reporting several (PIX) that fails half way
    # is sent again, and the events already acted on are then duplicates.
    results = [
        _webhook_record(gateway=gateway, outcome=outcome, delivery=delivery, now=now)
        for outcome, delivery in zip(outcomes, deliveries, strict=True)
    ]
    if len(results) == 1:
        return results[0]
    return OutcomeResult(",".join(sorted({result.outcome for result in results})))


def payment_refresh(*, payment: Payment, as_of: dt.date) -> Payment:
    """Ask the gateway where the payment stands and record it (a missed notification's fallback)."""
    if payment.status in (PaymentStatus.INITIATED, PaymentStatus.REQUIRES_ACTION) and payment.gateway_reference:
        try:
            outcome = gateway_get(payment.gateway).confirm(gateway_reference=payment.gateway_reference)
        except (GatewayError, MethodUnavailable):
            return payment
        payment_outcome_record(gateway=payment.gateway, outcome=outcome, source="gateway", as_of=as_of)
        payment.refresh_from_db()
    return payment


# A card payment nobody has told us about this long after it started is asked about; one this
# old that the gateway still calls open was abandoned on its page (a late success still applies).
PENDING_ASK_AFTER = dt.timedelta(minutes=10)
PENDING_ABANDONED_AFTER = dt.timedelta(hours=24)


def payments_pending_refresh(*, now: dt.datetime) -> dict[str, int]:
    """The hourly fallback for lost notifications: ask the gateways about card payments still
    waiting, and give up on those abandoned. Safe to run twice: outcomes are recorded by the
    payments' transitions, which change nothing the second time."""
    counts = {"asked": 0, "settled": 0, "abandoned": 0, "expired": 0}
    waiting = Payment.objects.filter(
        status__in=[PaymentStatus.INITIATED, PaymentStatus.REQUIRES_ACTION],
        created_at__lte=now - PENDING_ASK_AFTER,
    ).exclude(gateway_reference="")
    for payment in waiting.order_by("pk"):
        if payment.gateway == Gateway.PIX:
            if _pix_expired(payment, now=now):
                _payment_fail(payment, failure_code="pix_expired", source="gateway")
                counts["expired"] += 1
            continue  # the PSP tells us, or staff: nobody to ask
        try:
            gateway = gateway_get(payment.gateway)
        except MethodUnavailable:
            continue
        if not gateway.redirects:
            continue  # bank transfers wait for staff or the statement, not for a gateway
        counts["asked"] += 1
        payment = payment_refresh(payment=payment, as_of=now.date())
        if payment.status == PaymentStatus.SUCCEEDED:
            counts["settled"] += 1
        elif payment.status != PaymentStatus.FAILED and payment.created_at <= now - PENDING_ABANDONED_AFTER:
            _payment_fail(payment, failure_code="abandoned", source="gateway")
            counts["abandoned"] += 1
    return counts


def _pix_expired(payment: Payment, *, now: dt.datetime) -> bool:
    """Past the "pay by" its code was shown with. The payment is then given up (the customer
    may start another); a PIX that still arrives for its txid is applied all the same."""
    expires_at = payment.instructions.get("expires_at")
    return bool(expires_at) and dt.datetime.fromisoformat(expires_at) <= now


# --- Bank transfers -------------------------------------------------------------------------


@transaction.atomic
def transfer_register(
    *, payment: Payment, amount: Money, received_on: dt.date, by: User | None, note: str = ""
) -> Payment:
    """Staff say a bank transfer arrived, for `amount` (which staff may have seen differ from
    what was asked: less pays the invoices partly, in due-date order; more becomes credit)."""
    _lock_account(payment.account)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.gateway != Gateway.BANK_TRANSFER:
        raise MethodUnavailable(gateway=payment.gateway)
    if amount.currency != payment.currency:
        raise InvalidAmount("currency")
    if amount.minor <= 0:
        raise InvalidAmount("not_positive")
    if payment.status not in PAYMENT_TRANSITIONS[PaymentEventKind.SUCCEEDED]:
        raise IllegalTransition(event=PaymentEventKind.SUCCEEDED, from_status=payment.status)
    _succeed(
        payment,
        received_minor=amount.minor,
        method_label="",
        as_of=received_on,
        source="staff",
        by=by,
        data={"note": note[:300]} if note else None,
    )
    audit_record(
        action="payment.transfer_registered",
        actor=by,
        account=payment.account,
        target=payment,
        data={"amount_minor": amount.minor, "currency": amount.currency, "reference": payment.gateway_reference},
    )
    return payment


@dataclass(frozen=True)
class StatementRow:
    booked_on: dt.date
    amount: Money
    reference: str
    payer: str
    bank_transaction_id: str


@dataclass
class StatementReport:
    lines: list[BankStatementLine] = field(default_factory=list)
    # Lines already imported before (same fingerprint): skipped.
    duplicates: int = 0
    # Debits and zero lines: not payments to us.
    skipped: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)


STATEMENT_COLUMNS = {"date", "amount", "currency", "reference"}


def _statement_amount(text: str) -> Decimal:
    """ "1234.56", "1,234.56", "1.234,56" and "1234,56" all read as 1234.56."""
    text = text.strip().replace(" ", "").replace("\u00a0", "")
    if "," in text and "." in text:
        text = text.replace(".", "").replace(",", ".") if text.rfind(",") > text.rfind(".") else text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".")
    return Decimal(text)


def _statement_date(text: str) -> dt.date:
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return dt.date.fromisoformat(text)
    match = re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", text)
    if match:
        return dt.date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    raise ValueError(text)


def statement_parse(text: str) -> list[StatementRow]:
    """Read a bank statement CSV: a header with date, amount, currency, reference (and
    optionally payer, id), comma or semicolon separated. Credits only; any unreadable line
    refuses the whole file (StatementInvalid names it), so nothing is half imported."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise StatementInvalid(line=0, reason="empty")
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    columns = {(name or "").strip().lower() for name in reader.fieldnames or []}
    if not columns >= STATEMENT_COLUMNS:
        raise StatementInvalid(line=1, reason="columns")
    rows = []
    for number, raw in enumerate(reader, start=2):
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in raw.items() if key}
        try:
            amount = _statement_amount(row["amount"])
            booked_on = _statement_date(row["date"])
            money = Money(amount, row["currency"].upper())
        except (InvalidOperation, ValueError, CurrencyError):
            raise StatementInvalid(line=number, reason="unreadable") from None
        if money.minor <= 0:
            rows.append(StatementRow(booked_on, Money.zero(money.currency), "", "", ""))
            continue
        rows.append(
            StatementRow(
                booked_on=booked_on,
                amount=money,
                reference=row["reference"][:255],
                payer=row.get("payer", row.get("name", ""))[:200],
                bank_transaction_id=row.get("id", "")[:100],
            )
        )
    return rows


def _fingerprint(row: StatementRow, occurrence: int) -> str:
    key = "|".join(
        [
            row.booked_on.isoformat(),
            str(row.amount.minor),
            row.amount.currency,
            row.reference,
            row.payer,
            row.bank_transaction_id,
            str(occurrence),
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()


def statement_import(*, text: str, name: str, by: User | None) -> StatementReport:
    """Import a bank statement: each credit line registers the bank-transfer payment whose
    RF reference it carries when the amount and currency match. A line without a known RF
    reference that names one invoice by its printed number (the reference the invoice's PDF
    gives) and brings exactly what that invoice still owes, in its currency, pays it through a
    new bank-transfer payment. Other lines go to the reconciliation queue. Each line is its own
    transaction and is recorded under a fingerprint, so importing the same file (or an
    overlapping one) again applies nothing twice.
    """
    rows = statement_parse(text)
    report = StatementReport()
    seen: Counter[tuple[object, ...]] = Counter()
    now = utc_now()
    for row in rows:
        if row.amount.minor <= 0:
            report.skipped += 1
            continue
        identity = (row.booked_on, row.amount, row.reference, row.payer, row.bank_transaction_id)
        occurrence = seen[identity]
        seen[identity] += 1
        line = _statement_line_import(row, fingerprint=_fingerprint(row, occurrence), name=name, by=by, now=now)
        if line is None:
            report.duplicates += 1
        else:
            report.lines.append(line)
    return report


@transaction.atomic
def _statement_line_import(
    row: StatementRow, *, fingerprint: str, name: str, by: User | None, now: dt.datetime
) -> BankStatementLine | None:
    try:
        with transaction.atomic():
            line = BankStatementLine.objects.create(
                fingerprint=fingerprint,
                booked_on=row.booked_on,
                amount_minor=row.amount.minor,
                currency=row.amount.currency,
                reference=row.reference,
                payer=row.payer,
                bank_transaction_id=row.bank_transaction_id,
                outcome=StatementLineOutcome.UNMATCHED,
                statement_name=name[:200],
                imported_at=now,
                imported_by=_user(by),
            )
    except IntegrityError:
        return None
    references = rf_references_in(row.reference)
    found = (
        Payment.objects.filter(gateway=Gateway.BANK_TRANSFER, gateway_reference__in=references).first()
        if references
        else None
    )
    outcome = GatewayOutcome(kind="succeeded", gateway_reference=row.reference, amount=row.amount)
    details = {"booked_on": row.booked_on.isoformat(), "payer": row.payer, "statement": name[:200]}
    invoice = _statement_invoice(row.reference) if found is None else None
    if invoice is not None:
        line.outcome, line.payment = _statement_invoice_pay(invoice, row=row, line=line, by=by, details=details)
    elif found is None:
        _flag(
            ReconciliationKind.UNMATCHED_TRANSFER,
            gateway=Gateway.BANK_TRANSFER,
            payment=None,
            outcome=outcome,
            details=details,
        )
        line.outcome = StatementLineOutcome.UNMATCHED
    else:
        _lock_account(found.account)
        payment = Payment.objects.select_for_update().get(pk=found.pk)
        line.payment = payment
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            line.outcome = StatementLineOutcome.ALREADY_REGISTERED
        elif row.amount.currency != payment.currency or row.amount.minor != payment.amount_minor:
            kind = (
                ReconciliationKind.CURRENCY_MISMATCH
                if row.amount.currency != payment.currency
                else ReconciliationKind.AMOUNT_MISMATCH
            )
            _flag(
                kind,
                gateway=Gateway.BANK_TRANSFER,
                payment=payment,
                outcome=outcome,
                details={**details, "expected_minor": payment.amount_minor},
            )
            line.outcome = StatementLineOutcome.MISMATCH
        else:
            _succeed(
                payment,
                received_minor=row.amount.minor,
                method_label="",
                as_of=row.booked_on,
                source="statement",
                by=by,
                data={"statement_line": line.pk},
            )
            line.outcome = StatementLineOutcome.MATCHED
    line.save(update_fields=["outcome", "payment"])
    return line


# Characters around an invoice number in a transfer's free text ("Factura INV-2026-00001.").
STATEMENT_WORD_EDGES = ".,;:()[]{}'\"«»"


def _statement_invoice(text: str) -> Invoice | None:
    """The one invoice whose printed number (fiscal, or the payment request's) is a word of
    `text`; None when no invoice, or more than one, is named."""
    words = {word.strip(STATEMENT_WORD_EDGES) for word in (text or "").split()}
    words = {variant for word in words if len(word) >= 3 for variant in (word, word.upper())}
    if not words:
        return None
    named = list(
        Invoice.objects.filter(kind=DocumentKind.INVOICE)
        .filter(Q(number__in=words) | Q(proforma_number__in=words))
        .distinct()[:2]
    )
    return named[0] if len(named) == 1 else None


def _statement_invoice_pay(
    invoice: Invoice, *, row: StatementRow, line: BankStatementLine, by: User | None, details: dict[str, Any]
) -> tuple[str, Payment | None]:
    """Pay `invoice` from a statement line that names it, when the line brings exactly what it
    owes in its currency; otherwise flag it for staff. Returns the line's outcome and payment."""
    account = _lock_account(invoice.account)
    invoice = invoice_lock(invoice)
    owed = max(invoice_balance_minor(invoice=invoice), 0) if invoice.status in PAYABLE_STATUSES else 0
    if row.amount.currency != invoice.currency or row.amount.minor != owed or owed == 0:
        ReconciliationItem.objects.create(
            kind=ReconciliationKind.CURRENCY_MISMATCH
            if row.amount.currency != invoice.currency
            else ReconciliationKind.AMOUNT_MISMATCH,
            gateway=Gateway.BANK_TRANSFER,
            account=account,
            reference=row.reference[:255],
            amount_minor=row.amount.minor,
            currency=row.amount.currency,
            details={**details, "invoice": invoice.display_number, "expected_minor": owed},
        )
        return StatementLineOutcome.MISMATCH, None
    payment = _payment_open(
        account=account,
        gateway=gateway_get(Gateway.BANK_TRANSFER),
        owed=[(invoice, owed)],
        by=by,
        as_of=row.booked_on,
        # One payment per statement line: the line's own fingerprint row is unique too.
        idempotency_key=f"statement:{line.fingerprint}",
        saved_method=None,
        source="statement",
    )
    _succeed(
        payment,
        received_minor=owed,
        method_label="",
        as_of=row.booked_on,
        source="statement",
        by=by,
        data={"statement_line": line.pk, "invoice": invoice.display_number},
    )
    return StatementLineOutcome.MATCHED, payment


# --- Saved methods and auto-pay -------------------------------------------------------------


def method_setup_begin(*, account: Account, gateway: str, return_url: str) -> str:
    """Where the customer goes to give the gateway a card to keep: its hosted page. The card
    reaches us only as the gateway's token, in its signed notification (`method_saved_record`)."""
    adapter = gateway_get(gateway)
    if not adapter.available(currency=account.currency):
        raise MethodUnavailable(gateway=gateway)
    return adapter.setup_start(customer_reference=account.reference, return_url=return_url).redirect_url


@transaction.atomic
def method_saved_record(*, gateway: str, outcome: GatewayOutcome) -> OutcomeResult:
    """A gateway kept a payment method for one of our customers: list it (once per token);
    the first one an account has becomes its default."""
    saved = outcome.saved_method
    prefix, _sep, reference = outcome.merchant_reference.partition(":")
    account = Account.objects.filter(reference=reference).first() if prefix == "setup" else None
    if saved is None or account is None:
        return OutcomeResult("ignored")
    account = _lock_account(account)
    default = SavedPaymentMethod.objects.filter(account=account, is_default=True, removed_at__isnull=True).first()
    # A card given while the default one is flagged or expired replaces it as the default:
    # that is what the client area asked the customer to do.
    replaced = (
        default if default is not None and not autopay_method_usable(method=default, as_of=utc_now().date()) else None
    )
    if replaced is not None:
        SavedPaymentMethod.objects.filter(pk=replaced.pk).update(is_default=False)
    try:
        with transaction.atomic():
            method = SavedPaymentMethod.objects.create(
                account=account,
                gateway=gateway,
                token=saved.token,
                brand=saved.brand[:20],
                last4=saved.last4[:4],
                exp_month=saved.exp_month,
                exp_year=saved.exp_year,
                is_default=default is None or replaced is not None,
            )
    except IntegrityError:
        if replaced is not None:
            SavedPaymentMethod.objects.filter(pk=replaced.pk).update(is_default=True)
        return OutcomeResult("ignored")
    audit_record(action="payment_method.added", account=account, target=method, data={"card": str(method)})
    return OutcomeResult("applied")


def _method_locked(account: Account, method: SavedPaymentMethod) -> SavedPaymentMethod:
    try:
        return SavedPaymentMethod.objects.select_for_update().get(
            pk=method.pk, account_id=account.pk, removed_at__isnull=True
        )
    except SavedPaymentMethod.DoesNotExist:
        raise MethodUnavailable(gateway=method.gateway) from None


@transaction.atomic
def method_set_default(*, account: Account, method: SavedPaymentMethod, by: User | None) -> SavedPaymentMethod:
    account = _lock_account(account)
    method = _method_locked(account, method)
    SavedPaymentMethod.objects.filter(account=account, is_default=True).exclude(pk=method.pk).update(is_default=False)
    method.is_default = True
    method.save(update_fields=["is_default", "updated_at"])
    audit_record(action="payment_method.default", actor=by, account=account, target=method, data={"card": str(method)})
    return method


@transaction.atomic
def method_remove(*, account: Account, method: SavedPaymentMethod, by: User | None, as_of: dt.date) -> None:
    """Forget a saved method here (its token stays with the gateway until it expires there).
    If it was the default, the newest other method that still works becomes the default."""
    account = _lock_account(account)
    method = _method_locked(account, method)
    was_default = method.is_default
    method.is_default = False
    method.removed_at = utc_now()
    method.save(update_fields=["is_default", "removed_at", "updated_at"])
    if was_default:
        others = SavedPaymentMethod.objects.filter(account=account, removed_at__isnull=True, failure_code="")
        successor = next(
            (other for other in others.order_by("-created_at", "-id") if not other.expired_on(as_of)), None
        )
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default", "updated_at"])
    audit_record(action="payment_method.removed", actor=by, account=account, target=method, data={"card": str(method)})


@transaction.atomic
def payment_preference_set(
    *, account: Account, apply_credit: bool, autopay: bool, by: User | None
) -> PaymentPreference:
    account = _lock_account(account)
    preference, _created = PaymentPreference.objects.get_or_create(account=account)
    preference.apply_credit, preference.autopay = apply_credit, autopay
    preference.save()
    audit_record(
        action="payment_preference.changed",
        actor=by,
        account=account,
        data={"apply_credit": apply_credit, "autopay": autopay},
    )
    return preference


@transaction.atomic
def service_autopay_set(
    *, account: Account, service: Service, autopay: bool, by: User | None
) -> ServicePaymentPreference:
    """Turn auto-pay on or off for one service of `account` (see `ServicePaymentPreference`
    for which invoices that keeps from being charged). Refused, changing nothing, for another
    account's service or one that no longer runs."""
    account = _lock_account(account)
    try:
        service = Service.objects.get(pk=service.pk, account_id=account.pk)
    except Service.DoesNotExist:
        raise ServiceAutopayRefused("not_found") from None
    if service.status not in (ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED):
        raise ServiceAutopayRefused("service_ended")
    preference, _created = ServicePaymentPreference.objects.get_or_create(
        service=service, defaults={"account": account, "autopay": autopay}
    )
    if preference.autopay != autopay:
        preference.autopay = autopay
        preference.save(update_fields=["autopay", "updated_at"])
    audit_record(
        action="payment_preference.service_changed",
        actor=by,
        account=account,
        target=service,
        data={"autopay": autopay},
    )
    return preference


def invoices_kept_from_autopay(invoice_ids: Sequence[int]) -> set[int]:
    """The invoices among `invoice_ids` that auto-pay must not charge whatever the account
    says: those whose lines bill services and all of those services have auto-pay off
    (`ServicePaymentPreference`). Invoices without service lines follow the account. Two
    queries for a whole batch."""
    services_of: dict[int, set[int]] = {}
    for invoice_id, service_id in InvoiceLine.objects.filter(
        invoice_id__in=invoice_ids, service_id__isnull=False
    ).values_list("invoice_id", "service_id"):
        services_of.setdefault(invoice_id, set()).add(service_id)
    if not services_of:
        return set()
    every_service = set().union(*services_of.values())
    off = set(
        ServicePaymentPreference.objects.filter(service_id__in=every_service, autopay=False).values_list(
            "service_id", flat=True
        )
    )
    return {invoice_id for invoice_id, services in services_of.items() if services <= off}


def invoice_autopay_allowed(*, invoice: Invoice) -> bool:
    """Whether auto-pay may charge `invoice`: the account's auto-pay is on and the invoice is
    not kept from it by its services' own setting (`invoices_kept_from_autopay`)."""
    if not payment_preference_of(account=invoice.account).autopay:
        return False
    return invoice.pk not in invoices_kept_from_autopay([invoice.pk])


# Refusals that only the customer can fix: the card is flagged and they are asked to replace it.
CARD_PROBLEMS = frozenset({"expired_card", "card_declined", "authentication_required", "no_such_card"})


def invoices_issued_pay_automatically(invoices: Sequence[Invoice]) -> None:
    """on_invoices_issued handler: pay new invoices from credit at once (as far as it goes),
    and hand what is left to auto-pay, which charges the default saved method after commit.

    Runs inside the issuing transaction, which holds the accounts' locks, so credit spent here
    cannot be spent by anyone else at the same time. Funds invoices are never paid from credit.
    A whole billing-run batch comes at once: the accounts with credit or auto-pay are found in
    two queries, the invoices their services keep from auto-pay in two more, and only their
    invoices are looked at one by one.
    """
    payable = [
        invoice
        for invoice in invoices
        if invoice.kind == DocumentKind.INVOICE
        and invoice.source != InvoiceSource.FUNDS
        and invoice.status in PAYABLE_STATUSES
    ]
    if not payable:
        return
    account_ids = {invoice.account_id for invoice in payable}
    preferences = {p.account_id: p for p in PaymentPreference.objects.filter(account_id__in=account_ids)}
    with_credit = {
        (row["account_id"], row["currency"])
        for row in CreditEntry.objects.filter(account_id__in=account_ids)
        .values("account_id", "currency")
        .annotate(total=Sum("amount_minor"))
        .filter(total__gt=0)
    }
    autopay_accounts = {account_id for account_id, preference in preferences.items() if preference.autopay}
    kept = invoices_kept_from_autopay([invoice.pk for invoice in payable if invoice.account_id in autopay_accounts])
    for invoice in payable:
        preference = preferences.get(invoice.account_id) or PaymentPreference(account_id=invoice.account_id)
        spend = preference.apply_credit and (invoice.account_id, invoice.currency) in with_credit
        autopay = preference.autopay and invoice.pk not in kept
        if spend or autopay:
            _invoice_pay_automatically(invoice, apply_credit=spend, autopay=autopay)


def _invoice_pay_automatically(invoice: Invoice, *, apply_credit: bool, autopay: bool) -> None:
    account = Account.objects.get(pk=invoice.account_id)
    as_of = invoice.issue_date or utc_now().date()
    owed = invoice_balance_minor(invoice=invoice)
    if apply_credit and owed > 0:
        available = credit_balance(account=account, currency=invoice.currency).minor
        if available > 0:
            take = min(available, owed)
            credit_apply(
                account=account, invoice=invoice, amount=Money.from_minor(take, invoice.currency), by=None, as_of=as_of
            )
            owed -= take
    if autopay and owed > 0:
        after_commit(_autopay_enqueue, invoice_id=invoice.pk, as_of=as_of.isoformat())


def _autopay_enqueue(*, invoice_id: int, as_of: str) -> None:
    from sportello.payments.tasks import invoice_autopay_task

    invoice_autopay_task.enqueue(invoice_id=invoice_id, as_of=as_of)


def invoice_autopay(*, invoice_id: int, as_of: dt.date) -> Payment | None:
    """Charge the account's default saved method for what `invoice` still owes, off-session.

    At most one attempt per invoice and day (the payment's idempotency key), so a retried
    task, or the billing run calling again, charges nothing twice; the gateway call carries
    its own idempotency key built from the payment's id. A refusal the customer must fix
    (expired or declined card) flags the method, so the client area asks for another card;
    what comes next (retries on later days, reminders) is the billing run's
    (`autopay_retries_run`). Nothing is charged when auto-pay no longer applies to the
    invoice (`invoice_autopay_allowed`).
    """
    invoice = Invoice.objects.select_related("account").get(pk=invoice_id)
    account = invoice.account
    if not invoice_autopay_allowed(invoice=invoice):
        return None
    method = SavedPaymentMethod.objects.filter(account=account, is_default=True, removed_at__isnull=True).first()
    if method is None or not autopay_method_usable(method=method, as_of=as_of):
        return None
    try:
        plan = payment_create(
            account=account,
            invoices=[invoice],
            method=method.gateway,
            use_credit=False,
            by=None,
            as_of=as_of,
            idempotency_key=f"autopay:{invoice.pk}:{as_of.isoformat()}",
            saved_method=method,
        )
    except IntegrityError:
        return None  # already attempted today
    except (PaymentsError, BillingError):
        return None  # paid meanwhile, cancelled, or the gateway is off
    payment = plan.payment
    if payment is None:
        return None
    try:
        outcome = gateway_get(payment.gateway).charge_saved(
            token=method.token,
            amount=Money.from_minor(payment.amount_minor, payment.currency),
            description=invoice.display_number,
            merchant_reference=str(payment.public_id),
            idempotency_key=f"payment-{payment.pk}",
        )
    except GatewayError as error:
        _payment_fail(payment, failure_code=error.reason, source="gateway")
        payment.refresh_from_db()
        return payment
    _charge_record(payment, method=method, outcome=outcome, as_of=as_of)
    payment.refresh_from_db()
    return payment


@transaction.atomic
def _charge_record(payment: Payment, *, method: SavedPaymentMethod, outcome: GatewayOutcome, as_of: dt.date) -> None:
    _lock_account(payment.account)
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    locked.gateway_reference = outcome.gateway_reference
    # Where the customer confirms with their bank, when the processor asks (paying by hand).
    locked.next_url = outcome.redirect_url[:500] if outcome.kind == "requires_action" else ""
    locked.save(update_fields=["gateway_reference", "next_url", "updated_at"])
    payment_outcome_record(gateway=locked.gateway, outcome=outcome, source="gateway", as_of=as_of)
    if outcome.kind == "failed" and outcome.failure_code in CARD_PROBLEMS:
        SavedPaymentMethod.objects.filter(pk=method.pk).update(failure_code=outcome.failure_code[:64])
    elif outcome.kind == "succeeded" and method.failure_code:
        SavedPaymentMethod.objects.filter(pk=method.pk).update(failure_code="")


def autopay_first_failures(*, as_of: dt.date, partition: Partition | None = None) -> dict[int, dt.date]:
    """{invoice id: day 0} of the unpaid invoices with a retry due on `as_of`: day 0 is the
    business date (`Payment.started_on`) of the invoice's earliest failed automatic charge
    (a payment with a saved method), and a retry is due when `as_of` is day 0 plus one of
    PAYMENTS_AUTOPAY_RETRY_DAYS. In `partition`'s accounts (the billing run's share)."""
    days = tuple(settings.PAYMENTS_AUTOPAY_RETRY_DAYS)
    if not days:
        return {}
    failed = PaymentAllocation.objects.filter(
        payment__saved_method__isnull=False,
        payment__status=PaymentStatus.FAILED,
        invoice__kind=DocumentKind.INVOICE,
        invoice__status__in=PAYABLE_STATUSES,
    )
    firsts = (
        in_partition(failed, partition, field="invoice__account_id")
        .values("invoice_id")
        .annotate(first=Min("payment__started_on"))
        .filter(first__in=[as_of - dt.timedelta(days=day) for day in days])
        .order_by("invoice_id")
    )
    return {row["invoice_id"]: row["first"] for row in firsts}


def autopay_retry(*, invoice: Invoice, first_failed_on: dt.date, as_of: dt.date) -> AutopayRetry | None:
    """The retry of `invoice`'s failed automatic charge due on `as_of`: claimed by inserting
    its row (unique per invoice and date: a second run of the date, concurrent or later,
    gets None and charges nothing), then the default card charged (`invoice_autopay`), and
    the outcome written on the row. None too when auto-pay no longer applies to the invoice.

    The claim commits before the gateway is called (which must not happen in a transaction):
    a process killed in between leaves the retry "started" and charges nothing more that
    day, never twice."""
    if not invoice_autopay_allowed(invoice=invoice):
        return None
    try:
        with transaction.atomic():
            retry = AutopayRetry.objects.create(
                account_id=invoice.account_id,
                invoice=invoice,
                first_failed_on=first_failed_on,
                day=(as_of - first_failed_on).days,
                retried_on=as_of,
            )
    except IntegrityError:
        return None
    payment = invoice_autopay(invoice_id=invoice.pk, as_of=as_of)
    if payment is None:
        retry.outcome = AutopayRetryOutcome.SKIPPED
    elif payment.status == PaymentStatus.SUCCEEDED:
        retry.outcome = AutopayRetryOutcome.SUCCEEDED
    else:
        retry.outcome = AutopayRetryOutcome.FAILED
    retry.payment = payment
    AutopayRetry.objects.filter(pk=retry.pk).update(outcome=retry.outcome, payment=payment)
    return retry


def autopay_retries_run(*, as_of: dt.date, run: BillingRun, partition: Partition | None, summary: RunSummary) -> int:
    """The billing run's auto-pay step (registered with `billing.run.on_billing_run`): retry
    each failed automatic charge whose retry day is `as_of` (`autopay_first_failures`), once.

    After the last day of PAYMENTS_AUTOPAY_RETRY_DAYS nothing more is charged: the invoice is
    left to the reminders, which the run sends whatever auto-pay did. The report counts the
    retries that charged a card and those that paid."""
    tried = 0
    for invoice_id, first_failed_on in autopay_first_failures(as_of=as_of, partition=partition).items():
        invoice = Invoice.objects.select_related("account").get(pk=invoice_id)
        try:
            retry = autopay_retry(invoice=invoice, first_failed_on=first_failed_on, as_of=as_of)
        except Exception as error:
            logger.exception("billing run: auto-pay retry %s", invoice_id)
            run_error(run, step="autopay_retry", account=invoice.account_id, invoice=invoice_id, error=str(error))
            continue
        if retry is None or retry.payment is None:
            continue
        tried += 1
        paid = int(retry.outcome == AutopayRetryOutcome.SUCCEEDED)
        with transaction.atomic():
            run_count(run, {"autopay_retries": 1, "autopay_retries_paid": paid})
        summary.autopay_retries += 1
        summary.autopay_retries_paid += paid
    return tried


# --- The back office's queue ----------------------------------------------------------------


@transaction.atomic
def reconciliation_resolve(*, item: ReconciliationItem, resolution: str, by: User | None) -> ReconciliationItem:
    """Staff close an item of the queue, saying what they did about it."""
    item = ReconciliationItem.objects.select_for_update().get(pk=item.pk)
    resolution = resolution.strip()
    if not resolution:
        raise PaymentsError("resolution_required")
    if item.resolved_at is None:
        item.resolved_at = utc_now()
        item.resolved_by = _user(by)
        item.resolution = resolution[:300]
        item.save(update_fields=["resolved_at", "resolved_by", "resolution", "updated_at"])
        audit_record(
            action="payment.reconciled",
            actor=by,
            account=item.account,
            target=item,
            data={"resolution": resolution[:300]},
        )
    return item


# --- PIX ------------------------------------------------------------------------------------

# What a PSP's notification of a PIX may have done that leaves its money for staff to apply.
PIX_LEFT_FOR_STAFF = frozenset({"flagged", "unknown_payment"})


@transaction.atomic
def pix_register(
    *,
    payment: Payment,
    end_to_end_id: str,
    amount: Money,
    received_on: dt.date,
    by: User | None,
    note: str = "",
) -> Payment:
    """Staff say a PIX arrived for `payment` (seen on the PSP's statement when no notification
    came), with the transfer's endToEndId and the amount received: less pays the invoices
    partly, in due-date order; more becomes credit, as with bank transfers.

    Each endToEndId pays once, whichever way it comes: it is recorded under the same unique
    (gateway, event id) as the PSP's notification of it, inserted first (before the account
    lock, in the order the webhook takes them). A notification arriving later is then a
    duplicate, and a second registration collides. A notification of it that applied nothing
    (another amount, an unknown txid: flagged for staff) is what staff resolve here, so that
    record is taken over rather than refused.
    """
    end_to_end_id = end_to_end_id.strip()
    if not end_to_end_id_valid(end_to_end_id):
        raise TransactionIdInvalid(reason="format", transaction_id=end_to_end_id[:40])
    try:
        with transaction.atomic():
            record = ProcessedWebhook.objects.create(
                gateway=Gateway.PIX,
                event_id=end_to_end_id,
                event_type="pix.staff",
                received_at=utc_now(),
                outcome="received",
            )
    except IntegrityError:
        record = ProcessedWebhook.objects.select_for_update().get(gateway=Gateway.PIX, event_id=end_to_end_id)
        if record.outcome not in PIX_LEFT_FOR_STAFF:
            raise TransactionIdInvalid(reason="in_use", transaction_id=end_to_end_id) from None
    _lock_account(payment.account)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.gateway != Gateway.PIX:
        raise MethodUnavailable(gateway=payment.gateway)
    if amount.currency != payment.currency:
        raise InvalidAmount("currency")
    if amount.minor <= 0:
        raise InvalidAmount("not_positive")
    if payment.status not in PAYMENT_TRANSITIONS[PaymentEventKind.SUCCEEDED]:
        raise IllegalTransition(event=PaymentEventKind.SUCCEEDED, from_status=payment.status)
    details: dict[str, Any] = {"end_to_end_id": end_to_end_id}
    if note:
        details["note"] = note[:300]
    _succeed(
        payment,
        received_minor=amount.minor,
        method_label="",
        as_of=received_on,
        source="staff",
        by=by,
        gateway_event_id=end_to_end_id,
        data=details,
    )
    record.outcome, record.payment = "applied", payment
    record.save(update_fields=["outcome", "payment"])
    audit_record(
        action="payment.pix_registered",
        actor=by,
        account=payment.account,
        target=payment,
        data={
            "amount_minor": amount.minor,
            "currency": amount.currency,
            "txid": payment.gateway_reference,
            "end_to_end_id": end_to_end_id,
        },
    )
    return payment
