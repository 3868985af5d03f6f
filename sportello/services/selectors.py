"""Reads of the services domain: the customer's services, what they cost, what they use,
and what they will be charged in the coming months."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from sportello.accounts.models import Account
from sportello.catalog.models import CYCLE_MONTHS, MetricAggregation, PriceVersion, UsageMetric
from sportello.catalog.selectors import as_moment, plan_quotas
from sportello.core.money import Money
from sportello.core.tenancy import ActingMembership
from sportello.services.models import Service, ServiceEvent, ServiceStatus, UsageRecord
from sportello.services.periods import add_months, periods_from

# Quotas used above this percentage are shown as a warning (Aruba's red bar above 80 %).
QUOTA_WARNING_PERCENT = Decimal(80)


def services_visible_to(*, membership: ActingMembership) -> QuerySet[Service]:
    """The acting member's account's services; another account's are simply not there (404)."""
    return (
        Service.objects.visible_to(membership)
        .select_related("plan__product", "price_version")
        .order_by("-created_at", "-id")
    )


def service_for_integration(*, service_id: int) -> Service | None:
    """Any account's service, for the provider's own systems (integration API tokens that
    report usage); never for a customer, whose reads go through `services_visible_to`."""
    return Service.objects.select_related("plan__product", "price_version").filter(pk=service_id).first()


@dataclass(frozen=True, slots=True)
class ServicesSummary:
    active: int
    # Active services whose period ends within the window and that will not renew by themselves
    # (auto-renew off, no cancellation asked): they expire unless the customer renews them.
    expiring: int


def services_summary(*, membership: ActingMembership, as_of: dt.date, within_days: int = 30) -> ServicesSummary:
    """The dashboard's figures: active services, and how many of them expire within `within_days` of `as_of`."""
    counts = (
        Service.objects.visible_to(membership)
        .filter(status=ServiceStatus.ACTIVE)
        .aggregate(
            active=Count("pk"),
            expiring=Count(
                "pk",
                filter=Q(
                    auto_renew=False,
                    cancel_at_period_end=False,
                    current_period_end__lte=as_of + dt.timedelta(days=within_days),
                ),
            ),
        )
    )
    return ServicesSummary(active=counts["active"], expiring=counts["expiring"])


def service_events_of(*, service: Service) -> QuerySet[ServiceEvent]:
    return ServiceEvent.objects.filter(service=service).select_related("actor").order_by("at", "id")


# --- What a service costs -------------------------------------------------------------------


def recurring_charge(
    *,
    price_version: PriceVersion,
    quantity: int,
    options: Mapping[str, Any],
    addons: Mapping[str, Any] | None = None,
) -> Money:
    """One period's charge: the plan price times the quantity, plus each option line (unit
    price times quantity), each line rounded half-up by itself, as an invoice line is, plus
    each add-on's price per period."""
    total = Money.from_minor(price_version.amount_minor * quantity, price_version.currency)
    for option in options.values():
        line = Decimal(option["unit_price"]) * int(option["quantity"])
        total += Money.rounded(line, price_version.currency)
    for addon in (addons or {}).values():
        total += Money.from_minor(int(addon["amount_minor"]), price_version.currency)
    return total


def service_charge(*, service: Service) -> Money:
    """What the current period costs."""
    return recurring_charge(
        price_version=service.price_version, quantity=service.quantity, options=service.options, addons=service.addons
    )


def service_next_charge(*, service: Service) -> Money:
    """What the next period will cost: the pending cycle's price if a change waits for the renewal."""
    if service.pending_cycle and service.pending_price_version is not None:
        return recurring_charge(
            price_version=service.pending_price_version,
            quantity=service.quantity,
            options=service.pending_options,
            addons=service.pending_addons,
        )
    return service_charge(service=service)


# --- The forward billing schedule -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduledCharge:
    # The day the period must be paid by: its first day.
    date: dt.date
    service: Service
    period_start: dt.date
    period_end: dt.date
    amount: Money

    @property
    def currency(self) -> str:
        return self.amount.currency


def forward_schedule(*, account: Account, as_of: dt.date, months: int = 12) -> list[ScheduledCharge]:
    """Every charge that the account's active services will bring by themselves from `as_of`
    (included) to `months` months later (excluded), by date then service.

    Computed from what is stored: each service's current period end, anchor day, cycle and
    price version; a pending cycle change applies from the next renewal on. Services that
    will not renew by themselves are left out: not active, auto-renew off, cancellation
    requested, one-time.
    """
    until = add_months(as_of, months)
    services = (
        Service.objects.of_account(account)
        .filter(status=ServiceStatus.ACTIVE, auto_renew=True, cancel_at_period_end=False)
        .exclude(current_period_end__isnull=True)
        .select_related("plan__product", "price_version", "pending_price_version")
    )
    charges: list[ScheduledCharge] = []
    for service in services:
        if service.cycle not in CYCLE_MONTHS or service.current_period_end is None:
            continue
        cycle = service.pending_cycle or service.cycle
        amount = service_next_charge(service=service)
        for start, end in periods_from(service.current_period_end, cycle, anchor_day=service.anchor_day, until=until):
            if start >= as_of:
                charges.append(
                    ScheduledCharge(date=start, service=service, period_start=start, period_end=end, amount=amount)
                )
    return sorted(charges, key=lambda charge: (charge.date, charge.service.pk))


# --- Usage and quotas ----------------------------------------------------------------------


def usage_in_period(
    *, service: Service, metric: str, start: dt.date | dt.datetime, end: dt.date | dt.datetime
) -> Decimal:
    """The sum of `metric`'s records with start <= recorded_at < end (dates are 00:00 UTC)."""
    total = UsageRecord.objects.filter(
        service=service, metric=metric, recorded_at__gte=as_moment(start), recorded_at__lt=as_moment(end)
    ).aggregate(total=Sum("quantity"))["total"]
    return Decimal(total or 0)


def usage_latest(*, service: Service, metric: str, before: dt.date | dt.datetime | None = None) -> Decimal:
    """The latest reading of a gauge metric (storage used), recorded before `before` if given."""
    records = UsageRecord.objects.filter(service=service, metric=metric)
    if before is not None:
        records = records.filter(recorded_at__lt=as_moment(before))
    latest = records.order_by("-recorded_at", "-id").values_list("quantity", flat=True).first()
    return Decimal(latest or 0)


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    metric: str
    name: str
    unit: str
    used: Decimal
    limit: Decimal
    # used / limit x 100, to one decimal, half-up; None for a zero limit.
    percent: Decimal | None

    @property
    def over_limit(self) -> bool:
        return self.used > self.limit

    @property
    def near_limit(self) -> bool:
        """Above the warning threshold (or any use of a zero quota)."""
        if self.percent is None:
            return self.used > 0
        return self.percent > QUOTA_WARNING_PERCENT


def quota_usage(*, service: Service) -> list[QuotaUsage]:
    """Each quota of the service's plan with what is used of it, by metric code.

    Counters are summed over the current period; gauges are their latest reading in it.
    """
    quotas = plan_quotas(plan=service.plan)
    metrics = {metric.code: metric for metric in UsageMetric.objects.filter(code__in=quotas)}
    start = service.current_period_start
    end = service.current_period_end
    result = []
    for code, limit in quotas.items():
        definition = metrics.get(code)
        if definition is not None and definition.aggregation == MetricAggregation.LAST:
            used = usage_latest(service=service, metric=code, before=end)
        elif start is None:
            used = Decimal(0)
        else:
            used = usage_in_period(service=service, metric=code, start=start, end=end or dt.date.max)
        percent = (used * 100 / limit).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if limit else None
        result.append(
            QuotaUsage(
                metric=code,
                name=definition.name if definition else code,
                unit=definition.unit if definition else "",
                used=used,
                limit=limit,
                percent=percent,
            )
        )
    return result
