"""The API's invoices, payments and account credit (member tokens only).

Reads need the `billing` scope; the writes that move money need `payments:write` (a member
who holds billing and may change things) and an Idempotency-Key: the same key with the same
request answers as the first time without doing anything again; the same key with another
request is refused (422). Everything is found through the selectors that take the token's
membership, so another account's invoice or payment answers 404.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from ninja import Header, Path, Query, Router
from ninja.responses import Status

from sportello.accounts.models import ApiScope, ApiToken, Membership
from sportello.api.auth import ApiRequest, acting_membership, require_scope
from sportello.api.errors import ApiError, error_responses
from sportello.api.idempotency import (
    IdempotencyKeyReused,
    idempotency_owner,
    idempotent_write,
    request_fingerprint,
)
from sportello.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, paginate
from sportello.api.params import MAX_ID, only_known_query
from sportello.api.schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    AmountIn,
    CreditEntryOut,
    CreditOut,
    CreditPaymentOut,
    InvoiceDetailOut,
    InvoiceLineOut,
    InvoiceOut,
    InvoiceSettlementOut,
    InvoicesPageOut,
    InvoiceTaxOut,
    MoneyOut,
    PaymentIn,
    PaymentInvoiceOut,
    PaymentOut,
    PaymentsPageOut,
    decimal_text,
)
from sportello.billing.errors import BillingError
from sportello.billing.models import PAYABLE_STATUSES, DocumentKind, Invoice
from sportello.billing.selectors import invoice_balance_minor, invoices_visible_to
from sportello.core.formatting import money_display
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.payments.errors import (
    InsufficientCredit,
    InvalidAmount,
    InvoiceNotPayable,
    MethodUnavailable,
    MixedCurrencies,
    PaymentsError,
)
from sportello.payments.models import CreditEntry, Payment
from sportello.payments.selectors import (
    credit_balance,
    credit_balances,
    credit_entries_visible_to,
    payments_visible_to,
)
from sportello.payments.services import (
    CREDIT,
    credit_apply,
    funds_invoice_create,
    payment_begin,
    payment_create,
)

router = Router(tags=["billing"])

READ_ERRORS = error_responses(401, 403, 404, 422, 429)
LIST_ERRORS = error_responses(400, 401, 403, 422, 429)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 422, 429)

# The statuses a client may filter invoices by (drafts are never shown).
InvoiceStatusFilter = Literal["open", "partially_paid", "overdue", "paid", "cancelled", "refunded", "collections"]
STATUS_FILTER = Query(None, description="Only the invoices with this status.")


def _money(minor: int, currency: str) -> MoneyOut:
    return MoneyOut(amount=str(Money.from_minor(minor, currency).amount), currency=currency)


def _member(request: ApiRequest, scope: str) -> tuple[ApiToken, Membership]:
    """The token and the membership it acts as, if it may use `scope`; integration tokens
    have no account, so they are refused like a token without the scope."""
    token = require_scope(request, scope)
    membership = acting_membership(token)
    if membership is None:
        raise ApiError(
            403, "missing_scope", _("This token does not allow this: it needs the “%(scope)s” scope."), scope=scope
        )
    return token, membership


def _invoice_of(membership: Membership, invoice_id: int) -> Invoice:
    invoice = invoices_visible_to(membership=membership).filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404
    return invoice


def _balance_minor(invoice: Invoice) -> int:
    if invoice.kind != DocumentKind.INVOICE or invoice.status not in PAYABLE_STATUSES:
        return 0
    return max(invoice_balance_minor(invoice=invoice), 0)


def _invoice_fields(invoice: Invoice) -> dict[str, Any]:
    currency = invoice.currency
    return {
        "id": invoice.pk,
        "number": invoice.display_number,
        "kind": invoice.kind,
        "status": invoice.status,
        "source": invoice.source,
        "currency": currency,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "paid_date": invoice.paid_date,
        "net": _money(invoice.net_minor, currency),
        "tax": _money(invoice.tax_minor, currency),
        "total": _money(invoice.total_minor, currency),
        "balance": _money(_balance_minor(invoice), currency),
        "created_at": invoice.created_at,
    }


def _invoice_out(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(**_invoice_fields(invoice))


def _invoice_detail_out(invoice: Invoice) -> InvoiceDetailOut:
    currency = invoice.currency
    return InvoiceDetailOut(
        **_invoice_fields(invoice),
        lines=[
            InvoiceLineOut(
                description=line.description,
                quantity=decimal_text(line.quantity),
                unit_price=decimal_text(line.unit_price),
                discount=_money(line.discount_minor, currency),
                net=_money(line.net_minor, currency),
                tax_rate=decimal_text(line.tax_rate),
                period_start=line.period_start,
                period_end=line.period_end,
            )
            for line in invoice.lines.order_by("position", "id")
        ],
        taxes=[
            InvoiceTaxOut(
                name=tax.name,
                rate=decimal_text(tax.rate),
                taxable=_money(tax.taxable_minor, currency),
                tax=_money(tax.tax_minor, currency),
                exemption_text=tax.exemption_text,
            )
            for tax in invoice.taxes.order_by("-rate", "id")
        ],
        settlements=[
            InvoiceSettlementOut(
                kind=settlement.kind,
                amount=_money(settlement.amount_minor, currency),
                settled_on=settlement.settled_on,
                method=settlement.method,
            )
            for settlement in invoice.settlements.order_by("settled_on", "id")
        ],
    )


def _payment_out(payment: Payment) -> PaymentOut:
    allocations = sorted(payment.allocations.all(), key=lambda a: (a.invoice.due_date or a.invoice.issue_date, a.pk))
    return PaymentOut(
        id=str(payment.public_id),
        gateway=payment.gateway,
        status=payment.status,
        amount=_money(payment.amount_minor, payment.currency),
        method=payment.method_label,
        invoices=[
            PaymentInvoiceOut(
                id=allocation.invoice_id,
                number=allocation.invoice.display_number,
                planned=_money(allocation.planned_minor, payment.currency),
            )
            for allocation in allocations
        ],
        next_url=payment.next_url or None,
        instructions=dict(payment.instructions),
        failure_code=payment.failure_code or None,
        started_on=payment.started_on,
        created_at=payment.created_at,
    )


def _payments(membership: Membership) -> QuerySet[Payment]:
    return payments_visible_to(membership=membership).prefetch_related("allocations__invoice")


def _entry_out(entry: CreditEntry) -> CreditEntryOut:
    return CreditEntryOut(
        id=entry.pk,
        kind=entry.kind,
        amount=_money(entry.amount_minor, entry.currency),
        invoice_id=entry.invoice_id,
        invoice_number=entry.invoice.display_number if entry.invoice is not None else None,
        note=entry.note,
        at=entry.at,
    )


# --- Reads ------------------------------------------------------------------------------------


@router.get(
    "/invoices",
    response={200: InvoicesPageOut, **LIST_ERRORS},
    summary="The account's invoices and credit notes, newest first",
)
def invoices_list(
    request: ApiRequest,
    status: InvoiceStatusFilter | None = STATUS_FILTER,
    cursor: str | None = Query(None, max_length=1000, description="The next_cursor of the page before."),
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
) -> InvoicesPageOut:
    only_known_query(request, "status", "cursor", "limit")
    _token, membership = _member(request, ApiScope.BILLING)
    invoices = invoices_visible_to(membership=membership)
    if status:
        invoices = invoices.filter(status=status)
    # The listing's name carries the filter: a cursor of one filter is refused by another.
    page = paginate(invoices, listing=f"invoices:{status or ''}", cursor=cursor, limit=limit)
    return InvoicesPageOut(items=[_invoice_out(invoice) for invoice in page.items], next_cursor=page.next_cursor)


@router.get(
    "/invoices/{invoice_id}",
    response={200: InvoiceDetailOut, **READ_ERRORS},
    summary="One invoice: its lines, taxes and what paid it",
)
def invoice_detail(request: ApiRequest, invoice_id: int = Path(..., ge=1, le=MAX_ID)) -> InvoiceDetailOut:
    only_known_query(request)
    _token, membership = _member(request, ApiScope.BILLING)
    return _invoice_detail_out(_invoice_of(membership, invoice_id))


@router.get(
    "/payments",
    response={200: PaymentsPageOut, **LIST_ERRORS},
    summary="The account's payments, newest first",
)
def payments_list(
    request: ApiRequest,
    cursor: str | None = Query(None, max_length=1000, description="The next_cursor of the page before."),
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
) -> PaymentsPageOut:
    only_known_query(request, "cursor", "limit")
    _token, membership = _member(request, ApiScope.BILLING)
    page = paginate(_payments(membership), listing="payments", cursor=cursor, limit=limit)
    return PaymentsPageOut(items=[_payment_out(payment) for payment in page.items], next_cursor=page.next_cursor)


@router.get(
    "/payments/{payment_id}",
    response={200: PaymentOut, **READ_ERRORS},
    summary="One payment: where it stands, and what the customer must do to pay",
)
def payment_detail(request: ApiRequest, payment_id: uuid.UUID) -> PaymentOut:
    only_known_query(request)
    _token, membership = _member(request, ApiScope.BILLING)
    payment = _payments(membership).filter(public_id=payment_id).first()
    if payment is None:
        raise Http404
    return _payment_out(payment)


@router.get(
    "/credit",
    response={200: CreditOut, **LIST_ERRORS},
    summary="The account's credit: balance per currency and its ledger",
)
def credit(
    request: ApiRequest,
    cursor: str | None = Query(None, max_length=1000, description="The next_cursor of the page before."),
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
) -> CreditOut:
    only_known_query(request, "cursor", "limit")
    _token, membership = _member(request, ApiScope.BILLING)
    page = paginate(
        credit_entries_visible_to(membership=membership), listing="credit", cursor=cursor, limit=limit, moment="at"
    )
    return CreditOut(
        balances=[
            MoneyOut(amount=str(balance.amount), currency=balance.currency)
            for balance in credit_balances(account=membership.account)
        ],
        entries=[_entry_out(entry) for entry in page.items],
        next_cursor=page.next_cursor,
    )


# --- Writes that move money -------------------------------------------------------------------


_AMOUNT_MESSAGES: dict[str, Promise] = {
    "currency": _("The amount must be in the invoice's currency."),
    "not_positive": _("The amount must be more than zero."),
    "above_invoice_balance": _("The amount is more than the invoice still owes."),
    "below_minimum": _("The amount is below the minimum."),
    "above_maximum": _("The amount is above the maximum."),
}


def _refusal(error: PaymentsError | BillingError) -> ApiError:
    """A domain refusal as the API answers it: 409 when the state of things forbids it now
    (not enough credit, the invoice already paid), 422 when the request itself is wrong."""
    if isinstance(error, InsufficientCredit):
        return ApiError(
            409,
            "insufficient_credit",
            _("Your account credit (%(balance)s) does not cover %(wanted)s."),
            balance=money_display(Money.from_minor(error.balance_minor, error.currency)),
            wanted=money_display(Money.from_minor(error.wanted_minor, error.currency)),
        )
    if isinstance(error, InvoiceNotPayable):
        return ApiError(
            409,
            "invoice_not_payable",
            _("Invoice %(number)s cannot be paid now: it may have been paid already."),
            number=error.number,
        )
    if isinstance(error, InvalidAmount):
        return ApiError(
            422,
            "invalid_amount",
            _AMOUNT_MESSAGES.get(error.reason, _("This amount cannot be used.")),
            errors=[{"field": "body.amount", "message": error.reason}],
        )
    if isinstance(error, MixedCurrencies):
        return ApiError(
            422,
            "mixed_currencies",
            _("Choose invoices in one currency: one payment cannot mix %(currencies)s."),
            currencies=", ".join(error.currencies),
        )
    if isinstance(error, MethodUnavailable):
        return ApiError(422, "method_unavailable", _("This payment method is not available now. Choose another one."))
    return ApiError(409, "refused", _("This payment could not be made. Nothing was charged."))


def _amount(text: str, currency: str) -> Money:
    try:
        return Money(Decimal(text), currency)
    except ValueError:
        raise ApiError(
            422,
            "invalid_amount",
            _("Use at most the decimals of %(currency)s."),
            errors=[{"field": "body.amount", "message": "too many decimals"}],
            currency=currency,
        ) from None


def _idempotent(
    request: ApiRequest,
    response: HttpResponse,
    *,
    token: ApiToken,
    key: str,
    payload: dict[str, Any],
    effect: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any], bool]:
    """Run `effect` once for this key (idempotency.py); the status, body and whether it is a replay."""
    fingerprint = request_fingerprint(method=request.method or "POST", path=request.path, payload=payload)
    try:
        outcome = idempotent_write(token=token, key=key, fingerprint=fingerprint, now=utc_now(), effect=effect)
    except IdempotencyKeyReused:
        raise ApiError(
            422,
            "idempotency_key_reused",
            _("This Idempotency-Key was already used for a different request. Use a new key for a new request."),
        ) from None
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    return outcome.status, outcome.body, outcome.replayed


IDEMPOTENCY_KEY = Header(
    ...,
    alias="Idempotency-Key",
    pattern=IDEMPOTENCY_KEY_PATTERN,
    description="Your unique id of this request (1 to 128 visible ASCII characters); send it again to retry.",
)


@router.post(
    "/invoices/{invoice_id}/pay-with-credit",
    response={201: CreditPaymentOut, **WRITE_ERRORS},
    summary="Pay part or all of an invoice from the account's credit",
    description=(
        "Spends `amount` of the account's credit in the invoice's currency on the invoice. Refused with 409 when "
        "the credit does not cover it or the invoice cannot be paid now, with 422 when the amount is more than "
        "the invoice owes. The same Idempotency-Key answers as the first time (header Idempotent-Replayed: "
        "true) and spends nothing again."
    ),
)
def invoice_pay_with_credit(
    request: ApiRequest,
    response: HttpResponse,
    payload: AmountIn,
    invoice_id: int = Path(..., ge=1, le=MAX_ID),
    idempotency_key: str = IDEMPOTENCY_KEY,
) -> Status[dict[str, Any]]:
    only_known_query(request)
    token, membership = _member(request, ApiScope.PAYMENTS_WRITE)
    invoice = _invoice_of(membership, invoice_id)

    def effect() -> tuple[int, dict[str, Any]]:
        amount = _amount(payload.amount, invoice.currency)
        try:
            entry = credit_apply(
                account=membership.account, invoice=invoice, amount=amount, by=membership.user, as_of=utc_now().date()
            )
        except (PaymentsError, BillingError) as error:
            raise _refusal(error) from None
        paid = Invoice.objects.get(pk=invoice.pk)
        left = credit_balance(account=membership.account, currency=invoice.currency)
        return 201, CreditPaymentOut(
            entry=_entry_out(entry),
            invoice=_invoice_out(paid),
            balance=MoneyOut(amount=str(left.amount), currency=left.currency),
        ).model_dump(mode="json")

    status, body, _replayed = _idempotent(
        request, response, token=token, key=idempotency_key, payload=payload.model_dump(mode="json"), effect=effect
    )
    return Status(status, body)


@router.post(
    "/credit/funds",
    response={201: InvoiceOut, **error_responses(400, 401, 403, 409, 422, 429)},
    summary="Add funds to the account's credit: issues the invoice to pay",
    description=(
        "Issues an invoice for `amount` in the account's currency (not subject to VAT: the invoices the credit "
        "pays carry it); once it is paid (POST /payments), the amount is added to the credit. Within the "
        "installation's minimum and maximum, else 422."
    ),
)
def credit_funds_add(
    request: ApiRequest,
    response: HttpResponse,
    payload: AmountIn,
    idempotency_key: str = IDEMPOTENCY_KEY,
) -> Status[dict[str, Any]]:
    only_known_query(request)
    token, membership = _member(request, ApiScope.PAYMENTS_WRITE)
    account = membership.account

    def effect() -> tuple[int, dict[str, Any]]:
        amount = _amount(payload.amount, account.currency)
        try:
            invoice = funds_invoice_create(account=account, amount=amount, as_of=utc_now().date(), by=membership.user)
        except (PaymentsError, BillingError) as error:
            raise _refusal(error) from None
        return 201, _invoice_out(invoice).model_dump(mode="json")

    status, body, _replayed = _idempotent(
        request, response, token=token, key=idempotency_key, payload=payload.model_dump(mode="json"), effect=effect
    )
    return Status(status, body)


@router.post(
    "/payments",
    response={201: PaymentOut, **WRITE_ERRORS},
    summary="Start paying invoices with a payment method",
    description=(
        "Opens one payment for what the invoices (one currency) still owe and asks the method to start: a card "
        "payment answers with `next_url`, the processor's page where the customer pays; a bank transfer with the "
        "`instructions` to send it. A method that refuses to start answers with the payment failed and its "
        "`failure_code`. The same Idempotency-Key answers with the same payment, as it stands now, and starts "
        "nothing again. To pay from the account's credit use /invoices/{invoice_id}/pay-with-credit."
    ),
)
def payment_start(
    request: ApiRequest,
    response: HttpResponse,
    payload: PaymentIn,
    idempotency_key: str = IDEMPOTENCY_KEY,
) -> Status[dict[str, Any]]:
    only_known_query(request)
    token, membership = _member(request, ApiScope.PAYMENTS_WRITE)
    if payload.gateway == CREDIT:
        raise _refusal(MethodUnavailable(gateway=CREDIT))
    wanted = list(dict.fromkeys(payload.invoice_ids))
    invoices = [_invoice_of(membership, invoice_id) for invoice_id in wanted]

    def effect() -> tuple[int, dict[str, Any]]:
        try:
            plan = payment_create(
                account=membership.account,
                invoices=invoices,
                method=payload.gateway,
                use_credit=False,
                by=membership.user,
                as_of=utc_now().date(),
                idempotency_key=f"api:{idempotency_owner(token)}:{idempotency_key}",
            )
        except (PaymentsError, BillingError) as error:
            raise _refusal(error) from None
        assert plan.payment is not None  # without credit, what the invoices owe is a payment
        return 201, {"id": str(plan.payment.public_id)}

    status, body, replayed = _idempotent(
        request, response, token=token, key=idempotency_key, payload=payload.model_dump(mode="json"), effect=effect
    )
    payment = _payments(membership).get(public_id=body["id"])
    if not replayed:
        # The gateway is an outside system: asked after the payment is committed, never in its
        # transaction. A refusal leaves the payment failed with its reason, which the answer shows.
        result_url = request.build_absolute_uri(reverse("portal:payment", args=[payment.public_id]))
        with contextlib.suppress(PaymentsError):
            payment_begin(payment=payment, return_url=result_url)
        payment = _payments(membership).get(pk=payment.pk)
    return Status(status, _payment_out(payment).model_dump(mode="json"))
