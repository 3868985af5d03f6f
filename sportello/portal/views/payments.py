"""Paying: one invoice or several at once, by card, bank transfer, PIX or account credit; the
result of a payment; account credit with its history and adding funds.

Card numbers never reach these pages (PCI DSS SAQ-A): a card payment sends the customer to
the gateway's hosted page, and the result page shows what Sportello's own records say
(the gateway's signed notification, or the gateway asked directly), never what the
browser claims on its way back.

Every method goes through a review of what will be paid before anything is paid (`pay_page`);
a saved card can be chosen by hand and is charged with the customer present, through the
bank's extra authentication step when it asks.

Every invoice and payment is looked up through selectors scoped to the acting membership,
so another account's answers 404. Read-only members see these pages but cannot pay.
URLs for other pages: `portal:invoice-pay` (args: invoice number) and `portal:pay` (several
invoices, preselected with ?invoice=<number>&invoice=...).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import segno.helpers
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sportello.accounts.models import Area
from sportello.billing.errors import BillingError
from sportello.billing.models import Invoice, InvoiceSource
from sportello.billing.payment_codes import payment_qr
from sportello.billing.selectors import invoices_visible_to, seller_current
from sportello.core.formatting import money_display
from sportello.core.money import Money, currency_exponent
from sportello.core.time import utc_now
from sportello.orders.models import Order
from sportello.orders.selectors import orders_billed_on
from sportello.payments.adapters import gateway_get, gateway_saving_methods, gateways_available
from sportello.payments.adapters.bank_transfer import rf_display
from sportello.payments.errors import (
    GatewayError,
    InsufficientCredit,
    InvalidAmount,
    InvoiceNotPayable,
    MethodUnavailable,
    MixedCurrencies,
    NothingToPay,
    PaymentsError,
)
from sportello.payments.models import Gateway, Payment, PaymentStatus, SavedPaymentMethod
from sportello.payments.receipts import payment_receipt
from sportello.payments.selectors import (
    PaymentConfirmed,
    credit_balance,
    credit_balances,
    credit_entries_visible_to,
    invoice_balance,
    invoices_payable_by,
    methods_chargeable_of,
    methods_visible_to,
    payment_confirmed_with,
    payment_overpayment_minor,
    payment_preference_of,
    payment_settlements,
    payments_listed_for,
    payments_visible_to,
)
from sportello.payments.services import (
    CREDIT,
    PaymentPreview,
    funds_invoice_create,
    method_remove,
    method_set_default,
    method_setup_begin,
    payment_begin,
    payment_charge_saved,
    payment_create,
    payment_preference_set,
    payment_preview,
    payment_refresh,
)
from sportello.portal.access import MemberRequest, member_required

PAGE_SIZE = 25

FAILURES = {
    "card_declined": gettext_lazy("Your card was declined. No money was taken."),
    "insufficient_funds": gettext_lazy("Your card was declined for insufficient funds. No money was taken."),
    "expired_card": gettext_lazy("Your card has expired. No money was taken: use another card."),
    "authentication_failed": gettext_lazy("The payment was not confirmed with your bank. No money was taken."),
    "cancelled": gettext_lazy("You cancelled the payment. No money was taken."),
    "expired": gettext_lazy("The payment page expired before the payment was made. No money was taken."),
    "pix_expired": gettext_lazy(
        "The time to pay this PIX code ran out before the payment reached us. If you paid it, "
        "we apply it as soon as it arrives; otherwise, start a new payment."
    ),
}


def _as_of() -> dt.date:
    return utc_now().date()


def invoice_url(invoice: Invoice) -> str | None:
    """The invoice's own page, where the client area has one."""
    try:
        return reverse("portal:invoice", args=[invoice.display_number])
    except NoReverseMatch:
        return None


def refusal_message(error: PaymentsError | BillingError) -> str:
    """A domain refusal in the member's words."""
    if isinstance(error, InsufficientCredit):
        return _("Your account credit (%(balance)s) does not cover %(wanted)s.") % {
            "balance": money_display(Money.from_minor(error.balance_minor, error.currency)),
            "wanted": money_display(Money.from_minor(error.wanted_minor, error.currency)),
        }
    if isinstance(error, InvoiceNotPayable):
        return _("Invoice %(number)s cannot be paid now: it may have been paid already.") % {"number": error.number}
    if isinstance(error, MixedCurrencies):
        return _("Choose invoices in one currency: one payment cannot mix %(currencies)s.") % {
            "currencies": ", ".join(error.currencies)
        }
    if isinstance(error, NothingToPay):
        return _("Choose at least one invoice to pay.")
    if isinstance(error, MethodUnavailable):
        return _("This payment method is not available now. Choose another one.")
    if isinstance(error, GatewayError):
        if error.retryable:
            return _("The payment service did not answer. Nothing was charged: try again in a few minutes.")
        return _("The payment service refused to start this payment. Nothing was charged: choose another method.")
    if isinstance(error, InvalidAmount):
        return {
            "below_minimum": _("The amount is below the minimum."),
            "above_maximum": _("The amount is above the maximum."),
            "not_positive": _("Enter an amount above zero."),
            "partial_unsupported": _("This payment method takes the whole amount only. Choose another one."),
            "partial_several": _("Part of an amount can be paid for one invoice at a time."),
        }.get(error.reason, _("This amount cannot be used."))
    return _("This payment could not be made. Nothing was charged.")


# --- Choosing what to pay and how -----------------------------------------------------------


class PayForm(forms.Form):
    invoices = forms.MultipleChoiceField(
        label=gettext_lazy("Invoices to pay"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one invoice to pay.")},
    )
    method = forms.ChoiceField(
        label=gettext_lazy("Payment method"),
        widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choose how to pay.")},
    )
    use_credit = forms.BooleanField(label=gettext_lazy("Use my account credit first"), required=False)
    # Paying one invoice: how much of it now (empty: all of it).
    amount = forms.DecimalField(
        label=gettext_lazy("Amount to pay now"),
        required=False,
        max_digits=18,
        localize=True,
        error_messages={"invalid": gettext_lazy("Enter an amount, such as 50.00.")},
    )

    def __init__(self, *args: Any, invoices: list[Invoice], methods: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        invoice_field = self.fields["invoices"]
        method_field = self.fields["method"]
        assert isinstance(invoice_field, forms.ChoiceField) and isinstance(method_field, forms.ChoiceField)
        invoice_field.choices = [(invoice.display_number, invoice.display_number) for invoice in invoices]
        method_field.choices = methods


def _methods(*, currency: str, credit: Money, for_funds: bool, saved: list[SavedPaymentMethod]) -> list[dict[str, Any]]:
    """The methods offered for a payment in `currency`, each with how long it takes to clear:
    the saved cards first (the default at the top), then the gateways, then account credit."""
    gateways = gateways_available(currency=currency)
    by_code = {gateway.code: gateway for gateway in gateways}
    offered = [
        {
            "code": f"{SAVED_PREFIX}{method.pk}",
            "label": (_("%(card)s, your default card") if method.is_default else _("%(card)s, saved card"))
            % {"card": method},
            "clearing": by_code[method.gateway].clearing_time(),
            "saved": method,
        }
        for method in saved
        if method.gateway in by_code
    ]
    offered += [
        {"code": gateway.code, "label": gateway.label, "clearing": gateway.clearing_time(), "saved": None}
        for gateway in gateways
    ]
    if credit.minor > 0 and not for_funds:
        offered.append(
            {
                "code": CREDIT,
                "label": gettext_lazy("Account credit"),
                "clearing": _("Immediately · available: %(balance)s") % {"balance": money_display(credit)},
                "saved": None,
            }
        )
    return offered


# A saved card is offered as the method "saved-<its id>" (charged through its own gateway).
SAVED_PREFIX = "saved-"


@dataclass(frozen=True)
class PayChoice:
    """What the pay form asks for, read and checked: ready to review or to carry out."""

    invoices: list[Invoice]
    # The gateway's code, or CREDIT.
    method: str
    method_label: str
    saved: SavedPaymentMethod | None
    use_credit: bool
    amount: Money | None


def pay_page(
    request: MemberRequest, *, payable: list[Invoice], single: Invoice | None, order: Order | None = None
) -> HttpResponse:
    """The pay page: one invoice (`single`), several, or an order's invoice (`order`, whose page
    the customer came from and goes back to).

    Paying takes two posts. The first checks the choice and answers the review page: each
    invoice with what it pays, the total, the method (for credit, the balance before and
    after). Only the second, confirming post from that page, moves money: it carries the
    review's key, which becomes the payment's idempotency key, so the confirmation sent twice
    pays once. "Change" on the review comes back here with the same choice."""
    membership = request.membership
    may_pay = membership.can_change
    if request.method == "POST" and not may_pay:
        raise Http404
    changing = request.method == "POST" and "change" in request.POST
    chosen = (
        [single.display_number]
        if single is not None
        else request.GET.getlist("invoice") or request.POST.getlist("invoices")
    )
    by_number = {invoice.display_number: invoice for invoice in payable}
    selected = [by_number[number] for number in chosen if number in by_number]
    basis = selected or payable
    currency = basis[0].currency if basis else membership.account.currency
    if single is None and not chosen and payable:
        # Nothing chosen yet: offer all open invoices of the first currency, ticked.
        selected = [invoice for invoice in payable if invoice.currency == currency]
    credit = credit_balance(account=membership.account, currency=currency)
    for_funds = any(invoice.source == InvoiceSource.FUNDS for invoice in selected)
    saved = methods_chargeable_of(membership=membership, as_of=_as_of()) if may_pay else []
    methods = _methods(currency=currency, credit=credit, for_funds=for_funds, saved=saved)
    initial: dict[str, Any] = {
        "invoices": [invoice.display_number for invoice in selected],
        "method": request.GET.get("method") or (methods[0]["code"] if methods else None),
    }
    if changing:
        # Back from the review: the same choice, not yet checked again.
        initial.update(
            method=request.POST.get("method") or initial["method"],
            use_credit=bool(request.POST.get("use_credit")),
            amount=request.POST.get("amount") or None,
        )
    form = PayForm(
        request.POST if request.method == "POST" and not changing else None,
        invoices=payable,
        methods=[(method["code"], method["label"]) for method in methods],
        initial=initial,
    )
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                choice = _choice(form, by_number=by_number, methods=methods, single=single)
                key = _review_key(request.POST.get("review"))
                confirming = "confirm" in request.POST and bool(key)
                preview = payment_preview(
                    account=membership.account,
                    invoices=choice.invoices,
                    method=choice.method,
                    use_credit=choice.use_credit,
                    amount=choice.amount,
                )
                if confirming and request.POST.get("reviewed") == _reviewed(preview):
                    return _confirm(request, choice, key=key, order=order)
                # A confirmation of other figures than those now due shows the review again.
                return _review(request, choice, preview, changed=confirming, single=single, order=order)
            except (PaymentsError, BillingError) as refused:
                field = "amount" if isinstance(refused, InvalidAmount) and single is not None else None
                form.add_error(field, refusal_message(refused))
            except ValueError:
                form.add_error("amount", _("This amount has more decimals than its currency allows."))
        status = 400
    checked = {invoice.display_number for invoice in selected}
    rows: list[dict[str, Any]] = []
    total: Money | None = None
    for invoice in payable:
        balance = invoice_balance(invoice=invoice)
        rows.append(
            {
                "invoice": invoice,
                "balance": balance,
                "url": invoice_url(invoice),
                "checked": invoice.display_number in checked,
                # For the selected total that follows the ticks (sportello.js): minor units and
                # their exponent, so the script adds integers and never floats.
                "exponent": currency_exponent(invoice.currency),
            }
        )
        if invoice.display_number in checked and invoice.currency == currency:
            total = balance if total is None else total + balance
    context = {
        "form": form,
        "rows": rows,
        "single": single,
        "single_balance": invoice_balance(invoice=single) if single is not None else None,
        "methods": methods,
        "credit": credit,
        "for_funds": for_funds,
        "total": total,
        "may_pay": may_pay,
        "order": order,
        "back_url": _back_url(order),
        "active_nav": "orders" if order else "billing",
    }
    return render(request, "portal/payments/pay.html", context, status=status)


def _back_url(order: Order | None) -> str:
    return reverse("portal:order-detail", args=[order.number]) if order else reverse("portal:billing")


def _choice(
    form: PayForm, *, by_number: dict[str, Invoice], methods: list[dict[str, Any]], single: Invoice | None
) -> PayChoice:
    """The checked form as a choice; ValueError for an amount finer than the currency's minor unit."""
    offered = next(method for method in methods if method["code"] == form.cleaned_data["method"])
    saved: SavedPaymentMethod | None = offered["saved"]
    return PayChoice(
        invoices=[by_number[number] for number in form.cleaned_data["invoices"]],
        method=saved.gateway if saved is not None else offered["code"],
        method_label=str(saved) if saved is not None else str(offered["label"]),
        saved=saved,
        use_credit=form.cleaned_data["use_credit"],
        amount=_part(form, single=single),
    )


def _review_key(value: str | None) -> str:
    """The idempotency key of a confirmation, from the review's key ("" when it is not one)."""
    try:
        return f"portal:{uuid.UUID(value or '')}"
    except ValueError:
        return ""


def _reviewed(preview: PaymentPreview) -> str:
    """The figure the review showed, carried by its form: a confirmation of other figures (an
    invoice paid meanwhile, credit spent elsewhere) shows the review again."""
    return f"{preview.total.minor} {preview.total.currency} {preview.from_credit.minor}"


def _review(
    request: MemberRequest,
    choice: PayChoice,
    preview: PaymentPreview,
    *,
    changed: bool,
    single: Invoice | None,
    order: Order | None,
) -> HttpResponse:
    """The review of what will be paid, with its Confirm and Change buttons."""
    hidden = [("invoices", invoice.display_number) for invoice in choice.invoices]
    hidden.append(("method", request.POST["method"]))
    if choice.use_credit:
        hidden.append(("use_credit", "on"))
    if choice.amount is not None:
        hidden.append(("amount", str(choice.amount.amount)))
    hidden += [("review", str(uuid.uuid4())), ("reviewed", _reviewed(preview))]
    context = {
        "choice": choice,
        "preview": preview,
        "lines": [
            {"invoice": invoice, "amount": amount, "url": invoice_url(invoice)} for invoice, amount in preview.lines
        ],
        "by_credit": choice.method == CREDIT,
        "hidden": hidden,
        "changed": changed,
        "single": single,
        "order": order,
        "back_url": _back_url(order),
        "active_nav": "orders" if order else "billing",
    }
    return render(request, "portal/payments/review.html", context)


def _confirm(request: MemberRequest, choice: PayChoice, *, key: str, order: Order | None) -> HttpResponse:
    """Carry out the reviewed payment, once for its key. Refusals propagate to the pay page."""
    membership = request.membership
    try:
        plan = payment_create(
            account=membership.account,
            invoices=choice.invoices,
            method=choice.method,
            use_credit=choice.use_credit,
            by=request.user,
            as_of=_as_of(),
            amount=choice.amount,
            idempotency_key=key,
            saved_method=choice.saved,
        )
    except IntegrityError:
        # The same confirmation, sent again while the first was being carried out.
        earlier = payment_confirmed_with(membership=membership, idempotency_key=key)
        if earlier is None:
            raise
        return _confirmed_earlier(request, earlier, order=order)
    if plan.payment is None:
        messages.success(request, _("Paid with your account credit. Thank you."))
        return _after_credit(order)
    if choice.saved is not None:
        return _charge_saved(request, plan.payment)
    return _begin(request, plan.payment)


def _after_credit(order: Order | None) -> HttpResponse:
    if order is not None:
        return redirect("portal:order-detail", number=order.number)
    return redirect("portal:credit")


def pay_confirmed_earlier(request: MemberRequest, *, order: Order | None = None) -> HttpResponse | None:
    """For a pay page's view, before anything else: a confirmation already carried out (sent
    twice, or again with the browser's Back) answers where the first one led; None otherwise.
    First, since the invoices it paid are no longer payable."""
    if request.method != "POST" or "confirm" not in request.POST or not request.membership.can_change:
        return None
    key = _review_key(request.POST.get("review"))
    earlier = payment_confirmed_with(membership=request.membership, idempotency_key=key) if key else None
    return _confirmed_earlier(request, earlier, order=order) if earlier is not None else None


def _confirmed_earlier(request: MemberRequest, earlier: PaymentConfirmed, *, order: Order | None) -> HttpResponse:
    """A confirmation already carried out: where the first one led, nothing paid twice."""
    messages.info(request, _("This payment was already confirmed: nothing was paid twice."))
    payment = earlier.payment
    if payment is None:
        return _after_credit(order)
    waiting = payment.status in (PaymentStatus.INITIATED, PaymentStatus.REQUIRES_ACTION)
    if waiting and payment.next_url:
        return HttpResponseRedirect(payment.next_url)
    return redirect("portal:payment", payment.public_id)


def _part(form: PayForm, *, single: Invoice | None) -> Money | None:
    """The part of one invoice the customer chose to pay now; None for all of what it owes.
    ValueError for an amount finer than the currency's minor unit."""
    amount = form.cleaned_data.get("amount")
    if single is None or amount is None:
        return None
    part = Money(amount, single.currency)
    return None if part == invoice_balance(invoice=single) else part


def _begin(request: MemberRequest, payment: Payment) -> HttpResponse:
    """Ask the gateway to start, then send the customer on: to the hosted page, or to the
    result page with the instructions."""
    result_url = reverse("portal:payment", args=[payment.public_id])
    try:
        payment = payment_begin(payment=payment, return_url=request.build_absolute_uri(result_url))
    except (GatewayError, MethodUnavailable) as refused:
        messages.error(request, refusal_message(refused))
        return HttpResponseRedirect(result_url)
    return HttpResponseRedirect(payment.next_url or result_url)


def _charge_saved(request: MemberRequest, payment: Payment) -> HttpResponse:
    """Charge the chosen saved card, then show the result, or send the customer to confirm
    with their bank when it asks."""
    result_url = reverse("portal:payment", args=[payment.public_id])
    try:
        payment = payment_charge_saved(
            payment=payment, return_url=request.build_absolute_uri(result_url), as_of=_as_of()
        )
    except (GatewayError, MethodUnavailable) as refused:
        messages.error(request, refusal_message(refused))
        return HttpResponseRedirect(result_url)
    if payment.status == PaymentStatus.REQUIRES_ACTION and payment.next_url:
        return HttpResponseRedirect(payment.next_url)
    return HttpResponseRedirect(result_url)


def _invoice_by_number(request: MemberRequest, number: str) -> Invoice:
    invoices = invoices_visible_to(membership=request.membership)
    return get_object_or_404(invoices, Q(number=number) | Q(number="", proforma_number=number))


@member_required(Area.BILLING)
@require_http_methods(["GET", "POST"])
def invoice_pay(request: MemberRequest, number: str) -> HttpResponse:
    """Pay one invoice."""
    invoice = _invoice_by_number(request, number)
    earlier = pay_confirmed_earlier(request)
    if earlier is not None:
        return earlier
    payable = invoices_payable_by(membership=request.membership)
    if invoice.pk not in {candidate.pk for candidate in payable}:
        messages.info(request, _("Invoice %(number)s has nothing left to pay.") % {"number": invoice.display_number})
        return HttpResponseRedirect(invoice_url(invoice) or reverse("portal:billing"))
    return pay_page(request, payable=payable, single=invoice)


@member_required(Area.BILLING)
@require_http_methods(["GET", "POST"])
def pay(request: MemberRequest) -> HttpResponse:
    """Pay several (or all) open invoices of one currency in one payment."""
    earlier = pay_confirmed_earlier(request)
    if earlier is not None:
        return earlier
    return pay_page(request, payable=invoices_payable_by(membership=request.membership), single=None)


# --- The result of a payment ----------------------------------------------------------------


def epc_qr(payment: Payment) -> str | None:
    """The EPC069-12 ("SEPA credit transfer") QR code of a EUR transfer, as a data URI."""
    instructions = payment.instructions
    if payment.currency != "EUR" or not instructions.get("iban"):
        return None
    qr = segno.helpers.make_epc_qr(
        name=instructions["beneficiary"][:70],
        iban=instructions["iban"],
        bic=instructions.get("bic") or None,
        amount=Decimal(instructions["amount"]),
        reference=instructions["reference"],
    )
    return str(qr.svg_data_uri(scale=4, border=2))


def pix_code(payment: Payment) -> dict[str, Any] | None:
    """What the customer needs to pay a PIX payment still waiting: the copy-and-paste code, its
    QR (an SVG data URI), the txid and until when to pay; None once the time has passed."""
    instructions = payment.instructions
    if not instructions.get("code"):
        return None
    expires_at = dt.datetime.fromisoformat(instructions["expires_at"])
    if utc_now() >= expires_at:
        return None
    qr = payment_qr(instructions["code"])
    return {
        "code": instructions["code"],
        "txid": instructions["txid"],
        "key": instructions.get("key", ""),
        "beneficiary": instructions.get("beneficiary", ""),
        "expires_at": expires_at,
        "qr": str(qr.svg_data_uri(scale=4, border=4)),
    }


@member_required(Area.BILLING)
@require_safe
def payment_detail(request: MemberRequest, public_id: str) -> HttpResponse:
    """Where a payment stands: paid, failed (try again or another method), or waiting for a
    transfer (the instructions), as Sportello's records say."""
    try:
        wanted = uuid.UUID(public_id)
    except ValueError:
        raise Http404 from None
    payment = get_object_or_404(payments_visible_to(membership=request.membership), public_id=wanted)
    if gateway_get_safe(payment.gateway) is not None and payment.status in (
        PaymentStatus.INITIATED,
        PaymentStatus.REQUIRES_ACTION,
    ):
        # The customer is back from the gateway: if its notification has not arrived yet,
        # ask the gateway itself (never the browser) where the payment stands.
        payment = payment_refresh(payment=payment, as_of=_as_of())
    allocations = list(payment.allocations.select_related("invoice").order_by("invoice__due_date", "invoice_id"))
    still_payable = {invoice.pk for invoice in invoices_payable_by(membership=request.membership)}
    retry_numbers = [a.invoice.display_number for a in allocations if a.invoice_id in still_payable]
    applied = {settlement.invoice_id: settlement.amount_minor for settlement in payment_settlements(payment=payment)}
    rows = [
        {
            "invoice": allocation.invoice,
            "url": invoice_url(allocation.invoice),
            "planned": Money.from_minor(allocation.planned_minor, payment.currency),
            "applied": Money.from_minor(applied.get(allocation.invoice_id, 0), payment.currency),
        }
        for allocation in allocations
    ]
    # The orders these invoices bill: the customer goes back to them (an order paid is carried out).
    orders = (
        orders_billed_on(membership=request.membership, invoice_ids=[a.invoice_id for a in allocations])
        if request.membership.has_area(Area.ORDERS)
        else []
    )
    instructions = dict(payment.instructions)
    if instructions.get("reference"):
        instructions["reference_display"] = rf_display(instructions["reference"])
    context = {
        "payment": payment,
        "amount": Money.from_minor(payment.amount_minor, payment.currency),
        "rows": rows,
        "overpayment": Money.from_minor(payment_overpayment_minor(payment=payment), payment.currency),
        "failure": FAILURES.get(payment.failure_code, _("The payment did not go through. No money was taken."))
        if payment.status == PaymentStatus.FAILED
        else None,
        "orders": orders,
        "retry_numbers": retry_numbers,
        "retry_query": "&".join(f"invoice={number}" for number in retry_numbers),
        "awaiting_transfer": payment.gateway == Gateway.BANK_TRANSFER and payment.status == PaymentStatus.INITIATED,
        "instructions": instructions,
        "qr": epc_qr(payment) if payment.gateway == Gateway.BANK_TRANSFER else None,
        "awaiting_pix": payment.gateway == Gateway.PIX and payment.status == PaymentStatus.INITIATED,
        "pix": pix_code(payment) if payment.gateway == Gateway.PIX else None,
        "may_pay": request.membership.can_change,
        "active_nav": "billing",
    }
    return render(request, "portal/payments/result.html", context)


# --- The account's payments: a second copy of what to pay and how --------------------------

STATUS_BADGES = {
    PaymentStatus.SUCCEEDED: "success",
    PaymentStatus.REFUNDED: "refunded",
    PaymentStatus.FAILED: "failed",
    PaymentStatus.INITIATED: "pending",
    PaymentStatus.REQUIRES_ACTION: "pending",
}


def payment_awaiting(payment: Payment) -> str:
    """What the customer's money is awaited by, with instructions to show: "transfer", "pix"
    (a PIX code only until it expires), or "" for nothing awaited."""
    if payment.status != PaymentStatus.INITIATED or not payment.gateway_reference:
        return ""
    if payment.gateway == Gateway.BANK_TRANSFER:
        return "transfer"
    if payment.gateway == Gateway.PIX and pix_code(payment) is not None:
        return "pix"
    return ""


def payment_row(payment: Payment) -> dict[str, Any]:
    """A payment as the payments list and the invoice page show it."""
    awaiting = payment_awaiting(payment)
    if awaiting == "transfer":
        status = _("Awaiting your transfer")
    elif awaiting == "pix":
        status = _("Awaiting your PIX")
    else:
        status = payment.get_status_display()
    return {
        "payment": payment,
        "amount": Money.from_minor(payment.amount_minor, payment.currency),
        "status": status,
        "badge": "awaiting" if awaiting else STATUS_BADGES.get(PaymentStatus(payment.status), "pending"),
        "awaiting": awaiting,
        "invoices": [
            {"invoice": allocation.invoice, "url": invoice_url(allocation.invoice)}
            for allocation in payment.allocations.all()
        ],
        "url": reverse("portal:payment", args=[payment.public_id]),
        "receipt_url": reverse("portal:payment-receipt", args=[payment.public_id])
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
        else None,
    }


@member_required(Area.BILLING)
@require_safe
def payments_list(request: MemberRequest) -> HttpResponse:
    """The account's payments: when, how, how much, where each stands and the invoices it pays,
    with the receipt of those that received money and the instructions of transfers and PIX
    payments still awaited (the "second copy" to pay from)."""
    page = Paginator(payments_listed_for(membership=request.membership), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": [payment_row(payment) for payment in page.object_list],
        "active_nav": "billing",
        "billing_tab": "payments",
    }
    return render(request, "portal/payments/list.html", context)


def gateway_get_safe(code: str) -> object | None:
    try:
        gateway = gateway_get(code)
    except MethodUnavailable:
        return None
    return gateway if gateway.redirects else None


# --- Account credit and adding funds --------------------------------------------------------


class FundsForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount to add"), min_value=Decimal("0.01"), max_digits=12, decimal_places=3
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].help_text = _("In %(currency)s, between %(low)s and %(high)s.") % {
            "currency": currency,
            "low": money_display(Money(Decimal(settings.PAYMENTS_FUNDS_MIN), currency)),
            "high": money_display(Money(Decimal(settings.PAYMENTS_FUNDS_MAX), currency)),
        }
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal"})

    def clean_amount(self) -> Money:
        try:
            return Money(self.cleaned_data["amount"], self.currency)
        except ValueError:
            raise forms.ValidationError(
                _("Use at most the decimals of %(currency)s.") % {"currency": self.currency}
            ) from None


@member_required(Area.BILLING)
@require_http_methods(["GET", "POST"])
def credit(request: MemberRequest) -> HttpResponse:
    """The account's credit: balance per currency, its history, and adding funds."""
    membership = request.membership
    account = membership.account
    form = FundsForm(request.POST if request.method == "POST" else None, currency=account.currency)
    status = 200
    if request.method == "POST":
        if not membership.can_change:
            raise Http404
        if form.is_valid():
            try:
                invoice = funds_invoice_create(
                    account=account, amount=form.cleaned_data["amount"], as_of=_as_of(), by=request.user
                )
            except (PaymentsError, BillingError) as refused:
                form.add_error("amount", refusal_message(refused))
            else:
                return redirect("portal:invoice-pay", invoice.display_number)
        status = 400
    page = Paginator(credit_entries_visible_to(membership=membership), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "balances": credit_balances(account=account),
        "page": page,
        "entries": [
            {
                "entry": entry,
                "amount": Money.from_minor(entry.amount_minor, entry.currency),
                "invoice_url": invoice_url(entry.invoice) if entry.invoice else None,
            }
            for entry in page.object_list
        ],
        "form": form,
        "may_pay": membership.can_change,
        "open_invoices": len(invoices_payable_by(membership=membership)),
        "active_nav": "billing",
        "billing_tab": "credit",
    }
    return render(request, "portal/payments/credit.html", context, status=status)


# --- Saved cards and automatic payment ------------------------------------------------------


class PreferenceForm(forms.Form):
    apply_credit = forms.BooleanField(
        label=gettext_lazy("Pay new invoices from my account credit"),
        required=False,
        help_text=gettext_lazy("As far as the credit goes, as soon as each invoice is issued."),
    )
    autopay = forms.BooleanField(
        label=gettext_lazy("Automatic payment"),
        required=False,
        help_text=gettext_lazy("We charge your default card for each new invoice (what credit does not cover)."),
    )


def _method_rows(request: MemberRequest) -> list[dict[str, Any]]:
    today = _as_of()
    return [
        {
            "method": method,
            "expired": method.expired_on(today),
            "problem": CARD_PROBLEMS_TEXT.get(method.failure_code, "") if method.failure_code else "",
        }
        for method in methods_visible_to(membership=request.membership)
    ]


CARD_PROBLEMS_TEXT = {
    "expired_card": gettext_lazy("The last charge failed: the card has expired."),
    "card_declined": gettext_lazy("The last charge failed: the card was declined."),
    "authentication_required": gettext_lazy("The last charge failed: your bank wants you present to approve charges."),
    "no_such_card": gettext_lazy("The last charge failed: the card is no longer known to the card processor."),
}


@member_required(Area.BILLING)
@require_http_methods(["GET", "POST"])
def payment_methods(request: MemberRequest) -> HttpResponse:
    """Saved cards (default, expired or refused ones flagged), adding one, and whether new
    invoices are paid automatically from credit and by card."""
    membership = request.membership
    account = membership.account
    preference = payment_preference_of(account=account)
    form = PreferenceForm(
        request.POST if request.method == "POST" else None,
        initial={"apply_credit": preference.apply_credit, "autopay": preference.autopay},
    )
    if request.method == "POST":
        if not membership.can_change:
            raise Http404
        if form.is_valid():
            payment_preference_set(
                account=account,
                apply_credit=form.cleaned_data["apply_credit"],
                autopay=form.cleaned_data["autopay"],
                by=request.user,
            )
            messages.success(request, _("Your payment preferences are saved."))
            return redirect("portal:payment-methods")
    rows = _method_rows(request)
    default = next((row for row in rows if row["method"].is_default), None)
    usable_default = default is not None and not default["expired"] and not default["problem"]
    context = {
        "rows": rows,
        "form": form,
        "preference": preference,
        "needs_card": preference.autopay and not usable_default,
        "can_add": gateway_saving_methods(currency=account.currency) is not None,
        "may_change": membership.can_change,
        "active_nav": "billing",
        "billing_tab": "methods",
    }
    return render(request, "portal/payments/methods.html", context)


@member_required(Area.BILLING)
@require_POST
def payment_method_add(request: MemberRequest) -> HttpResponse:
    """Off to the card processor's page to give it a card to keep; back to the list after."""
    if not request.membership.can_change:
        raise Http404
    back = request.build_absolute_uri(reverse("portal:payment-methods"))
    account = request.membership.account
    gateway = gateway_saving_methods(currency=account.currency)
    try:
        if gateway is None:
            raise MethodUnavailable(gateway="")
        page = method_setup_begin(account=account, gateway=gateway.code, return_url=back)
    except (GatewayError, MethodUnavailable) as refused:
        messages.error(request, refusal_message(refused))
        return redirect("portal:payment-methods")
    return HttpResponseRedirect(page)


def _method_action(request: MemberRequest, pk: int) -> Any:
    if not request.membership.can_change:
        raise Http404
    return get_object_or_404(methods_visible_to(membership=request.membership), pk=pk)


@member_required(Area.BILLING)
@require_POST
def payment_method_default(request: MemberRequest, pk: int) -> HttpResponse:
    method = _method_action(request, pk)
    try:
        method_set_default(account=request.membership.account, method=method, by=request.user)
    except PaymentsError as refused:
        messages.error(request, refusal_message(refused))
    else:
        messages.success(request, _("%(card)s is now your default card.") % {"card": method})
    return redirect("portal:payment-methods")


@member_required(Area.BILLING)
@require_POST
def payment_method_remove(request: MemberRequest, pk: int) -> HttpResponse:
    method = _method_action(request, pk)
    try:
        method_remove(account=request.membership.account, method=method, by=request.user, as_of=_as_of())
    except PaymentsError as refused:
        messages.error(request, refusal_message(refused))
    else:
        messages.success(request, _("%(card)s was removed.") % {"card": method})
    return redirect("portal:payment-methods")


# --- Receipts -------------------------------------------------------------------------------


@member_required(Area.BILLING)
@require_safe
def payment_receipt_page(request: MemberRequest, public_id: str) -> HttpResponse:
    """The printable receipt of a payment that received money: amount, method, date, the
    invoices it paid and any refunds. Another account's payment, or one that received
    nothing, is a 404."""
    try:
        wanted = uuid.UUID(public_id)
    except ValueError:
        raise Http404 from None
    payment = get_object_or_404(
        payments_visible_to(membership=request.membership).filter(
            status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED]
        ),
        public_id=wanted,
    )
    receipt = payment_receipt(payment=payment)
    refunds = [
        {
            "refund": refund,
            "amount": Money.from_minor(refund.amount_minor, refund.currency),
        }
        for refund in receipt.refunds
    ]
    context = {
        "receipt": receipt,
        "payment": payment,
        "rows": [{"line": line, "url": invoice_url(line.invoice)} for line in receipt.lines],
        "refunds": refunds,
        "seller": seller_current(),
        "active_nav": "billing",
    }
    return render(request, "portal/payments/receipt.html", context)


urlpatterns: list[URLPattern] = [
    path("billing/methods/", payment_methods, name="payment-methods"),
    path("billing/methods/add/", payment_method_add, name="payment-method-add"),
    path("billing/methods/<int:pk>/default/", payment_method_default, name="payment-method-default"),
    path("billing/methods/<int:pk>/remove/", payment_method_remove, name="payment-method-remove"),
    path("billing/invoices/<str:number>/pay/", invoice_pay, name="invoice-pay"),
    path("billing/pay/", pay, name="pay"),
    path("billing/payments/", payments_list, name="payments"),
    # A str, not a uuid converter: anything that is not one of this account's payments is a 404.
    path("billing/payments/<str:public_id>/", payment_detail, name="payment"),
    path("billing/credit/", credit, name="credit"),
    path("billing/payments/<str:public_id>/receipt/", payment_receipt_page, name="payment-receipt"),
]
