"""Locale-aware display of money and dates, through Babel (CLDR data)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.core import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, parse_pattern
from django.utils import translation

from sportello.core.money import Money, currency_exponent
from sportello.core.time import ensure_aware, zone

# Django language code -> the CLDR locale whose conventions customers of that language expect.
BABEL_LOCALES = {"en": "en_GB", "es": "es_ES", "pt-br": "pt_BR", "it": "it_IT"}


def babel_locale(language: str | None = None) -> str:
    code = (language or translation.get_language() or "en").lower()
    return BABEL_LOCALES.get(code, BABEL_LOCALES.get(code.split("-")[0], "en_GB"))


def money_display(money: Money, language: str | None = None) -> str:
    """`Money("1234.5", "EUR")` as `€1,234.50` (en), `1.234,50 €` (es, it), `€ 1.234,50` (pt-br).

    The locale gives the pattern (symbol position, separators); the number of decimals
    is the currency's ISO 4217 exponent, so JPY shows none and KWD three in every locale.
    """
    locale = Locale.parse(babel_locale(language))
    pattern = parse_pattern(locale.currency_formats["standard"])
    digits = currency_exponent(money.currency)
    pattern.frac_prec = (digits, digits)
    return pattern.apply(money.amount, locale, currency=money.currency, currency_digits=False)


def number_display(value: Decimal | int, language: str | None = None) -> str:
    return format_decimal(value, locale=babel_locale(language))


def date_display(value: dt.date, language: str | None = None, *, style: str = "medium") -> str:
    return format_date(value, format=style, locale=babel_locale(language))


def datetime_display(value: dt.datetime, time_zone: str, language: str | None = None, *, style: str = "medium") -> str:
    return format_datetime(ensure_aware(value), format=style, tzinfo=zone(time_zone), locale=babel_locale(language))
