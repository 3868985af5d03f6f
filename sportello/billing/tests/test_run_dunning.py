"""Dunning in the billing run: reminders once per stage, overdue, the late fee once,
suspension and termination after the product's days, renewal and unsuspension on payment."""

from __future__ import annotations

import datetime as dt

import pytest

from sportello.accounts.models import Membership
from sportello.billing.models import (
    BillingPreference,
    BillingRun,
    DunningSuspension,
    Invoice,
    InvoiceEvent,
    InvoiceStatus,
    LateFee,
    ReminderSent,
    SettlementKind,
)
from sportello.billing.services import invoice_settle
from sportello.catalog.models import Cycle
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.core.money import Money
from sportello.notifications.models import EmailLog
from sportello.services.models import Service, ServiceStatus

from .run_helpers import DUE, RUN_DAY, service_for

pytestmark = pytest.mark.django_db


def day(offset: int) -> dt.date:
    """`offset` days from the due date, 1 February 2026."""
    return DUE + dt.timedelta(days=offset)


@pytest.fixture
def catalog(billing_setup: None) -> Catalog:
    # Suspended 7 days after the due date, terminated after 30 (the test catalog's product).
    return hosting_catalog(grace_days_before_suspension=7, days_before_termination=30)


@pytest.fixture
def renewal(alice: Membership, catalog: Catalog) -> tuple[Invoice, Service]:
    """Alice's monthly Basic service and its renewal invoice (12.10 EUR, due 1 February)."""
    service = service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])
    from sportello.billing.run import billing_run

    billing_run(as_of=RUN_DAY)
    return Invoice.objects.get(), service


def run(on: dt.date):
    from sportello.billing.run import billing_run

    return billing_run(as_of=on)


def reminders() -> list[tuple[int, dt.date]]:
    return list(ReminderSent.objects.order_by("stage").values_list("stage", "sent_on"))


def test_it_sends_each_reminder_once(renewal: tuple[Invoice, Service], settings) -> None:
    settings.BILLING_REMINDER_DAYS = "-7,0,3,10"
    invoice, _ = renewal
    assert run(day(-8)).reminders_sent == 0
    assert run(day(-7)).reminders_sent == 1
    assert run(day(-7)).reminders_sent == 0  # the same day again
    assert run(day(-6)).reminders_sent == 0
    assert run(day(0)).reminders_sent == 1
    # The run was down from the 2nd to the 19th: one reminder, the latest stage, not a burst.
    assert run(day(19)).reminders_sent == 1
    assert run(day(25)).reminders_sent == 0
    assert reminders() == [(-7, day(-7)), (0, day(0)), (10, day(19))]
    emails = list(EmailLog.objects.order_by("pk").values_list("to_email", "subject"))
    assert emails == [
        ("alice@example.org", "Invoice INV-2026-00001 is due on 1 Feb 2026"),
        ("alice@example.org", "Invoice INV-2026-00001 is due today"),
        ("alice@example.org", "Reminder: invoice INV-2026-00001 is overdue"),
    ]
    body = EmailLog.objects.order_by("pk").first().body_text
    assert "Invoice INV-2026-00001 for €12.10 is due on 1 Feb 2026, in 7 days." in body
    assert InvoiceEvent.objects.filter(invoice=invoice, transition="remind").count() == 3


def test_reminders_are_in_the_customers_language(renewal: tuple[Invoice, Service], alice: Membership) -> None:
    alice.user.language = "es"
    alice.user.save()
    run(day(0))
    email = EmailLog.objects.get()
    assert "12,10\xa0€" in email.body_text and "1 feb 2026" in email.body_text


def test_a_stage_before_the_issue_date_is_not_sent(alice: Membership, catalog: Catalog, settings) -> None:
    settings.BILLING_REMINDER_DAYS = "-7,0"
    service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])
    run(day(-3))  # issued three days before its due date
    assert reminders() == []
    run(day(0))
    assert reminders() == [(0, day(0))]


def test_a_paid_invoice_gets_no_reminder(renewal: tuple[Invoice, Service]) -> None:
    invoice, _ = renewal
    invoice_settle(
        invoice=invoice, amount=Money("12.10", "EUR"), kind=SettlementKind.PAYMENT, reference="p1", settled_on=day(-8)
    )
    run(day(0))
    assert reminders() == [] and EmailLog.objects.count() == 0


def test_it_marks_unpaid_invoices_overdue_the_day_after_due(renewal: tuple[Invoice, Service]) -> None:
    invoice, _ = renewal
    assert run(day(0)).invoices_overdue == 0
    assert run(day(1)).invoices_overdue == 1
    assert run(day(2)).invoices_overdue == 0
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OVERDUE
    assert list(InvoiceEvent.objects.filter(transition="overdue").values_list("from_status", "to_status")) == [
        ("open", "overdue")
    ]


def test_the_late_fee_is_charged_once(renewal: tuple[Invoice, Service], settings) -> None:
    settings.BILLING_LATE_FEE_FIXED = "EUR:5.00,BRL:25.00"
    invoice, _ = renewal
    assert run(day(0)).late_fees == 0
    assert run(day(1)).late_fees == 1
    assert run(day(1)).late_fees == 0
    assert run(day(2)).late_fees == 0
    fee = LateFee.objects.get(invoice=invoice).fee_invoice
    assert (fee.number, fee.source, fee.status, fee.total_minor, fee.tax_minor) == (
        "INV-2026-00002",
        "late_fee",
        InvoiceStatus.OPEN,
        500,
        0,
    )
    line = fee.lines.get()
    assert line.description == "Late payment fee for invoice INV-2026-00001, due on 1 Feb 2026"
    assert line.tax_category == "O" and "not subject to VAT" in fee.legal_notes
    # The fee invoice itself never draws a late fee.
    run(day(30))
    assert LateFee.objects.count() == 1


def test_the_late_fee_as_a_percentage_of_what_is_owed(renewal: tuple[Invoice, Service], settings) -> None:
    settings.BILLING_LATE_FEE_PERCENT = "10"
    invoice, _ = renewal
    invoice_settle(
        invoice=invoice, amount=Money("2.05", "EUR"), kind=SettlementKind.PAYMENT, reference="p1", settled_on=day(0)
    )
    run(day(1))
    # 10 % of the 10.05 still owed = 1.005 -> 1.01 (half-up).
    assert LateFee.objects.get().fee_invoice.total_minor == 101


def test_exempt_accounts_pay_no_late_fee(renewal: tuple[Invoice, Service], alice: Membership, settings) -> None:
    settings.BILLING_LATE_FEE_FIXED = "EUR:5.00"
    BillingPreference.objects.create(account=alice.account, late_fees_exempt=True)
    run(day(5))
    assert LateFee.objects.count() == 0 and Invoice.objects.count() == 1


def test_it_suspends_after_the_grace_days_and_terminates_later(renewal: tuple[Invoice, Service]) -> None:
    _, service = renewal
    assert run(day(6)).services_suspended == 0
    assert run(day(7)).services_suspended == 1
    assert run(day(8)).services_suspended == 0
    service.refresh_from_db()
    assert (service.status, service.suspended_reason) == (ServiceStatus.SUSPENDED, "Unpaid invoice INV-2026-00001")
    assert run(day(29)).services_terminated == 0
    assert run(day(30)).services_terminated == 1
    service.refresh_from_db()
    assert service.status == ServiceStatus.TERMINATED
    report = BillingRun.objects.get(as_of=day(7))
    assert (report.services_suspended, report.invoices_overdue) == (1, 0)


def test_paying_renews_the_service_and_lifts_the_suspension(renewal: tuple[Invoice, Service]) -> None:
    invoice, service = renewal
    run(day(7))
    service.refresh_from_db()
    assert service.status == ServiceStatus.SUSPENDED

    invoice_settle(
        invoice=invoice, amount=Money("12.10", "EUR"), kind=SettlementKind.PAYMENT, reference="p1", settled_on=day(9)
    )

    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    assert (service.current_period_start, service.current_period_end) == (DUE, dt.date(2026, 3, 1))
    assert list(DunningSuspension.objects.values_list("lifted_on", flat=True)) == [day(9)]
    # The next period is billed next, from the renewed period end.
    run(dt.date(2026, 2, 20))
    assert list(Invoice.objects.order_by("pk").values_list("number", "due_date")) == [
        ("INV-2026-00001", DUE),
        ("INV-2026-00002", dt.date(2026, 3, 1)),
    ]


def test_paying_one_of_two_overdue_invoices_keeps_the_suspension(
    alice: Membership, catalog: Catalog, renewal: tuple[Invoice, Service]
) -> None:
    invoice, service = renewal
    other = service_for(alice.account, catalog.prices[("pro", "EUR", Cycle.MONTHLY)], start=dt.date(2026, 1, 3))
    run(dt.date(2026, 1, 20))  # its renewal, due 3 February
    run(day(10))  # both overdue; both services past their grace days
    assert set(Service.objects.values_list("status", flat=True)) == {ServiceStatus.SUSPENDED}

    invoice_settle(
        invoice=invoice, amount=Money("12.10", "EUR"), kind=SettlementKind.PAYMENT, reference="p1", settled_on=day(11)
    )

    service.refresh_from_db()
    other.refresh_from_db()
    assert (service.status, other.status) == (ServiceStatus.SUSPENDED, ServiceStatus.SUSPENDED)
    assert service.current_period_end == dt.date(2026, 3, 1)  # renewed all the same


def test_services_that_do_not_renew_end_with_their_period(alice: Membership, catalog: Catalog) -> None:
    price = catalog.prices[("basic", "EUR", Cycle.MONTHLY)]
    expiring = service_for(alice.account, price, auto_renew=False)
    cancelling = service_for(alice.account, price, cancel_at_period_end=True)
    assert run(day(-1)).services_ended == 0
    assert run(day(0)).services_ended == 2
    expiring.refresh_from_db()
    cancelling.refresh_from_db()
    assert (expiring.status, cancelling.status) == (ServiceStatus.EXPIRED, ServiceStatus.CANCELLED)
    assert Invoice.objects.count() == 0
