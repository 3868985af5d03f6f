"""The forward billing schedule: what the account's services will charge in the next twelve
months, as a page, a CSV file and an iCalendar file (Oracle's "subscription billing calendar").

All three read `forward_schedule` for the acting membership's account and nothing else, so
another account's charges are never there. They sit in the billing area: the schedule is
about money, and a member who may see services but not billing must not read amounts.

Dates: `as_of` is today in the account's time zone, read from the clock here only. A
customer in Madrid looking at the page at 00:30 on 1 February expects February's charges,
not those of 31 January, which is still "today" in UTC.

Periods are stored with an exclusive end (1 Jan - 1 Feb); everything shown to the customer,
files included, says the period's last day (31 Jan), as the services pages do.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from sportello.accounts.models import Account, Area
from sportello.core.formatting import money_display
from sportello.core.money import Money
from sportello.core.time import UTC, local_date, utc_now
from sportello.portal.access import MemberRequest, member_required
from sportello.services.selectors import ScheduledCharge, forward_schedule

SCHEDULE_MONTHS = 12

# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and
# carriage return, strips them and then reads one): OWASP's list for CSV injection.
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# RFC 5545 3.1: content lines are at most 75 octets, excluding the line break.
ICS_LINE_OCTETS = 75


def _schedule(account: Account) -> list[ScheduledCharge]:
    as_of = local_date(utc_now(), account.time_zone)
    return forward_schedule(account=account, as_of=as_of, months=SCHEDULE_MONTHS)


def _last_day(charge: ScheduledCharge) -> dt.date:
    return charge.period_end - dt.timedelta(days=1)


def totals_by_currency(charges: Iterable[ScheduledCharge]) -> list[Money]:
    """One total per currency, by currency code: amounts in different currencies never add up."""
    totals: dict[str, Money] = {}
    for charge in charges:
        totals[charge.currency] = totals.get(charge.currency, Money.zero(charge.currency)) + charge.amount
    return [totals[currency] for currency in sorted(totals)]


def _attachment(response: HttpResponse, account: Account, extension: str) -> HttpResponse:
    filename = f"billing-schedule-{account.reference}.{extension}"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


# --- The page ---------------------------------------------------------------------------------


@member_required(Area.BILLING)
@require_safe
def billing_schedule(request: MemberRequest) -> HttpResponse:
    charges = _schedule(request.membership.account)
    rows = [(charge, _last_day(charge)) for charge in charges]
    context = {
        "rows": rows,
        "totals": totals_by_currency(charges),
        "months": SCHEDULE_MONTHS,
        "active_nav": "billing",
    }
    return render(request, "portal/schedule/schedule.html", context)


# --- CSV --------------------------------------------------------------------------------------


def csv_safe(value: str) -> str:
    """`value` with a leading apostrophe if a spreadsheet would run it as a formula.

    Service names carry the customer's own label, so a label such as `=HYPERLINK(...)`
    must reach the spreadsheet as text. The apostrophe is what Excel and LibreOffice show
    as "this cell is text" and hide when displaying it.
    """
    if value.startswith(CSV_FORMULA_PREFIXES):
        return "'" + value
    return value


def _plain_amount(money: Money) -> str:
    """`12.25`, `1000` (JPY), `1.500` (KWD): a number spreadsheets read in any locale, with
    the currency's own decimals (Money already holds the amount at that precision)."""
    return f"{money.amount:f}"


def schedule_csv(charges: Sequence[ScheduledCharge]) -> str:
    """The schedule as CSV text: a header row, then one row per charge, CRLF line endings (RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = [_("Date"), _("Service"), _("Period start"), _("Period end"), _("Amount"), _("Currency")]
    writer.writerow([csv_safe(cell) for cell in header])
    for charge in charges:
        row = [
            charge.date.isoformat(),
            str(charge.service),
            charge.period_start.isoformat(),
            _last_day(charge).isoformat(),
            _plain_amount(charge.amount),
            charge.currency,
        ]
        # Every cell goes through csv_safe, not only the name: what is ours today (dates,
        # amounts) never starts with a formula character, and if it ever did, text is safer.
        writer.writerow([csv_safe(cell) for cell in row])
    return buffer.getvalue()


@member_required(Area.BILLING)
@require_safe
def billing_schedule_csv(request: MemberRequest) -> HttpResponse:
    account = request.membership.account
    # The byte order mark is what makes Excel open UTF-8 (accents, €) as UTF-8.
    body = "\ufeff" + schedule_csv(_schedule(account))
    response = HttpResponse(body.encode("utf-8"), content_type="text/csv; charset=utf-8")
    return _attachment(response, account, "csv")


# --- iCalendar --------------------------------------------------------------------------------


def ics_text(value: str) -> str:
    """A TEXT value escaped as RFC 5545 3.3.11 says: backslash, semicolon, comma and line breaks."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return re.sub(r"\r\n|\r|\n", r"\\n", value)


def ics_fold(line: str) -> str:
    """`line` folded at 75 octets (RFC 5545 3.1): a CRLF and one space before each 75th octet.

    Octets, not characters: "€" is three. A character is never split across lines, and
    the leading space of a continuation line counts towards its 75.
    """
    pieces: list[str] = []
    current = ""
    size = 0
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > ICS_LINE_OCTETS:
            pieces.append(current)
            current, size = " ", 1
        current += char
        size += octets
    pieces.append(current)
    return "\r\n".join(pieces)


def _ics_date(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def schedule_ics(charges: Sequence[ScheduledCharge], *, account: Account, stamp: dt.datetime) -> str:
    """The schedule as an iCalendar object: one all-day event per charge, on its date.

    The UID is the service and the date, so importing the file again (or subscribing to a
    newer one) updates each charge in place instead of adding a copy.
    """
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Sportello//Billing schedule//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:" + ics_text(_("Upcoming charges — %(account)s") % {"account": account.name}),
    ]
    dtstamp = stamp.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    for charge in charges:
        summary = f"{charge.service} — {money_display(charge.amount)}"
        description = _("Period %(start)s – %(end)s") % {
            "start": charge.period_start.isoformat(),
            "end": _last_day(charge).isoformat(),
        }
        lines += [
            "BEGIN:VEVENT",
            f"UID:{charge.service.pk}-{_ics_date(charge.date)}@sportello",
            f"DTSTAMP:{dtstamp}",
            f"DTSTART;VALUE=DATE:{_ics_date(charge.date)}",
            f"DTEND;VALUE=DATE:{_ics_date(charge.date + dt.timedelta(days=1))}",
            "SUMMARY:" + ics_text(summary),
            "DESCRIPTION:" + ics_text(description),
            # A reminder of a payment, not a meeting: it does not make the day busy.
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) + "\r\n" for line in lines)


@member_required(Area.BILLING)
@require_safe
def billing_schedule_ics(request: MemberRequest) -> HttpResponse:
    account = request.membership.account
    body = schedule_ics(_schedule(account), account=account, stamp=utc_now())
    response = HttpResponse(body.encode("utf-8"), content_type="text/calendar; charset=utf-8")
    return _attachment(response, account, "ics")


urlpatterns: list[URLPattern] = [
    path("billing/schedule/", billing_schedule, name="billing-schedule"),
    path("billing/schedule.csv", billing_schedule_csv, name="billing-schedule-csv"),
    path("billing/schedule.ics", billing_schedule_ics, name="billing-schedule-ics"),
]
