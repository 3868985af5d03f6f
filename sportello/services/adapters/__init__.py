"""Provisioning adapters: how a provisioning task reaches the provider's systems.

A product names a module; `adapter_for(module)` returns the adapter that carries out its
tasks. Every adapter has one method, `run(request, now=...)`, which either returns an
`AdapterResult` (done) or raises `ProvisioningError`, whose `retryable` says whether trying
again later can help (a timeout, a 5xx) or not (a refused address, a 4xx). Adapters are
called outside any transaction by `provisioning_run`, which keeps the delivery log.

- `manual` (offline, built in): leaves a staff task in the back office.
- `webhook` (real): a signed HTTP POST to the provider's endpoint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ProvisioningRequest:
    """What an adapter is told: one action on one service, and the service as it is now."""

    task_id: int
    event_id: int
    action: str
    service_id: int
    account_id: int
    account_reference: str
    product: str
    plan: str
    status: str
    period_start: dt.date | None
    period_end: dt.date | None
    label: str = ""

    def payload(self) -> dict[str, Any]:
        """The JSON document the webhook sends."""
        return {
            "event_id": self.event_id,
            "task_id": self.task_id,
            "action": self.action,
            "service_id": self.service_id,
            "account_reference": self.account_reference,
            "product": self.product,
            "plan": self.plan,
            "label": self.label,
            "status": self.status,
            "period": {
                "start": self.period_start.isoformat() if self.period_start else None,
                "end": self.period_end.isoformat() if self.period_end else None,
            },
        }


@dataclass(frozen=True)
class AdapterResult:
    detail: str = ""
    status_code: int | None = None


class ProvisioningError(Exception):
    """An adapter could not do its work; `retryable` says whether trying later can help."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


class ProvisioningAdapter(Protocol):
    def run(self, request: ProvisioningRequest, *, now: dt.datetime) -> AdapterResult: ...


def _manual() -> ProvisioningAdapter:
    from sportello.services.adapters.manual import ManualAdapter

    return ManualAdapter()


def _webhook() -> ProvisioningAdapter:
    from sportello.services.adapters.webhook import WebhookAdapter

    return WebhookAdapter.from_settings()


# Module name (catalog.ProvisioningModule) -> adapter factory.
ADAPTERS: dict[str, Callable[[], ProvisioningAdapter]] = {"manual": _manual, "webhook": _webhook}


def adapter_for(module: str) -> ProvisioningAdapter:
    try:
        factory = ADAPTERS[module]
    except KeyError:
        raise ProvisioningError(f"unknown provisioning module {module!r}", retryable=False) from None
    return factory()
