"""Auto-pay in the billing run: a failed automatic charge retried on the days of
PAYMENTS_AUTOPAY_RETRY_DAYS after the first failure, once each, then left to the reminders;
refused cards flagged; services whose auto-pay is off not charged."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from sportello.accounts.models import Account, Membership
from sportello.billing.models import BillingPreference, BillingRun, Invoice, InvoiceStatus, ReminderSent
from sportello.billing.run import Partition, RunSummary, billing_run
from sportello.billing.selectors import invoice_paid_minor
from sportello.billing.tests.run_helpers import DUE, RUN_DAY, service_for
from sportello.catalog.models import Cycle
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.conftest import make_member
from sportello.payments.errors import ServiceAutopayRefused
from sportello.payments.models import (
    AutopayRetry,
    Payment,
    PaymentStatus,
    SavedPaymentMethod,
    ServicePaymentPreference,
    TestcardCard,
    TestcardCheckout,
)
from sportello.payments.services import payment_preference_set, service_autopay_set
from sportello.payments.tests.test_autopay import save_card
from sportello.services.models import Service, ServiceStatus

pytestmark = pytest.mark.django_db

# The renewal of 1 February is issued by the run of 18 January (day 0 of its auto-pay):
# retries on 19, 21 and 25 January; the reminder "7 days before" is due on 25 January too.
DAY0 = RUN_DAY


def day(offset: int) -> dt.date:
    return DAY0 + dt.timedelta(days=offset)


@pytest.fixture
def catalog(billing_setup: None) -> Catalog:
    return hosting_catalog()


def card_for(account: Account, behaviour: str, *, last4: str = "9995") -> SavedPaymentMethod:
    """A card the test processor keeps, charged the way `behaviour` says, the account's default."""
    token = f"card_{account.pk}_{last4}"
    TestcardCard.objects.create(
        token=token, brand="Visa", last4=last4, exp_month=12, exp_year=2039, behaviour=behaviour
    )
    return SavedPaymentMethod.objects.create(
        account=account,
        gateway="testcard",
        token=token,
        brand="Visa",
        last4=last4,
        exp_month=12,
        exp_year=2039,
        is_default=True,
    )


def charges() -> list[dt.date]:
    """The business dates of the automatic charges made, in order."""
    return list(Payment.objects.order_by("started_on", "pk").values_list("started_on", flat=True))


def run(on: dt.date, capture: Any) -> RunSummary:
    with capture(execute=True):
        return billing_run(as_of=on)


@pytest.fixture
def failing(alice: Membership, catalog: Catalog, django_capture_on_commit_callbacks: Any) -> tuple[Invoice, Service]:
    """Alice's monthly Basic service (12.10 EUR), auto-pay on with a card that lacks funds:
    the renewal invoice is issued and its automatic charge fails on day 0."""
    service = service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])
    card_for(alice.account, "insufficient_funds")
    payment_preference_set(account=alice.account, apply_credit=True, autopay=True, by=None)
    run(DAY0, django_capture_on_commit_callbacks)
    invoice = Invoice.objects.get()
    assert (invoice.total_minor, invoice.due_date, charges()) == (1210, DUE, [DAY0])
    assert Payment.objects.get().status == PaymentStatus.FAILED
    return invoice, service


def test_it_retries_exactly_on_the_scheduled_days_then_leaves_it_to_the_reminders(
    failing: tuple[Invoice, Service], django_capture_on_commit_callbacks: Any
) -> None:
    invoice, _service = failing
    summaries = {offset: run(day(offset), django_capture_on_commit_callbacks) for offset in range(1, 15)}
    assert charges() == [DAY0, day(1), day(3), day(7)]
    assert list(AutopayRetry.objects.order_by("retried_on").values_list("day", "retried_on", "outcome")) == [
        (1, day(1), "failed"),
        (3, day(3), "failed"),
        (7, day(7), "failed"),
    ]
    assert {offset for offset, summary in summaries.items() if summary.autopay_retries} == {1, 3, 7}
    assert all(summary.autopay_retries_paid == 0 for summary in summaries.values())
    assert TestcardCheckout.objects.filter(mode="charge").count() == 4
    report = BillingRun.objects.get(as_of=day(3))
    assert (report.autopay_retries, report.autopay_retries_paid) == (1, 0)
    # Not enough funds is not the card's fault: it is not flagged.
    assert SavedPaymentMethod.objects.get().failure_code == ""
    # The reminders go out as if auto-pay had never tried: 7 days before, and on the due date.
    assert list(ReminderSent.objects.order_by("stage").values_list("stage", "sent_on")) == [(-7, day(7)), (0, DUE)]
    invoice.refresh_from_db()
    assert (invoice.status, invoice_paid_minor(invoice=invoice)) == (InvoiceStatus.OPEN, 0)


def test_running_a_date_again_charges_nothing_twice(
    failing: tuple[Invoice, Service], django_capture_on_commit_callbacks: Any
) -> None:
    first = run(day(1), django_capture_on_commit_callbacks)
    again = run(day(1), django_capture_on_commit_callbacks)
    assert (first.autopay_retries, again.autopay_retries) == (1, 0)
    assert charges() == [DAY0, day(1)]
    assert AutopayRetry.objects.count() == 1
    report = BillingRun.objects.get(as_of=day(1))
    assert (report.attempts, report.autopay_retries) == (2, 1)


def test_a_retry_that_pays_ends_the_schedule_and_renews_the_service(
    failing: tuple[Invoice, Service], django_capture_on_commit_callbacks: Any
) -> None:
    invoice, service = failing
    run(day(1), django_capture_on_commit_callbacks)
    TestcardCard.objects.update(behaviour="succeeded")  # the customer's bank account was topped up
    for offset in range(2, 10):
        run(day(offset), django_capture_on_commit_callbacks)
    assert charges() == [DAY0, day(1), day(3)]
    assert list(AutopayRetry.objects.order_by("day").values_list("day", "outcome")) == [(1, "failed"), (3, "succeeded")]
    report = BillingRun.objects.get(as_of=day(3))
    assert (report.autopay_retries, report.autopay_retries_paid) == (1, 1)
    invoice.refresh_from_db()
    service.refresh_from_db()
    assert (invoice.status, invoice_paid_minor(invoice=invoice), invoice.paid_date) == (
        InvoiceStatus.PAID,
        1210,
        day(3),
    )
    assert service.current_period_end == dt.date(2026, 3, 1)
    assert ReminderSent.objects.count() == 0


def test_no_retries_when_the_setting_is_empty_or_auto_pay_was_turned_off(
    alice: Membership, failing: tuple[Invoice, Service], django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.PAYMENTS_AUTOPAY_RETRY_DAYS = ()
    run(day(1), django_capture_on_commit_callbacks)
    settings.PAYMENTS_AUTOPAY_RETRY_DAYS = (1, 3, 7)
    payment_preference_set(account=alice.account, apply_credit=True, autopay=False, by=None)
    run(day(3), django_capture_on_commit_callbacks)
    assert (charges(), AutopayRetry.objects.count()) == ([DAY0], 0)


def test_a_declined_card_is_flagged_and_a_new_card_is_charged_on_the_next_retry_day(
    client: Client,
    alice: Membership,
    catalog: Catalog,
    django_capture_on_commit_callbacks: Any,
) -> None:
    service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])
    declined = card_for(alice.account, "card_declined", last4="0002")
    payment_preference_set(account=alice.account, apply_credit=True, autopay=True, by=None)
    run(DAY0, django_capture_on_commit_callbacks)
    declined.refresh_from_db()
    assert (declined.failure_code, charges()) == ("card_declined", [DAY0])
    # Day 1: the flagged card is not charged again; the retry is spent, nothing is counted.
    summary = run(day(1), django_capture_on_commit_callbacks)
    assert (summary.autopay_retries, charges()) == (0, [DAY0])
    assert list(AutopayRetry.objects.values_list("day", "outcome", "payment")) == [(1, "skipped", None)]
    # The customer gives a new card: it replaces the flagged one as the default.
    save_card(client, alice, "4242424242424242", django_capture_on_commit_callbacks)
    new = SavedPaymentMethod.objects.get(last4="4242")
    declined.refresh_from_db()
    assert (new.is_default, declined.is_default) == (True, False)
    run(day(2), django_capture_on_commit_callbacks)
    assert charges() == [DAY0]
    summary = run(day(3), django_capture_on_commit_callbacks)
    assert (summary.autopay_retries, summary.autopay_retries_paid, charges()) == (1, 1, [DAY0, day(3)])
    assert Payment.objects.get(started_on=day(3)).saved_method == new
    assert Invoice.objects.get().status == InvoiceStatus.PAID


def test_each_partition_retries_its_own_accounts(
    alice: Membership, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    accounts = [alice.account, make_member("carla@example.org", "Carla S.L.").account]
    for account in accounts:
        service_for(account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])
        card_for(account, "insufficient_funds")
        payment_preference_set(account=account, apply_credit=True, autopay=True, by=None)
    run(DAY0, django_capture_on_commit_callbacks)
    retried = {}
    for index in (0, 1):
        with django_capture_on_commit_callbacks(execute=True):
            billing_run(as_of=day(1), partition=Partition(index=index, count=2))
        retried[index] = set(AutopayRetry.objects.values_list("account_id", flat=True)) - set().union(*retried.values())
    assert retried == {index: {a.pk for a in accounts if a.pk % 2 == index} for index in (0, 1)}
    assert [BillingRun.objects.get(as_of=day(1), partition=f"{i}/2").autopay_retries for i in (0, 1)] == [
        len(retried[0]),
        len(retried[1]),
    ]


# --- Auto-pay per service -------------------------------------------------------------------


def test_a_renewal_of_a_service_with_auto_pay_off_is_not_charged_and_never_retried(
    alice: Membership, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    service = service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])
    card_for(alice.account, "succeeded", last4="4242")
    payment_preference_set(account=alice.account, apply_credit=True, autopay=True, by=None)
    service_autopay_set(account=alice.account, service=service, autopay=False, by=alice.user)
    for offset in range(8):
        run(day(offset), django_capture_on_commit_callbacks)
    invoice = Invoice.objects.get()
    assert (invoice.status, charges(), AutopayRetry.objects.count()) == (InvoiceStatus.OPEN, [], 0)
    assert list(ReminderSent.objects.values_list("stage", flat=True)) == [-7]


@pytest.mark.parametrize(("off", "charged"), [((0,), [DAY0]), ((0, 1), [])])
def test_a_grouped_invoice_is_charged_in_full_unless_all_its_services_have_auto_pay_off(
    alice: Membership,
    catalog: Catalog,
    django_capture_on_commit_callbacks: Any,
    off: tuple[int, ...],
    charged: list[dt.date],
) -> None:
    price = catalog.prices[("basic", "EUR", Cycle.MONTHLY)]
    services = [service_for(alice.account, price), service_for(alice.account, price)]
    card_for(alice.account, "succeeded", last4="4242")
    payment_preference_set(account=alice.account, apply_credit=True, autopay=True, by=None)
    for index in off:
        service_autopay_set(account=alice.account, service=services[index], autopay=False, by=None)
    run(DAY0, django_capture_on_commit_callbacks)
    invoice = Invoice.objects.get()
    assert (invoice.total_minor, charges()) == (2420, charged)
    assert invoice_paid_minor(invoice=invoice) == (2420 if charged else 0)


def test_ungrouped_renewals_are_charged_service_by_service(
    alice: Membership, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    price = catalog.prices[("basic", "EUR", Cycle.MONTHLY)]
    kept, charged = service_for(alice.account, price), service_for(alice.account, price)
    BillingPreference.objects.create(account=alice.account, group_renewals=False)
    card_for(alice.account, "succeeded", last4="4242")
    payment_preference_set(account=alice.account, apply_credit=True, autopay=True, by=None)
    service_autopay_set(account=alice.account, service=kept, autopay=False, by=None)
    run(DAY0, django_capture_on_commit_callbacks)
    paid = dict(Invoice.objects.values_list("lines__service", "status").distinct())
    assert paid == {kept.pk: InvoiceStatus.OPEN, charged.pk: InvoiceStatus.PAID}


def test_auto_pay_of_a_service_is_refused_for_another_account_or_an_ended_service(
    alice: Membership, bob: Membership, catalog: Catalog
) -> None:
    service = service_for(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)])
    with pytest.raises(ServiceAutopayRefused):
        service_autopay_set(account=bob.account, service=service, autopay=False, by=bob.user)
    Service.objects.filter(pk=service.pk).update(status=ServiceStatus.TERMINATED)
    with pytest.raises(ServiceAutopayRefused):
        service_autopay_set(account=alice.account, service=service, autopay=False, by=alice.user)
    assert ServicePaymentPreference.objects.count() == 0


# --- Two runs of one date at once -----------------------------------------------------------


@pytest.fixture
def many_failing(catalog: Catalog) -> list[Account]:
    """Four accounts, each with a service and a card that lacks funds; their renewals' first
    automatic charges fail on day 0 (committed: the threads below see them)."""
    price = catalog.prices[("basic", "EUR", Cycle.MONTHLY)]
    accounts = []
    for n in range(4):
        account = make_member(f"payer{n}@example.org", f"Payer {n} S.L.").account
        service_for(account, price)
        card_for(account, "insufficient_funds")
        payment_preference_set(account=account, apply_credit=True, autopay=True, by=None)
        accounts.append(account)
    billing_run(as_of=DAY0)
    assert Payment.objects.filter(status=PaymentStatus.FAILED).count() == 4
    return accounts


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_date_at_once_charge_each_retry_once(
    on_postgresql: None, many_failing: list[Account], settings: Any
) -> None:
    settings.BILLING_RUN_BATCH = 1
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    retried: list[int] = []

    def one_run() -> None:
        try:
            barrier.wait(timeout=30)
            retried.append(billing_run(as_of=day(1)).autopay_retries)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(retried) == 4
    day_one = Payment.objects.filter(started_on=day(1))
    assert sorted(day_one.values_list("account_id", flat=True)) == sorted(a.pk for a in many_failing)
    assert TestcardCheckout.objects.filter(mode="charge").count() == 8
    assert AutopayRetry.objects.filter(retried_on=day(1)).count() == 4
    assert BillingRun.objects.get(as_of=day(1)).autopay_retries == 4
