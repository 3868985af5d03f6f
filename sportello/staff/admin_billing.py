"""Back office for billing: the seller, tax rates, preferences, invoices, credit notes, quotes.

The seller, tax rates and billing preferences are configuration that staff edit directly
(an issued document keeps its own copy of what it printed). Documents are never edited
here: a manual invoice or a quote is created with its lines through the billing services
(taxes and figures by the one rule, never the admin's save()); drafts are issued, issued
invoices cancelled or credited, offline payments recorded and quotes sent, each through
its service. Every document's page is read-only; a refusal is shown as an error and
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Account
from sportello.billing.credit_notes import (
    CreditLine,
    credit_note_create,
    credit_note_unapplied_minor,
    invoice_cancel,
    invoice_creditable_minor,
)
from sportello.billing.errors import (
    AmountAboveBalance,
    BillingError,
    CreditAboveInvoice,
    IllegalTransition,
    InvalidDocument,
    InvoiceHasPayments,
    NotAllowed,
    TaxRateMissing,
)
from sportello.billing.models import (
    PAYABLE_STATUSES,
    BillingPreference,
    DocumentKind,
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTax,
    InvoiceTransition,
    Quote,
    QuoteLine,
    QuoteTax,
    Seller,
    Settlement,
    SettlementKind,
    TaxRate,
)
from sportello.billing.printed import party_printed, unit_price_display
from sportello.billing.quotes import quote_create, quote_send
from sportello.billing.selectors import invoice_balance_minor
from sportello.billing.services import (
    NewLine,
    invoice_collections_allowed,
    invoice_create,
    invoice_issue,
    invoice_send_to_collections,
    invoice_settle,
)
from sportello.core.formatting import money_display
from sportello.core.money import Money
from sportello.core.time import today_utc
from sportello.staff.admin_catalog import _ViewOnly

# --- Configuration ------------------------------------------------------------------------


@admin.register(Seller)
class SellerAdmin(admin.ModelAdmin):
    """The provider's details: one row."""

    fieldsets = (
        (None, {"fields": ("name", "vat_id", "tax_id")}),
        (_("Address"), {"fields": ("address_line1", "address_line2", "postal_code", "city", "region", "country")}),
        (_("Contact"), {"fields": ("email", "phone", "website")}),
        (_("Payment details"), {"fields": ("bank_name", "iban", "bic", "pix_key", "pix_city")}),
        (_("Documents"), {"fields": ("logo", "footer")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not Seller.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["country", "region", "tax_class", "name", "rate", "category", "valid_from", "valid_until"]
    list_filter = ["country", "tax_class", "category"]
    search_fields = ["country", "name"]


@admin.register(BillingPreference)
class BillingPreferenceAdmin(admin.ModelAdmin):
    list_display = ["account", "group_renewals", "purchase_order", "late_fees_exempt"]
    list_filter = ["group_renewals", "late_fees_exempt"]
    search_fields = ["account__name", "account__reference", "purchase_order"]
    autocomplete_fields = ["account"]


# --- Refusals as sentences ----------------------------------------------------------------


def refusal_message(error: BillingError) -> str:
    """A sentence for staff about a refused billing operation (nothing was changed)."""
    if isinstance(error, TaxRateMissing):
        return gettext("No “%(tax_class)s” tax rate for %(country)s on %(date)s: add it under Tax rates.") % {
            "tax_class": error.tax_class,
            "country": error.country,
            "date": error.on.isoformat(),
        }
    if isinstance(error, CreditAboveInvoice):
        return gettext("That is more than can still be credited on this invoice (%(amount)s).") % {
            "amount": money_display(Money.from_minor(error.creditable_minor, error.currency))
        }
    if isinstance(error, AmountAboveBalance):
        return gettext("That is more than the invoice still owes (%(amount)s).") % {
            "amount": money_display(Money.from_minor(error.balance_minor, error.currency))
        }
    if isinstance(error, InvoiceHasPayments):
        return gettext(
            "This invoice has received %(amount)s: refund the customer first, then cancel it or issue a credit note."
        ) % {"amount": money_display(Money.from_minor(error.received_minor, error.currency))}
    if isinstance(error, IllegalTransition) and error.transition == InvoiceTransition.COLLECTIONS:
        return gettext("Only an overdue invoice can be sent to collections; this one is “%(status)s”.") % {
            "status": InvoiceStatus(error.from_status).label
        }
    if isinstance(error, IllegalTransition):
        return gettext("Not possible in status “%(status)s”.") % {"status": error.from_status}
    if isinstance(error, NotAllowed):
        return gettext("Only active staff can do this.")
    if isinstance(error, InvalidDocument):
        return gettext("Not saved: %(field)s is %(reason)s.") % {
            "field": error.field,
            "reason": error.reason.replace("_", " "),
        }
    return gettext("Not saved: %(reason)s") % {"reason": error}


# --- Forms for the services ---------------------------------------------------------------

TAX_CLASSES = [("standard", _("Standard")), ("reduced", _("Reduced")), ("exempt", _("Exempt"))]


class LineForm(forms.Form):
    description = forms.CharField(label=_("Description"), max_length=500)
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=18, decimal_places=6, initial=1)
    unit_price = forms.DecimalField(label=_("Unit price"), max_digits=18, decimal_places=6)
    discount = forms.DecimalField(label=_("Discount"), max_digits=18, decimal_places=3, required=False)
    tax_class = forms.ChoiceField(label=_("Tax class"), choices=TAX_CLASSES, initial="standard")
    period_start = forms.DateField(label=_("Period start"), required=False)
    period_end = forms.DateField(label=_("Period end (exclusive)"), required=False)


LineFormSet = formset_factory(LineForm, extra=3, min_num=1, validate_min=True)


def _new_lines(formset: Any, currency: str) -> list[NewLine]:
    lines = []
    for data in formset.cleaned_data:
        if not data or data.get("DELETE"):
            continue
        discount = data.get("discount") or Decimal(0)
        lines.append(
            NewLine(
                description=data["description"],
                quantity=data["quantity"],
                unit_price=data["unit_price"],
                tax_class=data["tax_class"],
                discount_minor=Money(discount, currency).minor,
                period_start=data.get("period_start"),
                period_end=data.get("period_end"),
            )
        )
    return lines


class DocumentForm(forms.Form):
    account = forms.ModelChoiceField(label=_("Account"), queryset=Account.objects.order_by("name"))
    currency = forms.CharField(
        label=_("Currency"), max_length=3, required=False, help_text=_("Empty: the account's currency.")
    )
    prices_include_tax = forms.BooleanField(label=_("Prices include tax"), required=False)
    notes = forms.CharField(
        label=_("Notes printed on the document"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class InvoiceForm(DocumentForm):
    due_date = forms.DateField(label=_("Due date"), required=False, help_text=_("Empty: the usual payment terms."))


class QuoteForm(DocumentForm):
    subject = forms.CharField(label=_("Subject"), max_length=200)


class PaymentForm(forms.Form):
    METHODS = [("Bank transfer", _("Bank transfer received")), ("Cash", _("Cash")), ("Cheque", _("Cheque"))]
    amount = forms.DecimalField(label=_("Amount"), max_digits=18, decimal_places=3, min_value=Decimal("0.001"))
    method = forms.ChoiceField(label=_("Method"), choices=METHODS)
    settled_on = forms.DateField(label=_("Date received"))
    reference = forms.CharField(
        label=_("Reference"),
        max_length=80,
        help_text=_("The bank's or receipt's reference: the same one is never recorded twice."),
    )


class CreditNoteForm(forms.Form):
    reason = forms.CharField(label=_("Reason (printed on the credit note)"), max_length=500)
    whole = forms.BooleanField(
        label=_("Credit everything not credited yet"), required=False, help_text=_("Otherwise, the quantities below.")
    )

    def __init__(self, *args: Any, invoice: Invoice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invoice_lines = list(invoice.lines.order_by("position", "pk"))
        for line in self.invoice_lines:
            self.fields[f"line_{line.pk}"] = forms.DecimalField(
                label=f"{line.description} (× {line.quantity.normalize()})",
                max_digits=18,
                decimal_places=6,
                min_value=Decimal("0.000001"),
                required=False,
            )

    def credit_lines(self) -> list[CreditLine] | None:
        if self.cleaned_data.get("whole"):
            return None
        return [
            CreditLine(line_id=line.pk, quantity=self.cleaned_data[f"line_{line.pk}"])
            for line in self.invoice_lines
            if self.cleaned_data.get(f"line_{line.pk}")
        ]


class CollectionsForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept on the invoice's history, e.g. the agency it goes to and why."),
    )


class ReasonActionForm(ActionForm):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


# --- Invoices and credit notes ------------------------------------------------------------


def _each_through_service(
    modeladmin: admin.ModelAdmin, request: HttpRequest, objects: Iterable[Any], service: Callable[[Any], object]
) -> int:
    """An admin action's loop: `service(obj)` for each object in turn, each its own
    transaction; a refusal is shown next to the object and the others go on. Returns how
    many went through."""
    done = 0
    for obj in objects:
        try:
            service(obj)
        except BillingError as error:
            modeladmin.message_user(request, f"{obj}: {refusal_message(error)}", messages.ERROR)
        else:
            done += 1
    return done


def _money(minor: int, currency: str) -> str:
    return money_display(Money.from_minor(minor, currency))


def _party(printed: dict[str, object], *, seller: bool) -> str:
    """A party as the document printed it: name, address, then its numbers, one a line."""
    party = party_printed("", printed, get_language() or "en", seller=seller)
    rows = [party.name, *party.lines, *(f"{label}: {value}" for label, value in party.ids)]
    return format_html_join(mark_safe("<br>"), "{}", ((row,) for row in rows if row)) or "-"


class _DocumentFigures:
    """A document's rows with their amounts in the document's currency, not minor units."""

    document_field = "invoice"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related(self.document_field)  # type: ignore[misc]

    def _currency(self, obj: Any) -> str:
        return str(getattr(obj, self.document_field).currency)

    @admin.display(description=_("unit price"))
    def unit_price_shown(self, obj: Any) -> str:
        return unit_price_display(obj.unit_price, self._currency(obj), get_language() or "en")

    @admin.display(description=_("discount"))
    def discount_shown(self, obj: Any) -> str:
        return _money(obj.discount_minor, self._currency(obj)) if obj.discount_minor else ""

    @admin.display(description=_("amount"))
    def amount_shown(self, obj: Any) -> str:
        return _money(obj.amount_minor, self._currency(obj))

    @admin.display(description=_("taxable amount"))
    def taxable_shown(self, obj: Any) -> str:
        return _money(obj.taxable_minor, self._currency(obj))

    @admin.display(description=_("tax"))
    def tax_shown(self, obj: Any) -> str:
        return _money(obj.tax_minor, self._currency(obj))


class InvoiceLineInline(_DocumentFigures, _ViewOnly, admin.TabularInline):
    model = InvoiceLine
    fk_name = "invoice"
    extra = 0
    fields = readonly_fields = (
        "description",
        "period_start",
        "period_end",
        "quantity",
        "unit_price_shown",
        "discount_shown",
        "amount_shown",
        "tax_name",
        "corrects_line",
    )


class InvoiceTaxInline(_DocumentFigures, _ViewOnly, admin.TabularInline):
    model = InvoiceTax
    extra = 0
    fields = readonly_fields = ("name", "category", "rate", "taxable_shown", "tax_shown", "exemption_text")


class SettlementInline(_DocumentFigures, _ViewOnly, admin.TabularInline):
    model = Settlement
    fk_name = "invoice"
    extra = 0
    fields = readonly_fields = ("settled_on", "kind", "amount_shown", "method", "reference", "credit_note")


class InvoiceEventInline(_ViewOnly, admin.TabularInline):
    model = InvoiceEvent
    extra = 0
    fields = readonly_fields = ("at", "transition", "from_status", "to_status", "actor", "data")


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Invoices and credit notes: read-only pages; every change through a service."""

    list_display = ["__str__", "kind", "account", "status", "issue_date", "due_date", "total", "balance"]
    list_filter = ["kind", "status", "source", "currency"]
    search_fields = ["number", "proforma_number", "account__name", "account__reference"]
    list_select_related = ["account"]
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline, InvoiceTaxInline, SettlementInline, InvoiceEventInline]
    action_form = ReasonActionForm
    actions = ["issue", "cancel"]
    readonly_fields = (
        "operations",
        "account",
        "kind",
        "status",
        "source",
        "number",
        "proforma_number",
        "corrects",
        "currency",
        "issue_date",
        "due_date",
        "paid_date",
        "total",
        "balance",
        "legal_notes",
        "notes",
        "buyer_printed",
        "seller_printed",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.add_invoice"))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_transition_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.change_invoice"))

    @admin.display(description=_("buyer as printed"))
    def buyer_printed(self, obj: Invoice) -> str:
        return _party(obj.buyer, seller=False)

    @admin.display(description=_("seller as printed"))
    def seller_printed(self, obj: Invoice) -> str:
        return _party(obj.seller, seller=True)

    @admin.display(description=_("Total"))
    def total(self, obj: Invoice) -> str:
        return _money(-obj.total_minor if obj.is_credit_note else obj.total_minor, obj.currency)

    @admin.display(description=_("Balance"))
    def balance(self, obj: Invoice) -> str:
        if obj.is_credit_note:
            return gettext("%(amount)s owed back") % {
                "amount": _money(credit_note_unapplied_minor(credit_note=obj), obj.currency)
            }
        if not obj.is_issued:
            return "—"
        return _money(invoice_balance_minor(invoice=obj), obj.currency)

    @admin.display(description=_("Operations"))
    def operations(self, obj: Invoice) -> str:
        links = []
        if obj.kind == DocumentKind.INVOICE and obj.is_issued:
            if obj.number and invoice_creditable_minor(invoice=obj) > 0:
                links.append(
                    (reverse("admin:billing_invoice_credit_note", args=[obj.pk]), gettext("Issue a credit note"))
                )
            if invoice_balance_minor(invoice=obj) > 0 and obj.status in PAYABLE_STATUSES:
                links.append(
                    (reverse("admin:billing_invoice_payment", args=[obj.pk]), gettext("Record an offline payment"))
                )
            if invoice_collections_allowed(invoice=obj, as_of=today_utc()):
                links.append(
                    (reverse("admin:billing_invoice_collections", args=[obj.pk]), gettext("Send to collections"))
                )
        if not links:
            return "—"
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/credit-note/", view(self.credit_note_view), name="billing_invoice_credit_note"),
            path("<int:pk>/payment/", view(self.payment_view), name="billing_invoice_payment"),
            path("<int:pk>/collections/", view(self.collections_view), name="billing_invoice_collections"),
            *super().get_urls(),
        ]

    def _render(self, request: HttpRequest, title: str, **context: Any) -> HttpResponse:
        return render(
            request,
            "admin/billing/service_form.html",
            {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **context},
        )

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """A draft manual invoice with its lines, written by `invoice_create`."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = InvoiceForm(request.POST or None)
        lines = LineFormSet(request.POST or None, prefix="lines")
        if request.method == "POST" and form.is_valid() and lines.is_valid():
            account = form.cleaned_data["account"]
            currency = (form.cleaned_data["currency"] or account.currency).upper()
            try:
                draft = invoice_create(
                    account=account,
                    lines=_new_lines(lines, currency),
                    as_of=today_utc(),
                    currency=currency,
                    prices_include_tax=form.cleaned_data["prices_include_tax"],
                    due_date=form.cleaned_data["due_date"],
                    notes=form.cleaned_data["notes"],
                    by=request.user,  # type: ignore[arg-type]
                )
            except (BillingError, ValueError) as error:
                form.add_error(None, refusal_message(error) if isinstance(error, BillingError) else str(error))
            else:
                self.message_user(request, gettext("Draft invoice created: check it, then issue it from the list."))
                return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[draft.pk]))
        return self._render(request, gettext("New manual invoice"), form=form, formset=lines)

    def credit_note_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_transition_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=pk, kind=DocumentKind.INVOICE)
        form = CreditNoteForm(request.POST or None, invoice=invoice)
        if request.method == "POST" and form.is_valid():
            try:
                note = credit_note_create(
                    invoice=invoice,
                    lines=form.credit_lines(),
                    reason=form.cleaned_data["reason"],
                    as_of=today_utc(),
                    by=request.user,  # type: ignore[arg-type]
                )
            except BillingError as error:
                form.add_error(None, refusal_message(error))
            else:
                owed = credit_note_unapplied_minor(credit_note=note)
                self.message_user(
                    request,
                    gettext("Credit note %(number)s issued for %(total)s.")
                    % {"number": note.number, "total": _money(note.total_minor, note.currency)}
                    + (
                        " "
                        + gettext("%(amount)s of it is owed back to the customer (credit or refund).")
                        % {"amount": _money(owed, note.currency)}
                        if owed
                        else ""
                    ),
                )
                return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[note.pk]))
        creditable = _money(invoice_creditable_minor(invoice=invoice), invoice.currency)
        return self._render(
            request,
            gettext("Credit note for %(number)s") % {"number": invoice.number},
            form=form,
            original=invoice,
            intro=gettext("Up to %(amount)s can still be credited.") % {"amount": creditable},
        )

    def payment_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """An offline payment (bank transfer received, cash) through `invoice_settle`."""
        if not self.has_transition_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=pk, kind=DocumentKind.INVOICE)
        form = PaymentForm(request.POST or None, initial={"settled_on": today_utc()})
        if request.method == "POST" and form.is_valid():
            try:
                amount = Money(form.cleaned_data["amount"], invoice.currency)
            except ValueError:
                form.add_error(
                    "amount", gettext("%(currency)s does not have that many decimals.") % {"currency": invoice.currency}
                )
            else:
                try:
                    invoice_settle(
                        invoice=invoice,
                        amount=amount,
                        kind=SettlementKind.PAYMENT,
                        reference=f"offline:{form.cleaned_data['reference']}",
                        settled_on=form.cleaned_data["settled_on"],
                        method=form.cleaned_data["method"],
                        by=request.user,  # type: ignore[arg-type]
                    )
                except BillingError as error:
                    form.add_error(None, refusal_message(error))
                else:
                    self.message_user(
                        request,
                        gettext("Payment of %(amount)s recorded on %(number)s.")
                        % {"amount": money_display(amount), "number": invoice.display_number},
                    )
                    return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[invoice.pk]))
        balance = _money(invoice_balance_minor(invoice=invoice), invoice.currency)
        return self._render(
            request,
            gettext("Offline payment for %(number)s") % {"number": invoice.display_number},
            form=form,
            original=invoice,
            intro=gettext("The invoice still owes %(amount)s.") % {"amount": balance},
        )

    def collections_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Confirm, with a reason, that an overdue invoice goes to collections (`invoice_send_to_collections`)."""
        if not self.has_transition_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=pk, kind=DocumentKind.INVOICE)
        form = CollectionsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                invoice_send_to_collections(
                    invoice=invoice,
                    reason=form.cleaned_data["reason"],
                    as_of=today_utc(),
                    by=request.user,  # type: ignore[arg-type]
                )
            except BillingError as error:
                form.add_error(None, refusal_message(error))
            else:
                self.message_user(
                    request, gettext("%(number)s was sent to collections.") % {"number": invoice.display_number}
                )
                return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[invoice.pk]))
        balance = _money(invoice_balance_minor(invoice=invoice), invoice.currency)
        due = invoice.due_date.isoformat() if invoice.due_date else "—"
        return self._render(
            request,
            gettext("Send %(number)s to collections") % {"number": invoice.display_number},
            form=form,
            original=invoice,
            intro=gettext(
                "The invoice still owes %(amount)s, due on %(date)s. In collections it gets no more reminders "
                "or late fees; the customer can still pay it, which settles it as usual."
            )
            % {"amount": balance, "date": due},
            submit_label=gettext("Send to collections"),
        )

    @admin.action(description=_("Issue the selected drafts (dated today)"), permissions=["transition"])
    def issue(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        done = _each_through_service(
            self,
            request,
            queryset.filter(status=InvoiceStatus.DRAFT).order_by("pk"),
            lambda invoice: invoice_issue(invoice=invoice, as_of=today_utc(), by=request.user),  # type: ignore[arg-type]
        )
        if done:
            self.message_user(
                request, ngettext("%(count)d invoice issued.", "%(count)d invoices issued.", done) % {"count": done}
            )

    @admin.action(description=_("Cancel (issued: by a full credit note)"), permissions=["transition"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        reason = str(request.POST.get("reason", "")).strip()
        if not reason:
            self.message_user(request, gettext("Type the reason for this change next to the action."), messages.ERROR)
            return
        done = _each_through_service(
            self,
            request,
            queryset.order_by("pk"),
            lambda invoice: invoice_cancel(invoice=invoice, reason=reason, as_of=today_utc(), by=request.user),  # type: ignore[arg-type]
        )
        if done:
            self.message_user(
                request,
                ngettext("%(count)d invoice cancelled.", "%(count)d invoices cancelled.", done) % {"count": done},
            )


# --- Quotes -------------------------------------------------------------------------------


class QuoteLineInline(_DocumentFigures, _ViewOnly, admin.TabularInline):
    model = QuoteLine
    document_field = "quote"
    extra = 0
    fields = readonly_fields = (
        "description",
        "period_start",
        "period_end",
        "quantity",
        "unit_price_shown",
        "discount_shown",
        "amount_shown",
        "tax_name",
    )


class QuoteTaxInline(_DocumentFigures, _ViewOnly, admin.TabularInline):
    model = QuoteTax
    document_field = "quote"
    extra = 0
    fields = readonly_fields = ("name", "category", "rate", "taxable_shown", "tax_shown", "exemption_text")


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    list_display = ["__str__", "subject", "account", "status", "issue_date", "valid_until", "total"]
    list_filter = ["status", "currency"]
    search_fields = ["number", "subject", "account__name", "account__reference"]
    list_select_related = ["account"]
    inlines = [QuoteLineInline, QuoteTaxInline]
    actions = ["send"]
    readonly_fields = (
        "account",
        "status",
        "number",
        "subject",
        "currency",
        "issue_date",
        "valid_until",
        "total",
        "decided_at",
        "decided_by",
        "decline_reason",
        "invoice",
        "legal_notes",
        "notes",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.add_quote"))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_transition_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("billing.change_quote"))

    @admin.display(description=_("Total"))
    def total(self, obj: Quote) -> str:
        return _money(obj.total_minor, obj.currency)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = QuoteForm(request.POST or None)
        lines = LineFormSet(request.POST or None, prefix="lines")
        if request.method == "POST" and form.is_valid() and lines.is_valid():
            account = form.cleaned_data["account"]
            currency = (form.cleaned_data["currency"] or account.currency).upper()
            try:
                quote = quote_create(
                    account=account,
                    subject=form.cleaned_data["subject"],
                    lines=_new_lines(lines, currency),
                    as_of=today_utc(),
                    currency=currency,
                    prices_include_tax=form.cleaned_data["prices_include_tax"],
                    notes=form.cleaned_data["notes"],
                    by=request.user,  # type: ignore[arg-type]
                )
            except (BillingError, ValueError) as error:
                form.add_error(None, refusal_message(error) if isinstance(error, BillingError) else str(error))
            else:
                self.message_user(request, gettext("Draft quote created: check it, then send it from the list."))
                return HttpResponseRedirect(reverse("admin:billing_quote_change", args=[quote.pk]))
        return render(
            request,
            "admin/billing/service_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": gettext("New quote"),
                "form": form,
                "formset": lines,
            },
        )

    @admin.action(description=_("Send the selected drafts to the customer (dated today)"), permissions=["transition"])
    def send(self, request: HttpRequest, queryset: QuerySet[Quote]) -> None:
        done = _each_through_service(
            self,
            request,
            queryset.order_by("pk"),
            lambda quote: quote_send(quote=quote, as_of=today_utc(), by=request.user),  # type: ignore[arg-type]
        )
        if done:
            self.message_user(
                request, ngettext("%(count)d quote sent.", "%(count)d quotes sent.", done) % {"count": done}
            )
