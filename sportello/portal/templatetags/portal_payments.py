"""Payments figures for client-area pages that are not the payments pages: the prompt to
replace a failing card (dashboard, payment methods), auto-pay on the service page, and the
transfers and PIX payments awaited for an invoice (invoice page).

Template tags rather than views' context so that those pages show them without their views
knowing about payments: the tags read only through payments selectors scoped to the acting
membership, and only for a member with the billing right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.utils.translation import gettext

from sportello.accounts.models import Area
from sportello.billing.models import BillingPreference, DocumentKind, Invoice
from sportello.core.time import local_date, utc_now
from sportello.payments.models import SavedPaymentMethod
from sportello.payments.selectors import (
    methods_failing_of,
    payment_preference_of,
    payments_awaiting_for,
    service_autopay_of,
)
from sportello.services.models import Service, ServiceStatus

register = template.Library()


@dataclass(frozen=True)
class FailingCard:
    method: SavedPaymentMethod
    # "expired_card", "card_declined"...: the last charge's refusal, or "expired" by its date.
    problem: str

    @property
    def message(self) -> str:
        card = str(self.method)
        if self.problem in ("expired", "expired_card"):
            return gettext("Your card %(card)s has expired.") % {"card": card}
        if self.problem == "authentication_required":
            return gettext(
                "Your bank wants you present to approve each charge of your card %(card)s: it cannot be charged "
                "automatically."
            ) % {"card": card}
        if self.problem == "no_such_card":
            return gettext("Your card %(card)s is no longer known to our card processor.") % {"card": card}
        return gettext("Your card %(card)s was declined the last time we charged it.") % {"card": card}


@register.simple_tag(takes_context=True)
def failing_cards(context: template.Context) -> list[FailingCard]:
    """{% failing_cards as cards %}: saved cards refused by the last charge or expired."""
    membership = getattr(context.get("request"), "membership", None)
    if membership is None or not membership.has_area(Area.BILLING):
        return []
    today = local_date(utc_now(), membership.account.time_zone)
    return [
        FailingCard(method=method, problem=method.failure_code or "expired")
        for method in methods_failing_of(membership=membership, as_of=today)
    ]


@dataclass(frozen=True)
class ServiceAutopay:
    # The account's auto-pay (payment methods page); the service's own setting counts only when on.
    account_on: bool
    service_on: bool
    # Renewals due the same day share one invoice (BillingPreference.group_renewals).
    grouped: bool
    may_change: bool


@register.simple_tag(takes_context=True)
def service_autopay(context: template.Context, service: Service) -> ServiceAutopay | None:
    """{% service_autopay service as autopay %}: auto-pay for this service, for a billing member."""
    membership = getattr(context.get("request"), "membership", None)
    if membership is None or not membership.has_area(Area.BILLING) or service.account_id != membership.account_id:
        return None
    if service.status not in (ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED):
        return None
    grouped = BillingPreference.objects.filter(account_id=membership.account_id, group_renewals=False).exists()
    return ServiceAutopay(
        account_on=payment_preference_of(account=membership.account).autopay,
        service_on=service_autopay_of(service=service),
        grouped=not grouped,
        may_change=membership.can_change,
    )


@register.simple_tag(takes_context=True)
def payments_awaiting(context: template.Context, invoice: Invoice) -> list[dict[str, Any]]:
    """{% payments_awaiting document as awaiting %}: the bank transfers and PIX payments started
    for this invoice whose money has not arrived, each with the page of its instructions."""
    from sportello.portal.views.payments import payment_awaiting, payment_row

    membership = getattr(context.get("request"), "membership", None)
    if membership is None or not membership.has_area(Area.BILLING) or invoice.kind != DocumentKind.INVOICE:
        return []
    return [
        payment_row(payment)
        for payment in payments_awaiting_for(membership=membership, invoice=invoice)
        if payment_awaiting(payment)
    ]
