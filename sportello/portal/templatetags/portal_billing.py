"""Template helpers of the billing pages: amounts stored in minor units, unit prices with
their own precision, tax rates, and the dashboard's billing figures (with the account's credit)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.core import Locale
from babel.numbers import parse_pattern
from django import template

from sportello.accounts.models import Area
from sportello.billing.models import Invoice
from sportello.billing.selectors_portal import BillingOverview, billing_overview
from sportello.core.formatting import babel_locale, money_display
from sportello.core.money import Money, currency_exponent
from sportello.core.time import local_date, utc_now
from sportello.payments.selectors import credit_balances

register = template.Library()


@register.filter
def minor(value: int | None, currency: str) -> str:
    """{{ invoice.total_minor|minor:invoice.currency }}: `€121.00` in the active language."""
    if value is None:
        return ""
    return money_display(Money.from_minor(int(value), currency))


@register.filter
def negated(value: int | None) -> int | None:
    return None if value is None else -int(value)


@register.filter
def signed(value: int | Decimal | None, document: Invoice) -> int | Decimal | None:
    """{{ document.total_minor|signed:document|minor:document.currency }}: an amount of `document`
    with the sign it is shown with (`Invoice.shown_sign`: a credit note's are negative)."""
    return None if value is None else value * document.shown_sign


@register.filter
def unit_price(value: Decimal | None, currency: str) -> str:
    """A unit price with at least the currency's decimals and at most the ones it has
    (`€0.0125` per unit stays exact; `€10.00` is not shown as `€10.000000`)."""
    if value is None:
        return ""
    digits = currency_exponent(currency)
    exponent = Decimal(value).normalize().as_tuple().exponent
    shown = max(digits, -exponent) if isinstance(exponent, int) else digits
    locale = Locale.parse(babel_locale())
    pattern = parse_pattern(locale.currency_formats["standard"])
    pattern.frac_prec = (digits, shown)
    return pattern.apply(Decimal(value), locale, currency=currency, currency_digits=False)


@register.filter
def tax_percent(rate: Decimal | None) -> str:
    """`21 %`, `21%`, `7,5 %`... as the active language writes a percentage."""
    if rate is None:
        return ""
    locale = Locale.parse(babel_locale())
    pattern = parse_pattern(locale.percent_formats[None])
    pattern.frac_prec = (0, 4)
    return pattern.apply(Decimal(rate) / 100, locale)


@register.filter
def last_day(period_end: dt.date | None) -> dt.date | None:
    """A stored period end is exclusive (the next period's first day): customers read its last day."""
    return None if period_end is None else period_end - dt.timedelta(days=1)


@register.simple_tag(takes_context=True)
def billing_figures(context: template.Context) -> BillingOverview | None:
    """{% billing_figures as overview %}: the dashboard's money figures for a member with billing."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    if membership is None or not membership.has_area(Area.BILLING):
        return None
    account = membership.account
    # The account's today: an invoice due today is not overdue in Madrid at 00:30.
    return billing_overview(
        membership=membership,
        as_of=local_date(utc_now(), account.time_zone),
        credit=credit_balances(account=account),
    )
