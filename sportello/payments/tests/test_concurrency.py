"""Races on PostgreSQL: credit spent twice at once, one webhook delivered three times at once,
and a mass payment racing a single payment of one of its invoices."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Settlement
from sportello.billing.selectors import invoice_paid_minor
from sportello.core.money import Money
from sportello.payments.errors import InsufficientCredit, WebhookReplayed
from sportello.payments.models import CreditEntry, CreditKind, Payment, PaymentEvent, ProcessedWebhook
from sportello.payments.selectors import credit_balance
from sportello.payments.services import credit_adjust, credit_apply
from sportello.payments.tests.conftest import DAY

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*calls: Callable[[], Any]) -> list[str]:
    """Run `calls` at the same moment, each on its own connection; their outcomes, sorted."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            call()
            outcomes.append("ok")
        except Exception as error:
            outcomes.append(type(error).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def test_two_requests_spending_the_same_credit_on_different_invoices(
    on_postgresql: None, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    first, second = make_invoice("100.00"), make_invoice("100.00")  # 121.00 each
    credit_adjust(account=alice.account, amount=Money("150.00", "EUR"), note="prepaid", by=None)  # type: ignore[arg-type]
    amount = Money("121.00", "EUR")  # type: ignore[arg-type]
    outcomes = race(
        lambda: credit_apply(account=alice.account, invoice=first, amount=amount, by=None, as_of=DAY),
        lambda: credit_apply(account=alice.account, invoice=second, amount=amount, by=None, as_of=DAY),
    )
    assert outcomes == [InsufficientCredit.__name__, "ok"]
    assert credit_balance(account=alice.account, currency="EUR") == Money("29.00", "EUR")  # type: ignore[arg-type]
    applied = CreditEntry.objects.filter(kind=CreditKind.APPLIED)
    assert [entry.amount_minor for entry in applied] == [-12100]
    paid = [invoice_paid_minor(invoice=invoice) for invoice in (first, second)]
    assert sorted(paid) == [0, 12100]


def _started(membership: Membership, invoices: list[Invoice]) -> Payment:
    from sportello.payments.services import payment_begin, payment_create

    plan = payment_create(
        account=membership.account, invoices=invoices, method="testcard", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    return payment_begin(payment=plan.payment, return_url="https://portal.example/return")


def _deliver(
    payment: Payment, event_id: str, *, signed_seconds_ago: int = 0, outcomes: list[str] | None = None
) -> Callable[[], Any]:
    """One signed delivery of `event_id`; its outcome is added to `outcomes` when given."""
    from sportello.payments.services import webhook_receive
    from sportello.payments.tests.test_payments import NOW, event, signed

    body, headers = signed(event(payment, event_id=event_id), at=NOW - dt.timedelta(seconds=signed_seconds_ago))

    def deliver() -> None:
        result = webhook_receive(gateway="testcard", body=body, headers=headers, now=NOW)
        if outcomes is not None:
            outcomes.append(result.outcome)

    return deliver


def test_the_same_webhook_delivered_three_times_at_once_counts_once(
    on_postgresql: None, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    """The very same signed request three times at once (a replay racing the original): one
    acts, the two others are refused as replays, whichever order the database picks."""
    first, second = make_invoice("100.00"), make_invoice("10.00")
    payment = _started(alice, [first, second])
    deliver = _deliver(payment, "evt_once")
    assert race(deliver, deliver, deliver) == [WebhookReplayed.__name__, WebhookReplayed.__name__, "ok"]
    assert ProcessedWebhook.objects.filter(event_id="evt_once").count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert sorted(Settlement.objects.values_list("amount_minor", flat=True)) == [1210, 12100]
    assert set(Invoice.objects.values_list("status", flat=True)) == {InvoiceStatus.PAID}
    assert CreditEntry.objects.count() == 0


def test_the_gateway_sending_the_same_event_three_times_at_once_counts_once(
    on_postgresql: None, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    """Three deliveries of one event, each signed anew as a gateway retrying does: one acts,
    the two others are acknowledged as duplicates (2xx, so that the gateway stops)."""
    first, second = make_invoice("100.00"), make_invoice("10.00")
    payment = _started(alice, [first, second])
    outcomes: list[str] = []
    deliveries = [_deliver(payment, "evt_once", signed_seconds_ago=ago, outcomes=outcomes) for ago in (0, 1, 2)]
    assert race(*deliveries) == ["ok", "ok", "ok"]
    assert sorted(outcomes) == ["applied", "duplicate", "duplicate"]
    assert ProcessedWebhook.objects.filter(event_id="evt_once").count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert sorted(Settlement.objects.values_list("amount_minor", flat=True)) == [1210, 12100]
    assert set(Invoice.objects.values_list("status", flat=True)) == {InvoiceStatus.PAID}
    assert CreditEntry.objects.count() == 0


def test_a_mass_payment_racing_a_single_payment_applies_nothing_twice(
    on_postgresql: None, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    first, second = make_invoice("100.00"), make_invoice("10.00")  # 121.00 and 12.10
    mass = _started(alice, [first, second])
    single = _started(alice, [second])
    assert race(_deliver(mass, "evt_mass"), _deliver(single, "evt_single")) == ["ok", "ok"]
    assert invoice_paid_minor(invoice=first) == 12100
    assert invoice_paid_minor(invoice=second) == 1210
    assert set(Invoice.objects.values_list("status", flat=True)) == {InvoiceStatus.PAID}
    # Whichever came second had 12.10 too many: it becomes credit, once.
    overpayments = list(CreditEntry.objects.filter(kind=CreditKind.OVERPAYMENT).values_list("amount_minor", flat=True))
    assert overpayments == [1210]
    assert credit_balance(account=alice.account, currency="EUR") == Money("12.10", "EUR")  # type: ignore[arg-type]
    assert set(Payment.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_reviewed_payment_confirmed_twice_at_once_pays_once(
    on_postgresql: None, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    from django.test import Client
    from django.urls import reverse

    from sportello.payments.tests.conftest import review_fields

    invoice = make_invoice("100.00")  # 121.00
    credit_adjust(account=alice.account, amount=Money("200.00", "EUR"), note="prepaid", by=None)  # type: ignore[arg-type]
    url = reverse("portal:invoice-pay", args=[invoice.number])
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(alice.user)
    review = clients[0].post(url, {"invoices": invoice.number, "method": "credit", "amount": "50.00"})
    confirm = {**review_fields(review), "confirm": "1"}
    statuses: list[int] = []
    outcomes = race(
        *[lambda client=client: statuses.append(client.post(url, confirm).status_code) for client in clients]
    )
    assert (outcomes, statuses) == (["ok", "ok"], [302, 302])
    assert credit_balance(account=alice.account, currency="EUR") == Money("150.00", "EUR")  # type: ignore[arg-type]
    assert invoice_paid_minor(invoice=invoice) == 5000
