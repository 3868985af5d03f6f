"""The daily billing run's own rows: its report, and the guards that make each of its
steps happen once (DESIGN.md, "Idempotency and concurrency").

- `BillingRun`: one report per (date, partition), counted in the same transactions that
  write the documents, so a run killed half way reports exactly what it did.
- `ReminderSent`: one row per (invoice, stage): a reminder is sent once, whatever runs twice.
- `LateFee`: one row per overdue invoice: its late fee is charged once, never every run.
- `DunningSuspension`: a service suspended by the run for an unpaid invoice; lifted
  (unsuspended) when nothing overdue remains. At most one open per service.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from sportello.core.models import TimestampedModel


class BillingRunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class BillingRun(TimestampedModel):
    """The report of the billing run for one date and partition of the accounts.

    Running again for the same date and partition continues the same report: the counts
    add what the later attempt did (after a full run, nothing), so they always equal the
    documents written for that date.
    """

    as_of = models.DateField(_("date"))
    # "all", or "i/n": the accounts whose id modulo n is i.
    partition = models.CharField(_("partition"), max_length=16, default="all")
    status = models.CharField(
        _("status"), max_length=16, choices=BillingRunStatus.choices, default=BillingRunStatus.RUNNING
    )
    # How many times a run for this date and partition was started.
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    services_billed = models.PositiveIntegerField(_("services billed"), default=0)
    invoices_issued = models.PositiveIntegerField(_("renewal invoices"), default=0)
    # {currency: minor units} of the renewal invoices issued, tax included.
    totals = models.JSONField(_("totals invoiced"), default=dict, blank=True)
    reminders_sent = models.PositiveIntegerField(_("reminders sent"), default=0)
    invoices_overdue = models.PositiveIntegerField(_("invoices overdue"), default=0)
    late_fees = models.PositiveIntegerField(_("late fees"), default=0)
    services_suspended = models.PositiveIntegerField(_("services suspended"), default=0)
    services_terminated = models.PositiveIntegerField(_("services terminated"), default=0)
    # Expired or cancelled at the end of their period (no renewal asked for).
    services_ended = models.PositiveIntegerField(_("services ended"), default=0)
    # Failed automatic charges charged again on their retry day (payments' step), and how many paid.
    autopay_retries = models.PositiveIntegerField(_("auto-pay retries"), default=0)
    autopay_retries_paid = models.PositiveIntegerField(_("auto-pay retries paid"), default=0)
    # [{"account": id, "service": id, "invoice": id, "step": ..., "error": ...}], newest last, capped.
    errors = models.JSONField(_("errors"), default=list, blank=True)

    class Meta:
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")
        ordering = ["-as_of", "partition"]
        constraints = [models.UniqueConstraint(fields=["as_of", "partition"], name="billing_run_once_per_partition")]

    def __str__(self) -> str:
        return f"{self.as_of} {self.partition}"


class ReminderSent(models.Model):
    """A payment reminder of one stage (days from the due date: -7, 0, 3...) for one invoice."""

    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, related_name="reminders", verbose_name=_("invoice")
    )
    # Days relative to the due date, as configured in BILLING_REMINDER_DAYS.
    stage = models.SmallIntegerField(_("days from due date"))
    sent_on = models.DateField(_("sent on"))
    # How many contacts it was sent to.
    recipients = models.PositiveSmallIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("reminder sent")
        verbose_name_plural = _("reminders sent")
        ordering = ["invoice", "stage"]
        constraints = [models.UniqueConstraint(fields=["invoice", "stage"], name="reminder_once_per_stage")]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.stage:+d}"


class LateFee(models.Model):
    """The late fee charged for one overdue invoice, as an invoice of its own (issued
    documents are never changed). The one-to-one key is the guard: charged once, ever."""

    invoice = models.OneToOneField(
        "billing.Invoice", on_delete=models.PROTECT, related_name="late_fee", verbose_name=_("overdue invoice")
    )
    fee_invoice = models.OneToOneField(
        "billing.Invoice", on_delete=models.PROTECT, related_name="late_fee_for", verbose_name=_("fee invoice")
    )
    charged_on = models.DateField(_("charged on"))

    class Meta:
        verbose_name = _("late fee")
        verbose_name_plural = _("late fees")

    def __str__(self) -> str:
        return f"{self.invoice_id} -> {self.fee_invoice_id}"


class DunningSuspension(models.Model):
    """A service the run suspended because `invoice` stayed unpaid past the grace days."""

    service = models.ForeignKey(
        "services.Service", on_delete=models.PROTECT, related_name="dunning_suspensions", verbose_name=_("service")
    )
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, related_name="+", verbose_name=_("unpaid invoice")
    )
    suspended_on = models.DateField(_("suspended on"))
    # Set when payment lifted it (or the service ended otherwise).
    lifted_on = models.DateField(_("lifted on"), null=True, blank=True)

    class Meta:
        verbose_name = _("suspension for non-payment")
        verbose_name_plural = _("suspensions for non-payment")
        ordering = ["-suspended_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"], condition=models.Q(lifted_on__isnull=True), name="dunning_one_open_per_service"
            )
        ]

    def __str__(self) -> str:
        return f"service {self.service_id} for {self.invoice_id}"
