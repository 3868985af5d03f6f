"""What the API keeps of its own: the results of writes, by Idempotency-Key."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    """The first result of a write sent with an Idempotency-Key.

    One row per (owner, key): the row is inserted in the same transaction as the write's
    effect, so a second request with the key either waits for the first to commit and then
    replays its result, or (if the first rolled back) performs the write itself. Only
    successful results are kept: a refused write changed nothing and may be sent again.
    """

    # Whose key space this is: "account:<id>" for member tokens (every member token of an
    # account shares it), "integration:<token id>" for an integration token.
    owner = models.CharField(_("owner"), max_length=64)
    key = models.CharField(_("idempotency key"), max_length=128)
    # SHA-256 of the method, path and canonical JSON body: the same key with another
    # request is refused, never replayed.
    fingerprint = models.CharField(max_length=64)
    token = models.ForeignKey(
        "accounts.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("token")
    )
    status_code = models.PositiveSmallIntegerField(_("status"))
    body = models.JSONField(_("response"), default=dict)
    created_at = models.DateTimeField(_("received"), db_index=True)

    class Meta:
        verbose_name = _("idempotent API result")
        verbose_name_plural = _("idempotent API results")
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="api_idempotency_once_per_key")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
