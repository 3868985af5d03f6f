"""Core models: base classes, the append-only audit log and the scheduler's bookkeeping."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class AppendOnlyError(Exception):
    """An append-only row was about to be changed or deleted."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")


class AppendOnlyModel(models.Model):
    """Rows are inserted, never updated or deleted (ledgers, events, the audit log)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")


# Human labels of the audit actions; an action without one is shown as its code.
AUDIT_ACTIONS: dict[str, object] = {
    "account.created": _("Account created"),
    "account.updated": _("Account details changed"),
    "membership.added": _("Person given access"),
    "membership.changed": _("Access changed"),
    "membership.removed": _("Access removed"),
    "user.login": _("Logged in"),
    "user.login_failed": _("Failed login"),
    "user.language_changed": _("Language changed"),
    "user.created": _("Login created"),
    "user.first_access_requested": _("First-access link requested"),
    "user.first_access": _("First access: password set"),
    "user.password_reset_requested": _("Password reset requested"),
    "user.password_changed": _("Password changed"),
    "user.disabled": _("Login disabled"),
    "user.enabled": _("Login enabled"),
    "user.locked_out": _("Too many failed logins"),
    "user.mfa_enabled": _("Two-factor authentication enabled"),
    "user.mfa_disabled": _("Two-factor authentication disabled"),
    "user.email_changed": _("Email address changed"),
    "user.passkey_added": _("Passkey added"),
    "user.passkey_removed": _("Passkey removed"),
    "user.recovery_codes_generated": _("New recovery codes generated"),
    "user.impersonation_started": _("Provider staff logged in as this user"),
    "user.impersonation_ended": _("Provider staff session ended"),
    "account.suspended": _("Account suspended"),
    "account.reactivated": _("Account reactivated"),
    "invitation.sent": _("Invitation sent"),
    "invitation.revoked": _("Invitation revoked"),
    "contact.added": _("Contact added"),
    "contact.changed": _("Contact changed"),
    "contact.removed": _("Contact removed"),
    "contact.billing_default": _("Default billing contact changed"),
    "session.ended": _("Sessions ended"),
    "support.opened": _("Support request opened"),
    "support.file_shared": _("Document shared by the provider"),
    "api_token.created": _("API token created"),
    "api_token.revoked": _("API token revoked"),
}


class AuditEvent(AppendOnlyModel):
    """Who did what, to which account, from where. Written by `audit_record` only."""

    occurred_at = models.DateTimeField(_("when"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    # The customer account the event concerns, if any: members with the contacts right see these.
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        verbose_name=_("account"),
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    # What the event is about, as "app_label.model:pk", so the log outlives the rows it names.
    target = models.CharField(_("target"), max_length=128, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit log")
        indexes = [models.Index(fields=["account", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.action}"

    @property
    def action_label(self) -> str:
        return str(AUDIT_ACTIONS.get(self.action, self.action))


class ScheduledRun(models.Model):
    """One row per (periodic job, period): the scheduler enqueues a period's job only by
    inserting this row, so several schedulers racing each other enqueue it exactly once."""

    job = models.CharField(_("job"), max_length=100)
    # The period the run is for, e.g. "2026-11-22" for a daily job.
    period = models.CharField(_("period"), max_length=32)
    enqueued_at = models.DateTimeField(_("enqueued at"))
    # Id of the task result in the task backend, to follow the run.
    task_result_id = models.CharField(_("task id"), max_length=64, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "period"], name="scheduled_run_once_per_period")]
        ordering = ["-enqueued_at"]
        verbose_name = _("scheduled run")
        verbose_name_plural = _("scheduled runs")

    def __str__(self) -> str:
        return f"{self.job} {self.period}"


class WorkerHeartbeat(models.Model):
    """Last sign of life of each worker process; /healthz reads the newest."""

    worker_id = models.CharField(_("worker"), max_length=64, primary_key=True)
    hostname = models.CharField(_("host"), max_length=255)
    pid = models.PositiveIntegerField(_("process id"))
    started_at = models.DateTimeField(_("started"))
    last_seen = models.DateTimeField(_("last seen"), db_index=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid}"
