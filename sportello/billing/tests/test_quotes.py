"""Quotes through the services: drafted, sent, accepted into an invoice, declined, expired."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail

from sportello.accounts.models import Contact, Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.billing.errors import IllegalTransition, InvalidDocument, NotAllowed, QuoteExpired, TaxRateMissing
from sportello.billing.models import DocumentCounter, Invoice, Quote, QuoteStatus
from sportello.billing.quotes import quote_accept, quote_create, quote_decline, quote_send, quotes_expire_due
from sportello.billing.services import NewLine
from sportello.billing.tasks import quotes_expire
from sportello.core.models import AuditEvent
from sportello.notifications.models import EmailLog

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 22)


def lines() -> list[NewLine]:
    return [
        NewLine(description="Migration of 3 sites", quantity=Decimal(3), unit_price=Decimal("150.00")),
        NewLine(description="Domain transfer", quantity=Decimal(1), unit_price=Decimal("9.99"), tax_class="reduced"),
    ]


def snapshot() -> tuple[object, ...]:
    return (
        list(Quote.objects.order_by("pk").values_list("pk", "status", "number", "invoice_id", "decline_reason")),
        Invoice.objects.count(),
        list(DocumentCounter.objects.order_by("series").values_list("series", "last_sequence")),
        AuditEvent.objects.filter(action__startswith="quote.").count(),
        EmailLog.objects.count(),
    )


def sent(membership: Membership, *, valid_until: dt.date | None = None) -> Quote:
    quote = quote_create(account=membership.account, subject="Website migration", lines=lines(), as_of=DAY)
    return quote_send(quote=quote, as_of=DAY, valid_until=valid_until)


def test_it_drafts_with_the_invoices_figures(alice: Membership, billing_setup: None) -> None:
    quote = quote_create(account=alice.account, subject="  Website   migration ", lines=lines(), as_of=DAY)
    assert (quote.status, quote.number, quote.subject) == ("draft", "", "Website migration")
    # 450.00 at 21% = 94.50; 9.99 at 10% = 1.00 (0.999 half-up).
    assert (quote.net_minor, quote.tax_minor, quote.total_minor) == (45999, 9550, 55549)
    assert list(quote.taxes.values_list("name", "taxable_minor", "tax_minor")) == [
        ("IVA 21%", 45000, 9450),
        ("IVA 10%", 999, 100),
    ]


def test_it_refuses_bad_drafts_and_writes_nothing(alice: Membership, seller: object) -> None:
    with pytest.raises(InvalidDocument):
        quote_create(account=alice.account, subject=" ", lines=lines(), as_of=DAY)
    with pytest.raises(InvalidDocument):
        quote_create(account=alice.account, subject="x", lines=[], as_of=DAY)
    with pytest.raises(TaxRateMissing):
        quote_create(account=alice.account, subject="x", lines=lines(), as_of=DAY)
    assert snapshot() == ([], 0, [], 0, 0)


def test_sending_numbers_it_and_emails_the_billing_contacts(
    alice: Membership, billing_setup: None, django_capture_on_commit_callbacks: Any
) -> None:
    alice.account.language = "es"
    alice.account.save()
    Contact.objects.create(account=alice.account, name="Gestoría", email="gestoria@example.com", topics=["invoices"])
    Contact.objects.create(account=alice.account, name="Tech", email="tech@example.com", topics=["services"])
    with django_capture_on_commit_callbacks(execute=True):
        with_number = sent(alice)
    assert (with_number.status, with_number.number, with_number.valid_until) == (
        "sent",
        "Q-2026-00001",
        DAY + dt.timedelta(days=30),
    )
    assert with_number.buyer["name"] == "Alice Servicios S.L." and with_number.seller["vat_id"] == "ESB12345674"
    emails = EmailLog.objects.order_by("to_email")
    assert [(e.to_email, e.kind) for e in emails] == [
        ("alice@example.org", "quote"),
        ("gestoria@example.com", "quote"),
    ]
    body = emails[0].body_text
    assert "Q-2026-00001" in body and "555,49\xa0€" in body and "22 dic 2026" in body
    assert "/billing/quotes/Q-2026-00001/" in body
    assert len(mail.outbox) == 2
    before = snapshot()
    with pytest.raises(IllegalTransition):
        quote_send(quote=with_number, as_of=DAY)
    assert snapshot() == before


def test_accepting_issues_the_invoice_with_the_quote_figures(alice: Membership, billing_setup: None) -> None:
    quote = sent(alice)
    quote = quote_accept(quote=quote, as_of=DAY + dt.timedelta(days=30), by=alice.user, acting=alice)
    invoice = quote.invoice
    assert invoice is not None
    assert (quote.status, quote.decided_by, invoice.source, invoice.status, invoice.number) == (
        QuoteStatus.CONVERTED,
        alice.user,
        "quote",
        "open",
        "INV-2026-00001",
    )
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (45999, 9550, 55549)
    assert list(invoice.lines.values_list("description", "quantity", "tax_name")) == [
        ("Migration of 3 sites", Decimal(3), "IVA 21%"),
        ("Domain transfer", Decimal(1), "IVA 10%"),
    ]
    actions = list(
        AuditEvent.objects.filter(target=f"billing.quote:{quote.pk}").order_by("pk").values_list("action", flat=True)
    )
    assert actions == ["quote.create", "quote.send", "quote.accept", "quote.convert"]


def test_an_expired_quote_is_not_accepted(alice: Membership, billing_setup: None) -> None:
    quote = sent(alice, valid_until=DAY + dt.timedelta(days=5))
    before = snapshot()
    with pytest.raises(QuoteExpired) as error:
        quote_accept(quote=quote, as_of=DAY + dt.timedelta(days=6), by=alice.user, acting=alice)
    assert error.value.valid_until == DAY + dt.timedelta(days=5)
    assert snapshot() == before


def test_read_only_members_and_other_accounts_may_not_decide(
    alice: Membership, bob: Membership, billing_setup: None
) -> None:
    quote = sent(alice)
    reader = membership_add(
        account=alice.account, user=User.objects.create_user("reader@example.org", "x"), role=Role.READ_ONLY
    )
    before = snapshot()
    for acting in (reader, bob):
        with pytest.raises(NotAllowed):
            quote_accept(quote=quote, as_of=DAY, by=acting.user, acting=acting)
        with pytest.raises(NotAllowed):
            quote_decline(quote=quote, reason="No", by=acting.user, acting=acting)
    assert snapshot() == before


def test_declining_keeps_the_reason_and_ends_the_quote(alice: Membership, billing_setup: None) -> None:
    quote = sent(alice)
    with pytest.raises(InvalidDocument):
        quote_decline(quote=quote, reason="   ", by=alice.user, acting=alice)
    quote = quote_decline(quote=quote, reason="Too expensive for us", by=alice.user, acting=alice)
    assert (quote.status, quote.decline_reason) == ("declined", "Too expensive for us")
    before = snapshot()
    with pytest.raises(IllegalTransition):
        quote_accept(quote=quote, as_of=DAY, by=alice.user, acting=alice)
    assert snapshot() == before


def test_the_daily_job_expires_quotes_the_day_after_their_last_day(alice: Membership, billing_setup: None) -> None:
    ending = sent(alice, valid_until=DAY)
    later = sent(alice, valid_until=DAY + dt.timedelta(days=1))
    assert quotes_expire_due(as_of=DAY) == 0
    result = quotes_expire.enqueue(as_of=(DAY + dt.timedelta(days=1)).isoformat())
    assert result.return_value == {"expired": 1}
    ending.refresh_from_db()
    later.refresh_from_db()
    assert (ending.status, later.status) == ("expired", "sent")
    assert quotes_expire_due(as_of=DAY + dt.timedelta(days=1)) == 0
