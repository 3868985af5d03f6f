"""What a customer has contracted: services, their lifecycle events, usage and provisioning.

A service's status moves only through the transitions in `TRANSITIONS`, each one a
function in `services.py` that locks the row, checks this table, and writes the new
status and a `ServiceEvent` in the same transaction.

Periods are stored, not recomputed: `current_period_start` (inclusive) to
`current_period_end` (exclusive, the first day of the next period), and the next due
date, which is the day the next period starts and must be paid for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Self

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sportello.catalog.models import Cycle, ProvisioningModule
from sportello.core.models import AppendOnlyModel, AppendOnlyQuerySet, TimestampedModel
from sportello.core.tenancy import AccountOwnedQuerySet, ActingMembership

if TYPE_CHECKING:
    from sportello.accounts.models import Account


class ServiceStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    TERMINATED = "terminated", _("Terminated")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


class Transition(models.TextChoices):
    """What a service event records; one service function per transition."""

    CREATE = "create", _("Created")
    ACTIVATE = "activate", _("Activated")
    SUSPEND = "suspend", _("Suspended")
    UNSUSPEND = "unsuspend", _("Unsuspended")
    TERMINATE = "terminate", _("Terminated")
    CANCEL = "cancel", _("Cancelled")
    CANCEL_SCHEDULE = "cancel_schedule", _("Cancellation at period end requested")
    CANCEL_WITHDRAW = "cancel_withdraw", _("Cancellation request withdrawn")
    CANCEL_APPLY = "cancel_apply", _("Cancelled at period end")
    EXPIRE = "expire", _("Expired")
    REACTIVATE = "reactivate", _("Reactivated")
    RENEW = "renew", _("Renewed")
    SET_AUTO_RENEW = "set_auto_renew", _("Automatic renewal changed")
    CHANGE_CYCLE = "change_cycle", _("Billing cycle change requested")
    CHANGE_PLAN = "change_plan", _("Plan changed")
    CHANGE_OPTIONS = "change_options", _("Options changed")
    ADD_ADDON = "add_addon", _("Add-on added")
    CANCEL_PENDING = "cancel_pending", _("Cancelled before activation")
    LINK_DOMAIN = "link_domain", _("Linked domain changed")


S = ServiceStatus
# The state machine: transition -> (statuses it may start from, status it leads to).
# A target of None keeps the status: the transition changes the contract, not the state.
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    Transition.ACTIVATE: (frozenset({S.PENDING}), S.ACTIVE),
    Transition.SUSPEND: (frozenset({S.ACTIVE}), S.SUSPENDED),
    Transition.UNSUSPEND: (frozenset({S.SUSPENDED}), S.ACTIVE),
    Transition.TERMINATE: (frozenset({S.ACTIVE, S.SUSPENDED}), S.TERMINATED),
    Transition.CANCEL: (frozenset({S.ACTIVE}), S.CANCELLED),
    Transition.CANCEL_SCHEDULE: (frozenset({S.ACTIVE}), None),
    Transition.CANCEL_WITHDRAW: (frozenset({S.ACTIVE}), None),
    Transition.CANCEL_APPLY: (frozenset({S.ACTIVE}), S.CANCELLED),
    Transition.EXPIRE: (frozenset({S.ACTIVE}), S.EXPIRED),
    Transition.REACTIVATE: (frozenset({S.EXPIRED}), S.ACTIVE),
    # A paid renewal invoice extends a suspended service too; unsuspending it is a separate step.
    Transition.RENEW: (frozenset({S.ACTIVE, S.SUSPENDED}), None),
    Transition.SET_AUTO_RENEW: (frozenset({S.PENDING, S.ACTIVE, S.SUSPENDED}), None),
    Transition.CHANGE_CYCLE: (frozenset({S.ACTIVE, S.SUSPENDED}), None),
    Transition.CHANGE_PLAN: (frozenset({S.ACTIVE}), None),
    # "Increase space" and add-ons bought on a running service (a paid add-on order calls these).
    Transition.CHANGE_OPTIONS: (frozenset({S.ACTIVE}), None),
    Transition.ADD_ADDON: (frozenset({S.ACTIVE}), None),
    # An order cancelled before payment takes the service it would have created with it.
    Transition.CANCEL_PENDING: (frozenset({S.PENDING}), S.CANCELLED),
    Transition.LINK_DOMAIN: (frozenset({S.PENDING, S.ACTIVE, S.SUSPENDED}), None),
}

# Statuses no transition leaves.
FINAL_STATUSES = frozenset({S.TERMINATED, S.CANCELLED})


class ServiceQuerySet(AccountOwnedQuerySet):
    def locked(self) -> ServiceQuerySet:
        """Rows locked until the transaction ends. Lock the account first (DESIGN: account,
        then invoice, then service), or two transitions can deadlock with the billing run."""
        return self.select_for_update()


class Service(TimestampedModel):
    """One thing a customer has contracted: a plan, at a price version, for a cycle."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="services", verbose_name=_("account")
    )
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="services", verbose_name=_("plan"))
    # The price it was sold at; a later price change creates a new version and leaves this one.
    price_version = models.ForeignKey(
        "catalog.PriceVersion", on_delete=models.PROTECT, related_name="+", verbose_name=_("price")
    )
    # Always the cycle of `price_version`, kept here for filters and the period arithmetic.
    cycle = models.CharField(_("billing cycle"), max_length=16, choices=Cycle.choices)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    # Configurable options as sold: {code: {"quantity": n, "unit_price": "0.050000", "price_version": id}}.
    # The unit price is copied from the option's price version, so a later price change does not touch it.
    options = models.JSONField(_("options"), default=dict, blank=True)
    # What the customer calls it: a domain, a hostname, a project name.
    label = models.CharField(_("label"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ServiceStatus.choices, default=ServiceStatus.PENDING)

    # Day of the month periods fall on (1-31), from the first day of service: a service
    # started on 31 January renews on 28 February, then on 31 March.
    anchor_day = models.PositiveSmallIntegerField(_("anchor day"), null=True, blank=True)
    current_period_start = models.DateField(_("current period start"), null=True, blank=True)
    # Exclusive: the first day of the next period, and the day the service expires unless renewed.
    # Empty for one-time purchases, which never end.
    current_period_end = models.DateField(_("current period end"), null=True, blank=True)
    # The day the next period must be paid by (its first day); the billing run invoices
    # the product's invoice lead days before it.
    next_due_date = models.DateField(_("next due date"), null=True, blank=True, db_index=True)
    # On: the billing run invoices the next period by itself. Off: the service expires at the
    # end of the period unless the customer renews it.
    auto_renew = models.BooleanField(_("automatic renewal"), default=True)

    # A change of billing cycle waits here until the next renewal, with the price version
    # and option prices found when the customer asked (what they were shown).
    pending_cycle = models.CharField(_("next billing cycle"), max_length=16, choices=Cycle.choices, blank=True)
    pending_price_version = models.ForeignKey(
        "catalog.PriceVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("next price"),
    )
    pending_options = models.JSONField(_("next options"), default=dict, blank=True)
    # Add-ons as sold: {code: {"amount_minor": n, "price_version": id}}, per period, copied from
    # the add-on's price version like the options' unit prices; `pending_addons` follows a cycle change.
    addons = models.JSONField(_("add-ons"), default=dict, blank=True)
    pending_addons = models.JSONField(_("next add-ons"), default=dict, blank=True)
    # A domain service of the same account this service works with (a hosting's domain): a
    # cancellation can stop its renewal too ("do not renew the linked domain").
    linked_service = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="linked_from",
        verbose_name=_("linked domain"),
    )

    # Set by a request to cancel at the end of the period; applied then by `service_cancel_apply`.
    cancel_at_period_end = models.BooleanField(_("cancel at period end"), default=False)
    cancellation_reason = models.TextField(_("cancellation reason"), blank=True)
    suspended_reason = models.TextField(_("suspension reason"), blank=True)

    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("suspended"), null=True, blank=True)
    expired_at = models.DateTimeField(_("expired"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    terminated_at = models.DateTimeField(_("terminated"), null=True, blank=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["account", "-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "status"]),
            # The daily run looks for services due soon, by status.
            models.Index(fields=["status", "next_due_date"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ServiceStatus.values), name="service_status_known"),
            models.CheckConstraint(condition=models.Q(cycle__in=Cycle.values), name="service_cycle_known"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="service_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(anchor_day__isnull=True) | models.Q(anchor_day__gte=1, anchor_day__lte=31),
                name="service_anchor_day_in_month",
            ),
            # Once out of pending, a service has a period start (unless it was cancelled before it started).
            models.CheckConstraint(
                condition=models.Q(status=ServiceStatus.PENDING)
                | models.Q(current_period_start__isnull=False)
                | models.Q(status=ServiceStatus.CANCELLED, activated_at__isnull=True),
                name="service_period_after_activation",
            ),
            models.CheckConstraint(
                condition=models.Q(current_period_end__isnull=True)
                | models.Q(current_period_end__gt=models.F("current_period_start")),
                name="service_period_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~models.Q(linked_service=models.F("pk")), name="service_not_linked_to_itself"
            ),
            # A pending cycle change carries its price, or there is none.
            models.CheckConstraint(
                condition=models.Q(pending_cycle="", pending_price_version__isnull=True)
                | (~models.Q(pending_cycle="") & models.Q(pending_price_version__isnull=False)),
                name="service_pending_cycle_has_price",
            ),
        ]

    def __str__(self) -> str:
        name = f"{self.plan.product.name} {self.plan.name}"
        return f"{name} ({self.label})" if self.label else name


class AccountOwnedAppendOnlyQuerySet(AppendOnlyQuerySet):
    """Rows that are never updated or deleted, reached through their account like
    `AccountOwnedQuerySet`'s (one base only: the type checker's Django plugin cannot
    merge two querysets' managers)."""

    def visible_to(self, membership: ActingMembership) -> Self:
        return self.filter(account_id=membership.account_id)

    def of_account(self, account: Account) -> Self:
        return self.filter(account_id=account.pk)


AccountOwnedAppendOnlyManager = models.Manager.from_queryset(AccountOwnedAppendOnlyQuerySet)


class ServiceEvent(AppendOnlyModel):
    """One transition of a service, written in the transaction that made it. Never changed."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="service_events", verbose_name=_("account")
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="events", verbose_name=_("service"))
    transition = models.CharField(_("transition"), max_length=24, choices=Transition.choices)
    # Empty for the creation event.
    from_status = models.CharField(_("from"), max_length=16, choices=ServiceStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=16, choices=ServiceStatus.choices)
    reason = models.TextField(_("reason"), blank=True)
    # Who did it: staff, a customer's member, or nobody for the billing run.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("when"))
    # The figures of the transition: periods, dates, prices, proration, who acted as what.
    data = models.JSONField(_("details"), default=dict, blank=True)

    objects: ClassVar[AccountOwnedAppendOnlyManager] = AccountOwnedAppendOnlyManager()

    class Meta:
        verbose_name = _("service event")
        verbose_name_plural = _("service events")
        ordering = ["service", "at", "id"]
        indexes = [models.Index(fields=["service", "at"])]

    def __str__(self) -> str:
        return f"{self.service_id} {self.transition} {self.from_status}->{self.to_status}"


class UsageRecord(AppendOnlyModel):
    """A measurement reported for a service. Reported twice with the same key, it counts once."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="usage_records", verbose_name=_("account")
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="usage", verbose_name=_("service"))
    metric = models.SlugField(_("metric"), max_length=64)
    quantity = models.DecimalField(_("quantity"), max_digits=24, decimal_places=6)
    # When the usage happened (the reporter's clock), which decides the period it counts in.
    recorded_at = models.DateTimeField(_("recorded at"))
    # Chosen by the reporter; the same key again returns the first record instead of a second one.
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    created_at = models.DateTimeField(_("received"), auto_now_add=True)

    objects: ClassVar[AccountOwnedAppendOnlyManager] = AccountOwnedAppendOnlyManager()

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        ordering = ["service", "recorded_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "idempotency_key"], name="usage_once_per_key"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="usage_quantity_not_negative"),
        ]
        indexes = [models.Index(fields=["service", "metric", "recorded_at"])]

    def __str__(self) -> str:
        return f"{self.service_id} {self.metric} {self.quantity} at {self.recorded_at:%Y-%m-%d %H:%M}"


class ProvisioningAction(models.TextChoices):
    CREATE = "create", _("Create")
    SUSPEND = "suspend", _("Suspend")
    UNSUSPEND = "unsuspend", _("Unsuspend")
    TERMINATE = "terminate", _("Terminate")
    CHANGE_PLAN = "change_plan", _("Change plan")


class ProvisioningStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ProvisioningTask(TimestampedModel):
    """Work for a provisioning adapter after a transition: what the manual and webhook
    modules consume. One per (service, action, event), so recording it twice is harmless."""

    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="provisioning_tasks", verbose_name=_("service")
    )
    # The transition that asked for it.
    event = models.ForeignKey(ServiceEvent, on_delete=models.PROTECT, related_name="+", verbose_name=_("event"))
    # The product's module when the transition happened.
    module = models.CharField(_("module"), max_length=16, choices=ProvisioningModule.choices)
    action = models.CharField(_("action"), max_length=16, choices=ProvisioningAction.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=ProvisioningStatus.choices, default=ProvisioningStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    # A pending task runs once this has passed (empty: at once); set by the retry backoff.
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # When a worker claimed it (pending -> running); a claim this old is a dead worker's.
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("provisioning task")
        verbose_name_plural = _("provisioning tasks")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "action", "event"], name="provisioning_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.module} {self.action} service {self.service_id}"


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    RETRYABLE = "retryable", _("Failed, will retry")
    FAILED = "failed", _("Failed")


class ProvisioningAttempt(AppendOnlyModel):
    """One try of a provisioning task through its adapter: the delivery log. Never changed."""

    task = models.ForeignKey(
        ProvisioningTask, on_delete=models.PROTECT, related_name="attempt_log", verbose_name=_("task")
    )
    number = models.PositiveIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    outcome = models.CharField(_("outcome"), max_length=16, choices=AttemptOutcome.choices)
    # The HTTP status the endpoint answered, for the webhook module; empty when there was none.
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("provisioning attempt")
        verbose_name_plural = _("provisioning attempts")
        ordering = ["task", "number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "number"], name="provisioning_attempt_once_per_number"),
            models.CheckConstraint(
                condition=models.Q(outcome__in=AttemptOutcome.values), name="provisioning_attempt_outcome_known"
            ),
        ]

    def __str__(self) -> str:
        return f"task {self.task_id} attempt {self.number}: {self.outcome}"


class StaffTaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")


class StaffTask(TimestampedModel):
    """Work the manual provisioning module leaves for staff: one per provisioning task."""

    provisioning_task = models.OneToOneField(
        ProvisioningTask, on_delete=models.PROTECT, related_name="staff_task", verbose_name=_("provisioning task")
    )
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="staff_tasks", verbose_name=_("service")
    )
    action = models.CharField(_("action"), max_length=16, choices=ProvisioningAction.choices)
    title = models.CharField(_("title"), max_length=300)
    status = models.CharField(_("status"), max_length=16, choices=StaffTaskStatus.choices, default=StaffTaskStatus.OPEN)

    class Meta:
        verbose_name = _("staff task")
        verbose_name_plural = _("staff tasks")
        ordering = ["status", "created_at", "id"]

    def __str__(self) -> str:
        return self.title
