"""Payments and account credit.

Rules held here (DESIGN.md, "Money" and "Idempotency and concurrency"):
- An account's credit is the sum of its append-only `CreditEntry` rows, per currency; no
  column holds a balance. Applying credit locks the account first, so two requests cannot
  spend the same credit.
- A payment is one attempt with one gateway. Its status is the `to_status` of its latest
  `PaymentEvent`, written in the transaction that appends the event; what it paid is in
  billing's `Settlement` rows (reference "payment:<id>") and any excess in one credit entry.
- One payment per (gateway, gateway transaction id) and one processed webhook per
  (gateway, event id), enforced by unique constraints: a duplicate delivery inserts
  nothing and applies nothing.
- Money that does not match what was asked for is never applied by a machine: it becomes a
  `ReconciliationItem` that staff resolve in the back office.
- A `Refund` gives back part or all of a payment (`payments.refunds`); what it gave back is the
  payment's "refunded" events, never a column that code adds to.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sportello.core.models import AppendOnlyModel, TimestampedModel
from sportello.core.tenancy import AccountOwnedQuerySet
from sportello.services.models import AccountOwnedAppendOnlyManager

# --- Account credit -------------------------------------------------------------------------


class CreditKind(models.TextChoices):
    FUNDS = "funds", _("Funds added")
    OVERPAYMENT = "overpayment", _("Overpayment")
    REFUND = "refund", _("Refund to credit")
    APPLIED = "applied", _("Applied to an invoice")
    ADJUSTMENT = "adjustment", _("Adjustment")


class CreditEntry(AppendOnlyModel):
    """One movement of an account's credit in one currency: positive adds, negative spends."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="credit_entries", verbose_name=_("account")
    )
    currency = models.CharField(_("currency"), max_length=3)
    # Signed: funds, overpayments and refunds add (> 0), applying to an invoice spends (< 0).
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    kind = models.CharField(_("type"), max_length=16, choices=CreditKind.choices)
    # The invoice it paid (applied) or whose payment added it (funds).
    invoice = models.ForeignKey(
        "billing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_entries",
        verbose_name=_("invoice"),
    )
    # The payment whose excess it is (overpayment) or that was refunded to credit.
    payment = models.ForeignKey(
        "payments.Payment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_entries",
        verbose_name=_("payment"),
    )
    # For entries that must exist at most once ("funds:<invoice id>", "overpayment:<payment id>"):
    # the unique key a retried or concurrent writer collides on.
    once_key = models.CharField(_("uniqueness key"), max_length=120, blank=True)
    # Why staff adjusted, or any other remark shown in the history.
    note = models.CharField(_("note"), max_length=300, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("when"))

    objects: ClassVar[AccountOwnedAppendOnlyManager] = AccountOwnedAppendOnlyManager()

    class Meta:
        verbose_name = _("credit entry")
        verbose_name_plural = _("account credit ledger")
        ordering = ["account", "at", "id"]
        indexes = [models.Index(fields=["account", "currency"])]
        constraints = [
            models.UniqueConstraint(fields=["once_key"], condition=~Q(once_key=""), name="credit_entry_once"),
            models.CheckConstraint(
                condition=(Q(kind=CreditKind.APPLIED) & Q(amount_minor__lt=0))
                | (Q(kind__in=[CreditKind.FUNDS, CreditKind.OVERPAYMENT, CreditKind.REFUND]) & Q(amount_minor__gt=0))
                | (Q(kind=CreditKind.ADJUSTMENT) & ~Q(amount_minor=0)),
                name="credit_entry_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.amount_minor} {self.currency}"


# --- Payments -------------------------------------------------------------------------------


class PaymentStatus(models.TextChoices):
    INITIATED = "initiated", _("Started")
    REQUIRES_ACTION = "requires_action", _("Needs confirmation")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    REFUNDED = "refunded", _("Refunded")


class PaymentEventKind(models.TextChoices):
    INITIATED = "initiated", _("Started")
    REQUIRES_ACTION = "requires_action", _("Confirmation asked")
    SUCCEEDED = "succeeded", _("Money received")
    FAILED = "failed", _("Failed")
    REFUNDED = "refunded", _("Refunded")


PS = PaymentStatus
# event -> statuses it may follow. A success may follow a failure: money that arrives late
# (a bank transfer after its payment was given up) is still money received, and is applied.
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentEventKind.REQUIRES_ACTION: frozenset({PS.INITIATED}),
    PaymentEventKind.SUCCEEDED: frozenset({PS.INITIATED, PS.REQUIRES_ACTION, PS.FAILED}),
    PaymentEventKind.FAILED: frozenset({PS.INITIATED, PS.REQUIRES_ACTION}),
    PaymentEventKind.REFUNDED: frozenset({PS.SUCCEEDED}),
}


class Gateway(models.TextChoices):
    TESTCARD = "testcard", _("Card (test processor)")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    STRIPE = "stripe", _("Card (Stripe)")
    PIX = "pix", _("PIX")


class Payment(TimestampedModel):
    """One attempt to collect money through one gateway, for the invoices of its allocation plan."""

    # What URLs carry: a random id, so payments cannot be enumerated.
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="payments", verbose_name=_("account")
    )
    gateway = models.CharField(_("gateway"), max_length=32, choices=Gateway.choices)
    # The gateway's id of this transaction (checkout session, PaymentIntent, transfer reference).
    # Empty until the gateway has answered the start.
    gateway_reference = models.CharField(_("gateway transaction id"), max_length=255, blank=True)
    amount_minor = models.BigIntegerField(_("amount asked (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    # Written only together with a PaymentEvent whose to_status it copies (payment_event_record).
    status = models.CharField(_("status"), max_length=16, choices=PaymentStatus.choices, default=PS.INITIATED)
    # As the customer sees it: "Card •••• 4242", "Bank transfer".
    method_label = models.CharField(_("method"), max_length=100, blank=True)
    # Where the customer continues: the gateway's hosted page.
    next_url = models.CharField(_("continue at"), max_length=500, blank=True)
    # What the customer must do to pay (bank transfer details), as shown when it started.
    instructions = models.JSONField(_("instructions"), default=dict, blank=True)
    # The gateway's code for the last failure ("card_declined", "insufficient_funds"...).
    failure_code = models.CharField(_("failure"), max_length=64, blank=True)
    # The business date it was started on.
    started_on = models.DateField(_("started on"))
    # Unique when set: one attempt per key ("autopay:<invoice id>:<date>", an API Idempotency-Key).
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, blank=True)
    # The saved method an off-session charge used (auto-pay).
    saved_method = models.ForeignKey(
        "payments.SavedPaymentMethod",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("saved method"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AccountOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "status"])]
        constraints = [
            # One payment per gateway transaction: a duplicate notification finds this row.
            models.UniqueConstraint(
                fields=["gateway", "gateway_reference"],
                condition=~Q(gateway_reference=""),
                name="payment_once_per_gateway_transaction",
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"], condition=~Q(idempotency_key=""), name="payment_once_per_idempotency_key"
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=PaymentStatus.values), name="payment_status_known"),
        ]

    def __str__(self) -> str:
        return f"{self.get_gateway_display()} {self.gateway_reference or self.public_id}"


class PaymentEvent(AppendOnlyModel):
    """One thing that happened to a payment; the latest one's `to_status` is its status."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events", verbose_name=_("payment"))
    kind = models.CharField(_("event"), max_length=16, choices=PaymentEventKind.choices)
    from_status = models.CharField(_("from"), max_length=16, choices=PaymentStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=16, choices=PaymentStatus.choices)
    # Money received (succeeded) or given back (refunded); 0 for the others.
    amount_minor = models.BigIntegerField(_("amount (minor units)"), default=0)
    # Who told us: "portal", "webhook", "gateway" (asked by us), "staff", "statement".
    source = models.CharField(_("source"), max_length=16)
    gateway_event_id = models.CharField(_("gateway event id"), max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("when"))
    data = models.JSONField(_("details"), default=dict, blank=True)

    objects: ClassVar[AccountOwnedAppendOnlyManager] = AccountOwnedAppendOnlyManager()

    class Meta:
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")
        ordering = ["payment", "at", "id"]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.kind}"


class PaymentAllocation(AppendOnlyModel):
    """The plan of a payment: which invoices it is for, and what each owed when it started.
    What was actually applied is in billing's Settlement rows (reference "payment:<id>")."""

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("payment")
    )
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, related_name="payment_allocations", verbose_name=_("invoice")
    )
    # The invoice's balance when the payment started.
    planned_minor = models.BigIntegerField(_("planned (minor units)"))

    class Meta:
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        ordering = ["payment", "id"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "invoice"], name="payment_allocation_once_per_invoice"),
            models.CheckConstraint(condition=Q(planned_minor__gt=0), name="payment_allocation_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} -> {self.invoice_id}"


class RefundDestination(models.TextChoices):
    GATEWAY = "gateway", _("Back to the payment method")
    CREDIT = "credit", _("To account credit")


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("In progress")
    SUCCEEDED = "succeeded", _("Refunded")
    FAILED = "failed", _("Failed")


class Refund(TimestampedModel):
    """Money of one payment given back by staff, to the payment method or to account credit.

    Written before the gateway is asked (pending), so the gateway's idempotency key comes from
    this row ("refund-<id>") and a failure leaves a failed row with nothing applied. What it
    gave back is in the payment's "refunded" event, the invoices' reversal settlements
    (reference "refund:<id>") and credit notes, and the credit ledger."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="refunds", verbose_name=_("account")
    )
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    destination = models.CharField(_("refunded to"), max_length=16, choices=RefundDestination.choices)
    status = models.CharField(_("status"), max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    reason = models.CharField(_("reason"), max_length=500)
    # Where the money came from, planned when it was asked: [{"source": "overpayment" | "invoice",
    # "invoice": id, "number": "...", "amount_minor": n}], the overpayment first, then invoices latest first.
    parts = models.JSONField(_("parts"), default=list, blank=True)
    # The gateway's id of the refund, once it answered.
    gateway_reference = models.CharField(_("gateway refund id"), max_length=255, blank=True)
    # The gateway's reason when it refused.
    failure_code = models.CharField(_("failure"), max_length=64, blank=True)
    # Unique when set: the staff form's token, so that a form sent twice refunds once.
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, blank=True)
    # The business date it was asked on (credit notes and settlements carry it).
    requested_on = models.DateField(_("requested on"))
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )

    objects = AccountOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["idempotency_key"], condition=~Q(idempotency_key=""), name="refund_once_per_idempotency_key"
            ),
            # One refund of a payment at a time while its gateway is asked: a second one waits
            # for the answer rather than refunding what the first may already have taken.
            models.UniqueConstraint(
                fields=["payment"], condition=Q(status="pending"), name="refund_one_pending_per_payment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} -{self.amount_minor} {self.currency} ({self.status})"


class ProcessedWebhook(models.Model):
    """A gateway notification that was accepted. Inserted first in the transaction that acts
    on it: a second delivery of the same event collides here and changes nothing. That second
    delivery is the gateway sending the event again (signed anew: answered 200, so it stops)
    or the very same signed request seen again, a replay (`delivery` matches: answered 409)."""

    gateway = models.CharField(_("gateway"), max_length=32, choices=Gateway.choices)
    event_id = models.CharField(_("event id"), max_length=255)
    # sha256 of the signature header it came with and its place in the notification
    # (`adapters.base.webhook_delivery_id`); "" for the rows kept from before it was recorded.
    delivery = models.CharField(_("delivery"), max_length=64, blank=True)
    event_type = models.CharField(_("event type"), max_length=64)
    received_at = models.DateTimeField(_("received"))
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="webhooks", verbose_name=_("payment")
    )
    # What it did: "applied", "ignored", "flagged", "unknown_payment".
    outcome = models.CharField(_("outcome"), max_length=32)

    class Meta:
        verbose_name = _("processed webhook")
        verbose_name_plural = _("processed webhooks")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="processed_webhook_once_per_event"),
            models.UniqueConstraint(
                fields=["gateway", "delivery"], condition=~Q(delivery=""), name="processed_webhook_once_per_delivery"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event_id}"


class ReconciliationKind(models.TextChoices):
    AMOUNT_MISMATCH = "amount_mismatch", _("Amount does not match")
    CURRENCY_MISMATCH = "currency_mismatch", _("Currency does not match")
    UNKNOWN_PAYMENT = "unknown_payment", _("Unknown payment")
    UNMATCHED_TRANSFER = "unmatched_transfer", _("Transfer without a matching payment")
    # The gateway gave the money back but the invoices could not be corrected as planned
    # (changed meanwhile): staff correct them by hand.
    REFUND_NOT_APPLIED = "refund_not_applied", _("Refund given, invoices not corrected")


class ReconciliationItem(TimestampedModel):
    """Money a machine would not apply on its own, waiting for staff (back office queue)."""

    kind = models.CharField(_("problem"), max_length=24, choices=ReconciliationKind.choices)
    gateway = models.CharField(_("gateway"), max_length=32, choices=Gateway.choices)
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reconciliation_items",
        verbose_name=_("payment"),
    )
    # The reference the money came with (gateway transaction id, transfer reference).
    reference = models.CharField(_("reference"), max_length=255, blank=True)
    amount_minor = models.BigIntegerField(_("amount received (minor units)"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(_("resolution"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("reconciliation item")
        verbose_name_plural = _("reconciliation queue")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["resolved_at", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


# --- Saved methods and auto-pay -------------------------------------------------------------


class SavedPaymentMethod(TimestampedModel):
    """A card (or mandate) the gateway keeps for the account, charged off-session by auto-pay.
    Sportello holds the gateway's token and what the customer needs to recognise it: never
    the card number."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="payment_methods", verbose_name=_("account")
    )
    gateway = models.CharField(_("gateway"), max_length=32, choices=Gateway.choices)
    token = models.CharField(_("gateway token"), max_length=255)
    brand = models.CharField(_("brand"), max_length=20)
    last4 = models.CharField(_("last four digits"), max_length=4)
    exp_month = models.PositiveSmallIntegerField(_("expiry month"))
    exp_year = models.PositiveSmallIntegerField(_("expiry year"))
    # The one auto-pay charges; at most one per account among those not removed.
    is_default = models.BooleanField(_("default"), default=False)
    # The reason of the last refused off-session charge ("expired_card", "card_declined"...):
    # the customer is asked to replace the card. Cleared by a successful charge.
    failure_code = models.CharField(_("last failure"), max_length=64, blank=True)
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    objects = AccountOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("saved payment method")
        verbose_name_plural = _("saved payment methods")
        ordering = ["-is_default", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "token"], name="saved_method_once_per_token"),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(is_default=True, removed_at__isnull=True),
                name="saved_method_one_default_per_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"

    def expired_on(self, day: dt.date) -> bool:
        """Past its expiry month on `day` (a card works until the end of the month printed)."""
        return (self.exp_year, self.exp_month) < (day.year, day.month)


class PaymentPreference(TimestampedModel):
    """How an account wants new invoices paid. An account without a row has the defaults."""

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.PROTECT, related_name="payment_preference", verbose_name=_("account")
    )
    # Pay each new invoice from the account's credit, as far as it goes, when it is issued.
    apply_credit = models.BooleanField(_("pay new invoices from credit"), default=True)
    # Charge the default saved method for what credit does not cover, when an invoice is issued.
    autopay = models.BooleanField(_("automatic payment"), default=False)

    class Meta:
        verbose_name = _("payment preference")
        verbose_name_plural = _("payment preferences")

    def __str__(self) -> str:
        return str(self.account)


class ServicePaymentPreference(TimestampedModel):
    """Auto-pay for one service, where the customer set it apart from the account's
    (`PaymentPreference.autopay`): a service without a row follows the account.

    Which invoices auto-pay charges (`payments.services.invoice_autopay_allowed`): with the
    account's auto-pay on, every invoice except one whose lines bill services and all of
    those services have auto-pay off here. A grouped renewal invoice that bills services with
    auto-pay on and off is one document with one balance: it is charged in full.
    """

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    service = models.OneToOneField(
        "services.Service", on_delete=models.PROTECT, related_name="payment_preference", verbose_name=_("service")
    )
    autopay = models.BooleanField(_("automatic payment"), default=True)

    objects = AccountOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("service payment preference")
        verbose_name_plural = _("service payment preferences")

    def __str__(self) -> str:
        return str(self.service_id)


class AutopayRetryOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", _("Paid")
    FAILED = "failed", _("Failed")
    # Claimed by a run that has not recorded the charge's answer (yet, or ever if it died).
    STARTED = "started", _("Started")
    # Nothing charged: no default card that works, or nothing left to pay.
    SKIPPED = "skipped", _("Nothing charged")


class AutopayRetry(models.Model):
    """A retry of a failed automatic charge, made by the billing run of `retried_on`.

    Day 0 is the business date of the invoice's first failed automatic charge; the retries
    fall on the days after it that PAYMENTS_AUTOPAY_RETRY_DAYS lists. The row is inserted
    before the card is charged and is unique per (invoice, date): a second run of the same
    date, at the same time or later, collides here and charges nothing.
    """

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, related_name="autopay_retries", verbose_name=_("invoice")
    )
    # The date of the first failed automatic charge (day 0).
    first_failed_on = models.DateField(_("first failure"))
    # Days after the first failure: one of PAYMENTS_AUTOPAY_RETRY_DAYS.
    day = models.PositiveSmallIntegerField(_("day of the retry"))
    retried_on = models.DateField(_("retried on"))
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("payment")
    )
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=AutopayRetryOutcome.choices, default=AutopayRetryOutcome.STARTED
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = AccountOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("auto-pay retry")
        verbose_name_plural = _("auto-pay retries")
        ordering = ["invoice", "retried_on"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "retried_on"], name="autopay_retry_once_per_invoice_and_day")
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} +{self.day}"


# --- Bank statements ------------------------------------------------------------------------


class StatementLineOutcome(models.TextChoices):
    MATCHED = "matched", _("Payment registered")
    ALREADY_REGISTERED = "already_registered", _("Payment already registered")
    MISMATCH = "mismatch", _("Reference found, amount differs")
    UNMATCHED = "unmatched", _("No matching payment")


class BankStatementLine(models.Model):
    """One credit line of an imported bank statement. Its fingerprint is unique, so importing
    the same statement (or an overlapping one) again registers nothing twice."""

    # sha256 of the line's date, amount, currency, reference, payer, bank id and the number of
    # identical lines before it in the same file.
    fingerprint = models.CharField(_("fingerprint"), max_length=64, unique=True)
    booked_on = models.DateField(_("booked on"))
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    reference = models.CharField(_("reference"), max_length=255, blank=True)
    payer = models.CharField(_("payer"), max_length=200, blank=True)
    bank_transaction_id = models.CharField(_("bank transaction id"), max_length=100, blank=True)
    outcome = models.CharField(_("outcome"), max_length=24, choices=StatementLineOutcome.choices)
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="statement_lines",
        verbose_name=_("payment"),
    )
    statement_name = models.CharField(_("statement file"), max_length=200, blank=True)
    imported_at = models.DateTimeField(_("imported"))
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("bank statement line")
        verbose_name_plural = _("bank statement lines")
        ordering = ["-booked_on", "-id"]

    def __str__(self) -> str:
        return f"{self.booked_on} {self.amount_minor} {self.currency} {self.reference}"


# --- The simulated card processor -----------------------------------------------------------
#
# `testcard` stands in for a card provider's hosted payment page: these rows are the
# provider's side of the conversation, kept apart from Sportello's own Payment rows, which
# learn about outcomes only through the signed notification (or by asking the provider).
# They never hold a card number: a random token and the last four digits.


class TestcardStatus(models.TextChoices):
    OPEN = "open", _("Waiting for the card")
    REQUIRES_ACTION = "requires_action", _("Waiting for authentication")
    SUCCEEDED = "succeeded", _("Paid")
    FAILED = "failed", _("Failed")


class TestcardMode(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    SETUP = "setup", _("Save a card")
    CHARGE = "charge", _("Off-session charge")


class TestcardCheckout(TimestampedModel):
    """A checkout session of the simulated card processor (a payment, saving a card, or an
    off-session charge of a saved card)."""

    __test__ = False  # not a test class, whatever its name says to pytest

    token = models.CharField(_("session"), max_length=64, unique=True)
    mode = models.CharField(_("mode"), max_length=8, choices=TestcardMode.choices, default=TestcardMode.PAYMENT)
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    description = models.CharField(_("description"), max_length=300)
    # The merchant's own id of the payment, echoed in notifications.
    merchant_reference = models.CharField(_("merchant reference"), max_length=100)
    # Where the customer's browser goes back to when the session ends.
    return_url = models.CharField(_("return URL"), max_length=500)
    status = models.CharField(_("status"), max_length=16, choices=TestcardStatus.choices, default=TestcardStatus.OPEN)
    failure_code = models.CharField(_("failure"), max_length=64, blank=True)
    card_brand = models.CharField(_("card brand"), max_length=20, blank=True)
    card_last4 = models.CharField(_("last four digits"), max_length=4, blank=True)
    # The processor's token for the card, never the number.
    card_token = models.CharField(_("card token"), max_length=64, blank=True)
    # Notifications sent so far: each gets its own event id.
    events_sent = models.PositiveIntegerField(_("notifications sent"), default=0)
    refunded_minor = models.BigIntegerField(_("refunded (minor units)"), default=0)

    class Meta:
        verbose_name = _("test card checkout")
        verbose_name_plural = _("test card checkouts")

    def __str__(self) -> str:
        return self.token


class TestcardCard(models.Model):
    """A card the simulated processor keeps for off-session charges: its token, what the
    customer recognises, and how the test number it came from behaves. Never the number."""

    __test__ = False  # not a test class, whatever its name says to pytest

    token = models.CharField(_("card token"), max_length=64, unique=True)
    brand = models.CharField(_("brand"), max_length=20)
    last4 = models.CharField(_("last four digits"), max_length=4)
    exp_month = models.PositiveSmallIntegerField(_("expiry month"))
    exp_year = models.PositiveSmallIntegerField(_("expiry year"))
    # What charging it does: "succeeded", "card_declined", "insufficient_funds", "requires_action".
    behaviour = models.CharField(_("behaviour"), max_length=32)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("test card")
        verbose_name_plural = _("test cards")

    def __str__(self) -> str:
        return f"{self.brand} {self.last4}"
