"""Back office for the daily billing run: its report per date (read-only), the rows that
make each dunning step happen once, and the overage prices the run bills usage at.

The report is written by the run itself, in the transactions that write the documents, so
staff read here exactly what each date's run did, including what it refused and why.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import User
from sportello.billing.models import BillingRun, DunningSuspension, LateFee, ReminderSent
from sportello.catalog.models import OveragePrice
from sportello.catalog.services import overage_price_create
from sportello.core.formatting import money_display
from sportello.core.money import Money
from sportello.staff.admin import ReadOnlyAdmin
from sportello.staff.admin_catalog import PriceVersionAdminBase


def _totals(run: BillingRun) -> str:
    return ", ".join(
        money_display(Money.from_minor(int(minor), currency)) for currency, minor in sorted(run.totals.items())
    )


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdmin):
    list_display = [
        "as_of",
        "partition",
        "status",
        "attempts",
        "services_billed",
        "invoices_issued",
        "totals_display",
        "reminders_sent",
        "invoices_overdue",
        "late_fees",
        "services_suspended",
        "services_terminated",
        "services_ended",
        "error_count",
    ]
    list_filter = ["status", "partition"]
    date_hierarchy = "as_of"
    fieldsets = [
        (None, {"fields": ["as_of", "partition", "status", "attempts", "started_at", "finished_at"]}),
        (_("Renewals"), {"fields": ["services_billed", "invoices_issued", "totals_display"]}),
        (
            _("Dunning"),
            {
                "fields": [
                    "reminders_sent",
                    "invoices_overdue",
                    "late_fees",
                    "services_suspended",
                    "services_terminated",
                    "services_ended",
                ]
            },
        ),
        (_("Automatic payment"), {"fields": ["autopay_retries", "autopay_retries_paid"]}),
        (_("Errors"), {"fields": ["errors_display"]}),
    ]
    readonly_fields = [
        "as_of",
        "partition",
        "status",
        "attempts",
        "started_at",
        "finished_at",
        "services_billed",
        "invoices_issued",
        "totals_display",
        "reminders_sent",
        "invoices_overdue",
        "late_fees",
        "services_suspended",
        "services_terminated",
        "services_ended",
        "errors_display",
        "autopay_retries",
        "autopay_retries_paid",
    ]

    @admin.display(description=_("invoiced"))
    def totals_display(self, run: BillingRun) -> str:
        return _totals(run) or "—"

    @admin.display(description=_("errors"))
    def error_count(self, run: BillingRun) -> int:
        return len(run.errors)

    @admin.display(description=_("errors"))
    def errors_display(self, run: BillingRun) -> str:
        if not run.errors:
            return str(_("None"))
        labels = {"account": _("account"), "service": _("service"), "invoice": _("invoice")}
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><strong>{}</strong> {} — {}</li>",
                (
                    (
                        error.get("step", ""),
                        " ".join(f"{labels[key]} {error[key]}" for key in labels if key in error),
                        error.get("error", ""),
                    )
                    for error in run.errors
                ),
            ),
        )


@admin.register(ReminderSent)
class ReminderSentAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "stage", "sent_on", "recipients"]
    list_filter = ["stage", "sent_on"]
    search_fields = ["invoice__number", "invoice__proforma_number"]


@admin.register(LateFee)
class LateFeeAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "fee_invoice", "charged_on"]
    search_fields = ["invoice__number", "fee_invoice__number"]


@admin.register(DunningSuspension)
class DunningSuspensionAdmin(ReadOnlyAdmin):
    list_display = ["service", "invoice", "suspended_on", "lifted_on"]
    list_filter = ["suspended_on", "lifted_on"]


@admin.register(OveragePrice)
class OveragePriceAdmin(PriceVersionAdminBase):
    list_display = ["plan", "metric", "currency", "unit_price", "valid_from", "created_at"]
    list_filter = ["plan__product", "currency"]
    fields = ["plan", "metric", "currency", "unit_price", "valid_from"]

    def create(self, obj: OveragePrice, by: User) -> OveragePrice:
        return overage_price_create(
            plan=obj.plan,
            metric=obj.metric,
            currency=obj.currency,
            unit_price=obj.unit_price,
            valid_from=obj.valid_from,
            by=by,
        )
