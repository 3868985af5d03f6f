"""Shared set-up of the billing run tests: a catalog with an overage price, services in
known periods, and snapshots of every document the run writes."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from sportello.accounts.models import Account
from sportello.billing.models import (
    BilledPeriod,
    DunningSuspension,
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceTax,
    LateFee,
    ReminderSent,
)
from sportello.billing.run import COUNTS, billing_run_report
from sportello.catalog.models import Cycle, OveragePrice, PriceVersion
from sportello.catalog.services import overage_price_create
from sportello.catalog.tests.factories import SINCE, Catalog
from sportello.core.time import utc_now
from sportello.notifications.models import EmailKind, EmailLog
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


NUMBER = re.compile(r"[A-Z]+-\d{4}-\d+")


def outcome() -> dict[str, Any]:
    """Everything the billing run decides, comparable between a single run and partitions
    that drew their numbers in another order: per account its invoices (with lines, taxes,
    billed periods, events, reminders and late fee), its reminder emails and its services'
    statuses, each invoice named by what it bills instead of by its number; and every
    number given (gapless, distinct: checked by the caller)."""
    invoices = list(Invoice.objects.select_related("account").order_by("pk"))
    names = {
        invoice.display_number: f"<{invoice.account.name}: {invoice.source} due {invoice.due_date}>"
        for invoice in invoices
    }
    assert len(names) == len(invoices), "a number given twice"

    def named(text: str) -> str:
        return NUMBER.sub(lambda match: names.get(match.group(0), match.group(0)), text)

    numbers = {invoice.pk: invoice.display_number for invoice in invoices}
    fees = {invoice_id: numbers[fee_id] for invoice_id, fee_id in LateFee.objects.values_list("invoice", "fee_invoice")}
    per_account: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for invoice in invoices:
        lines = tuple(
            (kind, named(description), quantity, unit_price, amount, service_id)
            for kind, description, quantity, unit_price, amount, service_id in InvoiceLine.objects.filter(
                invoice=invoice
            )
            .order_by("position")
            .values_list("kind", "description", "quantity", "unit_price", "amount_minor", "service_id")
        )
        taxes = tuple(
            InvoiceTax.objects.filter(invoice=invoice)
            .order_by("category", "rate")
            .values_list("category", "rate", "taxable_minor", "tax_minor")
        )
        periods = tuple(
            sorted(BilledPeriod.objects.filter(invoice=invoice).values_list("service_id", "period_start", "period_end"))
        )
        events = tuple(
            sorted(Counter(InvoiceEvent.objects.filter(invoice=invoice).values_list("transition", flat=True)).items())
        )
        reminders = tuple(
            ReminderSent.objects.filter(invoice=invoice).order_by("stage").values_list("stage", "sent_on", "recipients")
        )
        per_account[invoice.account.name].append(
            (
                names[invoice.display_number],
                invoice.status,
                invoice.issue_date,
                invoice.total_minor,
                named(invoice.legal_notes),
                lines,
                taxes,
                periods,
                events,
                reminders,
                names[fees[invoice.pk]] if invoice.pk in fees else "",
            )
        )
    emails = sorted(
        (account or "", to_email, named(subject))
        for account, to_email, subject in EmailLog.objects.filter(kind=EmailKind.REMINDER).values_list(
            "account__name", "to_email", "subject"
        )
    )
    services = sorted(
        (account, pk, status, named(reason))
        for account, pk, status, reason in Service.objects.values_list(
            "account__name", "pk", "status", "suspended_reason"
        )
    )
    suspensions = sorted(
        (service_id, names[numbers[invoice_id]], suspended_on, lifted_on)
        for service_id, invoice_id, suspended_on, lifted_on in DunningSuspension.objects.values_list(
            "service", "invoice", "suspended_on", "lifted_on"
        )
    )
    return {
        "invoices": {account: sorted(rows) for account, rows in sorted(per_account.items())},
        "reminder emails": emails,
        "services": services,
        "suspensions": suspensions,
        "numbers": sorted(numbers.values()),
    }


def report_counts(as_of: dt.date) -> dict[str, Any]:
    """The date's report over all partitions, without what depends on how it was split."""
    report = billing_run_report(as_of=as_of)
    return {key: report[key] for key in (*COUNTS, "totals", "errors")}
