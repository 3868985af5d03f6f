from __future__ import annotations

import datetime as dt

from django import template

from sportello.core.formatting import date_display, datetime_display, money_display, number_display
from sportello.core.money import Money

register = template.Library()


@register.filter
def money(value: Money | None) -> str:
    """{{ invoice.total|money }} in the active language's conventions."""
    if value is None:
        return ""
    return money_display(value)


@register.filter
def number(value: object) -> str:
    if value is None or value == "":
        return ""
    return number_display(value)  # type: ignore[arg-type]


@register.filter
def localdate(value: dt.date | dt.datetime | None, style: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return date_display(value, style=style)


@register.simple_tag(takes_context=True)
def localtime(context: template.Context, value: dt.datetime | None, style: str = "medium") -> str:
    """A moment in the acting account's time zone: {% localtime event.occurred_at %}."""
    if value is None:
        return ""
    membership = getattr(context.get("request"), "membership", None)
    time_zone = membership.account.time_zone if membership is not None else "UTC"
    return datetime_display(value, time_zone, style=style)
