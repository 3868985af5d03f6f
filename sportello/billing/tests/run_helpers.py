"""Shared set-up of the billing run tests: a catalog with an overage price, services in
known periods, and snapshots of every document the run writes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sportello.accounts.models import Account
from sportello.billing.models import BilledPeriod, Invoice, InvoiceLine, InvoiceTax
from sportello.catalog.models import Cycle, OveragePrice, PriceVersion
from sportello.catalog.services import overage_price_create
from sportello.catalog.tests.factories import SINCE, Catalog
from sportello.core.time import utc_now
from sportello.services.models import Service, ServiceStatus
from sportello.services.periods import period_after

# Every service of these tests is in its period [1 January, 1 February) 2026, due on 1 February;
# the product invoices 14 days ahead, so the run of 18 January is the first to bill it.
START = dt.date(2026, 1, 1)
DUE = dt.date(2026, 2, 1)
RUN_DAY = dt.date(2026, 1, 18)


def traffic_overage(catalog: Catalog, unit_price: str = "0.10", currency: str = "EUR") -> OveragePrice:
    return overage_price_create(
        plan=catalog.basic, metric="traffic_gb", currency=currency, unit_price=Decimal(unit_price), valid_from=SINCE
    )


def service_for(
    account: Account,
    price: PriceVersion,
    *,
    start: dt.date = START,
    status: str = ServiceStatus.ACTIVE,
    **fields: Any,
) -> Service:
    """A running service in its period from `start`, inserted as the services tests do."""
    end = period_after(start, price.cycle) if price.cycle != Cycle.ONE_TIME else None
    values: dict[str, Any] = {
        "account": account,
        "plan": price.plan,
        "price_version": price,
        "cycle": price.cycle,
        "status": status,
        "anchor_day": start.day,
        "current_period_start": start,
        "current_period_end": end,
        "next_due_date": end,
        "activated_at": utc_now(),
    }
    values.update(fields)
    return Service.objects.create(**values)


def documents() -> list[tuple[Any, ...]]:
    """Every invoice with its lines, taxes and billed periods, comparable across runs."""
    rows: list[tuple[Any, ...]] = []
    for invoice in Invoice.objects.order_by("pk"):
        lines = list(
            InvoiceLine.objects.filter(invoice=invoice)
            .order_by("position")
            .values_list("kind", "description", "quantity", "unit_price", "amount_minor", "service_id")
        )
        taxes = list(
            InvoiceTax.objects.filter(invoice=invoice).values_list("category", "rate", "taxable_minor", "tax_minor")
        )
        periods = sorted(
            BilledPeriod.objects.filter(invoice=invoice).values_list("service_id", "period_start", "period_end")
        )
        rows.append(
            (
                invoice.account_id,
                invoice.number,
                invoice.status,
                invoice.source,
                invoice.issue_date,
                invoice.due_date,
                invoice.total_minor,
                tuple(lines),
                tuple(taxes),
                tuple(periods),
            )
        )
    return rows
