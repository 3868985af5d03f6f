"""The daily billing run: renewal invoices, then dunning (see `billing.dunning`).

`billing_run(as_of=..., partition=...)` is what the scheduled task, the CLI and the
benchmark call. For the accounts of its partition it:

1. Invoices every service whose next period starts within its product's invoice lead
   days of `as_of`: active and suspended services (the services model lets a paid renewal
   extend a suspended one) that renew by themselves (auto-renew on, no cancellation asked
   for, a recurring cycle). One renewal per (service, period), guarded by
   `BilledPeriod`'s unique constraint; services of an account falling due on the same day
   share one invoice unless its `BillingPreference.group_renewals` is off.
   Lines: the plan at the service's price version (or the cycle change waiting for this
   renewal, `Service.pending_*`), its options as sold, and overage: for each metric the
   plan prices (`catalog.OveragePrice`), the usage above the plan's quota in the last
   ended period (`usage_window`), billed in arrears.
2. Runs the steps other domains register with `on_billing_run` (payments: auto-pay
   retries), so that a retry that pays comes before dunning looks at the invoice.
3. Runs dunning (reminders, overdue, late fees, suspension, termination, period ends).

Idempotency and crashes. Accounts are taken in id order, in batches of whole accounts
(about BILLING_RUN_BATCH services); each batch is one transaction that locks its accounts,
re-reads what is still unbilled, takes the batch's invoice numbers in one locked call
(`numbering.numbers_take`: gapless, a rollback returns them) and writes invoices, lines,
taxes, billed periods, events and the report's counts together. Killed at any point, a
batch has either committed whole or left nothing; the next run (or a concurrent one that
waited for the account locks) finds those periods billed and skips them. Should two runs
still collide, the unique constraint on `BilledPeriod` refuses the second insert; the
batch rolls back and is redone from a fresh read (insert, then catch the violation).

Partitions. A run may cover the accounts whose id modulo n is i ("i/n"): the daily job
enqueues the n partitions as tasks when BILLING_RUN_PARTITIONS is n (`billing.tasks`), or
an operator starts `sportello billing-run --partition i/n` n times. Partitions touch
disjoint accounts and share only the number counter; each keeps its own report, and
`billing_run_report` adds a date's up.

Speed. Work is set-based per batch: a handful of queries whatever its size (services with
their plan, product and prices; preferences; previous billed periods; usage summed per
window in one grouped query; bulk inserts), and figures and taxes through the same
functions `invoice_create` uses (`taxes.tax_decide`, `calc.document_figures` via
`services.new_lines_figures`), with tax decisions cached per (buyer's country, region, VAT id, tax class).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Mod
from django.utils import translation
from django.utils.translation import gettext as _

from sportello.accounts.models import Account
from sportello.billing.bulk import db_value, rows_insert
from sportello.billing.calc import DocumentFigures
from sportello.billing.models import (
    BilledPeriod,
    BillingPreference,
    BillingRun,
    BillingRunStatus,
    DocumentKind,
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceSource,
    InvoiceStatus,
    InvoiceTax,
    InvoiceTransition,
    LineKind,
)
from sportello.billing.numbering import number_format, numbers_take, series_of
from sportello.billing.selectors import seller_current
from sportello.billing.services import (
    NewLine,
    buyer_printed,
    invoice_mark_paid,
    invoices_issued_handle,
    issued_handlers_registered,
    legal_notes_compose,
    new_line_clean,
    new_lines_figures,
    numbering_at_payment,
    seller_printed,
)
from sportello.billing.taxes import TaxDecision, tax_decide
from sportello.catalog.models import (
    CYCLE_MONTHS,
    MetricAggregation,
    OveragePrice,
    Plan,
    PriceVersion,
    Product,
    UsageMetric,
)
from sportello.catalog.selectors import as_moment
from sportello.core.effects import effects_grouped
from sportello.core.money import currency_exponent
from sportello.core.time import utc_now
from sportello.services.models import Service, ServiceStatus, UsageRecord
from sportello.services.periods import add_months, period_after

logger = logging.getLogger(__name__)

# Errors kept on a run's report; older ones are dropped beyond this.
MAX_ERRORS = 200
# A batch that loses a race on BilledPeriod is redone this many times before it is reported.
RETRIES = 3
USAGE_QUANTUM = Decimal("0.000001")
# Distinct documents whose figures are kept for reuse within a run.
FIGURES_CACHE_SIZE = 5000

# `progress(step, done, total)`: how far a step of the run ("renewals", "reminders"...) is.
Progress = Callable[[str, int, int], None]


def step_progress(progress: Progress | None, step: str, total: Callable[[], int]) -> Callable[[], None]:
    """A tick per item of one step of the run, reported to `progress` as (step, done, total).
    `total` is counted only when someone watches (the CLI's progress bar)."""
    if progress is None:
        return lambda: None
    count = total()
    done = 0
    progress(step, 0, count)

    def tick() -> None:
        nonlocal done
        done += 1
        progress(step, done, count)

    return tick


@dataclass(frozen=True, slots=True)
class Partition:
    """The accounts whose id modulo `count` is `index`: one worker's share of a run."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Partition:
        """`"i/n"` with 0 <= i < n, e.g. "0/4"; ValueError otherwise."""
        try:
            index_text, count_text = text.split("/")
            index, count = int(index_text), int(count_text)
        except ValueError:
            raise ValueError("a partition is written i/n, e.g. 0/4") from None
        if count < 1 or not 0 <= index < count:
            raise ValueError("a partition i/n needs 0 <= i < n")
        return cls(index=index, count=count)

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


# The counts of a run's report (`BillingRun`'s fields of the same names).
COUNTS = (
    "services_billed",
    "invoices_issued",
    "reminders_sent",
    "invoices_overdue",
    "late_fees",
    "services_suspended",
    "services_terminated",
    "services_ended",
    "autopay_retries",
    "autopay_retries_paid",
)


@dataclass
class RunSummary:
    as_of: dt.date
    partition: str
    services_billed: int = 0
    invoices_issued: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    reminders_sent: int = 0
    invoices_overdue: int = 0
    late_fees: int = 0
    services_suspended: int = 0
    services_terminated: int = 0
    services_ended: int = 0
    autopay_retries: int = 0
    autopay_retries_paid: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "partition": self.partition,
            **{name: getattr(self, name) for name in COUNTS},
            "totals": dict(sorted(self.totals.items())),
            "errors": len(self.errors),
        }


# --- The report ----------------------------------------------------------------------------


def _run_open(*, as_of: dt.date, partition: Partition | None) -> BillingRun:
    label = partition.label if partition else "all"
    with transaction.atomic():
        try:
            with transaction.atomic():
                BillingRun.objects.create(as_of=as_of, partition=label)
        except IntegrityError:
            pass  # a report for this date and partition exists: this attempt continues it
        BillingRun.objects.filter(as_of=as_of, partition=label).update(
            attempts=F("attempts") + 1, status=BillingRunStatus.RUNNING, started_at=utc_now(), finished_at=None
        )
        return BillingRun.objects.get(as_of=as_of, partition=label)


def run_count(run: BillingRun, counts: dict[str, int], *, totals: dict[str, int] | None = None) -> None:
    """Add to the report, inside the caller's transaction, so counts commit with the work."""
    updates: dict[str, Any] = {name: F(name) + value for name, value in counts.items() if value}
    if totals:
        # Totals are a JSON map: read-modify-write under the row's lock.
        locked = BillingRun.objects.select_for_update().only("totals").get(pk=run.pk)
        merged = dict(locked.totals)
        for currency, minor in totals.items():
            merged[currency] = int(merged.get(currency, 0)) + minor
        updates["totals"] = merged
    if updates:
        BillingRun.objects.filter(pk=run.pk).update(**updates)


def run_error(run: BillingRun, **error: Any) -> None:
    """Record a refusal on the report in a transaction of its own (the work itself rolled back)."""
    logger.warning("billing run error", extra={"billing_error": error})
    with transaction.atomic():
        locked = BillingRun.objects.select_for_update().only("errors").get(pk=run.pk)
        errors = [*locked.errors, {key: value for key, value in error.items() if value is not None}][-MAX_ERRORS:]
        BillingRun.objects.filter(pk=run.pk).update(errors=errors)


def _run_close(run: BillingRun, *, failed: bool) -> BillingRun:
    BillingRun.objects.filter(pk=run.pk).update(
        status=BillingRunStatus.FAILED if failed else BillingRunStatus.DONE, finished_at=utc_now()
    )
    return BillingRun.objects.get(pk=run.pk)


def billing_run_report(*, as_of: dt.date) -> dict[str, Any]:
    """The report of a date's run over all its partitions, as one.

    Each partition's report counts only the documents it wrote, so the day's counts and
    totals are their sums (a whole run and partitions of the same date add up too). Besides
    `as_dict`'s keys: `partitions` ({label: status}), `missing` (partitions of the split not
    started yet: "1/4" when only 0/4, 2/4 and 3/4 ran) and `status`: done once every account
    was covered by finished runs, failed if one failed, running otherwise, none if no run."""
    rows = list(BillingRun.objects.filter(as_of=as_of).order_by("partition"))
    summary = RunSummary(as_of=as_of, partition="combined")
    for row in rows:
        for name in COUNTS:
            setattr(summary, name, getattr(summary, name) + getattr(row, name))
        for currency, minor in row.totals.items():
            summary.totals[currency] = summary.totals.get(currency, 0) + int(minor)
        summary.errors.extend({**error, "partition": row.partition} for error in row.errors)
    statuses = {row.partition: row.status for row in rows}
    missing = _partitions_missing(set(statuses))
    if not rows:
        status = "none"
    elif BillingRunStatus.FAILED in statuses.values():
        status = BillingRunStatus.FAILED
    elif missing or BillingRunStatus.RUNNING in statuses.values():
        status = BillingRunStatus.RUNNING
    else:
        status = BillingRunStatus.DONE
    return {**summary.as_dict(), "partitions": statuses, "missing": missing, "status": str(status)}


def _partitions_missing(labels: set[str]) -> list[str]:
    """The partitions not run yet of each split ("i/n") seen; none once one split, or a
    whole run ("all"), covered every account."""
    if not labels or "all" in labels:
        return []
    splits: dict[int, set[int]] = defaultdict(set)
    for label in labels:
        partition = Partition.parse(label)
        splits[partition.count].add(partition.index)
    if any(len(indexes) == count for count, indexes in splits.items()):
        return []
    return [f"{i}/{count}" for count, indexes in sorted(splits.items()) for i in range(count) if i not in indexes]


# --- Which services are due ------------------------------------------------------------------


def in_partition(queryset: QuerySet[Any], partition: Partition | None, *, field: str = "account_id") -> QuerySet[Any]:
    if partition is None or partition.count == 1:
        return queryset
    return queryset.annotate(_partition=Mod(field, partition.count)).filter(_partition=partition.index)


def services_due(*, as_of: dt.date, partition: Partition | None = None, unbilled: bool = True) -> QuerySet[Service]:
    """Services whose next period starts within their product's invoice lead days of `as_of`
    and (with `unbilled`) is not billed yet."""
    lead_days = sorted(set(Product.objects.values_list("invoice_lead_days", flat=True)))
    window = Q(pk__in=[])
    for days in lead_days:
        window |= Q(plan__product__invoice_lead_days=days, next_due_date__lte=as_of + dt.timedelta(days=days))
    billed = BilledPeriod.objects.filter(service_id=OuterRef("pk"), period_start=OuterRef("current_period_end"))
    queryset = Service.objects.filter(
        status__in=[ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED],
        auto_renew=True,
        cancel_at_period_end=False,
        current_period_end__isnull=False,
        next_due_date__isnull=False,
        cycle__in=list(CYCLE_MONTHS),
    ).filter(window)
    if unbilled:
        queryset = queryset.filter(~Exists(billed))
    return in_partition(queryset, partition)


def _account_batches(due: QuerySet[Service], size: int) -> Iterator[tuple[list[int], int]]:
    """Whole accounts, in id order, about `size` services at a time: (account ids, services)."""
    rows = due.order_by().values("account_id").annotate(n=Count("pk")).order_by("account_id")
    accounts: list[int] = []
    count = 0
    for row in rows.iterator(chunk_size=10000):
        accounts.append(row["account_id"])
        count += row["n"]
        if count >= size:
            yield accounts, count
            accounts, count = [], 0
    if accounts:
        yield accounts, count


# --- Usage --------------------------------------------------------------------------------


def usage_window(service: Service, previous: dict[int, tuple[dt.date, dt.date]]) -> tuple[dt.date, dt.date] | None:
    """The period whose usage the renewal of `service`'s next period bills: the one that
    ended when its current period started (in arrears, so that it has ended by the time
    the renewal is invoiced, lead days before the next period). Taken from the billed
    period that ended then, or else one cycle back from the current period's start."""
    if service.current_period_start is None:
        return None
    if service.pk in previous:
        return previous[service.pk]
    months = CYCLE_MONTHS[service.cycle]
    start = add_months(service.current_period_start, -months, anchor_day=service.anchor_day)
    return start, service.current_period_start


class OverageTable:
    """Every overage price and metric, loaded once per run (the catalog is small)."""

    def __init__(self) -> None:
        self.prices: dict[tuple[int, str, str], list[OveragePrice]] = defaultdict(list)
        for price in OveragePrice.objects.order_by("-valid_from"):
            self.prices[(price.plan_id, price.metric, price.currency)].append(price)
        self.metrics = {metric.code: metric for metric in UsageMetric.objects.all()}
        self.plans_priced = {plan_id for plan_id, _, _ in self.prices}

    def metrics_of(self, plan_id: int, currency: str) -> list[str]:
        return sorted(metric for (plan, metric, cur) in self.prices if plan == plan_id and cur == currency)

    def unit_price(self, plan_id: int, metric: str, currency: str, at: dt.date) -> Decimal | None:
        moment = as_moment(at)
        for price in self.prices.get((plan_id, metric, currency), []):
            if price.valid_from < moment:  # valid while the period ran, up to its end
                return price.unit_price
        return None


def _usage_totals(
    services: list[Service], windows: dict[int, tuple[dt.date, dt.date]], table: OverageTable
) -> dict[tuple[int, str], Decimal]:
    """Usage per (service, metric) in each service's window: one grouped query per distinct
    window (services sharing an anchor day share it), summing counters and taking the last
    reading of gauges."""
    by_window: dict[tuple[dt.date, dt.date], list[Service]] = defaultdict(list)
    for service in services:
        if service.pk in windows:
            by_window[windows[service.pk]].append(service)
    totals: dict[tuple[int, str], Decimal] = {}
    for (start, end), group in by_window.items():
        metrics = sorted({m for s in group for m in table.metrics_of(s.plan_id, s.account.currency)})
        sums = [m for m in metrics if _aggregation(table, m) == MetricAggregation.SUM]
        lasts = [m for m in metrics if _aggregation(table, m) == MetricAggregation.LAST]
        records = UsageRecord.objects.filter(
            service_id__in=[s.pk for s in group], recorded_at__gte=as_moment(start), recorded_at__lt=as_moment(end)
        )
        if sums:
            grouped = records.filter(metric__in=sums).order_by().values("service_id", "metric")
            for row in grouped.annotate(total=Sum("quantity")):
                totals[(row["service_id"], row["metric"])] = Decimal(row["total"] or 0)
        if lasts:
            readings = records.filter(metric__in=lasts).order_by("recorded_at", "id")
            for service_id, metric, quantity in readings.values_list("service_id", "metric", "quantity"):
                totals[(service_id, metric)] = Decimal(quantity)
    return {key: value.quantize(USAGE_QUANTUM) for key, value in totals.items()}


def _aggregation(table: OverageTable, metric: str) -> str:
    definition = table.metrics.get(metric)
    return definition.aggregation if definition is not None else MetricAggregation.SUM


# --- Building the invoices of a batch ------------------------------------------------------


@dataclass
class Draft:
    """One renewal invoice being built: its account, due date and what it bills."""

    account: Account
    due_date: dt.date
    currency: str
    lines: list[NewLine] = field(default_factory=list)
    periods: list[tuple[int, dt.date, dt.date]] = field(default_factory=list)


class TaxCache:
    """`tax_decide` per (buyer's country, region, VAT id, tax class): the decision depends on
    nothing else on one date, and the run asks it for thousands of identical buyers."""

    def __init__(self, *, seller_country: str, as_of: dt.date) -> None:
        self.seller_country = seller_country
        self.as_of = as_of
        self.cache: dict[tuple[str, str, str, str], TaxDecision] = {}

    def decide(self, account: Account, tax_class: str) -> TaxDecision:
        key = (account.country, account.region, account.vat_id, tax_class)
        decision = self.cache.get(key)
        if decision is None:
            decision = tax_decide(
                seller_country=self.seller_country, buyer=account, tax_class=tax_class, as_of=self.as_of
            )
            self.cache[key] = decision
        return decision


def _major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_exponent(currency))


def _service_name(service: Service) -> str:
    name = f"{service.plan.product.name} {service.plan.name}"
    return f"{name} ({service.label})" if service.label else name


def renewal_lines(
    service: Service,
    *,
    usage: dict[tuple[int, str], Decimal],
    window: tuple[dt.date, dt.date] | None,
    table: OverageTable,
) -> tuple[list[NewLine], dt.date, dt.date]:
    """The lines renewing `service` for its next period, and that period [start, end).

    Call inside `translation.override(account language)`: descriptions are printed as is.
    """
    start = service.current_period_end
    assert start is not None  # services_due only takes services with a period end
    price = service.price_version
    options = service.options
    cycle = service.cycle
    if service.pending_cycle and service.pending_price_version is not None:
        # A cycle change takes effect at the renewal (services._apply_pending_cycle); bill it.
        price, options, cycle = service.pending_price_version, service.pending_options, service.pending_cycle
    end = period_after(start, cycle, anchor_day=service.anchor_day)
    currency = price.currency
    tax_class = service.plan.product.tax_class
    name = _service_name(service)
    lines = [
        NewLine(
            description=name,
            quantity=Decimal(service.quantity),
            unit_price=_major(price.amount_minor, currency),
            kind=LineKind.PLAN,
            tax_class=tax_class,
            period_start=start,
            period_end=end,
            service_id=service.pk,
        )
    ]
    for code, option in sorted(options.items()):
        lines.append(
            NewLine(
                description=_("%(service)s: %(option)s") % {"service": name, "option": code},
                quantity=Decimal(int(option["quantity"])),
                unit_price=Decimal(option["unit_price"]),
                kind=LineKind.OPTION,
                tax_class=tax_class,
                period_start=start,
                period_end=end,
                service_id=service.pk,
            )
        )
    if window is not None and service.plan_id in table.plans_priced:
        quotas = service.plan.quotas
        for metric in table.metrics_of(service.plan_id, currency):
            used = usage.get((service.pk, metric), Decimal(0))
            included = Decimal(str(quotas.get(metric, 0)))
            above = (used - included).quantize(USAGE_QUANTUM)
            unit_price = table.unit_price(service.plan_id, metric, currency, window[1])
            if above <= 0 or unit_price is None:
                continue
            definition = table.metrics.get(metric)
            lines.append(
                NewLine(
                    description=_("%(service)s: %(metric)s above the %(included)s %(unit)s included")
                    % {
                        "service": name,
                        "metric": definition.name if definition else metric,
                        "included": f"{included.normalize():f}",
                        "unit": definition.unit if definition else "",
                    },
                    quantity=above,
                    unit_price=unit_price,
                    kind=LineKind.USAGE,
                    tax_class=tax_class,
                    period_start=window[0],
                    period_end=window[1],
                    service_id=service.pk,
                )
            )
    return lines, start, end


class CatalogCache:
    """Plans (with their product) and price versions by id, loaded once per run: thousands
    of services share a handful of them, so each service points at the shared rows instead
    of joining and building its own copies."""

    def __init__(self) -> None:
        self.plans: dict[int, Plan] = {}
        self.prices: dict[int, PriceVersion] = {}

    def attach(self, services: list[Service]) -> None:
        plan_ids = {s.plan_id for s in services} - self.plans.keys()
        if plan_ids:
            self.plans.update(Plan.objects.select_related("product").in_bulk(plan_ids))
        price_ids = {s.price_version_id for s in services} | {
            s.pending_price_version_id for s in services if s.pending_price_version_id
        }
        price_ids -= self.prices.keys()
        if price_ids:
            self.prices.update(PriceVersion.objects.in_bulk(price_ids))
        plan_field = Service._meta.get_field("plan")
        price_field = Service._meta.get_field("price_version")
        pending_field = Service._meta.get_field("pending_price_version")
        for service in services:
            plan_field.set_cached_value(service, self.plans[service.plan_id])
            price_field.set_cached_value(service, self.prices[service.price_version_id])
            pending = self.prices[service.pending_price_version_id] if service.pending_price_version_id else None
            pending_field.set_cached_value(service, pending)


@dataclass
class BatchResult:
    services: int = 0
    invoices: list[int] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)


class RenewalBatch:
    """One transaction: the renewal invoices of a set of whole accounts."""

    def __init__(
        self, *, as_of: dt.date, run: BillingRun, table: OverageTable, taxes: TaxCache, due_any: QuerySet[Service]
    ) -> None:
        self.as_of = as_of
        # The services due, billed or not: each batch leaves out what is billed itself.
        self.due_any = due_any
        self.run = run
        self.table = table
        self.taxes = taxes
        self.catalog = CatalogCache()
        self.legal_notes: dict[tuple[str, tuple[TaxDecision, ...]], str] = {}
        self.figures: dict[tuple[Any, ...], DocumentFigures] = {}

    def bill(self, due: QuerySet[Service], account_ids: list[int]) -> BatchResult:
        # What the issued handlers ask for after commit (a PDF render task per invoice...)
        # is enqueued in one transaction per batch rather than one per invoice.
        with effects_grouped(), transaction.atomic():
            return self._bill(due, account_ids)

    def _bill(self, due: QuerySet[Service], account_ids: list[int]) -> BatchResult:
        if connection.features.has_select_for_update:
            # Lock order: accounts first (DESIGN). A concurrent run for the same accounts
            # waits here, then reads the periods this one billed and skips them.
            list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk").values_list("pk"))
        # Batches are runs of consecutive ids (of this partition): a range, not a long IN list.
        in_batch = {"account_id__gte": account_ids[0], "account_id__lte": account_ids[-1]}
        candidates = list(self.due_any.filter(**in_batch).order_by("account_id", "next_due_date", "pk"))
        # What is billed already is left out here, by an indexed look-up of the batch's own
        # periods (an anti-join in the query above would read the whole table every batch).
        billed = set(
            BilledPeriod.objects.filter(
                service_id__in=[s.pk for s in candidates],
                period_start__in={s.current_period_end for s in candidates},
            ).values_list("service_id", "period_start")
        )
        services = [s for s in candidates if (s.pk, s.current_period_end) not in billed]
        result = BatchResult()
        if not services:
            return result
        accounts = Account.objects.in_bulk({s.account_id for s in services})
        account_field = Service._meta.get_field("account")
        for service in services:
            account_field.set_cached_value(service, accounts[service.account_id])
        self.catalog.attach(services)
        grouped = dict(BillingPreference.objects.filter(**in_batch).values_list("account_id", "group_renewals"))
        windows = self._windows(services)
        usage = _usage_totals(services, windows, self.table)

        # Descriptions are written in each account's language: one switch per language.
        by_language: dict[str, list[Service]] = defaultdict(list)
        for service in services:
            by_language[service.account.language].append(service)
        drafts: dict[tuple[Any, ...], Draft] = {}
        for language, group in by_language.items():
            with translation.override(language):
                for service in group:
                    account = service.account
                    due_date = max(service.next_due_date or self.as_of, self.as_of)
                    key: tuple[Any, ...] = (account.pk, due_date, account.currency)
                    if not grouped.get(account.pk, True):
                        key = (*key, service.pk)
                    draft = drafts.get(key)
                    if draft is None:
                        draft = drafts[key] = Draft(account=account, due_date=due_date, currency=account.currency)
                    lines, start, end = renewal_lines(
                        service, usage=usage, window=windows.get(service.pk), table=self.table
                    )
                    draft.lines.extend(lines)
                    draft.periods.append((service.pk, start, end))
        # Numbered in account, due date and service order, whatever the languages.
        ordered = [drafts[key] for key in sorted(drafts, key=lambda k: (k[0], k[1], k[3] if len(k) > 3 else 0))]
        result.services = len(services)
        result.invoices = self._write(ordered, result)
        return result

    def _windows(self, services: list[Service]) -> dict[int, tuple[dt.date, dt.date]]:
        priced = [s for s in services if s.plan_id in self.table.plans_priced]
        if not priced:
            return {}
        ends = {s.current_period_start for s in priced}
        previous: dict[int, tuple[dt.date, dt.date]] = {}
        rows = BilledPeriod.objects.filter(service_id__in=[s.pk for s in priced], period_end__in=ends)
        starts = {s.pk: s.current_period_start for s in priced}
        for service_id, start, end in rows.values_list("service_id", "period_start", "period_end"):
            if end is not None and end == starts[service_id]:
                previous[service_id] = (start, end)
        windows = {}
        for service in priced:
            window = usage_window(service, previous)
            if window is not None:
                windows[service.pk] = window
        return windows

    def _write(self, drafts: list[Draft], result: BatchResult) -> list[int]:
        """Figures, numbers and rows of the batch's invoices; returns their ids."""
        as_of = self.as_of
        inclusive = settings.BILLING_PRICES_INCLUDE_TAX
        # The same seller on every invoice: converted for the database once.
        seller = db_value(Invoice, "seller", seller_printed(seller_current()))
        now = utc_now()
        built: list[tuple[Draft, list[NewLine], list[TaxDecision], DocumentFigures, str]] = []
        for draft in drafts:
            account = draft.account
            cleaned = [new_line_clean(line, draft.currency) for line in draft.lines]
            decisions = [self.taxes.decide(account, line.tax_class) for line in cleaned]
            # Figures depend on the numbers and rates alone, and most renewals repeat a few
            # plans: computed once per distinct set of lines (the same function, memoised).
            figures_key = (
                account.language,
                draft.currency,
                tuple((line.quantity, line.unit_price, line.discount_minor) for line in cleaned),
                tuple(decisions),
            )
            figures = self.figures.get(figures_key)
            if figures is None:
                if len(self.figures) >= FIGURES_CACHE_SIZE:
                    self.figures.clear()  # usage makes many documents unique: keep memory flat
                # Tax names and wordings are stored as they print: in the invoice's language.
                with translation.override(account.language):
                    figures = self.figures[figures_key] = new_lines_figures(
                        cleaned, decisions, currency=draft.currency, inclusive=inclusive
                    )
            notes_key = (account.language, tuple(decisions))
            legal_notes = self.legal_notes.get(notes_key)
            if legal_notes is None:
                with translation.override(account.language):
                    legal_notes = self.legal_notes[notes_key] = legal_notes_compose(decisions)
            built.append((draft, cleaned, decisions, figures, legal_notes))

        # Numbers last, just before the inserts: the counter stays locked until commit.
        proforma = numbering_at_payment(Invoice(kind=DocumentKind.INVOICE))
        series = series_of(DocumentKind.PROFORMA if proforma else DocumentKind.INVOICE)
        first = numbers_take(series=series, year=as_of.year, count=len(built))
        numbers = [number_format(series=series, year=as_of.year, sequence=first + n) for n in range(len(built))]
        rows_insert(
            Invoice,
            INVOICE_COLUMNS,
            (
                (
                    now,
                    now,
                    draft.account.pk,
                    DocumentKind.INVOICE,
                    InvoiceStatus.OPEN,
                    InvoiceSource.RENEWAL,
                    draft.currency,
                    draft.account.language,
                    inclusive,
                    "" if proforma else series,
                    None if proforma else as_of.year,
                    None if proforma else first + n,
                    "" if proforma else numbers[n],
                    numbers[n] if proforma else "",
                    as_of,
                    draft.due_date,
                    min(start for _, start, _ in draft.periods),
                    seller,
                    buyer_printed(draft.account),
                    figures.net_minor,
                    figures.tax_minor,
                    figures.total_minor,
                    legal_notes,
                    "",
                    "",
                    "",
                )
                for n, (draft, _cleaned, _decisions, figures, legal_notes) in enumerate(built)
            ),
            prepared=["seller"],
        )
        # The ids, by the numbers just given (unique in their series and year).
        numbered = Invoice.objects.filter(account_id__in={draft.account.pk for draft, *_ in built})
        if proforma:
            ids_by_number = dict(numbered.filter(proforma_number__in=numbers).values_list("proforma_number", "pk"))
        else:
            ids_by_number = dict(
                numbered.filter(
                    series=series, year=as_of.year, sequence__gte=first, sequence__lt=first + len(built)
                ).values_list("number", "pk")
            )
        ids = [ids_by_number[number] for number in numbers]

        lines: list[tuple[Any, ...]] = []
        taxes: list[tuple[Any, ...]] = []
        periods: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        for invoice_id, number, (draft, cleaned, decisions, figures, _notes) in zip(ids, numbers, built, strict=True):
            with translation.override(draft.account.language):
                tax_names = [str(decision.name) for decision in decisions]
            for position, (line, decision, line_figures) in enumerate(
                zip(cleaned, decisions, figures.lines, strict=True)
            ):
                lines.append(
                    (
                        invoice_id,
                        position,
                        line.kind,
                        line.description,
                        line.period_start,
                        line.period_end,
                        line.quantity,
                        line.unit_price,
                        line.discount_minor,
                        line_figures.amount_minor,
                        line_figures.net_minor,
                        decision.rate,
                        decision.category,
                        tax_names[position],
                        line.service_id,
                    )
                )
            taxes.extend(
                (invoice_id, tax.category, tax.rate, tax.name, tax.taxable_minor, tax.tax_minor, tax.exemption_text)
                for tax in figures.taxes
            )
            periods.extend((service_id, start, end, invoice_id) for service_id, start, end in draft.periods)
            events.append(
                (
                    draft.account.pk,
                    invoice_id,
                    InvoiceTransition.ISSUE,
                    InvoiceStatus.DRAFT,
                    InvoiceStatus.OPEN,
                    now,
                    {"number": number, "total_minor": figures.total_minor, "billing_run": as_of.isoformat()},
                )
            )
            result.totals[draft.currency] = result.totals.get(draft.currency, 0) + figures.total_minor
        # The guard: one renewal per (service, period). A concurrent run that billed one of
        # these periods makes this insert fail, and the whole batch rolls back.
        rows_insert(BilledPeriod, ["service", "period_start", "period_end", "invoice"], periods)
        rows_insert(InvoiceLine, LINE_COLUMNS, lines)
        rows_insert(
            InvoiceTax, ["invoice", "category", "rate", "name", "taxable_minor", "tax_minor", "exemption_text"], taxes
        )
        rows_insert(
            InvoiceEvent, ["account", "invoice", "transition", "from_status", "to_status", "at", "data"], events
        )
        run_count(self.run, {"services_billed": len(periods), "invoices_issued": len(ids)}, totals=result.totals)

        zero = {invoice_id for invoice_id, built_row in zip(ids, built, strict=True) if built_row[3].total_minor == 0}
        if issued_handlers_registered() or zero:
            issued = list(Invoice.objects.filter(pk__in=ids).order_by("pk"))
            for invoice in issued:
                if invoice.pk in zero:
                    invoice_mark_paid(invoice, settled_on=as_of, by=None)  # nothing to pay: paid at once, as on issue
            # The whole batch at once: PDFs, account credit and auto-pay in a few queries.
            invoices_issued_handle(issued)
        return ids


INVOICE_COLUMNS = [
    "created_at",
    "updated_at",
    "account",
    "kind",
    "status",
    "source",
    "currency",
    "language",
    "prices_include_tax",
    "series",
    "year",
    "sequence",
    "number",
    "proforma_number",
    "issue_date",
    "due_date",
    "supply_date",
    "seller",
    "buyer",
    "net_minor",
    "tax_minor",
    "total_minor",
    "legal_notes",
    "notes",
    "pdf",
    "pdf_sha256",
]
LINE_COLUMNS = [
    "invoice",
    "position",
    "kind",
    "description",
    "period_start",
    "period_end",
    "quantity",
    "unit_price",
    "discount_minor",
    "amount_minor",
    "net_minor",
    "tax_rate",
    "tax_category",
    "tax_name",
    "service",
]


# --- The run -----------------------------------------------------------------------------


def renewals_run(
    *, as_of: dt.date, run: BillingRun, partition: Partition | None, summary: RunSummary, progress: Progress | None
) -> None:
    due = services_due(as_of=as_of, partition=partition)
    batches = list(_account_batches(due, settings.BILLING_RUN_BATCH))
    total = sum(count for _, count in batches)
    done = 0
    if progress:
        progress("renewals", 0, total)
    seller = seller_current()
    batch = RenewalBatch(
        as_of=as_of,
        run=run,
        table=OverageTable(),
        taxes=TaxCache(seller_country=seller.country, as_of=as_of),
        due_any=services_due(as_of=as_of, partition=partition, unbilled=False),
    )
    for account_ids, count in batches:
        for result in _bill_with_retries(batch, due, account_ids):
            summary.services_billed += result.services
            summary.invoices_issued += len(result.invoices)
            for currency, minor in result.totals.items():
                summary.totals[currency] = summary.totals.get(currency, 0) + minor
        done += count
        if progress:
            progress("renewals", done, total)


def _bill_with_retries(batch: RenewalBatch, due: QuerySet[Service], account_ids: list[int]) -> Iterator[BatchResult]:
    """Bill a batch; if it loses a race, redo it from a fresh read; if an account's data is
    refused (a missing tax rate...), bill the others one account at a time and report it."""
    for attempt in range(RETRIES):
        try:
            yield batch.bill(due, account_ids)
            return
        except IntegrityError:
            if attempt == RETRIES - 1:
                break
        except Exception as error:
            if len(account_ids) == 1:
                logger.exception("billing run: account %s refused", account_ids[0])
                run_error(batch.run, step="renewal", account=account_ids[0], error=f"{type(error).__name__}: {error}")
                return
            break
    if len(account_ids) == 1:
        run_error(batch.run, step="renewal", account=account_ids[0], error="concurrent run kept colliding")
        return
    for account_id in account_ids:
        yield from _bill_with_retries(batch, due, [account_id])


RunStep = Callable[..., object]
_RUN_STEPS: list[RunStep] = []


def on_billing_run(step: RunStep) -> RunStep:
    """Register `step(*, as_of, run, partition, summary)` to run in every billing run, after
    renewals and before dunning. Domains that act on the daily run (payments' auto-pay
    retries) register here from their AppConfig.ready(), so billing never imports them. A
    step must be idempotent per date and partition, like the rest of the run."""
    if step not in _RUN_STEPS:
        _RUN_STEPS.append(step)
    return step


def billing_run(*, as_of: dt.date, partition: Partition | None = None, progress: Progress | None = None) -> RunSummary:
    """The daily billing run for `as_of` over the accounts of `partition` (all by default):
    renewal invoices, the registered steps (auto-pay retries), then dunning. Idempotent per
    date; see this module's docstring."""
    from sportello.billing.dunning import dunning_run

    run = _run_open(as_of=as_of, partition=partition)
    summary = RunSummary(as_of=as_of, partition=run.partition)
    failed = True
    try:
        renewals_run(as_of=as_of, run=run, partition=partition, summary=summary, progress=progress)
        for step in _RUN_STEPS:
            step(as_of=as_of, run=run, partition=partition, summary=summary)
        dunning_run(as_of=as_of, run=run, partition=partition, summary=summary, progress=progress)
        failed = False
    finally:
        report = _run_close(run, failed=failed)
        summary.errors = list(report.errors)
    return summary
