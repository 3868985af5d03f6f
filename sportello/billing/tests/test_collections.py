"""Sending an overdue invoice to collections: who may, which invoices go (and that a refusal
changes nothing), paying it afterwards, and what the daily run no longer does to it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from sportello.accounts.models import Membership, User
from sportello.billing.credit_notes import invoice_cancel
from sportello.billing.errors import IllegalTransition, InvalidDocument, NotAllowed
from sportello.billing.models import (
    Invoice,
    InvoiceEvent,
    InvoiceStatus,
    LateFee,
    ReminderSent,
    Settlement,
    SettlementKind,
)
from sportello.billing.services import (
    NewLine,
    invoice_collections_allowed,
    invoice_create,
    invoice_issue,
    invoice_send_to_collections,
    invoice_settle,
)
from sportello.catalog.models import Cycle
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.core.models import AuditEvent
from sportello.core.money import Money
from sportello.notifications.models import EmailLog
from sportello.services.models import Service, ServiceStatus

from .run_helpers import DUE, RUN_DAY, service_for

pytestmark = pytest.mark.django_db
ISSUED = dt.date(2026, 3, 2)
DUE_ON = dt.date(2026, 3, 16)
LATER = dt.date(2026, 4, 20)


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("collections@example.com", "staff-passphrase-1", is_staff=True)


def issue(alice: Membership, price: str = "100.00") -> Invoice:
    """Alice's invoice of `price` + 21 % VAT, issued 2 March, due 16 March 2026."""
    line = NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal(price))
    draft = invoice_create(account=alice.account, lines=[line], as_of=ISSUED)
    return invoice_issue(invoice=draft, as_of=ISSUED, due_date=DUE_ON)


def pay(invoice: Invoice, amount: str, on: dt.date, reference: str) -> Settlement:
    return invoice_settle(
        invoice=invoice,
        amount=Money(amount, "EUR"),
        kind=SettlementKind.PAYMENT,
        reference=reference,
        settled_on=on,
        method="Bank transfer",
    )


def events(invoice: Invoice) -> list[tuple[Any, ...]]:
    return list(
        InvoiceEvent.objects.filter(invoice=invoice)
        .order_by("pk")
        .values_list("transition", "from_status", "to_status", "actor__email", "data")
    )


def snapshot() -> tuple[Any, ...]:
    return (
        list(Invoice.objects.order_by("pk").values_list("pk", "status", "number", "total_minor", "paid_date")),
        list(InvoiceEvent.objects.order_by("pk").values_list("pk", "transition", "to_status")),
        list(Settlement.objects.order_by("pk").values_list("pk", "amount_minor")),
        AuditEvent.objects.filter(action="billing.invoice_sent_to_collections").count(),
    )


def test_an_invoice_marked_overdue_goes_to_collections_with_the_reason_on_its_event(
    alice: Membership, billing_setup: None, staff: User
) -> None:
    invoice = issue(alice)
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.OVERDUE)  # as the daily run marks it
    sent = invoice_send_to_collections(
        invoice=invoice, reason="  Handed to   Cobros Madrid S.L.  ", as_of=LATER, by=staff
    )
    invoice.refresh_from_db()
    assert (sent.status, invoice.status, invoice.paid_date) == ("collections", "collections", None)
    assert events(invoice)[1:] == [
        (
            "collections",
            "overdue",
            "collections",
            "collections@example.com",
            {"reason": "Handed to Cobros Madrid S.L.", "as_of": "2026-04-20"},
        )
    ]
    audit = AuditEvent.objects.get(action="billing.invoice_sent_to_collections")
    assert (audit.account_id, audit.actor, audit.data["balance_minor"]) == (alice.account.pk, staff, 12100)
    assert (audit.action_label, audit.target) == ("Invoice sent to collections", f"billing.invoice:{invoice.pk}")


def test_an_unpaid_invoice_past_its_due_date_is_marked_overdue_first(
    alice: Membership, billing_setup: None, staff: User
) -> None:
    invoice = issue(alice)
    assert not invoice_collections_allowed(invoice=invoice, as_of=DUE_ON)
    assert invoice_collections_allowed(invoice=invoice, as_of=DUE_ON + dt.timedelta(days=1))
    invoice_send_to_collections(invoice=invoice, reason="No answer", as_of=DUE_ON + dt.timedelta(days=1), by=staff)
    sent = {"reason": "No answer", "as_of": "2026-03-17"}
    assert events(invoice) == [
        ("issue", "draft", "open", None, {"number": "INV-2026-00001", "total_minor": 12100}),
        ("overdue", "open", "overdue", None, {"as_of": "2026-03-17"}),
        ("collections", "overdue", "collections", "collections@example.com", sent),
    ]


def test_a_partially_paid_invoice_past_its_due_date_goes_too_and_keeps_its_payment(
    alice: Membership, billing_setup: None, staff: User
) -> None:
    invoice = issue(alice)
    pay(invoice, "21.00", dt.date(2026, 3, 10), "TRF-1")
    invoice_send_to_collections(invoice=invoice, reason="Stopped paying", as_of=LATER, by=staff)
    invoice.refresh_from_db()
    assert invoice.status == "collections"
    assert [event[:3] for event in events(invoice)] == [
        ("issue", "draft", "open"),
        ("settle", "open", "partially_paid"),
        ("overdue", "partially_paid", "overdue"),
        ("collections", "overdue", "collections"),
    ]
    assert list(Settlement.objects.values_list("amount_minor", flat=True)) == [2100]


@pytest.mark.parametrize(
    "case", ["not_yet_due", "due_today", "paid", "cancelled", "credit_note", "draft", "already_in_collections"]
)
def test_only_an_overdue_invoice_goes_and_a_refusal_changes_nothing(
    alice: Membership, billing_setup: None, staff: User, case: str
) -> None:
    invoice = issue(alice)
    as_of = LATER
    if case == "not_yet_due":
        as_of = DUE_ON - dt.timedelta(days=1)
    elif case == "due_today":
        as_of = DUE_ON
    elif case == "paid":
        pay(invoice, "121.00", dt.date(2026, 3, 10), "TRF-1")
    elif case == "cancelled":
        invoice_cancel(invoice=invoice, reason="Wrong customer", as_of=ISSUED)
    elif case == "credit_note":
        invoice_cancel(invoice=invoice, reason="Wrong customer", as_of=ISSUED)
        invoice = Invoice.objects.get(kind="credit_note")
    elif case == "draft":
        invoice = invoice_create(
            account=alice.account,
            lines=[NewLine(description="Draft", quantity=Decimal(1), unit_price=Decimal(1))],
            as_of=ISSUED,
            due_date=DUE_ON,
        )
    elif case == "already_in_collections":
        invoice_send_to_collections(invoice=invoice, reason="First time", as_of=LATER, by=staff)
    invoice.refresh_from_db()
    expected_status = {
        "not_yet_due": "open",
        "due_today": "open",
        "paid": "paid",
        "cancelled": "cancelled",
        "credit_note": "paid",  # a credit note is settled when issued
        "draft": "draft",
        "already_in_collections": "collections",
    }[case]
    assert invoice.status == expected_status
    before = snapshot()
    with pytest.raises(IllegalTransition) as refused:
        invoice_send_to_collections(invoice=invoice, reason="Try", as_of=as_of, by=staff)
    assert (refused.value.transition, refused.value.from_status) == ("collections", expected_status)
    assert snapshot() == before


def test_only_active_staff_with_a_reason_may_send_it(alice: Membership, billing_setup: None, staff: User) -> None:
    invoice = issue(alice)
    before = snapshot()
    for who in (None, alice.user, User.objects.create_user("former@example.com", "x" * 16, is_staff=True)):
        if who is not None and who.email == "former@example.com":
            who.is_active = False
            who.save()
        with pytest.raises(NotAllowed):
            invoice_send_to_collections(invoice=invoice, reason="No answer", as_of=LATER, by=who)
    with pytest.raises(InvalidDocument) as missing:
        invoice_send_to_collections(invoice=invoice, reason=" \n ", as_of=LATER, by=staff)
    assert (missing.value.field, missing.value.reason) == ("reason", "required")
    assert snapshot() == before


def test_paying_an_invoice_in_collections_settles_it_through_the_usual_path(
    alice: Membership, billing_setup: None, staff: User
) -> None:
    invoice = issue(alice)
    invoice_send_to_collections(invoice=invoice, reason="No answer", as_of=LATER, by=staff)
    # A part of it: still in collections, for what is left.
    pay(invoice, "60.50", dt.date(2026, 4, 25), "AGENCY-1")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_date) == ("collections", None)
    pay(invoice, "60.50", dt.date(2026, 5, 2), "AGENCY-2")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_date) == ("paid", dt.date(2026, 5, 2))
    assert [event[:3] for event in events(invoice)][-1] == ("settle", "collections", "paid")
    with pytest.raises(IllegalTransition):
        pay(invoice, "0.01", dt.date(2026, 5, 3), "AGENCY-3")


# --- The daily run ---------------------------------------------------------------------------


def run(on: dt.date) -> Any:
    from sportello.billing.run import billing_run

    return billing_run(as_of=on)


@pytest.fixture
def renewal(alice: Membership, billing_setup: None) -> tuple[Invoice, Service]:
    """Alice's monthly Basic service and its renewal invoice (12.10 EUR, due 1 February 2026);
    suspended 7 days after the due date, terminated after 30."""
    catalog: Catalog = hosting_catalog(grace_days_before_suspension=7, days_before_termination=30)
    service = service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])
    run(RUN_DAY)
    return Invoice.objects.get(), service


def test_the_daily_run_no_longer_reminds_or_charges_a_late_fee_but_suspends_until_paid(
    renewal: tuple[Invoice, Service], staff: User, settings: Any
) -> None:
    settings.BILLING_REMINDER_DAYS = "-7,0,3,10"
    settings.BILLING_LATE_FEE_FIXED = "EUR:5.00"
    settings.BILLING_LATE_FEE_AFTER_DAYS = 5
    invoice, service = renewal
    run(DUE + dt.timedelta(days=1))  # overdue; the stage-0 reminder
    assert list(ReminderSent.objects.values_list("stage", flat=True)) == [0]
    invoice_send_to_collections(invoice=invoice, reason="No answer", as_of=DUE + dt.timedelta(days=2), by=staff)
    emails = EmailLog.objects.count()
    for offset in (3, 5, 7, 10, 20):
        report = run(DUE + dt.timedelta(days=offset))
        assert (report.reminders_sent, report.late_fees) == (0, 0), offset
    assert list(ReminderSent.objects.values_list("stage", flat=True)) == [0]
    assert LateFee.objects.count() == 0 and Invoice.objects.count() == 1
    assert EmailLog.objects.count() == emails
    # Its service was suspended seven days after the due date, as for any overdue invoice.
    service.refresh_from_db()
    assert service.status == ServiceStatus.SUSPENDED
    invoice_settle(
        invoice=invoice,
        amount=Money("12.10", "EUR"),
        kind=SettlementKind.PAYMENT,
        reference="AGENCY-1",
        settled_on=DUE + dt.timedelta(days=21),
    )
    invoice.refresh_from_db()
    service.refresh_from_db()
    assert (invoice.status, service.status) == ("paid", ServiceStatus.ACTIVE)
