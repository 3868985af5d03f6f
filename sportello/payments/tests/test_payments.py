"""Payments: one or several invoices per payment, outcomes from signed notifications, allocation
in due-date order, excess to credit once, and everything that must not apply money."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Settlement
from sportello.billing.selectors import invoice_paid_minor
from sportello.core.models import AppendOnlyError
from sportello.core.money import Money
from sportello.payments import testcard
from sportello.payments.adapters.base import signature_header, webhook_delivery_id
from sportello.payments.errors import (
    InsufficientCredit,
    InvoiceNotPayable,
    MethodUnavailable,
    MixedCurrencies,
    NothingToPay,
    WebhookRejected,
    WebhookReplayed,
)
from sportello.payments.models import (
    CreditEntry,
    CreditKind,
    Payment,
    PaymentAllocation,
    PaymentEvent,
    PaymentStatus,
    ProcessedWebhook,
    ReconciliationItem,
)
from sportello.payments.selectors import credit_balance, payment_status_from_events
from sportello.payments.services import (
    allocation_split,
    credit_adjust,
    credit_apply,
    payment_begin,
    payment_create,
    payment_refresh,
    webhook_receive,
)
from sportello.payments.tests.conftest import DAY, issued_invoice

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")  # type: ignore[arg-type]


def start(
    membership: Membership, invoices: list[Invoice], *, method: str = "testcard", use_credit: bool = False
) -> Payment:
    plan = payment_create(
        account=membership.account,
        invoices=invoices,
        method=method,
        use_credit=use_credit,
        by=membership.user,
        as_of=DAY,
    )
    assert plan.payment is not None
    return payment_begin(payment=plan.payment, return_url="https://portal.example/return")


def signed(event: dict[str, Any], *, at: dt.datetime = NOW, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    header = signature_header(secret=secret or testcard.webhook_secret(), body=body, timestamp=int(at.timestamp()))
    return body, {"Testcard-Signature": header}


def event(
    payment: Payment,
    kind: str = "succeeded",
    *,
    event_id: str = "evt_1",
    amount_minor: int | None = None,
    currency: str | None = None,
    reference: str | None = None,
    failure_code: str = "",
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": f"checkout.{kind}",
        "data": {
            "checkout": reference or payment.gateway_reference,
            "amount_minor": payment.amount_minor if amount_minor is None else amount_minor,
            "currency": currency or payment.currency,
            "failure_code": failure_code,
            "card": {"brand": "Visa", "last4": "4242"},
        },
    }


def deliver(payload: dict[str, Any], **kwargs: Any) -> str:
    body, headers = signed(payload, **kwargs)
    return webhook_receive(gateway="testcard", body=body, headers=headers, now=NOW).outcome


def money_state() -> tuple[object, ...]:
    return (
        list(Settlement.objects.order_by("id").values_list("invoice_id", "kind", "amount_minor", "reference")),
        list(CreditEntry.objects.order_by("id").values_list("kind", "amount_minor")),
        list(Invoice.objects.order_by("id").values_list("id", "status")),
        list(Payment.objects.order_by("id").values_list("id", "status")),
        PaymentEvent.objects.count(),
    )


def test_a_mass_payment_is_planned_over_the_invoices_in_due_date_order(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    later = make_invoice("100.00", due=DAY + dt.timedelta(days=30))  # 121.00
    sooner = make_invoice("10.00", due=DAY + dt.timedelta(days=5))  # 12.10
    payment = start(alice, [later, sooner])
    assert (payment.amount_minor, payment.currency, payment.status, payment.gateway) == (
        13310,
        "EUR",
        PaymentStatus.INITIATED,
        "testcard",
    )
    assert list(payment.allocations.values_list("invoice_id", "planned_minor")) == [
        (sooner.pk, 1210),
        (later.pk, 12100),
    ]
    assert payment.next_url.startswith("http") and payment.gateway_reference in payment.next_url
    assert payment.events.get().kind == "initiated"


def test_a_signed_success_settles_the_invoices_exactly_once(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    first, second = make_invoice("100.00"), make_invoice("10.00")
    payment = start(alice, [first, second])
    assert deliver(event(payment)) == "applied"
    payment.refresh_from_db()
    assert (payment.status, payment.method_label) == (PaymentStatus.SUCCEEDED, "Visa •••• 4242")
    assert payment_status_from_events(payment=payment) == payment.status
    for invoice in (first, second):
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID
    assert sorted(Settlement.objects.values_list("amount_minor", "reference")) == [
        (1210, f"payment:{payment.pk}"),
        (12100, f"payment:{payment.pk}"),
    ]
    before = money_state()
    # The gateway sending the same event again (signed anew, a second later), and another event
    # saying the same thing: nothing more.
    assert deliver(event(payment), at=NOW - dt.timedelta(seconds=1)) == "duplicate"
    assert deliver(event(payment, event_id="evt_2")) == "ignored"
    assert money_state() == before
    assert ProcessedWebhook.objects.count() == 2


def test_a_replayed_delivery_is_refused_and_a_redelivery_acknowledged_recording_nothing(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    payment = start(alice, [make_invoice()])
    body, headers = signed(event(payment))
    assert webhook_receive(gateway="testcard", body=body, headers=headers, now=NOW).outcome == "applied"
    webhook = ProcessedWebhook.objects.get()
    assert (webhook.event_id, webhook.delivery) == (
        "evt_1",
        webhook_delivery_id(signature=headers["Testcard-Signature"], position=0),
    )
    before = money_state()
    # The captured request sent again, a minute later (within the tolerance): refused.
    with pytest.raises(WebhookReplayed) as refused:
        webhook_receive(gateway="testcard", body=body, headers=headers, now=NOW + dt.timedelta(minutes=1))
    assert refused.value.reason == "replayed"
    # The gateway's own retry carries a new timestamp and signature: acknowledged, nothing more.
    body, headers = signed(event(payment), at=NOW + dt.timedelta(minutes=1))
    assert (
        webhook_receive(gateway="testcard", body=body, headers=headers, now=NOW + dt.timedelta(minutes=1)).outcome
        == "duplicate"
    )
    # Only deliveries that acted are recorded: that retry seen again is one more duplicate,
    # acknowledged and changing nothing.
    assert (
        webhook_receive(gateway="testcard", body=body, headers=headers, now=NOW + dt.timedelta(minutes=2)).outcome
        == "duplicate"
    )
    assert money_state() == before
    assert list(ProcessedWebhook.objects.values_list("event_id", "delivery")) == [("evt_1", webhook.delivery)]


def test_an_invoice_paid_meanwhile_is_not_paid_twice_and_the_excess_becomes_credit_once(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    first, second = make_invoice("100.00", due=DAY), make_invoice("10.00", due=DAY + dt.timedelta(days=1))
    payment = start(alice, [first, second])
    credit_adjust(account=alice.account, amount=eur("12.10"), note="goodwill", by=None)
    credit_apply(account=alice.account, invoice=second, amount=eur("12.10"), by=None, as_of=DAY)
    assert deliver(event(payment)) == "applied"
    assert invoice_paid_minor(invoice=first) == 12100
    assert invoice_paid_minor(invoice=second) == 1210, "paid by credit only, not again by the payment"
    overpayments = CreditEntry.objects.filter(kind=CreditKind.OVERPAYMENT)
    assert [(entry.amount_minor, entry.payment_id) for entry in overpayments] == [(1210, payment.pk)]
    assert credit_balance(account=alice.account, currency="EUR") == eur("12.10")
    assert deliver(event(payment, event_id="evt_2")) == "ignored"
    assert CreditEntry.objects.filter(kind=CreditKind.OVERPAYMENT).count() == 1


@pytest.mark.parametrize(
    ("amount_minor", "currency", "kind"), [(13309, "EUR", "amount_mismatch"), (13310, "USD", "currency_mismatch")]
)
def test_a_notification_that_does_not_match_is_flagged_and_settles_nothing(
    alice: Membership, make_invoice: Callable[..., Invoice], amount_minor: int, currency: str, kind: str
) -> None:
    payment = start(alice, [make_invoice("100.00"), make_invoice("10.00")])
    before = money_state()
    assert deliver(event(payment, amount_minor=amount_minor, currency=currency)) == "flagged"
    assert money_state() == before
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.payment_id, item.account_id, item.amount_minor, item.currency) == (
        kind,
        payment.pk,
        alice.account_id,
        amount_minor,
        currency,
    )


def test_a_success_for_an_unknown_payment_is_recorded_for_reconciliation(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    payment = start(alice, [make_invoice()])
    before = money_state()
    assert deliver(event(payment, reference="cs_unknown")) == "unknown_payment"
    assert money_state() == before
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.reference, item.payment_id, item.amount_minor) == (
        "unknown_payment",
        "cs_unknown",
        None,
        12100,
    )


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("unsigned", "unsigned"),
        ("forged", "bad_signature"),
        ("stale", "stale"),
        ("future", "stale"),
        ("tampered", "bad_signature"),
    ],
)
def test_forged_unsigned_or_stale_notifications_are_refused_and_record_nothing(
    alice: Membership, make_invoice: Callable[..., Invoice], how: str, reason: str
) -> None:
    payment = start(alice, [make_invoice()])
    payload = event(payment)
    if how == "forged":
        body, headers = signed(payload, secret="not-the-secret")
    elif how == "stale":
        body, headers = signed(payload, at=NOW - dt.timedelta(seconds=301))
    elif how == "future":
        body, headers = signed(payload, at=NOW + dt.timedelta(seconds=301))
    else:
        body, headers = signed(payload)
        if how == "unsigned":
            headers = {}
        else:
            body = body.replace(b"13310", b"99999").replace(b'"amount_minor": 12100', b'"amount_minor": 1')
    before = money_state()
    with pytest.raises(WebhookRejected) as refused:
        webhook_receive(gateway="testcard", body=body, headers=headers, now=NOW)
    assert refused.value.reason == reason
    assert money_state() == before
    assert (ProcessedWebhook.objects.count(), ReconciliationItem.objects.count()) == (0, 0)


def test_a_notification_within_the_tolerance_is_accepted(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    payment = start(alice, [make_invoice()])
    assert deliver(event(payment), at=NOW - dt.timedelta(seconds=299)) == "applied"


def test_a_failure_then_a_late_action_request_leave_it_failed(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice()
    payment = start(alice, [invoice])
    assert deliver(event(payment, "failed", failure_code="card_declined")) == "applied"
    assert deliver(event(payment, "requires_action", event_id="evt_2")) == "ignored"
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "card_declined")
    assert payment_status_from_events(payment=payment) == PaymentStatus.FAILED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_available_credit_pays_first_and_the_payment_asks_for_the_rest(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    first, second = make_invoice("100.00", due=DAY), make_invoice("10.00", due=DAY + dt.timedelta(days=3))
    credit_adjust(account=alice.account, amount=eur("130.00"), note="prepaid", by=None)
    plan = payment_create(
        account=alice.account, invoices=[first, second], method="testcard", use_credit=True, by=None, as_of=DAY
    )
    assert [entry.amount_minor for entry in plan.credit_entries] == [-12100, -900]
    assert plan.payment is not None
    assert (plan.payment.amount_minor, list(plan.payment.allocations.values_list("invoice_id", "planned_minor"))) == (
        310,
        [(second.pk, 310)],
    )
    assert credit_balance(account=alice.account, currency="EUR") == eur("0.00")


def test_credit_covering_everything_needs_no_payment(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    first, second = make_invoice("100.00"), make_invoice("10.00")
    credit_adjust(account=alice.account, amount=eur("200.00"), note="prepaid", by=None)
    plan = payment_create(
        account=alice.account, invoices=[first, second], method="credit", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is None and Payment.objects.count() == 0
    assert credit_balance(account=alice.account, currency="EUR") == eur("66.90")
    assert set(Invoice.objects.values_list("status", flat=True)) == {InvoiceStatus.PAID}


def test_the_credit_method_pays_everything_or_nothing(alice: Membership, make_invoice: Callable[..., Invoice]) -> None:
    first, second = make_invoice("100.00"), make_invoice("10.00")
    credit_adjust(account=alice.account, amount=eur("133.09"), note="prepaid", by=None)
    before = money_state()
    with pytest.raises(InsufficientCredit):
        payment_create(
            account=alice.account, invoices=[first, second], method="credit", use_credit=False, by=None, as_of=DAY
        )
    assert money_state() == before


def test_it_refuses_what_cannot_be_paid_together(
    alice: Membership, bob: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    eur_invoice = make_invoice()
    brl_invoice = issued_invoice(alice.account, "10.00", currency="BRL")
    bobs = issued_invoice(bob.account, "10.00")
    before = money_state()
    with pytest.raises(MixedCurrencies):
        payment_create(
            account=alice.account,
            invoices=[eur_invoice, brl_invoice],
            method="testcard",
            use_credit=False,
            by=None,
            as_of=DAY,
        )
    with pytest.raises(InvoiceNotPayable):
        payment_create(
            account=alice.account, invoices=[eur_invoice, bobs], method="testcard", use_credit=False, by=None, as_of=DAY
        )
    with pytest.raises(NothingToPay):
        payment_create(account=alice.account, invoices=[], method="testcard", use_credit=False, by=None, as_of=DAY)
    with pytest.raises(MethodUnavailable):
        payment_create(
            account=alice.account, invoices=[eur_invoice], method="paypal", use_credit=False, by=None, as_of=DAY
        )
    assert money_state() == before
    assert PaymentAllocation.objects.count() == 0


def test_the_test_processor_is_off_unless_enabled(
    alice: Membership, make_invoice: Callable[..., Invoice], settings: Any
) -> None:
    settings.PAYMENTS_TESTCARD_ENABLED = False
    settings.SPORTELLO_DEMO = False
    with pytest.raises(MethodUnavailable):
        payment_create(
            account=alice.account, invoices=[make_invoice()], method="testcard", use_credit=False, by=None, as_of=DAY
        )
    assert Payment.objects.count() == 0


def test_asking_the_processor_records_an_outcome_a_missed_notification_did_not(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    invoice = make_invoice()
    payment = start(alice, [invoice])
    checkout = testcard.TestcardCheckout.objects.get(token=payment.gateway_reference)
    checkout.status = "succeeded"
    checkout.card_brand, checkout.card_last4 = "Visa", "4242"
    checkout.save()  # the processor's side changed; its notification was lost
    payment = payment_refresh(payment=payment, as_of=DAY)
    assert payment.status == PaymentStatus.SUCCEEDED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert deliver(event(payment)) == "ignored", "the late notification applies nothing more"
    assert Settlement.objects.count() == 1


@given(
    amount=st.integers(min_value=0, max_value=10**9),
    balances=st.lists(st.integers(min_value=0, max_value=10**8), max_size=12),
)
def test_allocation_never_loses_or_invents_money(amount: int, balances: list[int]) -> None:
    parts, excess = allocation_split(amount, balances)
    assert sum(parts) + excess == amount
    assert all(0 <= part <= balance for part, balance in zip(parts, balances, strict=True))
    assert excess >= 0
    # Due-date order: an invoice gets money only when every earlier one is paid in full.
    for index, part in enumerate(parts):
        if part:
            assert all(parts[i] == balances[i] for i in range(index))
    if excess:
        assert parts == balances


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    nets=st.lists(st.integers(min_value=1, max_value=50_000), min_size=1, max_size=3),
    paid_meanwhile=st.lists(st.booleans(), min_size=3, max_size=3),
    received=st.integers(min_value=1, max_value=200_000),
)
def test_whatever_arrives_is_applied_once_and_the_rest_credited(
    alice: Membership, billing_setup: None, nets: list[int], paid_meanwhile: list[bool], received: int
) -> None:
    """Any amount received for any invoices, some paid by credit meanwhile: the payment's
    settlements plus its credit equal what arrived, and no invoice receives more than its total."""
    from django.db import transaction

    from sportello.payments.services import transfer_register

    with transaction.atomic():
        invoices = [
            issued_invoice(alice.account, str(Money.from_minor(net, "EUR").amount), due=DAY + dt.timedelta(days=i))
            for i, net in enumerate(nets)
        ]
        plan = payment_create(
            account=alice.account, invoices=invoices, method="bank_transfer", use_credit=False, by=None, as_of=DAY
        )
        assert plan.payment is not None
        payment = payment_begin(payment=plan.payment, return_url="http://testserver/")
        for invoice, meanwhile in zip(invoices, paid_meanwhile, strict=False):
            if meanwhile:
                owed = invoice_paid_minor(invoice=invoice)
                amount = Money.from_minor(invoice.total_minor - owed, "EUR")
                credit_adjust(account=alice.account, amount=amount, note="meanwhile", by=None)
                credit_apply(account=alice.account, invoice=invoice, amount=amount, by=None, as_of=DAY)
        transfer_register(payment=payment, amount=Money.from_minor(received, "EUR"), received_on=DAY, by=None)
        applied = sum(
            Settlement.objects.filter(reference=f"payment:{payment.pk}").values_list("amount_minor", flat=True)
        )
        credited = sum(CreditEntry.objects.filter(payment=payment).values_list("amount_minor", flat=True))
        assert applied + credited == received
        for invoice in invoices:
            invoice.refresh_from_db()
            assert invoice_paid_minor(invoice=invoice) <= invoice.total_minor
        transaction.set_rollback(True)


def test_the_hourly_job_recovers_lost_notifications_and_gives_up_on_abandoned_payments(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    from sportello.payments.services import payments_pending_refresh
    from sportello.payments.tests.test_bank_transfer import transfer

    lost, abandoned, fresh = (start(alice, [make_invoice()]) for _ in range(3))
    waiting_transfer = transfer(alice, [make_invoice()])
    testcard.TestcardCheckout.objects.filter(token=lost.gateway_reference).update(
        status="succeeded", card_brand="Visa", card_last4="4242"
    )
    Payment.objects.filter(pk=lost.pk).update(created_at=NOW - dt.timedelta(minutes=30))
    Payment.objects.filter(pk__in=[abandoned.pk, waiting_transfer.pk]).update(created_at=NOW - dt.timedelta(hours=25))
    Payment.objects.filter(pk=fresh.pk).update(created_at=NOW - dt.timedelta(minutes=5))
    assert payments_pending_refresh(now=NOW) == {"asked": 2, "settled": 1, "abandoned": 1, "expired": 0}
    statuses = dict(Payment.objects.values_list("pk", "status"))
    assert [statuses[p.pk] for p in (lost, abandoned, fresh, waiting_transfer)] == [
        "succeeded",
        "failed",
        "initiated",
        "initiated",
    ]
    assert payments_pending_refresh(now=NOW) == {"asked": 0, "settled": 0, "abandoned": 0, "expired": 0}
    # A success that arrives after all is still applied.
    assert deliver(event(abandoned, event_id="evt_late")) == "applied"


def test_payment_events_and_allocations_cannot_be_changed_or_deleted(
    alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    payment = start(alice, [make_invoice()])
    assert deliver(event(payment)) == "applied"
    history = list(PaymentEvent.objects.order_by("id").values_list("kind", "from_status", "to_status", "amount_minor"))
    assert history == [("initiated", "", "initiated", 0), ("succeeded", "initiated", "succeeded", 12100)]
    succeeded = PaymentEvent.objects.get(kind="succeeded")
    succeeded.amount_minor = 1
    with pytest.raises(AppendOnlyError):
        succeeded.save()
    with pytest.raises(AppendOnlyError):
        PaymentEvent.objects.filter(payment=payment).update(amount_minor=1)
    with pytest.raises(AppendOnlyError):
        succeeded.delete()
    with pytest.raises(AppendOnlyError):
        PaymentEvent.objects.filter(payment=payment).delete()
    allocation = PaymentAllocation.objects.get()
    allocation.planned_minor = 1
    with pytest.raises(AppendOnlyError):
        allocation.save()
    with pytest.raises(AppendOnlyError):
        PaymentAllocation.objects.all().update(planned_minor=1)
    with pytest.raises(AppendOnlyError):
        allocation.delete()
    assert list(
        PaymentEvent.objects.order_by("id").values_list("kind", "from_status", "to_status", "amount_minor")
    ) == (history)
    assert list(PaymentAllocation.objects.values_list("planned_minor", flat=True)) == [12100]
    payment.refresh_from_db()
    assert payment_status_from_events(payment=payment) == PaymentStatus.SUCCEEDED
