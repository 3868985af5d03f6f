"""Refunds by staff: full, partial and several partial ones; to the card or to credit; credit
notes of exactly the refunded amount on paid invoices; the payment and invoice statuses; and
every refused refund changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from sportello.accounts.models import Contact, EmailTopic, Membership
from sportello.billing.credit_notes import credit_notes_of, invoice_creditable_minor
from sportello.billing.errors import CreditAmountUnreachable
from sportello.billing.models import DocumentKind, Invoice, InvoiceStatus, Settlement, SettlementKind
from sportello.billing.selectors import invoice_balance_minor, invoice_paid_minor
from sportello.core.models import AuditEvent
from sportello.core.money import Money
from sportello.notifications.models import EmailLog
from sportello.payments import testcard
from sportello.payments.adapters import GATEWAYS
from sportello.payments.adapters.bank_transfer import BankTransferGateway
from sportello.payments.adapters.base import RefundResult
from sportello.payments.adapters.testcard import TestcardGateway
from sportello.payments.errors import GatewayError, InvalidAmount, RefundAboveRefundable, RefundRefused
from sportello.payments.models import (
    CreditEntry,
    CreditKind,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Refund,
    RefundStatus,
    TestcardCheckout,
)
from sportello.payments.refunds import payment_refund, payment_refundable_minor, refunds_pending_resume
from sportello.payments.selectors import credit_balance, payment_status_from_events
from sportello.payments.services import payment_begin, payment_create, transfer_register
from sportello.payments.tests.conftest import DAY

pytestmark = pytest.mark.django_db


def eur(amount: str) -> Money:
    return Money(amount, "EUR")  # type: ignore[arg-type]


def state() -> tuple[object, ...]:
    """Everything a refund could change."""
    return (
        list(Refund.objects.order_by("id").values_list("id", "status")),
        list(Settlement.objects.order_by("id").values_list("invoice_id", "kind", "amount_minor")),
        list(Invoice.objects.order_by("id").values_list("id", "kind", "status", "total_minor")),
        list(CreditEntry.objects.order_by("id").values_list("kind", "amount_minor")),
        list(PaymentEvent.objects.order_by("id").values_list("payment_id", "kind", "amount_minor")),
        list(Payment.objects.order_by("id").values_list("id", "status")),
        list(TestcardCheckout.objects.order_by("id").values_list("token", "refunded_minor")),
        AuditEvent.objects.filter(action__startswith="payment.refund").count(),
    )


@pytest.fixture
def card_paid(
    alice: Membership, billing_setup: None, django_capture_on_commit_callbacks: Any
) -> Callable[..., Payment]:
    """A card payment of `invoices` that succeeded through the test processor."""

    def pay(*invoices: Invoice) -> Payment:
        plan = payment_create(
            account=alice.account, invoices=list(invoices), method="testcard", use_credit=False, by=None, as_of=DAY
        )
        assert plan.payment is not None
        payment = payment_begin(payment=plan.payment, return_url="http://testserver/")
        checkout = TestcardCheckout.objects.get(token=payment.gateway_reference)
        card = testcard.CardEntered(number="4242424242424242", exp_month=12, exp_year=2039)
        with django_capture_on_commit_callbacks(execute=True):
            testcard.checkout_pay(checkout=checkout, card=card, today=DAY)
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.SUCCEEDED
        return payment

    return pay


@pytest.fixture
def transfer_paid(alice: Membership, billing_setup: None) -> Callable[..., Payment]:
    """A bank transfer for `invoices`, registered by staff as `received` (default: what was asked)."""

    def pay(*invoices: Invoice, received: str | None = None) -> Payment:
        plan = payment_create(
            account=alice.account,
            invoices=list(invoices),
            method="bank_transfer",
            use_credit=False,
            by=None,
            as_of=DAY,
        )
        assert plan.payment is not None
        payment = payment_begin(payment=plan.payment, return_url="http://testserver/")
        amount = eur(received) if received else Money.from_minor(payment.amount_minor, "EUR")
        return transfer_register(payment=payment, amount=amount, received_on=DAY, by=None)

    return pay


def refund(payment: Payment, amount: str, destination: str = "gateway", **kwargs: Any) -> Refund:
    return payment_refund(
        payment=payment,
        amount=eur(amount),
        destination=destination,
        reason=kwargs.pop("reason", "Service not delivered"),
        by=kwargs.pop("by", None),
        as_of=DAY,
        **kwargs,
    )


def settlements(invoice: Invoice) -> list[tuple[str, int]]:
    return list(Settlement.objects.filter(invoice=invoice).order_by("id").values_list("kind", "amount_minor"))


def test_a_full_refund_to_the_card_credits_the_invoice_and_gives_the_money_back(
    alice: Membership, make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment]
) -> None:
    invoice = make_invoice()  # 100.00 + 21% = 121.00
    payment = card_paid(invoice)
    Contact.objects.create(
        account=alice.account, name="Ana", email="billing@alice.example", topics=[EmailTopic.RECEIPTS]
    )

    done = refund(payment, "121.00", by=alice.user)

    assert (done.status, done.amount_minor, done.gateway_reference) == (
        RefundStatus.SUCCEEDED,
        12100,
        f"re_refund-{done.pk}",
    )
    assert TestcardCheckout.objects.get(token=payment.gateway_reference).refunded_minor == 12100
    [note] = credit_notes_of(invoice=invoice)
    assert (note.kind, note.total_minor, note.net_minor, note.tax_minor, note.notes) == (
        DocumentKind.CREDIT_NOTE,
        12100,
        10000,
        2100,
        "Service not delivered",
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.REFUNDED
    assert settlements(invoice) == [
        (SettlementKind.PAYMENT, 12100),
        (SettlementKind.CREDIT_NOTE, 12100),
        (SettlementKind.REVERSAL, -12100),
    ]
    assert (invoice_balance_minor(invoice=invoice), invoice_creditable_minor(invoice=invoice)) == (0, 0)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED == payment_status_from_events(payment=payment)
    assert list(
        PaymentEvent.objects.filter(payment=payment, kind="refunded").values_list("amount_minor", "source")
    ) == [(12100, "staff")]
    assert CreditEntry.objects.count() == 0
    assert AuditEvent.objects.filter(action="payment.refunded", actor=alice.user).count() == 1
    # Everyone who hears about payments: the new contact and alice, the owner.
    assert sorted(EmailLog.objects.filter(kind="payment").values_list("to_email", flat=True)) == [
        "alice@example.org",
        "billing@alice.example",
    ]
    notice = EmailLog.objects.get(kind="payment", to_email="billing@alice.example")
    assert notice.subject == "Refund of €121.00"
    assert "We have refunded €121.00 of your payment" in notice.body_text and note.number in notice.body_text
    assert f"/billing/payments/{payment.public_id}/receipt/" in notice.body_text


def test_several_partial_refunds_up_to_the_whole_payment(
    make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment]
) -> None:
    invoice = make_invoice()
    payment = card_paid(invoice)

    refund(payment, "60.50")
    invoice.refresh_from_db()
    payment.refresh_from_db()
    [first] = credit_notes_of(invoice=invoice)
    assert (first.total_minor, first.net_minor, first.tax_minor) == (6050, 5000, 1050)
    assert (invoice.status, payment.status) == (InvoiceStatus.PAID, PaymentStatus.SUCCEEDED)
    assert payment_refundable_minor(payment=payment, destination="gateway") == 6050

    refund(payment, "30.25")
    refund(payment, "30.25")
    notes = credit_notes_of(invoice=invoice)
    assert [note.total_minor for note in notes] == [6050, 3025, 3025]
    assert sum(note.tax_minor for note in notes) == invoice.tax_minor == 2100
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.status, payment.status) == (InvoiceStatus.REFUNDED, PaymentStatus.REFUNDED)
    assert TestcardCheckout.objects.get(token=payment.gateway_reference).refunded_minor == 12100
    assert invoice_paid_minor(invoice=invoice) == 12100  # 121.00 paid - 121.00 back + 121.00 credit notes

    before = state()
    with pytest.raises(RefundAboveRefundable) as refused:
        refund(payment, "0.01")
    assert refused.value.refundable_minor == 0
    assert state() == before


def test_more_than_is_left_is_refused_and_changes_nothing(
    make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment]
) -> None:
    payment = card_paid(make_invoice())
    refund(payment, "99.99")
    before = state()
    with pytest.raises(RefundAboveRefundable) as refused:
        refund(payment, "21.02")
    assert (refused.value.refundable_minor, refused.value.wanted_minor) == (2101, 2102)
    assert state() == before


@pytest.mark.parametrize(
    ("amount", "error", "detail"),
    [
        ("0.00", InvalidAmount, "not_positive"),
        ("-1.00", InvalidAmount, "not_positive"),
    ],
)
def test_it_refuses_amounts_that_are_not_positive(
    make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment], amount: str, error: type, detail: str
) -> None:
    payment = card_paid(make_invoice())
    before = state()
    with pytest.raises(error) as refused:
        refund(payment, amount)
    assert refused.value.reason == detail
    assert state() == before


def test_it_refuses_another_currency_a_missing_reason_and_payments_without_money(
    alice: Membership, make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment]
) -> None:
    payment = card_paid(make_invoice())
    plan = payment_create(
        account=alice.account, invoices=[make_invoice()], method="testcard", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    before = state()
    with pytest.raises(InvalidAmount) as currency:
        payment_refund(
            payment=payment, amount=Money("10.00", "USD"), destination="gateway", reason="x", by=None, as_of=DAY
        )  # type: ignore[arg-type]
    assert currency.value.reason == "currency"
    with pytest.raises(RefundRefused) as no_reason:
        refund(payment, "10.00", reason="   ")
    assert no_reason.value.reason == "reason_required"
    with pytest.raises(RefundRefused) as unpaid:
        refund(plan.payment, "10.00")
    assert unpaid.value.reason == "not_succeeded"
    with pytest.raises(RefundRefused) as nowhere:
        refund(payment, "10.00", destination="cash")
    assert nowhere.value.reason == "destination"
    assert state() == before


def test_an_amount_no_credit_note_can_total_is_refused_with_the_nearest_ones(
    make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment]
) -> None:
    payment = card_paid(make_invoice())
    before = state()
    # Net 49.59 + 21% = 60.00 and net 49.60 + 21% = 60.02: at 21% no net gives 60.01.
    with pytest.raises(CreditAmountUnreachable) as refused:
        refund(payment, "60.01")
    assert (refused.value.lower_minor, refused.value.upper_minor) == (6000, 6002)
    assert state() == before
    refund(payment, "60.02")
    [note] = Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE)
    assert (note.net_minor, note.tax_minor, note.total_minor) == (4960, 1042, 6002)


def test_a_bank_transfer_is_refunded_to_credit_only(
    alice: Membership, make_invoice: Callable[..., Invoice], transfer_paid: Callable[..., Payment]
) -> None:
    invoice = make_invoice()
    payment = transfer_paid(invoice)
    before = state()
    with pytest.raises(RefundRefused) as refused:
        refund(payment, "50.00")
    assert refused.value.reason == "gateway_cannot_refund"
    assert state() == before

    done = refund(payment, "50.00", destination="credit")

    assert (done.status, done.gateway_reference) == (RefundStatus.SUCCEEDED, "")
    assert credit_balance(account=alice.account, currency="EUR") == eur("50.00")
    [entry] = CreditEntry.objects.all()
    assert (entry.kind, entry.amount_minor, entry.payment_id) == (CreditKind.REFUND, 5000, payment.pk)
    [note] = credit_notes_of(invoice=invoice)
    assert (note.total_minor, note.net_minor, note.tax_minor) == (5000, 4132, 868)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice_creditable_minor(invoice=invoice) == 7100


def test_the_latest_invoice_of_a_payment_is_refunded_first(
    make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment]
) -> None:
    import datetime as dt

    older = make_invoice("100.00", due=DAY + dt.timedelta(days=5))
    newer = make_invoice("50.00", due=DAY + dt.timedelta(days=20))  # 60.50
    payment = card_paid(older, newer)

    refund(payment, "70.49")

    newer.refresh_from_db()
    older.refresh_from_db()
    assert newer.status == InvoiceStatus.REFUNDED
    assert [note.total_minor for note in credit_notes_of(invoice=newer)] == [6050]
    assert [note.total_minor for note in credit_notes_of(invoice=older)] == [999]
    assert older.status == InvoiceStatus.PAID
    assert Refund.objects.get().parts == [
        {"source": "invoice", "amount_minor": 6050, "invoice": newer.pk, "number": newer.number},
        {"source": "invoice", "amount_minor": 999, "invoice": older.pk, "number": older.number},
    ]


def test_a_partly_paid_invoice_takes_the_payment_back_and_owes_it_again(
    alice: Membership, make_invoice: Callable[..., Invoice], transfer_paid: Callable[..., Payment]
) -> None:
    invoice = make_invoice()
    payment = transfer_paid(invoice, received="100.00")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID

    refund(payment, "100.00", destination="credit")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice_balance_minor(invoice=invoice) == 12100
    assert credit_notes_of(invoice=invoice) == []
    assert settlements(invoice) == [(SettlementKind.PAYMENT, 10000), (SettlementKind.REVERSAL, -10000)]
    assert credit_balance(account=alice.account, currency="EUR") == eur("100.00")


class RefundingTransfers(BankTransferGateway):
    """Bank transfers whose bank can send money back (to test the overpayment's part)."""

    def refund(self, *, gateway_reference: str, amount: Money, idempotency_key: str) -> RefundResult:
        return RefundResult(refund_reference=f"bank-{idempotency_key}", amount=amount)


def test_an_overpayment_is_never_refunded_twice(
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    transfer_paid: Callable[..., Payment],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoice = make_invoice()
    payment = transfer_paid(invoice, received="150.00")  # 29.00 more than owed: credit
    assert credit_balance(account=alice.account, currency="EUR") == eur("29.00")

    # To credit, the overpayment is credit already: only the invoice's 121.00 can go there.
    with pytest.raises(RefundAboveRefundable) as refused:
        refund(payment, "150.00", destination="credit")
    assert refused.value.refundable_minor == 12100

    monkeypatch.setitem(GATEWAYS, "bank_transfer", RefundingTransfers)
    done = refund(payment, "29.00")
    assert done.parts == [{"source": "overpayment", "amount_minor": 2900}]
    assert credit_balance(account=alice.account, currency="EUR") == eur("0.00")
    assert credit_notes_of(invoice=invoice) == []
    assert payment_refundable_minor(payment=payment, destination="gateway") == 12100

    refund(payment, "121.00", destination="credit")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert credit_balance(account=alice.account, currency="EUR") == eur("121.00")
    with pytest.raises(RefundAboveRefundable):
        refund(payment, "0.01")


def test_spent_overpayment_credit_stays_spent(
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    transfer_paid: Callable[..., Payment],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoice = make_invoice()
    payment = transfer_paid(invoice, received="150.00")
    other = make_invoice("10.00")  # 12.10, paid from the credit when issued
    other.refresh_from_db()
    assert other.status == InvoiceStatus.PAID
    monkeypatch.setitem(GATEWAYS, "bank_transfer", RefundingTransfers)

    done = refund(payment, "30.00")

    # 16.90 of credit is left of the 29.00: it goes first, then 13.10 of the invoice.
    assert done.parts == [
        {"source": "overpayment", "amount_minor": 1690},
        {"source": "invoice", "amount_minor": 1310, "invoice": invoice.pk, "number": invoice.number},
    ]
    assert credit_balance(account=alice.account, currency="EUR") == eur("0.00")
    assert payment_refundable_minor(payment=payment, destination="gateway") == 10790


def test_a_refused_refund_is_recorded_as_failed_and_applies_nothing(
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    card_paid: Callable[..., Payment],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payment = card_paid(make_invoice())

    def refuse(self: Any, **kwargs: Any) -> RefundResult:
        raise GatewayError(reason="refund_refused", retryable=False)

    monkeypatch.setattr(TestcardGateway, "refund", refuse)
    settled = list(Settlement.objects.values_list("kind", "amount_minor"))
    with pytest.raises(GatewayError):
        refund(payment, "121.00")

    failed = Refund.objects.get()
    assert (failed.status, failed.failure_code, failed.amount_minor) == (RefundStatus.FAILED, "refund_refused", 12100)
    assert list(Settlement.objects.values_list("kind", "amount_minor")) == settled
    assert not Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE).exists()
    assert not PaymentEvent.objects.filter(kind="refunded").exists()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert AuditEvent.objects.filter(action="payment.refund_failed").count() == 1
    monkeypatch.undo()
    assert refund(payment, "121.00").status == RefundStatus.SUCCEEDED


def test_a_failed_refund_gives_back_the_credit_it_reserved(
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    transfer_paid: Callable[..., Payment],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payment = transfer_paid(make_invoice(), received="150.00")

    class Refusing(BankTransferGateway):
        def refund(self, *, gateway_reference: str, amount: Money, idempotency_key: str) -> RefundResult:
            assert credit_balance(account=alice.account, currency="EUR") == eur("0.00")  # reserved meanwhile
            raise GatewayError(reason="refund_refused", retryable=False)

    monkeypatch.setitem(GATEWAYS, "bank_transfer", Refusing)
    with pytest.raises(GatewayError):
        refund(payment, "29.00")
    assert credit_balance(account=alice.account, currency="EUR") == eur("29.00")
    assert list(CreditEntry.objects.order_by("id").values_list("kind", "amount_minor")) == [
        (CreditKind.OVERPAYMENT, 2900),
        (CreditKind.ADJUSTMENT, -2900),
        (CreditKind.ADJUSTMENT, 2900),
    ]


def test_the_same_idempotency_key_refunds_once(
    make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment]
) -> None:
    payment = card_paid(make_invoice())
    first = refund(payment, "50.00", idempotency_key="staff:abc")
    again = refund(payment, "50.00", idempotency_key="staff:abc")
    assert first.pk == again.pk
    assert Refund.objects.count() == 1
    assert PaymentEvent.objects.filter(kind="refunded").count() == 1
    assert TestcardCheckout.objects.get(token=payment.gateway_reference).refunded_minor == 5000


def test_a_funds_payment_is_refunded_to_the_card_only_with_its_credit(
    alice: Membership, billing_setup: None, card_paid: Callable[..., Payment]
) -> None:
    from sportello.payments.services import funds_invoice_create

    funds = funds_invoice_create(account=alice.account, amount=eur("50.00"), as_of=DAY, by=None)
    payment = card_paid(funds)
    assert credit_balance(account=alice.account, currency="EUR") == eur("50.00")
    with pytest.raises(RefundRefused) as refused:
        refund(payment, "50.00", destination="credit")
    assert refused.value.reason == "already_credit"

    refund(payment, "20.00")

    assert credit_balance(account=alice.account, currency="EUR") == eur("30.00")
    [note] = credit_notes_of(invoice=funds)
    assert (note.total_minor, note.tax_minor) == (2000, 0)


def test_what_a_credit_note_owes_back_is_paid_out_not_credited_twice(
    make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment]
) -> None:
    from sportello.billing.credit_notes import credit_note_create, credit_note_unapplied_minor

    invoice = make_invoice()
    payment = card_paid(invoice)
    staff_note = credit_note_create(invoice=invoice, lines=None, reason="Cancelled by the customer", as_of=DAY)
    assert credit_note_unapplied_minor(credit_note=staff_note) == 12100

    refund(payment, "121.00")

    assert credit_notes_of(invoice=invoice) == [staff_note]
    assert credit_note_unapplied_minor(credit_note=staff_note) == 0
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.REFUNDED
    assert settlements(invoice) == [
        (SettlementKind.PAYMENT, 12100),
        (SettlementKind.CREDIT_NOTE, 12100),
        (SettlementKind.REVERSAL, -12100),
    ]


def test_money_given_back_is_recorded_even_if_the_invoices_changed_meanwhile(
    make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sportello.billing.errors import CreditAboveInvoice
    from sportello.payments import refunds
    from sportello.payments.models import ReconciliationItem

    payment = card_paid(make_invoice())

    def changed(**kwargs: Any) -> None:
        raise CreditAboveInvoice(creditable_minor=0, wanted_minor=12100, currency="EUR")

    monkeypatch.setattr(refunds, "invoice_refund", changed)
    done = refund(payment, "121.00")

    assert done.status == RefundStatus.SUCCEEDED
    assert TestcardCheckout.objects.get(token=payment.gateway_reference).refunded_minor == 12100
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.payment_id, item.amount_minor, item.details["refund"]) == (
        "refund_not_applied",
        payment.pk,
        12100,
        done.pk,
    )
    assert not Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE).exists()


def test_a_refund_the_gateway_did_not_answer_stays_pending_and_is_finished_later_once(
    make_invoice: Callable[..., Invoice],
    card_paid: Callable[..., Payment],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payment = card_paid(make_invoice())
    keys: list[str] = []
    real_refund = TestcardGateway.refund

    def silent(self: Any, **kwargs: Any) -> RefundResult:
        keys.append(kwargs["idempotency_key"])
        raise GatewayError(reason="timeout", retryable=True)

    monkeypatch.setattr(TestcardGateway, "refund", silent)
    settled = list(Settlement.objects.values_list("kind", "amount_minor"))
    with pytest.raises(GatewayError):
        refund(payment, "50.00")
    pending = Refund.objects.get()
    assert pending.status == RefundStatus.PENDING
    assert list(Settlement.objects.values_list("kind", "amount_minor")) == settled
    # Another refund waits for this one.
    with pytest.raises(RefundRefused) as refused:
        refund(payment, "10.00")
    assert refused.value.reason == "in_progress"

    asked_at = pending.created_at
    nothing = {"resumed": 0, "refunded": 0, "failed": 0}
    # Too early: left alone. The gateway still silent: still pending.
    assert refunds_pending_resume(now=asked_at + dt.timedelta(minutes=5)) == nothing
    assert refunds_pending_resume(now=asked_at + dt.timedelta(minutes=11)) == {"resumed": 1, "refunded": 0, "failed": 0}

    def answering(self: Any, **kwargs: Any) -> RefundResult:
        keys.append(kwargs["idempotency_key"])
        return real_refund(self, **kwargs)

    monkeypatch.setattr(TestcardGateway, "refund", answering)
    assert refunds_pending_resume(now=asked_at + dt.timedelta(minutes=70)) == {"resumed": 1, "refunded": 1, "failed": 0}
    assert refunds_pending_resume(now=asked_at + dt.timedelta(minutes=130)) == nothing
    pending.refresh_from_db()
    assert pending.status == RefundStatus.SUCCEEDED
    assert keys == [f"refund-{pending.pk}"] * 3
    assert PaymentEvent.objects.filter(kind="refunded").count() == 1
    assert TestcardCheckout.objects.get(token=payment.gateway_reference).refunded_minor == 5000
