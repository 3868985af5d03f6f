"""Back office for payments and account credit.

Payments, their events, processed webhooks and the credit ledger are records: staff read
them here and never edit them. What staff may do goes through the payments services, each
audited: register a bank transfer or a PIX that arrived (with the amount that arrived), import a
bank statement, adjust an account's credit with a reason, and close items of the
reconciliation queue (mismatched notifications, unknown payments, unmatched transfers).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Account
from sportello.billing.errors import BillingError, CreditAboveInvoice, CreditAmountUnreachable
from sportello.billing.models import Settlement, SettlementKind
from sportello.core.formatting import money_display
from sportello.core.money import CurrencyError, Money, is_currency
from sportello.core.time import today_utc
from sportello.payments.errors import (
    GatewayError,
    InvalidAmount,
    PaymentsError,
    RefundAboveRefundable,
    RefundRefused,
    TransactionIdInvalid,
)
from sportello.payments.models import (
    AutopayRetry,
    BankStatementLine,
    CreditEntry,
    Gateway,
    Payment,
    PaymentAllocation,
    PaymentEvent,
    PaymentPreference,
    PaymentStatus,
    ProcessedWebhook,
    ReconciliationItem,
    Refund,
    RefundDestination,
    SavedPaymentMethod,
    ServicePaymentPreference,
)
from sportello.payments.refunds import payment_refund, payment_refundable_minor, refund_credit_note_numbers
from sportello.payments.selectors import credit_balances, payment_received_minor
from sportello.payments.services import (
    credit_adjust,
    pix_register,
    reconciliation_resolve,
    statement_import,
    transfer_register,
)


class _ViewOnly:
    """Rows staff may look at but never add, change or delete here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _money(minor: int | None, currency: str) -> str:
    if minor is None or not currency:
        return "—"
    try:
        return money_display(Money.from_minor(minor, currency))
    except CurrencyError:
        return f"{minor} {currency}"


# --- Payments -------------------------------------------------------------------------------


class PaymentEventInline(_ViewOnly, admin.TabularInline):
    model = PaymentEvent
    extra = 0
    fields = readonly_fields = (
        "at",
        "kind",
        "from_status",
        "to_status",
        "amount_minor",
        "source",
        "gateway_event_id",
        "actor",
        "data",
    )
    ordering = ["at", "id"]


class PaymentAllocationInline(_ViewOnly, admin.TabularInline):
    model = PaymentAllocation
    extra = 0
    fields = readonly_fields = ("invoice", "planned_minor")


class RefundInline(_ViewOnly, admin.TabularInline):
    model = Refund
    extra = 0
    fk_name = "payment"
    verbose_name_plural = _("refunds")
    fields = readonly_fields = (
        "created_at",
        "refunded",
        "destination",
        "status",
        "reason",
        "credit_notes",
        "gateway_reference",
        "failure_code",
        "by",
    )
    ordering = ["created_at", "id"]

    @admin.display(description=_("amount"))
    def refunded(self, refund: Refund) -> str:
        return _money(refund.amount_minor, refund.currency)

    @admin.display(description=_("credit notes"))
    def credit_notes(self, refund: Refund) -> str:
        return ", ".join(refund_credit_note_numbers(refund=refund)) or "—"


class RefundForm(forms.Form):
    """What a refund needs; the amount defaults to all that can still be refunded."""

    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=3, min_value=Decimal("0"))
    destination = forms.ChoiceField(
        label=pgettext_lazy("refund", "Refund to"), choices=RefundDestination.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        help_text=_("Printed on the credit note and told to the customer."),
    )
    # A token per form shown: a form sent twice refunds once.
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)


def refund_refusal_message(error: PaymentsError | BillingError) -> str:
    """A sentence for staff about a refused refund (nothing was changed)."""
    if isinstance(error, RefundAboveRefundable):
        return gettext("At most %(amount)s can be refunded this way.") % {
            "amount": _money(error.refundable_minor, error.currency)
        }
    if isinstance(error, RefundRefused):
        return {
            "not_succeeded": gettext("Only a payment that received money can be refunded."),
            "in_progress": gettext("Another refund of this payment is in progress: wait for it to finish."),
            "gateway_cannot_refund": gettext(
                "This payment method cannot give money back: refund to account credit, or send it by hand."
            ),
            "reason_required": gettext("Say why the payment is refunded."),
            "already_credit": gettext("What is left of this payment is already account credit."),
            "destination": gettext("Choose where the money goes."),
        }.get(error.reason, gettext("The refund was refused."))
    if isinstance(error, InvalidAmount):
        if error.reason == "currency":
            return gettext("The amount must be in the payment's currency.")
        return gettext("Type an amount above zero.")
    if isinstance(error, CreditAmountUnreachable):
        return gettext(
            "No credit note can total exactly that amount with these tax rates: refund %(lower)s or %(upper)s."
        ) % {"lower": _money(error.lower_minor, error.currency), "upper": _money(error.upper_minor, error.currency)}
    if isinstance(error, CreditAboveInvoice):
        return gettext("That is more than can still be credited on the invoices paid (%(amount)s).") % {
            "amount": _money(error.creditable_minor, error.currency)
        }
    if isinstance(error, GatewayError) and error.retryable:
        return gettext(
            "The payment service did not answer (%(reason)s). The refund stays in progress and is asked "
            "for again within the hour, under the same key: the money cannot leave twice."
        ) % {"reason": error.reason}
    if isinstance(error, GatewayError):
        return gettext(
            "The payment service refused the refund (%(reason)s); nothing was refunded. "
            "The failed attempt is listed under refunds."
        ) % {"reason": error.reason}
    return gettext("The refund was refused (%(reason)s).") % {"reason": error}


class TransferActionForm(ActionForm):
    """The list's action bar, with what registering a transfer needs."""

    amount = forms.DecimalField(label=_("Amount received"), required=False, max_digits=14, decimal_places=3)
    received_on = forms.DateField(label=_("Received on (YYYY-MM-DD)"), required=False)
    note = forms.CharField(label=_("Note"), required=False, max_length=300)
    end_to_end_id = forms.CharField(label=_("PIX endToEndId"), required=False, max_length=40)


class AwaitingTransferFilter(admin.SimpleListFilter):
    """Bank transfers the customer was told to send and nobody has registered yet."""

    title = _("bank transfers")
    parameter_name = "transfers"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("awaiting", _("Awaiting registration"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "awaiting":
            return queryset.filter(gateway=Gateway.BANK_TRANSFER, status=PaymentStatus.INITIATED)
        return queryset


class AwaitingPixFilter(admin.SimpleListFilter):
    """PIX codes shown to customers that neither the PSP's notification nor staff have confirmed."""

    title = _("PIX")
    parameter_name = "pix"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("awaiting", _("Awaiting confirmation"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "awaiting":
            return queryset.filter(gateway=Gateway.PIX, status=PaymentStatus.INITIATED)
        return queryset


@admin.register(Payment)
class PaymentAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["created_at", "account", "gateway", "gateway_reference", "amount", "status", "method_label"]
    list_filter = [AwaitingTransferFilter, AwaitingPixFilter, "status", "gateway"]
    search_fields = ["gateway_reference", "account__name", "account__reference", "public_id"]
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    readonly_fields = ["applied", "refund_operations"]
    inlines = [PaymentAllocationInline, PaymentEventInline, RefundInline]
    action_form = TransferActionForm
    actions = ["register_transfer", "register_pix"]

    @admin.display(description=_("amount"))
    def amount(self, payment: Payment) -> str:
        return _money(payment.amount_minor, payment.currency)

    @admin.display(description=_("applied to invoices"))
    def applied(self, payment: Payment) -> str:
        settlements = Settlement.objects.filter(kind=SettlementKind.PAYMENT, reference=f"payment:{payment.pk}")
        lines = [
            f"{s.invoice} {_money(s.amount_minor, payment.currency)}" for s in settlements.select_related("invoice")
        ]
        return ", ".join(lines) or "—"

    def has_register_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("payments.change_payment"))

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("payments.add_refund"))

    @admin.display(description=_("refund"))
    def refund_operations(self, payment: Payment) -> str:
        if payment.status != PaymentStatus.SUCCEEDED:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:payments_payment_refund", args=[payment.pk]), _("Refund")
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<int:pk>/refund/", self.admin_site.admin_view(self.refund_view), name="payments_payment_refund"),
            *super().get_urls(),
        ]

    def refund_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Refund all or part of a payment (`payments.refunds.payment_refund`), with the
        history of its refunds."""
        if not self.has_refund_permission(request):
            raise PermissionDenied
        payment = get_object_or_404(Payment.objects.select_related("account"), pk=pk)
        refundable = {
            destination: payment_refundable_minor(payment=payment, destination=destination)
            for destination in RefundDestination.values
        }
        default = RefundDestination.GATEWAY if refundable[RefundDestination.GATEWAY] else RefundDestination.CREDIT
        initial = {
            "amount": Money.from_minor(refundable[default], payment.currency).amount,
            "destination": default,
            "token": uuid.uuid4().hex,
        }
        form = RefundForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                amount = Money(form.cleaned_data["amount"], payment.currency)
            except ValueError:
                form.add_error("amount", _("Too many decimals for this currency."))
            else:
                try:
                    refund = payment_refund(
                        payment=payment,
                        amount=amount,
                        destination=form.cleaned_data["destination"],
                        reason=form.cleaned_data["reason"],
                        by=request.user,  # type: ignore[arg-type]
                        as_of=today_utc(),
                        idempotency_key=f"staff:{form.cleaned_data['token']}",
                    )
                except (PaymentsError, BillingError) as error:
                    form.add_error(None, refund_refusal_message(error))
                else:
                    self.message_user(
                        request,
                        gettext("%(amount)s refunded (%(destination)s).")
                        % {
                            "amount": _money(refund.amount_minor, refund.currency),
                            "destination": refund.get_destination_display(),
                        },
                    )
                    return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": payment,
            "title": gettext("Refund %(payment)s") % {"payment": payment},
            "form": form,
            "received": _money(payment_received_minor(payment=payment), payment.currency),
            "refundable": [
                (RefundDestination(destination).label, _money(minor, payment.currency))
                for destination, minor in refundable.items()
            ],
            "refunds": [
                (refund, _money(refund.amount_minor, refund.currency))
                for refund in payment.refunds.order_by("created_at", "id")
            ],
        }
        return TemplateResponse(request, "admin/payments/payment/refund.html", context)

    @admin.action(description=_("Register the bank transfer as received"), permissions=["register"])
    def register_transfer(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        if queryset.count() != 1:
            self.message_user(request, _("Register one transfer at a time."), messages.ERROR)
            return
        payment = queryset.get()
        try:
            amount = Money(Decimal(request.POST.get("amount") or ""), payment.currency)
            received_on = dt.date.fromisoformat(str(request.POST.get("received_on") or today_utc().isoformat()))
        except (ArithmeticError, ValueError):
            self.message_user(
                request, _("Type the amount received (in the payment's currency) and the date."), messages.ERROR
            )
            return
        try:
            transfer_register(
                payment=payment,
                amount=amount,
                received_on=received_on,
                by=request.user,  # type: ignore[arg-type]
                note=str(request.POST.get("note", "")),
            )
        except PaymentsError as error:
            self.message_user(request, _("Not registered: %(reason)s") % {"reason": error}, messages.ERROR)
            return
        self.message_user(request, _("Transfer %(reference)s registered.") % {"reference": payment.gateway_reference})

    @admin.action(description=_("Register the PIX payment as received"), permissions=["register"])
    def register_pix(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        """From the PSP's statement: the endToEndId of the PIX, and what arrived (empty: the
        amount asked)."""
        if queryset.count() != 1:
            self.message_user(request, _("Register one PIX payment at a time."), messages.ERROR)
            return
        payment = queryset.get()
        try:
            typed = str(request.POST.get("amount") or "").strip()
            amount = Money(Decimal(typed), payment.currency) if typed else None
            received_on = dt.date.fromisoformat(str(request.POST.get("received_on") or today_utc().isoformat()))
        except (ArithmeticError, ValueError):
            self.message_user(
                request, _("Type the amount received (in the payment's currency) and the date."), messages.ERROR
            )
            return
        try:
            pix_register(
                payment=payment,
                end_to_end_id=str(request.POST.get("end_to_end_id", "")),
                amount=amount or Money.from_minor(payment.amount_minor, payment.currency),
                received_on=received_on,
                by=request.user,  # type: ignore[arg-type]
                note=str(request.POST.get("note", "")),
            )
        except TransactionIdInvalid as error:
            message = (
                _("Not registered: this endToEndId is already registered.")
                if error.reason == "in_use"
                else _("Not registered: type the PIX endToEndId (E followed by 31 letters and digits).")
            )
            self.message_user(request, message, messages.ERROR)
            return
        except PaymentsError as error:
            self.message_user(request, _("Not registered: %(reason)s") % {"reason": error}, messages.ERROR)
            return
        self.message_user(request, _("PIX %(reference)s registered.") % {"reference": payment.gateway_reference})


@admin.register(PaymentEvent)
class PaymentEventAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["at", "payment", "kind", "from_status", "to_status", "amount_minor", "source", "actor"]
    list_filter = ["kind", "source"]
    search_fields = ["payment__gateway_reference", "gateway_event_id", "account__reference"]
    date_hierarchy = "at"


@admin.register(ProcessedWebhook)
class ProcessedWebhookAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["received_at", "gateway", "event_id", "event_type", "outcome", "payment"]
    list_filter = ["gateway", "outcome", "event_type"]
    search_fields = ["event_id"]
    date_hierarchy = "received_at"


# --- The reconciliation queue ---------------------------------------------------------------


class ResolutionActionForm(ActionForm):
    resolution = forms.CharField(label=_("What was done"), required=False, max_length=300)


class OpenFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("open", _("Open")), ("resolved", _("Resolved"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["created_at", "kind", "gateway", "account", "payment", "reference", "received", "resolved_at"]
    list_filter = [OpenFilter, "kind", "gateway"]
    search_fields = ["reference", "account__name", "account__reference"]
    list_select_related = ["account", "payment"]
    action_form = ResolutionActionForm
    actions = ["resolve"]

    @admin.display(description=_("received"))
    def received(self, item: ReconciliationItem) -> str:
        return _money(item.amount_minor, item.currency)

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("payments.change_reconciliationitem"))

    @admin.action(description=_("Mark as resolved"), permissions=["resolve"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[ReconciliationItem]) -> None:
        resolution = str(request.POST.get("resolution", "")).strip()
        if not resolution:
            self.message_user(request, _("Type what was done next to the action."), messages.ERROR)
            return
        for item in queryset.order_by("pk"):
            reconciliation_resolve(item=item, resolution=resolution, by=request.user)  # type: ignore[arg-type]
        count = queryset.count()
        self.message_user(
            request, ngettext("%(count)d item resolved.", "%(count)d items resolved.", count) % {"count": count}
        )


# --- Account credit -------------------------------------------------------------------------


class CreditAdjustmentForm(forms.ModelForm):
    """Staff's manual adjustment: a signed amount in major units, with the reason."""

    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=14,
        decimal_places=3,
        help_text=_("Positive adds credit, negative takes it back (never below a zero balance)."),
    )

    class Meta:
        model = CreditEntry
        fields = ["account", "currency", "note"]

    def clean_currency(self) -> str:
        currency = str(self.cleaned_data["currency"]).upper()
        if not is_currency(currency):
            raise forms.ValidationError(_("Not an ISO 4217 currency code."))
        return currency

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not str(data.get("note", "")).strip():
            self.add_error("note", _("Say why the credit changes."))
        if data.get("amount") is not None and data.get("currency"):
            try:
                data["money"] = Money(data["amount"], data["currency"])
            except ValueError:
                self.add_error("amount", _("Too many decimals for this currency."))
            else:
                if not data["money"]:
                    self.add_error("amount", _("Type an amount other than zero."))
        return data


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "account", "kind", "signed_amount", "invoice", "payment", "note", "by"]
    list_filter = ["kind", "currency"]
    search_fields = ["account__name", "account__reference", "note"]
    list_select_related = ["account", "invoice", "payment", "by"]
    date_hierarchy = "at"
    form = CreditAdjustmentForm
    change_list_template = "admin/payments/creditentry/change_list.html"

    @admin.display(description=_("amount"))
    def signed_amount(self, entry: CreditEntry) -> str:
        return _money(entry.amount_minor, entry.currency)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Entries are never edited; the add form is the manual adjustment.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is not None:
            kwargs["fields"] = []
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return [
                "account",
                "currency",
                "signed_amount",
                "kind",
                "invoice",
                "payment",
                "once_key",
                "note",
                "by",
                "at",
            ]
        return []

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except PaymentsError as error:
            messages.error(request, _("Not saved: %(reason)s") % {"reason": error})
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: CreditEntry, form: ModelForm, change: bool) -> None:
        entry = credit_adjust(
            account=form.cleaned_data["account"],
            amount=form.cleaned_data["money"],
            note=form.cleaned_data["note"],
            by=request.user,  # type: ignore[arg-type]
        )
        obj.pk = entry.pk
        obj._state.adding = False
        obj.amount_minor, obj.kind, obj.at = entry.amount_minor, entry.kind, entry.at

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Filtered to one account (?account__id__exact=N), the page shows its balances."""
        extra_context = extra_context or {}
        account_id = request.GET.get("account__id__exact", "")
        account = Account.objects.filter(pk=account_id).first() if account_id.isdigit() else None
        if account is not None:
            extra_context["credit_account"] = account
            extra_context["credit_balances"] = [money_display(balance) for balance in credit_balances(account=account)]
        return super().changelist_view(request, extra_context)


# --- Bank statements ------------------------------------------------------------------------


class StatementUploadForm(forms.Form):
    statement = forms.FileField(
        label=_("Bank statement (CSV)"),
        help_text=_(
            "Columns: date, amount, currency, reference, and optionally payer and id; comma or semicolon separated."
        ),
    )


@admin.register(BankStatementLine)
class BankStatementLineAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = [
        "booked_on",
        "received",
        "reference",
        "payer",
        "outcome",
        "payment",
        "statement_name",
        "imported_at",
    ]
    list_filter = ["outcome", "currency"]
    search_fields = ["reference", "payer", "bank_transaction_id"]
    date_hierarchy = "booked_on"
    change_list_template = "admin/payments/bankstatementline/change_list.html"

    @admin.display(description=_("amount"))
    def received(self, line: BankStatementLine) -> str:
        return _money(line.amount_minor, line.currency)

    def has_import_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("payments.add_bankstatementline"))

    def get_urls(self) -> list[URLPattern]:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="payments_bankstatementline_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a statement: matched transfers are registered, the rest listed for staff."""
        if not self.has_import_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = StatementUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["statement"]
            try:
                text = upload.read().decode("utf-8-sig")
                report = statement_import(text=text, name=upload.name, by=request.user)  # type: ignore[arg-type]
            except UnicodeDecodeError:
                form.add_error("statement", _("The file is not UTF-8 text."))
            except PaymentsError as error:
                form.add_error("statement", _("Nothing imported: %(reason)s") % {"reason": error})
            else:
                self.message_user(
                    request,
                    _(
                        "Imported %(lines)d lines: %(matched)d transfers registered, %(mismatch)d with another amount "
                        "and %(unmatched)d without a payment (both in the reconciliation queue), %(already)d already "
                        "registered; %(duplicates)d lines were imported before and %(skipped)d are not credits."
                    )
                    % {
                        "lines": len(report.lines),
                        "matched": report.count("matched"),
                        "mismatch": report.count("mismatch"),
                        "unmatched": report.count("unmatched"),
                        "already": report.count("already_registered"),
                        "duplicates": report.duplicates,
                        "skipped": report.skipped,
                    },
                )
                return HttpResponseRedirect(reverse("admin:payments_bankstatementline_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import a bank statement"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/payments/bankstatementline/import.html", context)


# --- Saved methods and preferences ----------------------------------------------------------


class NamedValuesFilter(admin.AllValuesFieldListFilter):
    """The field's values as filter links, the blank one named "None": a link without words
    says nothing to a screen reader (and is hard to hit)."""

    def choices(self, changelist: Any) -> Any:
        for choice in super().choices(changelist):
            display = str(choice["display"])
            if display == "" or display.startswith(" ("):
                choice["display"] = gettext("None") + display
            yield choice


@admin.register(SavedPaymentMethod)
class SavedPaymentMethodAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = [
        "account",
        "__str__",
        "exp_month",
        "exp_year",
        "is_default",
        "failure_code",
        "removed_at",
        "created_at",
    ]
    list_filter = ["gateway", "is_default", ("failure_code", NamedValuesFilter)]
    search_fields = ["account__name", "account__reference", "last4"]
    list_select_related = ["account"]
    exclude = ["token"]


@admin.register(PaymentPreference)
class PaymentPreferenceAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["account", "apply_credit", "autopay", "updated_at"]
    list_filter = ["apply_credit", "autopay"]
    search_fields = ["account__name", "account__reference"]


@admin.register(ServicePaymentPreference)
class ServicePaymentPreferenceAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["service", "account", "autopay", "updated_at"]
    list_filter = ["autopay"]
    search_fields = ["account__name", "account__reference"]
    list_select_related = ["account", "service__plan__product"]


@admin.register(AutopayRetry)
class AutopayRetryAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["invoice", "account", "first_failed_on", "day", "retried_on", "outcome", "payment"]
    list_filter = ["outcome", "retried_on"]
    search_fields = ["account__name", "account__reference", "invoice__number", "invoice__proforma_number"]
    list_select_related = ["account", "invoice", "payment"]
