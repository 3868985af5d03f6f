"""The demo's invoices: every state a customer meets, per customer, in its currency and language."""

import datetime as dt

import pytest

from sportello.billing.models import Invoice, Settlement
from sportello.billing.selectors_portal import shown_status
from sportello.demo.data import demo_load
from sportello.orders.models import Order

AS_OF = dt.date(2026, 3, 10)


@pytest.mark.django_db
def test_each_customer_gets_invoices_in_every_state_and_a_second_load_adds_none(settings):
    settings.SPORTELLO_DEMO = True
    demo_load(as_of=AS_OF)
    # A later day finds the same documents (by their date-free descriptions).
    assert demo_load(as_of=AS_OF + dt.timedelta(days=40))["invoices"] == 0
    for name, currency, language in [
        ("Nubeclara Servicios Digitales S.L.", "EUR", "es"),
        ("Studio Ferri Consulenza S.r.l.", "EUR", "it"),
        ("Bruno Tecnologia Ltda.", "BRL", "pt-br"),
    ]:
        # The invoices of the demo's orders are checked with the orders below.
        # Those of the payments demo (funds added, an invoice paid from credit) are checked with it.
        documents = (
            Invoice.objects.filter(account__name=name)
            .exclude(source__in=["order", "funds"])
            .exclude(credit_entries__kind="applied")
            .order_by("issue_date", "pk")
        )
        assert {(d.currency, d.language) for d in documents} == {(currency, language)}
        # The invoices of accepted demo quotes (source "quote") are counted with the quotes.
        invoices = [d for d in documents if d.kind == "invoice" and d.source != "quote"]
        shown = sorted(shown_status(d, as_of=AS_OF) for d in invoices)
        assert shown == ["open", "overdue", "paid", "paid", "paid", "partially_paid"]
        notes = [d for d in documents if d.kind == "credit_note"]
        assert len(notes) == 2
        full = next(n for n in notes if n.total_minor == n.corrects.total_minor)
        # The full credit note settles the invoice it cancels.
        assert Settlement.objects.get(invoice=full.corrects).credit_note == full
        numbers = [d.number for d in invoices]
        assert all(numbers) and len(set(numbers)) == 6
    nubeclara = (
        Invoice.objects.filter(account__name__startswith="Nubeclara", kind="invoice")
        .exclude(source__in=["order", "quote", "funds"])
        .exclude(credit_entries__kind="applied")
    )
    assert sorted(i.total_minor for i in nubeclara) == [605, 967, 1452, 1815, 4715, 5929]  # 21 % VAT
    ferri = Invoice.objects.filter(account__name__startswith="Studio Ferri", kind="invoice").exclude(
        source__in=["order", "funds"]
    )
    assert {i.tax_minor for i in ferri} == {0}  # reverse charge: a valid Italian VAT number
    # The reverse-charge wording is printed on each (in Italian once the translations are in).
    assert all(i.legal_notes and "196" in i.legal_notes for i in ferri)


@pytest.mark.django_db
def test_each_demo_order_has_its_invoice_in_the_matching_state(settings):
    settings.SPORTELLO_DEMO = True
    demo_load(as_of=AS_OF)
    orders = Order.objects.select_related("invoice").order_by("account__name")
    assert [(o.account.name, o.status, o.invoice.status, o.invoice.total_minor == o.total_minor) for o in orders] == [
        ("Bruno Tecnologia Ltda.", "cancelled", "cancelled", True),
        ("Nubeclara Servicios Digitales S.L.", "awaiting_payment", "open", True),
        ("Studio Ferri Consulenza S.r.l.", "active", "paid", True),
    ]
