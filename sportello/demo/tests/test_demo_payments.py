"""The demo's payments: for each customer, in its currency, a payment by every method (card,
bank transfer registered, PIX for BRL, credit, a transfer awaiting registration), credit balances that are
the sums of their ledgers, and saved test cards, one expired."""

import datetime as dt

import pytest

from sportello.billing.models import Invoice
from sportello.core.money import Money
from sportello.demo.data import demo_load
from sportello.payments.models import CreditEntry, Payment, SavedPaymentMethod
from sportello.payments.selectors import credit_balance

AS_OF = dt.date(2026, 3, 10)
NUBECLARA = "Nubeclara Servicios Digitales S.L."
FERRI = "Studio Ferri Consulenza S.r.l."
BRUNO = "Bruno Tecnologia Ltda."


@pytest.fixture
def demo(settings):
    settings.SPORTELLO_DEMO = True
    demo_load(as_of=AS_OF)


def payments_of(name):
    return [
        (p.gateway, p.status, p.amount_minor, p.currency, p.method_label, p.instructions.get("reference") is not None)
        for p in Payment.objects.filter(account__name=name).order_by("id")
    ]


@pytest.mark.django_db
def test_each_customer_has_a_payment_by_every_method_in_its_currency(demo):
    # Transfers are named in the account's language. The last of each: the billing demo's Premium
    # DNS invoice, paid by card and refunded to it.
    assert payments_of(NUBECLARA) == [
        ("testcard", "succeeded", 5000, "EUR", "Visa •••• 4242", False),
        ("bank_transfer", "succeeded", 10000, "EUR", "Transferencia bancaria", True),
        ("bank_transfer", "initiated", 605, "EUR", "Transferencia bancaria", True),
        ("testcard", "refunded", 2904, "EUR", "Visa •••• 4242", False),
    ]
    assert payments_of(FERRI) == [
        ("testcard", "succeeded", 5000, "EUR", "Visa •••• 4242", False),
        ("bank_transfer", "succeeded", 10000, "EUR", "Bonifico bancario", True),
        ("bank_transfer", "initiated", 500, "EUR", "Bonifico bancario", True),
        ("testcard", "refunded", 2400, "EUR", "Visa •••• 4242", False),
    ]
    assert payments_of(BRUNO) == [
        ("testcard", "succeeded", 25000, "BRL", "Visa •••• 4242", False),
        ("bank_transfer", "succeeded", 50000, "BRL", "Transferência bancária", True),
        ("pix", "succeeded", 15000, "BRL", "PIX", False),
        ("bank_transfer", "initiated", 2500, "BRL", "Transferência bancária", True),
        ("testcard", "refunded", 12000, "BRL", "Visa •••• 4242", False),
    ]
    # The transfer awaited is for the open invoice, which stays open until it arrives.
    awaited = Payment.objects.get(account__name=NUBECLARA, status="initiated")
    assert [(a.invoice.status, a.invoice.lines.first().description) for a in awaited.allocations.all()] == [
        ("open", "Extra mailboxes — nubeclara.example.com")
    ]


@pytest.mark.django_db
def test_credit_balances_are_the_sums_of_their_ledgers(demo):
    balances = {
        name: credit_balance(account=Invoice.objects.filter(account__name=name).first().account, currency=currency)
        for name, currency in ((NUBECLARA, "EUR"), (FERRI, "EUR"), (BRUNO, "BRL"))
    }
    # Nubeclara: 25.00 welcome + 50.00 by card + 100.00 by transfer - 10.89 (9.00 + 21 % IVA).
    # Studio Ferri: 50.00 + 100.00 - 9.00 (reverse charge). Bruno: 250 + 500 + 150 by PIX - 45 (no VAT).
    assert balances == {
        NUBECLARA: Money("164.11", "EUR"),
        FERRI: Money("141.00", "EUR"),
        BRUNO: Money("855.00", "BRL"),
    }
    assert list(CreditEntry.objects.filter(account__name=BRUNO).order_by("id").values_list("kind", "amount_minor")) == [
        ("funds", 25000),
        ("funds", 50000),
        ("funds", 15000),
        ("applied", -4500),
    ]
    paid_from_credit = Invoice.objects.get(account__name=BRUNO, credit_entries__kind="applied")
    assert (paid_from_credit.status, paid_from_credit.total_minor) == ("paid", 4500)


@pytest.mark.django_db
def test_saved_cards_include_an_expired_one(demo):
    cards = {
        (m.account.name, m.brand, m.last4, m.is_default, m.expired_on(AS_OF))
        for m in SavedPaymentMethod.objects.select_related("account")
    }
    assert cards == {
        (NUBECLARA, "Visa", "4242", True, False),
        (FERRI, "Visa", "0069", True, True),
        (BRUNO, "Mastercard", "4444", True, False),
    }


@pytest.mark.django_db
def test_a_second_load_adds_no_payment(demo):
    before = (Payment.objects.count(), CreditEntry.objects.count(), Invoice.objects.count())
    assert demo_load(as_of=AS_OF + dt.timedelta(days=3))["payments"] == 0
    assert (Payment.objects.count(), CreditEntry.objects.count(), Invoice.objects.count()) == before
