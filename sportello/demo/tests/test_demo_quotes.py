"""Demo billing documents: the seller, the VAT rates, quotes in every status per account."""

from __future__ import annotations

import datetime as dt

import pytest

from sportello.billing.models import Invoice, Quote, Seller, TaxRate
from sportello.demo.data import demo_load

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 22)


def test_every_demo_account_has_quotes_in_every_status_in_its_currency(settings: object) -> None:
    settings.SPORTELLO_DEMO = True  # type: ignore[attr-defined]
    demo_load(as_of=DAY)
    seller = Seller.objects.get()
    assert (seller.country, seller.iban, seller.bic, seller.pix_key) == (
        "ES",
        "ES7921000813610123456789",
        "CAIXESBBXXX",
        "7d9f0335-8dcc-4054-9bf9-0dbd61d36906",
    )
    assert TaxRate.objects.filter(tax_class="standard").values("country").distinct().count() == 27
    for account_currency, language in (("EUR", "es"), ("EUR", "it"), ("BRL", "pt-br")):
        quotes = Quote.objects.filter(account__language=language)
        assert set(quotes.values_list("status", flat=True)) == {"draft", "sent", "declined", "expired", "converted"}
        assert set(quotes.values_list("currency", "language")) == {(account_currency, language)}
    converted = Quote.objects.get(account__language="es", status="converted")
    assert converted.invoice is not None and (converted.invoice.source, converted.invoice.status) == ("quote", "open")
    # Spain: 21 % VAT; Italy: reverse charge; Brazil: outside the scope of EU VAT.
    assert [q.taxes.get().rate for q in Quote.objects.filter(status="converted").order_by("account__name")] == [
        0,
        21,
        0,
    ]
    before = (
        list(Quote.objects.order_by("pk").values_list("pk", "status", "number")),
        Invoice.objects.count(),
        TaxRate.objects.count(),
    )
    demo_load(as_of=DAY)
    after = (
        list(Quote.objects.order_by("pk").values_list("pk", "status", "number")),
        Invoice.objects.count(),
        TaxRate.objects.count(),
    )
    assert after == before


def test_demo_quote_numbers_follow_their_dates(settings: object) -> None:
    settings.SPORTELLO_DEMO = True  # type: ignore[attr-defined]
    demo_load(as_of=DAY)
    sent = list(Quote.objects.exclude(status="draft").order_by("sequence").values_list("issue_date", flat=True))
    assert sent == sorted(sent) and len(sent) == 15
