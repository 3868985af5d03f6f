"""Quotes (estimates): drafted by staff, sent to the customer, accepted or declined in the
client area, expired by the daily job, and invoiced when accepted.

Lifecycle (`models.QUOTE_TRANSITIONS`): draft -> sent -> accepted -> converted, or
sent -> declined / expired. One service per transition; each locks the account, then the
quote, checks the table, writes the status and an audit event ("quote.<transition>") in
one transaction. Emails leave after commit (notifications.email_send).

- Lines are priced by the path invoices take (`services.document_lines_price`): the same
  checks, tax decision and figures; a quote keeps its lines' tax decisions, so the
  invoice made from it has exactly the quote's figures.
- Sending numbers the quote in the quote series (gapless per year, like invoices), freezes
  the parties as printed, sets its validity and emails the account's billing contacts in
  the account's language.
- Accepting: by a member with the billing area who is not read-only (accepting commits
  the account to pay, which is the billing area's business; the orders area alone does
  not see quotes), on or before its last valid day. In the same transaction the invoice
  (source "quote") is created and issued and the quote becomes converted: either all of
  it happens or none.
- A quote is valid through `valid_until` inclusive; the daily job expires it the day after.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Account, Area, Membership, User
from sportello.billing.calc import RATE_QUANTUM
from sportello.billing.errors import IllegalTransition, InvalidDocument, NotAllowed, QuoteExpired
from sportello.billing.models import (
    QUOTE_TRANSITIONS,
    DocumentKind,
    InvoiceSource,
    Quote,
    QuoteLine,
    QuoteStatus,
    QuoteTax,
    TaxCategory,
)
from sportello.billing.numbering import number_format, numbers_take, series_of
from sportello.billing.selectors import seller_current
from sportello.billing.services import (
    NewLine,
    buyer_printed,
    document_lines_price,
    invoice_create,
    invoice_issue,
    seller_printed,
)
from sportello.billing.taxes import TaxDecision
from sportello.core.formatting import date_display, money_display
from sportello.core.models import AUDIT_ACTIONS
from sportello.core.money import Money
from sportello.core.services import audit_record
from sportello.core.time import utc_now
from sportello.notifications.models import EmailKind

# The email log's kind for quotes sent to a customer.
QUOTE_EMAIL_KIND = EmailKind.QUOTE

AUDIT_ACTIONS.update(
    {
        "quote.create": _("Quote drafted"),
        "quote.send": _("Quote sent"),
        "quote.accept": _("Quote accepted"),
        "quote.convert": _("Quote invoiced"),
        "quote.decline": _("Quote declined"),
        "quote.expire": _("Quote expired"),
    }
)


def _lock(quote: Quote) -> Quote:
    """Lock the quote's account, then the quote (DESIGN's lock order); return it fresh."""
    Account.objects.select_for_update().filter(pk=quote.account_id).values_list("pk", flat=True).get()
    return Quote.objects.select_for_update().get(pk=quote.pk)


def _move(quote: Quote, transition: str, *, by: User | None, data: dict[str, Any] | None = None) -> None:
    """Check the table, write the new status and the audit event."""
    starts, target = QUOTE_TRANSITIONS[transition]
    if quote.status not in starts:
        raise IllegalTransition(transition=transition, from_status=quote.status)
    from_status = quote.status
    quote.status = target
    quote.save()
    audit_record(
        action=f"quote.{transition}",
        actor=by,
        account=quote.account,
        target=quote,
        data={"number": quote.number, "from": from_status, "to": target, **(data or {})},
    )


@transaction.atomic
def quote_create(
    *,
    account: Account,
    subject: str,
    lines: Sequence[NewLine],
    as_of: dt.date,
    currency: str | None = None,
    prices_include_tax: bool | None = None,
    notes: str = "",
    by: User | None = None,
) -> Quote:
    """A draft quote for `account`, its lines taxed as of `as_of` by the invoices' rules."""
    subject = " ".join(subject.split())
    if not subject:
        raise InvalidDocument("subject", "required")
    currency = (currency or account.currency).upper()
    inclusive = settings.BILLING_PRICES_INCLUDE_TAX if prices_include_tax is None else prices_include_tax
    priced = document_lines_price(account=account, lines=lines, as_of=as_of, currency=currency, inclusive=inclusive)
    figures = priced.figures
    quote = Quote.objects.create(
        account=account,
        subject=subject[:200],
        currency=currency,
        language=account.language,
        prices_include_tax=inclusive,
        net_minor=figures.net_minor,
        tax_minor=figures.tax_minor,
        total_minor=figures.total_minor,
        legal_notes=priced.legal_notes,
        notes=notes,
    )
    with translation.override(account.language):
        tax_names = [str(decision.name) for decision in priced.decisions]
    QuoteLine.objects.bulk_create(
        [
            QuoteLine(
                quote=quote,
                position=position,
                kind=line.kind,
                description=line.description,
                period_start=line.period_start,
                period_end=line.period_end,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_minor=line.discount_minor,
                amount_minor=line_figures.amount_minor,
                net_minor=line_figures.net_minor,
                tax_rate=decision.rate,
                tax_category=decision.category,
                tax_name=tax_name,
            )
            for position, (line, decision, line_figures, tax_name) in enumerate(
                zip(priced.lines, priced.decisions, figures.lines, tax_names, strict=True)
            )
        ]
    )
    QuoteTax.objects.bulk_create(
        [
            QuoteTax(
                quote=quote,
                category=tax.category,
                rate=tax.rate,
                name=tax.name,
                taxable_minor=tax.taxable_minor,
                tax_minor=tax.tax_minor,
                exemption_text=tax.exemption_text,
            )
            for tax in figures.taxes
        ]
    )
    # Not on the account's activity log: a draft is the provider's business until it is sent.
    audit_record(
        action="quote.create",
        actor=by,
        target=quote,
        data={"account_id": account.pk, "total_minor": quote.total_minor},
    )
    return quote


@transaction.atomic
def quote_send(*, quote: Quote, as_of: dt.date, valid_until: dt.date | None = None, by: User | None = None) -> Quote:
    """Number the draft in the quote series, freeze the parties, set its validity (through
    `valid_until` inclusive; BILLING_QUOTE_VALID_DAYS by default) and email it to the
    account's billing contacts."""
    quote = _lock(quote)
    if quote.status not in QUOTE_TRANSITIONS["send"][0]:
        raise IllegalTransition(transition="send", from_status=quote.status)
    valid_until = valid_until or as_of + dt.timedelta(days=settings.BILLING_QUOTE_VALID_DAYS)
    if valid_until < as_of:
        raise InvalidDocument("valid_until", "before_issue")
    account = Account.objects.get(pk=quote.account_id)
    series = series_of(DocumentKind.QUOTE)
    quote.series, quote.year = series, as_of.year
    quote.sequence = numbers_take(series=series, year=as_of.year)
    quote.number = number_format(series=series, year=as_of.year, sequence=quote.sequence)
    quote.issue_date, quote.valid_until = as_of, valid_until
    quote.seller = seller_printed(seller_current())
    quote.buyer = buyer_printed(account)
    _move(quote, "send", by=by, data={"valid_until": valid_until.isoformat()})
    _email_quote(quote, account)
    return quote


def _email_quote(quote: Quote, account: Account) -> None:
    from sportello.notifications.services import contacts_receiving, email_send

    language = account.language
    assert quote.valid_until is not None  # a sent quote has one
    context = {
        "account_name": account.name,
        "number": quote.number,
        "subject": quote.subject,
        "total": money_display(Money.from_minor(quote.total_minor, quote.currency), language),
        "valid_until": date_display(quote.valid_until, language),
        "link": f"{settings.SITE_URL}{reverse('portal:quote-detail', args=[quote.number])}",
    }
    for contact in contacts_receiving(account=account, topic="invoices"):
        email_send(
            template="quote_sent",
            kind=QUOTE_EMAIL_KIND,
            to_email=contact.email,
            context={**context, "name": contact.name},
            language=language,
            account=account,
            recipient=contact.user,
        )


def may_decide(membership: Membership) -> bool:
    """Who may accept or decline a quote: the billing area, not read-only (module docstring)."""
    return membership.has_area(Area.BILLING) and membership.can_change


def _check_member(quote: Quote, acting: Membership | None) -> None:
    if acting is None:
        return  # staff, in the back office
    if acting.account_id != quote.account_id or not may_decide(acting):
        raise NotAllowed()


def _decision(line: QuoteLine, wording: dict[tuple[str, Decimal], str]) -> TaxDecision:
    rate = Decimal(line.tax_rate).quantize(RATE_QUANTUM)
    return TaxDecision(
        rate=rate,
        category=line.tax_category,
        name=line.tax_name,
        reverse_charge=line.tax_category == TaxCategory.REVERSE_CHARGE,
        exemption_text=wording.get((line.tax_category, rate), ""),
    )


@transaction.atomic
def quote_accept(*, quote: Quote, as_of: dt.date, by: User | None, acting: Membership | None = None) -> Quote:
    """Accept a sent quote on or before its last valid day, and invoice it: the invoice
    (source "quote", the quote's lines and tax decisions, so its figures) is created and
    issued in this transaction and the quote becomes converted."""
    quote = _lock(quote)
    _check_member(quote, acting)
    if quote.status not in QUOTE_TRANSITIONS["accept"][0]:
        raise IllegalTransition(transition="accept", from_status=quote.status)
    if quote.valid_until is not None and as_of > quote.valid_until:
        raise QuoteExpired(valid_until=quote.valid_until)
    quote.decided_at, quote.decided_by = utc_now(), by if by is not None and by.pk else None
    _move(quote, "accept", by=by)
    wording = {(t.category, Decimal(t.rate).quantize(RATE_QUANTUM)): t.exemption_text for t in quote.taxes.all()}
    lines = [
        NewLine(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            kind=line.kind,
            tax=_decision(line, wording),
            discount_minor=line.discount_minor,
            period_start=line.period_start,
            period_end=line.period_end,
        )
        for line in quote.lines.order_by("position", "pk")
    ]
    invoice = invoice_create(
        account=quote.account,
        lines=lines,
        as_of=as_of,
        source=InvoiceSource.QUOTE,
        currency=quote.currency,
        prices_include_tax=quote.prices_include_tax,
        notes=quote.notes,
        by=by,
    )
    if (invoice.net_minor, invoice.tax_minor, invoice.total_minor) != (
        quote.net_minor,
        quote.tax_minor,
        quote.total_minor,
    ):
        raise InvalidDocument("lines", "figures_changed")  # the same lines and rule cannot differ: the last guard
    invoice = invoice_issue(invoice=invoice, as_of=as_of, by=by)
    quote.invoice = invoice
    _move(quote, "convert", by=by, data={"invoice": invoice.display_number})
    return quote


@transaction.atomic
def quote_decline(*, quote: Quote, reason: str, by: User | None, acting: Membership | None = None) -> Quote:
    """The customer declines a sent quote, saying why."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidDocument("reason", "required")
    quote = _lock(quote)
    _check_member(quote, acting)
    quote.decided_at, quote.decided_by = utc_now(), by if by is not None and by.pk else None
    quote.decline_reason = reason[:1000]
    _move(quote, "decline", by=by, data={"reason": quote.decline_reason})
    return quote


@transaction.atomic
def quote_expire(*, quote: Quote, as_of: dt.date) -> Quote:
    """Expire a sent quote whose last valid day is before `as_of`."""
    quote = _lock(quote)
    if quote.valid_until is None or quote.valid_until >= as_of:
        raise IllegalTransition(transition="expire", from_status=quote.status)
    _move(quote, "expire", by=None, data={"as_of": as_of.isoformat()})
    return quote


def quotes_expire_due(*, as_of: dt.date) -> int:
    """The daily job: expire every sent quote whose validity ended before `as_of`. Each in
    its own transaction; one accepted meanwhile is left alone. Running it again is a no-op."""
    expired = 0
    due = Quote.objects.filter(status=QuoteStatus.SENT, valid_until__lt=as_of).order_by("pk")
    for quote in due.only("pk", "account_id"):
        try:
            quote_expire(quote=quote, as_of=as_of)
        except IllegalTransition:
            continue
        expired += 1
    return expired
