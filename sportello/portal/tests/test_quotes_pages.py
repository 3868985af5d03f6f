"""Quotes in the client area: list, page, accepting (with its confirmation) and declining.

The views' clock is set by hand. Another account's quote answers 404 on every URL, also to
someone guessing numbers; every refused path checks that nothing changed.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.billing.models import Invoice, Quote, QuoteStatus
from sportello.billing.quotes import quote_create, quote_send
from sportello.billing.services import NewLine
from sportello.billing.tests.conftest import billing_setup, seller, tax_rates  # noqa: F401 (fixtures)
from sportello.core.testing import Clock

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("billing_setup")]
TODAY = dt.date(2026, 11, 22)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(dt.datetime.combine(TODAY, dt.time(10), tzinfo=dt.UTC))
    monkeypatch.setattr("sportello.portal.views.quotes.utc_now", clock)
    return clock


def make_quote(
    membership: Membership, subject: str = "Website migration", *, price: str = "150.00", days: int = 30
) -> Quote:
    quote = quote_create(
        account=membership.account,
        subject=subject,
        lines=[NewLine(description="Migration", quantity=Decimal(3), unit_price=Decimal(price))],
        as_of=TODAY,
    )
    return quote_send(quote=quote, as_of=TODAY, valid_until=TODAY + dt.timedelta(days=days))


def state() -> tuple[object, ...]:
    return (
        list(Quote.objects.order_by("pk").values_list("pk", "status", "invoice_id", "decline_reason")),
        Invoice.objects.count(),
    )


def test_the_list_shows_badges_sorts_and_filters(alice_client: Client, alice: Membership, clock: Clock) -> None:
    first = make_quote(alice, "Cheap", price="10.00")
    second = make_quote(alice, "Dear", price="900.00")
    quote_create(
        account=alice.account, subject="Draft never shown", lines=[NewLine("x", Decimal(1), Decimal(1))], as_of=TODAY
    )
    page = alice_client.get(reverse("portal:quotes")).content.decode()
    assert page.index(second.number) < page.index(first.number)  # newest first
    assert 'class="badge badge-open">Sent<' in page and "Draft never shown" not in page
    assert "3.267,00" not in page and "€3,267.00" in page  # 2,700.00 + 21 % in the viewer's locale
    by_total = alice_client.get(reverse("portal:quotes"), {"sort": "total"}).content.decode()
    assert by_total.index(first.number) < by_total.index(second.number)
    assert 'aria-sort="ascending"' in by_total
    declined_only = alice_client.get(reverse("portal:quotes"), {"status": "declined"}).content.decode()
    assert first.number not in declined_only and "No quotes with status" in declined_only


def test_another_accounts_quote_is_not_found(client: Client, alice: Membership, bob: Membership, clock: Clock) -> None:
    quote = make_quote(alice)
    client.force_login(bob.user)
    before = state()
    for name in ("portal:quote-detail", "portal:quote-accept", "portal:quote-decline"):
        assert client.get(reverse(name, args=[quote.number])).status_code == 404
    for name in ("portal:quote-accept", "portal:quote-decline"):
        assert client.post(reverse(name, args=[quote.number]), {"reason": "x"}).status_code == 404
    assert client.get(reverse("portal:quote-detail", args=["Q-2026-00002"])).status_code == 404
    assert quote.number not in client.get(reverse("portal:quotes")).content.decode()
    assert state() == before


def test_members_without_billing_get_404(client: Client, alice: Membership, clock: Clock) -> None:
    quote = make_quote(alice)
    tech = membership_add(
        account=alice.account, user=User.objects.create_user("t@example.org", "x"), role=Role.TECHNICAL
    )
    client.force_login(tech.user)
    assert client.get(reverse("portal:quotes")).status_code == 404
    assert client.get(reverse("portal:quote-detail", args=[quote.number])).status_code == 404


def test_accepting_asks_for_confirmation_then_issues_the_invoice(
    alice_client: Client, alice: Membership, clock: Clock
) -> None:
    quote = make_quote(alice)
    detail = alice_client.get(reverse("portal:quote-detail", args=[quote.number])).content.decode()
    assert reverse("portal:quote-accept", args=[quote.number]) in detail
    assert "€450.00" in detail and "€94.50" in detail and "€544.50" in detail
    confirm = alice_client.get(reverse("portal:quote-accept", args=[quote.number]))
    assert confirm.status_code == 200 and "Accept and issue the invoice for €544.50" in confirm.content.decode()
    assert Quote.objects.get().status == QuoteStatus.SENT  # the GET changes nothing
    response = alice_client.post(reverse("portal:quote-accept", args=[quote.number]), follow=True)
    page = response.content.decode()
    invoice = Invoice.objects.get()
    assert (invoice.number, invoice.total_minor, invoice.source) == ("INV-2026-00001", 54450, "quote")
    assert f"Quote {quote.number} accepted: invoice INV-2026-00001 has been issued." in page
    assert Quote.objects.get().status == QuoteStatus.CONVERTED
    before = state()
    again = alice_client.post(reverse("portal:quote-accept", args=[quote.number]), follow=True).content.decode()
    assert "This quote is “Invoiced”: it can no longer be accepted or declined." in again
    assert state() == before


def test_an_expired_quote_offers_nothing_and_refuses_a_post(
    alice_client: Client, alice: Membership, clock: Clock
) -> None:
    quote = make_quote(alice, days=5)
    clock.now = dt.datetime.combine(TODAY + dt.timedelta(days=6), dt.time(10), tzinfo=dt.UTC)
    detail = alice_client.get(reverse("portal:quote-detail", args=[quote.number])).content.decode()
    assert reverse("portal:quote-accept", args=[quote.number]) not in detail
    assert "(validity ended)" in detail
    before = state()
    response = alice_client.post(reverse("portal:quote-accept", args=[quote.number]), follow=True).content.decode()
    assert re.search(r"This quote was valid until [^:]+: it can no longer be accepted.", response)
    alice_client.post(reverse("portal:quote-decline", args=[quote.number]), {"reason": "Late"})
    assert state() == before


def test_a_read_only_member_sees_but_cannot_decide(client: Client, alice: Membership, clock: Clock) -> None:
    quote = make_quote(alice)
    reader = membership_add(
        account=alice.account, user=User.objects.create_user("r@example.org", "x"), role=Role.READ_ONLY
    )
    client.force_login(reader.user)
    detail = client.get(reverse("portal:quote-detail", args=[quote.number])).content.decode()
    assert "Your role lets you see quotes, but not accept or decline them." in detail
    assert reverse("portal:quote-accept", args=[quote.number]) not in detail
    before = state()
    client.post(reverse("portal:quote-accept", args=[quote.number]))
    client.post(reverse("portal:quote-decline", args=[quote.number]), {"reason": "No"})
    assert state() == before


def test_declining_needs_a_reason(alice_client: Client, alice: Membership, clock: Clock) -> None:
    quote = make_quote(alice)
    url = reverse("portal:quote-decline", args=[quote.number])
    before = state()
    empty = alice_client.post(url, {"reason": "   "})
    assert empty.status_code == 200 and 'class="field-error"' in empty.content.decode()
    assert state() == before
    page = alice_client.post(url, {"reason": "We chose another provider"}, follow=True).content.decode()
    assert f"Quote {quote.number} declined." in page and "We chose another provider" in page
    assert Quote.objects.get().status == QuoteStatus.DECLINED
