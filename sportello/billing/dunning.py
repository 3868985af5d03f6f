"""Dunning: what the daily run does about invoices that are not paid, in this order.

1. Overdue: an open or partially paid invoice whose due date has passed becomes overdue
   (`invoice_mark_overdue`, locked and evented like every transition).
2. Reminders at the stages of BILLING_REMINDER_DAYS (days from the due date: -7 before,
   0 on the day, 3 and 10 after). On each run an unpaid invoice gets the latest stage
   whose day has come, if it has not had it (nor a later one) yet, and only stages that
   fall on or after its issue date: a run that was down for days sends one reminder, not
   a burst, and a renewal issued three days before its due date gets no "seven days
   before" reminder. `ReminderSent` is unique per (invoice, stage): sent once, ever. The
   email is logged in the transaction and delivered after commit, in the language of each
   contact who receives invoices.
3. Late fee: once per overdue invoice, BILLING_LATE_FEE_AFTER_DAYS after its due date, as
   an invoice of its own (a fixed amount per currency, or a percentage of what is still
   owed); never for accounts whose BillingPreference exempts them, never on a late-fee
   invoice. `LateFee` is one-to-one with the overdue invoice: never repeated.
4. Suspension and termination of the services an overdue invoice bills, after their
   product's grace days and days before termination (counted from the due date).
5. Period ends: services that will not renew (auto-renew off: expire; cancellation
   asked for: cancelled) once their period has ended.

Each step is its own short transaction per invoice or service: dunning touches few rows a
day, and one refusal must not hold back the others; refusals go to the run's report.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Account, EmailTopic
from sportello.billing.models import (
    INVOICE_TRANSITIONS,
    PAYABLE_STATUSES,
    BillingPreference,
    BillingRun,
    DocumentKind,
    DunningSuspension,
    Invoice,
    InvoiceLine,
    InvoiceSource,
    InvoiceStatus,
    InvoiceTransition,
    LateFee,
    LineKind,
    ReminderSent,
    TaxCategory,
)
from sportello.billing.selectors import invoice_balance_minor
from sportello.billing.services import NewLine, invoice_create, invoice_event_record, invoice_issue, invoice_lock
from sportello.billing.taxes import TaxDecision
from sportello.core.formatting import date_display, money_display
from sportello.core.money import Money, round_money
from sportello.notifications.models import EmailKind
from sportello.notifications.services import contacts_receiving, email_send
from sportello.services.errors import ServicesError
from sportello.services.models import Service, ServiceStatus
from sportello.services.services import service_cancel_apply, service_expire, service_suspend, service_terminate

if TYPE_CHECKING:
    from sportello.billing.run import Partition, Progress, RunSummary

logger = logging.getLogger(__name__)

# Late payment compensation is not consideration for a supply (CJEU C-102/86, Apple and
# Pear): outside the scope of VAT, printed as such.
LATE_FEE_TAX = TaxDecision(
    rate=Decimal(0),
    category=TaxCategory.OUTSIDE_SCOPE,
    name=TaxCategory.OUTSIDE_SCOPE.label,
    reverse_charge=False,
    exemption_text=_("Late payment compensation, not subject to VAT."),
)
DUNNING_REASON = _("Unpaid invoice %(number)s")


# --- Settings ------------------------------------------------------------------------------


def reminder_stages() -> list[int]:
    """BILLING_REMINDER_DAYS as sorted integers: "-7,0,3,10" -> [-7, 0, 3, 10]."""
    raw = str(settings.BILLING_REMINDER_DAYS).strip()
    if not raw:
        return []
    try:
        return sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise ImproperlyConfigured(
            f"BILLING_REMINDER_DAYS must be whole days from the due date, such as -7,0,3,10, not {raw!r}"
        ) from None


def late_fee_fixed() -> dict[str, Decimal]:
    """BILLING_LATE_FEE_FIXED: "EUR:5.00,BRL:25.00" -> {"EUR": Decimal("5.00"), ...}."""
    fees: dict[str, Decimal] = {}
    for part in str(settings.BILLING_LATE_FEE_FIXED).split(","):
        if not part.strip():
            continue
        currency, _sep, amount = part.partition(":")
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            value = Decimal(-1)
        if not currency.strip() or not value.is_finite() or value < 0:
            raise ImproperlyConfigured(
                f"BILLING_LATE_FEE_FIXED entries are CURRENCY:AMOUNT, such as EUR:5.00, not {part!r}"
            )
        fees[currency.strip().upper()] = value
    return fees


def late_fee_percent() -> Decimal:
    try:
        value = Decimal(str(settings.BILLING_LATE_FEE_PERCENT).strip() or "0")
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise ImproperlyConfigured("BILLING_LATE_FEE_PERCENT must be a percentage from 0 to 100")
    return value


def late_fee_for(*, invoice: Invoice, balance_minor: int) -> Money:
    """The late fee of an overdue invoice: the fixed amount of its currency, if set, else the
    percentage of what it still owes, rounded once (half-up)."""
    fixed = late_fee_fixed()
    if invoice.currency in fixed:
        return Money.rounded(fixed[invoice.currency], invoice.currency)
    owed = Money.from_minor(balance_minor, invoice.currency)
    return Money(round_money(owed.amount * late_fee_percent() / 100, invoice.currency), invoice.currency)


# --- Selection -----------------------------------------------------------------------------


def _invoices(partition: Partition | None) -> Any:
    from sportello.billing.run import in_partition

    return in_partition(Invoice.objects.filter(kind=DocumentKind.INVOICE), partition)


def _count(run: BillingRun, **counts: int) -> None:
    from sportello.billing.run import run_count

    run_count(run, counts)


def _error(run: BillingRun, **error: Any) -> None:
    from sportello.billing.run import run_error

    run_error(run, **error)


def _ticker(progress: Progress | None, step: str, total: Callable[[], int]) -> Callable[[], None]:
    from sportello.billing.run import step_progress

    return step_progress(progress, step, total)


# --- 1. Overdue ----------------------------------------------------------------------------


@transaction.atomic
def invoice_mark_overdue(*, invoice: Invoice, as_of: dt.date, run: BillingRun | None = None) -> bool:
    """open / partially paid -> overdue once `as_of` is past the due date. False if it no
    longer applies (paid meanwhile, already overdue)."""
    invoice = invoice_lock(invoice)
    if invoice.status not in INVOICE_TRANSITIONS[InvoiceTransition.OVERDUE]:
        return False
    if invoice.due_date is None or invoice.due_date >= as_of:
        return False
    from_status = invoice.status
    invoice.status = InvoiceStatus.OVERDUE
    invoice.save(update_fields=["status", "updated_at"])
    invoice_event_record(
        invoice, transition=InvoiceTransition.OVERDUE, from_status=from_status, data={"as_of": as_of.isoformat()}
    )
    if run is not None:
        _count(run, invoices_overdue=1)
    return True


def overdue_run(
    *, as_of: dt.date, run: BillingRun, partition: Partition | None, progress: Progress | None = None
) -> int:
    ids = _invoices(partition).filter(status__in=[InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID], due_date__lt=as_of)
    tick = _ticker(progress, "overdue", ids.count)
    marked = 0
    for invoice in ids.order_by("account_id", "pk").iterator(chunk_size=2000):
        tick()
        try:
            marked += invoice_mark_overdue(invoice=invoice, as_of=as_of, run=run)
        except Exception as error:
            logger.exception("billing run: overdue %s", invoice.pk)
            _error(run, step="overdue", account=invoice.account_id, invoice=invoice.pk, error=str(error))
    return marked


# --- 2. Reminders --------------------------------------------------------------------------


def reminder_stage_due(*, invoice: Invoice, as_of: dt.date, stages: list[int], sent: set[int]) -> int | None:
    """The stage to send `invoice` on `as_of`, by the rule in this module's docstring."""
    if invoice.due_date is None or invoice.issue_date is None:
        return None
    eligible = [stage for stage in stages if invoice.issue_date <= invoice.due_date + dt.timedelta(days=stage) <= as_of]
    if not eligible:
        return None
    stage = max(eligible)
    if any(earlier >= stage for earlier in sent):
        return None
    return stage


def _reminder_send(*, invoice: Invoice, stage: int, as_of: dt.date, run: BillingRun) -> bool:
    with transaction.atomic():
        invoice = invoice_lock(invoice)
        if invoice.status not in PAYABLE_STATUSES:
            return False
        try:
            with transaction.atomic():
                reminder = ReminderSent.objects.create(invoice=invoice, stage=stage, sent_on=as_of)
        except IntegrityError:
            return False  # another run sent this stage first
        account = Account.objects.get(pk=invoice.account_id)
        balance = Money.from_minor(invoice_balance_minor(invoice=invoice), invoice.currency)
        contacts = contacts_receiving(account=account, topic=EmailTopic.INVOICES)
        for contact in contacts:
            language = (contact.user.language if contact.user and contact.user.language else "") or account.language
            with translation.override(language):
                context = {
                    "name": contact.name,
                    "number": invoice.display_number,
                    "amount": money_display(balance, language),
                    "due_date": date_display(invoice.due_date, language) if invoice.due_date else "",
                    "days": abs(stage),
                    "stage": "before" if stage < 0 else ("on" if stage == 0 else "after"),
                    "link": f"{settings.SITE_URL}/",
                }
            email_send(
                template="billing_reminder",
                kind=EmailKind.REMINDER,
                to_email=contact.email,
                language=language,
                account=account,
                recipient=contact.user,
                context=context,
            )
        ReminderSent.objects.filter(pk=reminder.pk).update(recipients=len(contacts))
        invoice_event_record(
            invoice,
            transition=InvoiceTransition.REMIND,
            from_status=invoice.status,
            data={"stage": stage, "recipients": len(contacts)},
        )
        _count(run, reminders_sent=1)
    return True


def reminders_run(
    *, as_of: dt.date, run: BillingRun, partition: Partition | None, progress: Progress | None = None
) -> int:
    stages = reminder_stages()
    if not stages:
        _ticker(progress, "reminders", lambda: 0)
        return 0
    candidates = (
        _invoices(partition)
        .filter(status__in=PAYABLE_STATUSES, due_date__lte=as_of - dt.timedelta(days=stages[0]))
        # Sent to collections, an invoice is the collector's to chase: no more reminders.
        .exclude(status=InvoiceStatus.COLLECTIONS)
        .exclude(reminders__stage=stages[-1])
        .order_by("account_id", "pk")
    )
    tick = _ticker(progress, "reminders", candidates.count)
    sent = 0
    for chunk in _chunks(candidates.iterator(chunk_size=2000), 2000):
        already: dict[int, set[int]] = {}
        stage: int | None
        for invoice_id, stage in ReminderSent.objects.filter(invoice_id__in=[i.pk for i in chunk]).values_list(
            "invoice_id", "stage"
        ):
            already.setdefault(invoice_id, set()).add(stage)
        for invoice in chunk:
            tick()
            stage = reminder_stage_due(invoice=invoice, as_of=as_of, stages=stages, sent=already.get(invoice.pk, set()))
            if stage is None:
                continue
            try:
                sent += _reminder_send(invoice=invoice, stage=stage, as_of=as_of, run=run)
            except Exception as error:
                logger.exception("billing run: reminder %s", invoice.pk)
                _error(run, step="reminder", account=invoice.account_id, invoice=invoice.pk, error=str(error))
    return sent


def _chunks(items: Any, size: int) -> Any:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- 3. Late fees --------------------------------------------------------------------------


def late_fee_charge(*, invoice: Invoice, as_of: dt.date, run: BillingRun | None = None) -> Invoice | None:
    """Charge the late fee of an overdue invoice, once: the fee invoice, or None when none is
    due (paid meanwhile, exempt account, no fee configured, already charged)."""
    with transaction.atomic():
        invoice = invoice_lock(invoice)
        if invoice.status != InvoiceStatus.OVERDUE or invoice.source == InvoiceSource.LATE_FEE:
            return None
        if BillingPreference.objects.filter(account_id=invoice.account_id, late_fees_exempt=True).exists():
            return None
        fee = late_fee_for(invoice=invoice, balance_minor=invoice_balance_minor(invoice=invoice))
        if fee.minor <= 0:
            return None
        account = Account.objects.get(pk=invoice.account_id)
        try:
            with transaction.atomic():
                with translation.override(account.language):
                    description = gettext("Late payment fee for invoice %(number)s, due on %(date)s") % {
                        "number": invoice.display_number,
                        "date": date_display(invoice.due_date, account.language) if invoice.due_date else "",
                    }
                fee_invoice = invoice_create(
                    account=account,
                    lines=[
                        NewLine(
                            description=description,
                            quantity=Decimal(1),
                            unit_price=fee.amount,
                            kind=LineKind.LATE_FEE,
                            tax=LATE_FEE_TAX,
                        )
                    ],
                    as_of=as_of,
                    source=InvoiceSource.LATE_FEE,
                    currency=invoice.currency,
                    prices_include_tax=False,
                )
                fee_invoice = invoice_issue(invoice=fee_invoice, as_of=as_of)
                # The guard: the one-to-one row. A second run's insert fails and its fee
                # invoice (and its number) roll back with it.
                LateFee.objects.create(invoice=invoice, fee_invoice=fee_invoice, charged_on=as_of)
        except IntegrityError:
            return None
        if run is not None:
            _count(run, late_fees=1)
        return fee_invoice


def late_fees_run(
    *, as_of: dt.date, run: BillingRun, partition: Partition | None, progress: Progress | None = None
) -> int:
    if not late_fee_fixed() and late_fee_percent() == 0:
        _ticker(progress, "late fees", lambda: 0)
        return 0
    exempt = BillingPreference.objects.filter(late_fees_exempt=True).values("account_id")
    candidates = (
        _invoices(partition)
        .filter(
            status=InvoiceStatus.OVERDUE,
            due_date__lte=as_of - dt.timedelta(days=settings.BILLING_LATE_FEE_AFTER_DAYS),
            late_fee__isnull=True,
        )
        .exclude(source=InvoiceSource.LATE_FEE)
        .exclude(account_id__in=exempt)
        .order_by("account_id", "pk")
    )
    tick = _ticker(progress, "late fees", candidates.count)
    charged = 0
    for invoice in candidates.iterator(chunk_size=2000):
        tick()
        try:
            charged += late_fee_charge(invoice=invoice, as_of=as_of, run=run) is not None
        except Exception as error:
            logger.exception("billing run: late fee %s", invoice.pk)
            _error(run, step="late_fee", account=invoice.account_id, invoice=invoice.pk, error=str(error))
    return charged


# --- 4. Suspension and termination ----------------------------------------------------------


def suspension_date(*, due_date: dt.date, grace_days: int) -> dt.date:
    """The first run that suspends a service billed by an invoice unpaid since `due_date`:
    its product's grace days after the due date."""
    return due_date + dt.timedelta(days=grace_days)


def termination_date(*, due_date: dt.date, days_before_termination: int) -> dt.date:
    """The first run that terminates a service whose oldest unpaid invoice fell due on
    `due_date`: its product's days before termination after the due date. The oldest
    overdue invoice billing the service decides (`suspensions_run`)."""
    return due_date + dt.timedelta(days=days_before_termination)


def _overdue_services(partition: Partition | None) -> list[dict[str, Any]]:
    """(service, invoice) pairs of overdue invoices and the still-running services they bill."""
    from sportello.billing.run import in_partition

    lines = InvoiceLine.objects.filter(
        invoice__kind=DocumentKind.INVOICE,
        invoice__status__in=[InvoiceStatus.OVERDUE, InvoiceStatus.COLLECTIONS],
        service__status__in=[ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED],
    )
    lines = in_partition(lines, partition, field="invoice__account_id")
    values = (
        lines.order_by("invoice__account_id", "service_id", "invoice__due_date")
        .values(
            "service_id",
            "invoice_id",
            "invoice__number",
            "invoice__proforma_number",
            "invoice__due_date",
            "service__status",
            "service__plan__product__grace_days_before_suspension",
            "service__plan__product__days_before_termination",
        )
        .distinct()
    )
    rows: list[dict[str, Any]] = [dict(row) for row in values]
    return rows


def suspensions_run(
    *, as_of: dt.date, run: BillingRun, partition: Partition | None, progress: Progress | None = None
) -> tuple[int, int]:
    suspended = terminated = 0
    done: set[int] = set()
    rows = _overdue_services(partition)
    tick = _ticker(progress, "suspensions", lambda: len(rows))
    for row in rows:
        tick()
        service_id = row["service_id"]
        if service_id in done:
            continue  # its oldest overdue invoice decides
        done.add(service_id)
        due: dt.date = row["invoice__due_date"]
        number = row["invoice__number"] or row["invoice__proforma_number"]
        try:
            if as_of >= termination_date(
                due_date=due, days_before_termination=row["service__plan__product__days_before_termination"]
            ):
                terminated += _terminate(service_id, number=number, run=run)
            elif row["service__status"] == ServiceStatus.ACTIVE and as_of >= suspension_date(
                due_date=due, grace_days=row["service__plan__product__grace_days_before_suspension"]
            ):
                suspended += _suspend(service_id, invoice_id=row["invoice_id"], as_of=as_of, run=run)
        except ServicesError as error:
            _error(run, step="suspension", service=service_id, invoice=row["invoice_id"], error=str(error))
    return suspended, terminated


def _reason(number: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return str(DUNNING_REASON) % {"number": number}


@transaction.atomic
def service_suspend_unpaid(*, service: Service, invoice: Invoice, as_of: dt.date) -> bool:
    """Suspend `service` because `invoice` is unpaid past the grace days, recording the
    suspension that payment lifts (`handlers.lift_suspensions`). False if the service is
    already suspended for non-payment."""
    try:
        with transaction.atomic():
            DunningSuspension.objects.create(service=service, invoice=invoice, suspended_on=as_of)
    except IntegrityError:
        return False  # already suspended for non-payment
    service_suspend(service=service, reason=_reason(invoice.display_number))
    return True


def _suspend(service_id: int, *, invoice_id: int, as_of: dt.date, run: BillingRun) -> bool:
    with transaction.atomic():
        service = Service.objects.get(pk=service_id)
        invoice = Invoice.objects.only("number", "proforma_number").get(pk=invoice_id)
        if not service_suspend_unpaid(service=service, invoice=invoice, as_of=as_of):
            return False
        _count(run, services_suspended=1)
    return True


def _terminate(service_id: int, *, number: str, run: BillingRun) -> bool:
    with transaction.atomic():
        service = Service.objects.get(pk=service_id)
        service_terminate(service=service, reason=_reason(number))
        _count(run, services_terminated=1)
    return True


# --- 5. Period ends ------------------------------------------------------------------------


def period_ends_run(
    *, as_of: dt.date, run: BillingRun, partition: Partition | None, progress: Progress | None = None
) -> int:
    from sportello.billing.run import in_partition

    ending = in_partition(
        Service.objects.filter(status=ServiceStatus.ACTIVE, current_period_end__lte=as_of).filter(
            Q(auto_renew=False) | Q(cancel_at_period_end=True)
        ),
        partition,
    )
    tick = _ticker(progress, "period ends", ending.count)
    ended = 0
    for service in ending.order_by("account_id", "pk").iterator(chunk_size=2000):
        tick()
        try:
            with transaction.atomic():
                if service.cancel_at_period_end:
                    service_cancel_apply(service=service, as_of=as_of)
                else:
                    service_expire(service=service, as_of=as_of)
                _count(run, services_ended=1)
            ended += 1
        except ServicesError as error:
            _error(run, step="period_end", account=service.account_id, service=service.pk, error=str(error))
    return ended


# --- All of it -----------------------------------------------------------------------------


def dunning_run(
    *,
    as_of: dt.date,
    run: BillingRun,
    partition: Partition | None,
    summary: RunSummary,
    progress: Progress | None = None,
) -> None:
    """The dunning steps in order; `progress` hears (step, done, total) of each."""
    summary.invoices_overdue += overdue_run(as_of=as_of, run=run, partition=partition, progress=progress)
    summary.reminders_sent += reminders_run(as_of=as_of, run=run, partition=partition, progress=progress)
    summary.late_fees += late_fees_run(as_of=as_of, run=run, partition=partition, progress=progress)
    suspended, terminated = suspensions_run(as_of=as_of, run=run, partition=partition, progress=progress)
    summary.services_suspended += suspended
    summary.services_terminated += terminated
    summary.services_ended += period_ends_run(as_of=as_of, run=run, partition=partition, progress=progress)
