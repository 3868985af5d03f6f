import datetime as dt
from decimal import Decimal

import pytest

from sportello.core.formatting import date_display, datetime_display, money_display
from sportello.core.money import Money

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "€1,234,567.89"),
        ("es", f"1.234.567,89{NBSP}€"),
        ("it", f"1.234.567,89{NBSP}€"),
        ("pt-br", f"€{NBSP}1.234.567,89"),
    ],
)
def test_it_formats_euros_per_locale(language, expected):
    assert money_display(Money(Decimal("1234567.89"), "EUR"), language) == expected


@pytest.mark.parametrize(
    ("money", "language", "expected"),
    [
        (Money(Decimal("1234.5"), "BRL"), "pt-br", f"R${NBSP}1.234,50"),
        (Money(Decimal("1234"), "JPY"), "es", f"1.234{NBSP}JPY"),
        (Money(Decimal("1.235"), "KWD"), "en", "KWD1.235"),
        (Money(Decimal("-12.3"), "EUR"), "it", f"-12,30{NBSP}€"),
    ],
)
def test_it_shows_the_iso_number_of_decimals(money, language, expected):
    assert money_display(money, language) == expected


def test_it_formats_dates_and_times_per_locale_and_zone():
    day = dt.date(2026, 3, 9)
    assert [date_display(day, lang) for lang in ["en", "es", "pt-br", "it"]] == [
        "9 Mar 2026",
        "9 mar 2026",
        "9 de mar. de 2026",
        "9 mar 2026",
    ]
    moment = dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC)
    assert datetime_display(moment, "Europe/Madrid", "es") == "10 mar 2026, 0:30:00"
    assert datetime_display(moment, "America/Sao_Paulo", "pt-br") == "9 de mar. de 2026 20:30:00"
