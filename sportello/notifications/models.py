"""The email log: every email sent to anyone of an account, kept as it was sent."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Account, User


class EmailStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class EmailKind(models.TextChoices):
    FIRST_ACCESS = "first_access", _("First access")
    PASSWORD_RESET = "password_reset", _("Password reset")
    INVITATION = "invitation", _("Invitation")
    SECURITY = "security", _("Security notice")
    ACCOUNT = "account", _("Account notice")
    LIST = "list", _("Requested list")
    SUPPORT = "support", _("Support")
    INVOICE = "invoice", _("Invoice")
    REMINDER = "reminder", _("Payment reminder")
    QUOTE = "quote", _("Quote")
    RECEIPT = "receipt", _("Payment receipt")
    PAYMENT = "payment", _("Payment notice")
    ORDER = "order", _("Order")


class EmailLog(models.Model):
    """One email to one recipient. The rendered bodies are stored, so the customer can
    read, years later, exactly what was sent."""

    # The account the email concerns; empty for emails about the person alone (a reset link).
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="emails", verbose_name=_("account")
    )
    # The user the email was addressed to, when the address belongs to one.
    recipient = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails_received", verbose_name=_("user")
    )
    kind = models.CharField(_("kind"), max_length=32, choices=EmailKind.choices)
    to_email = models.EmailField(_("to"))
    from_email = models.CharField(_("from"), max_length=254)
    subject = models.CharField(_("subject"), max_length=300)
    # Where answers should go, when not to the sender (support replies carry a signed reference).
    reply_to = models.CharField(_("reply to"), max_length=254, blank=True)
    body_text = models.TextField(_("text"))
    body_html = models.TextField(_("HTML"), blank=True)
    # Names of the attached files, as the recipient saw them.
    attachment_names = models.JSONField(_("attachments"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), db_index=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=EmailStatus.choices, default=EmailStatus.QUEUED)
    # Why the last delivery attempt failed, for staff.
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("email")
        verbose_name_plural = _("email log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["recipient", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.to_email}: {self.subject}"
