"""The order emails: placed (awaiting payment) and paid, to the member who placed it and the
billing contacts, after commit only, with the order page's figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import EmailTopic
from sportello.accounts.services import contact_create
from sportello.billing.services import invoice_settle
from sportello.core.formatting import money_display
from sportello.core.money import Money
from sportello.notifications.models import EmailKind, EmailLog
from sportello.orders.models import Order, OrderStatus
from sportello.orders.services import order_accept, order_mark_paid

from .conftest import AS_OF, fill_cart
from .test_cart_and_place import place

pytestmark = pytest.mark.django_db
SITE = django_settings.SITE_URL


def order_emails() -> list[EmailLog]:
    return list(EmailLog.objects.filter(kind=EmailKind.ORDER).order_by("id", "to_email"))


@pytest.fixture
def accounts_contact(alice: Any) -> None:
    contact_create(
        account=alice.account,
        name="Accounts",
        email="accounts@example.org",
        topics=[EmailTopic.INVOICES],
        acting=None,
        by=None,
    )
    contact_create(
        account=alice.account,
        name="Mark",
        email="mark@example.org",
        topics=[EmailTopic.MARKETING],
        acting=None,
        by=None,
    )


@pytest.mark.usefixtures("accounts_contact")
def test_a_placed_order_is_emailed_with_its_lines_total_and_link_to_pay(
    alice: Any, catalog: Any, django_capture_on_commit_callbacks: Any
) -> None:
    fill_cart(alice, catalog, label="<b>shop</b> & {{ secret }}")
    with django_capture_on_commit_callbacks(execute=True):
        order = place(alice)
    assert order.status == OrderStatus.AWAITING_PAYMENT and order.invoice is not None
    emails = order_emails()
    # The member who placed it first; alice is also a contact: she gets one email, not two.
    assert [e.to_email for e in emails] == ["alice@example.org", "accounts@example.org"]
    assert [e.recipient_id for e in emails] == [alice.user_id, None]
    assert {e.subject for e in emails} == {f"Order {order.number} received: awaiting payment"}
    text = emails[0].body_text
    total = money_display(Money.from_minor(order.total_minor, "EUR"), "en")
    assert f"Total: {total}" in text
    for line in order.lines.order_by("position"):
        assert f"- {line.description}: {money_display(Money.from_minor(line.amount_minor, 'EUR'), 'en')}" in text
    assert f"{SITE}/billing/invoices/{order.invoice.number}/pay/" in text
    assert f"{SITE}/orders/{order.number}/" in text
    assert f"It is billed on invoice {order.invoice.number}." in text
    # The customer's text is shown as typed in the text part, escaped in HTML, never evaluated.
    assert "<b>shop</b> & {{ secret }}" in text
    html = emails[0].body_html
    assert "&lt;b&gt;shop&lt;/b&gt; &amp; {{ secret }}" in html and "<b>shop</b>" not in html
    # Its invoice is emailed too, to the invoice contacts.
    assert sorted(EmailLog.objects.filter(kind=EmailKind.INVOICE).values_list("to_email", flat=True)) == [
        "accounts@example.org",
        "alice@example.org",
    ]
    assert sorted(m.to[0] for m in mail.outbox if m.subject.startswith("Order")) == [
        "accounts@example.org",
        "alice@example.org",
    ]


def test_the_order_email_shows_the_order_page_figures(
    alice: Any, alice_client: Client, catalog: Any, django_capture_on_commit_callbacks: Any
) -> None:
    fill_cart(alice, catalog)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(alice)
    (email,) = order_emails()
    page = alice_client.get(reverse("portal:order-detail", args=[order.number])).content.decode()
    figures = [order.total_minor, order.tax_minor] + [line.amount_minor for line in order.lines.all()]
    for minor in figures:
        shown = money_display(Money.from_minor(minor, "EUR"), "en")
        assert shown in email.body_text and shown in page


def test_paying_sends_the_confirmation_once(alice: Any, catalog: Any, django_capture_on_commit_callbacks: Any) -> None:
    fill_cart(alice, catalog)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(alice)
    assert order.invoice is not None
    with django_capture_on_commit_callbacks(execute=True):
        invoice_settle(
            invoice=order.invoice,
            amount=Money.from_minor(order.total_minor, "EUR"),
            kind="payment",
            reference="full",
            settled_on=AS_OF + dt.timedelta(days=1),
        )
    order.refresh_from_db()
    assert order.status == OrderStatus.ACTIVE
    emails = order_emails()
    assert [(e.to_email, e.subject) for e in emails] == [
        ("alice@example.org", f"Order {order.number} received: awaiting payment"),
        ("alice@example.org", f"Order {order.number} is paid and active"),
    ]
    assert "is paid, and what it is for is done." in emails[1].body_text
    assert "/pay/" not in emails[1].body_text
    # Paid again (a duplicate notification): the order acts once, and emails once.
    with django_capture_on_commit_callbacks(execute=True):
        order_mark_paid(order=Order.objects.get(pk=order.pk), as_of=AS_OF)
    assert len(order_emails()) == 2
    assert len([m for m in mail.outbox if m.subject.startswith("Order")]) == 2


def test_a_rolled_back_order_sends_nothing(alice: Any, catalog: Any, django_capture_on_commit_callbacks: Any) -> None:
    fill_cart(alice, catalog)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        place(alice)
        raise RuntimeError("rolled back")
    assert callbacks == []
    assert not Order.objects.exists()
    assert EmailLog.objects.count() == 0 and mail.outbox == []


def test_an_order_under_review_is_emailed_when_released(
    alice: Any, catalog: Any, settings: Any, staff: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.ORDERS_REVIEW_FIRST_ORDER_OVER = ["EUR:10"]
    fill_cart(alice, catalog)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(alice)
    assert order.status == OrderStatus.FRAUD_REVIEW
    assert order_emails() == []
    with django_capture_on_commit_callbacks(execute=True):
        order = order_accept(order=order, as_of=AS_OF, by=staff)
    emails = order_emails()
    assert [(e.to_email, e.subject) for e in emails] == [
        ("alice@example.org", f"Order {order.number} received: awaiting payment")
    ]
    assert order.invoice is not None
    assert f"{SITE}/billing/invoices/{order.invoice.number}/pay/" in emails[0].body_text
