"""The demo's invoices: every state a customer meets, per customer, in its currency and language,
with quotes, credit notes and an account statement that balances."""

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from sportello.accounts.models import Account, Membership
from sportello.billing.models import Invoice, InvoiceEvent, InvoiceStatus, Quote, Settlement
from sportello.billing.selectors import invoices_visible_to
from sportello.billing.selectors_portal import shown_status
from sportello.core.testing import Clock
from sportello.demo.data import DEMO_COLLECTIONS_REASON, demo_load
from sportello.orders.models import Order
from sportello.payments.models import Payment, Refund

AS_OF = dt.date(2026, 3, 10)
NUBECLARA = "Nubeclara Servicios Digitales S.L."
FERRI = "Studio Ferri Consulenza S.r.l."
BRUNO = "Bruno Tecnologia Ltda."


@pytest.mark.django_db
def test_each_customer_gets_invoices_in_every_state_and_a_second_load_adds_none(settings):
    settings.SPORTELLO_DEMO = True
    demo_load(as_of=AS_OF)
    # A later day finds the same documents (by their date-free descriptions).
    assert demo_load(as_of=AS_OF + dt.timedelta(days=40))["invoices"] == 0
    for name, currency, language in [(NUBECLARA, "EUR", "es"), (FERRI, "EUR", "it"), (BRUNO, "BRL", "pt-br")]:
        # The invoices of the demo's orders are checked with the orders below.
        # Those of the payments demo (funds added, an invoice paid from credit) are checked with it.
        # The unpaid renewal of Nubeclara's suspended hosting is checked with the services.
        documents = (
            Invoice.objects.filter(account__name=name)
            .exclude(source__in=["order", "funds", "renewal"])
            .exclude(credit_entries__kind="applied")
            .order_by("issue_date", "pk")
        )
        assert {(d.currency, d.language) for d in documents} == {(currency, language)}
        # The invoices of accepted demo quotes (source "quote") are counted with the quotes.
        invoices = [d for d in documents if d.kind == "invoice" and d.source != "quote"]
        shown = sorted(shown_status(d, as_of=AS_OF) for d in invoices)
        assert shown == [
            "cancelled",
            "collections",
            "draft",
            "open",
            "overdue",
            "paid",
            "paid",
            "paid",
            "partially_paid",
            "refunded",
        ]
        notes = [d for d in documents if d.kind == "credit_note"]
        # The SSL certificate credited in full, the backup add-on, the cancelled migration and
        # the refunded DNS.
        assert len(notes) == 4
        ssl = next(n for n in notes if n.corrects.lines.first().description.startswith("SSL"))
        # The full credit note settles the invoice it cancels.
        assert ssl.total_minor == ssl.corrects.total_minor
        assert Settlement.objects.get(invoice=ssl.corrects).credit_note == ssl
        numbers = [d.number for d in invoices if d.status != "draft"]
        assert all(numbers) and len(set(numbers)) == 9
    nubeclara = (
        Invoice.objects.filter(account__name__startswith="Nubeclara", kind="invoice")
        .exclude(source__in=["order", "quote", "funds", "renewal"])
        .exclude(credit_entries__kind="applied")
    )
    # 21 % VAT
    assert sorted(i.total_minor for i in nubeclara) == [605, 967, 1452, 1815, 2904, 3630, 4356, 4715, 5929, 14520]
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


# --- Every status, quotes, credit notes and the statement, per account ---------------------


def statement_csv(client: Client, *, start: dt.date, end: dt.date) -> list[list[str]]:
    response = client.get(reverse("portal:statement-csv"), {"start": start.isoformat(), "end": end.isoformat()})
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


# Per account, as its owner reads the statement in the account's language: the CSV's header,
# the words for opening balance, invoice, credit note, payment and closing balance; the
# opening balance, the sums of the invoices, credit notes and payments (net of the refund)
# of the period, the closing balance; and the closing balance as the page writes it.
STATEMENTS = {
    NUBECLARA: (
        "ana@example.com",
        ["Fecha", "Tipo", "Descripción", "Referencia", "Importe", "Saldo", "Moneda"],
        ("Saldo inicial", "Factura", "Factura rectificativa", "Pago", "Saldo final"),
        # With the unpaid renewal of the suspended intranet hosting (7.25).
        ("53.23", "1101.00", "-127.05", "-194.14", "833.04"),
        "833,04\xa0€",
    ),
    FERRI: (
        "chiara@example.com",
        ["Data", "Tipo", "Descrizione", "Riferimento", "Importo", "Saldo", "Valuta"],
        ("Saldo iniziale", "Fattura", "Nota di credito", "Pagamento", "Saldo finale"),
        ("43.99", "962.97", "-105.00", "-228.48", "673.48"),
        "673,48\xa0€",
    ),
    BRUNO: (
        "bruno@example.com",
        ["Data", "Tipo", "Descrição", "Referência", "Valor", "Saldo", "Moeda"],
        ("Saldo inicial", "Fatura", "Nota de crédito", "Pagamento", "Saldo final"),
        ("219.80", "5399.60", "-554.80", "-1089.65", "3974.95"),
        "R$\xa03.974,95",
    ),
}


@pytest.fixture
def _language_kept() -> Iterator[None]:
    """Each request activates its reader's language in this thread: the next test (which may
    store labels in the active language) must not inherit the last one's."""
    with translation.override(translation.get_language()):
        yield


@pytest.mark.django_db
@pytest.mark.usefixtures("_language_kept")
def test_every_demo_account_has_every_status_quotes_credit_notes_and_a_statement_that_balances(
    settings, monkeypatch: pytest.MonkeyPatch
):
    settings.SPORTELLO_DEMO = True
    # The demo's order is cancelled "now": on the demo's day, which its credit note is dated.
    monkeypatch.setattr("sportello.orders.services.utc_now", Clock(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)))
    demo_load(as_of=AS_OF)
    every_status = set(InvoiceStatus.values)
    for account in Account.objects.order_by("name"):
        owner = Membership.objects.select_related("user").get(account=account, role="owner")
        invoices = Invoice.objects.filter(account=account, kind="invoice")
        # Staff see every status; customers every one but the draft, never issued.
        assert set(invoices.values_list("status", flat=True)) == every_status, account.name
        visible = invoices_visible_to(membership=owner).filter(kind="invoice")
        assert set(visible.values_list("status", flat=True)) == every_status - {"draft"}
        # The demo's own invoices, entered by staff (orders, quotes and funds have theirs).
        assert Counter(invoices.filter(source="manual").values_list("status", flat=True)) == {
            "paid": 4,  # domain, hosting (by card or transfer), SSL (by its credit note), privacy (from credit)
            "draft": 1,
            "open": 1,
            "partially_paid": 1,
            "overdue": 1,
            "collections": 1,
            "refunded": 1,
            "cancelled": 1,
        }
        in_collections = invoices.get(status="collections")
        event = InvoiceEvent.objects.get(invoice=in_collections, transition="collections")
        assert (event.actor.email, event.data["reason"]) == ("admin@example.com", DEMO_COLLECTIONS_REASON)
        refunded = invoices.get(status="refunded")
        refund = Refund.objects.get(account=account)
        assert (refund.status, refund.destination, refund.amount_minor) == (
            "succeeded",
            "gateway",
            refunded.total_minor,
        )
        assert Payment.objects.get(pk=refund.payment_id).status == "refunded"
        cancelled = invoices.get(status="cancelled", source="manual")
        # Credit notes: the SSL certificate's, the backup add-on's, the cancelled invoice's, the
        # refund's (and, for Bruno, the cancelled order's), all settled, in the account's currency.
        notes = Invoice.objects.filter(account=account, kind="credit_note")
        assert set(notes.values_list("status", "currency")) == {("paid", account.currency)}
        assert notes.count() == (5 if account.name == BRUNO else 4)
        assert notes.get(corrects=refunded).total_minor == refunded.total_minor
        assert notes.get(corrects=cancelled).total_minor == cancelled.total_minor
        quotes = Quote.objects.filter(account=account)
        assert set(quotes.values_list("status", flat=True)) == {"draft", "sent", "declined", "expired", "converted"}
        assert set(quotes.values_list("currency", "language")) == {(account.currency, account.language)}

        # The statement of the demo's last 60 days, as the owner downloads it, in their language.
        email, header, words, figures, closing_shown = STATEMENTS[account.name]
        opening_word, invoice_word, note_word, payment_word, closing_word = words
        assert owner.user.email == email and owner.user.language == account.language
        client = Client()
        client.force_login(owner.user)
        start, end = AS_OF - dt.timedelta(days=60), AS_OF
        rows = statement_csv(client, start=start, end=end)
        assert rows[0] == header
        opening, *entries, closing = rows[1:]
        assert (opening[0], opening[2], closing[0], closing[2]) == (
            start.isoformat(),
            opening_word,
            end.isoformat(),
            closing_word,
        )
        assert {row[6] for row in rows[1:]} == {account.currency}
        assert {row[1] for row in entries} == {invoice_word, note_word, payment_word}
        amounts = [Decimal(row[4]) for row in entries]
        sums = {
            kind: sum((a for a, row in zip(amounts, entries, strict=True) if row[1] == kind), Decimal(0))
            for kind in (invoice_word, note_word, payment_word)
        }
        assert (opening[5], *(str(sums[kind]) for kind in (invoice_word, note_word, payment_word)), closing[5]) == (
            figures
        )
        # closing = opening + documents - payments, and each running balance adds up.
        assert Decimal(closing[5]) == Decimal(opening[5]) + sum(amounts)
        balance = Decimal(opening[5])
        for row, amount in zip(entries, amounts, strict=True):
            balance += amount
            assert Decimal(row[5]) == balance, row
        period = {"start": start.isoformat(), "end": end.isoformat()}
        page = client.get(reverse("portal:statement"), period)
        assert page.status_code == 200 and closing_shown in page.content.decode()
        # The PDF refuses rows that do not add up to the closing balance: it is there.
        pdf = client.get(reverse("portal:statement-pdf"), period)
        assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
