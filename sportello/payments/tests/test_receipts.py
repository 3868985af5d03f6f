# ruff: noqa: F811  (fixtures imported from the refund tests are redefined as parameters)
"""Payment receipts: the email when money arrives (in the contact's language), and the
printable receipt page, which only the account's billing members can open."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Contact, EmailTopic, Membership, Role
from sportello.billing.models import Invoice
from sportello.conftest import make_member
from sportello.notifications.models import EmailLog
from sportello.payments.models import Payment
from sportello.payments.services import payment_begin, payment_create
from sportello.payments.tests.conftest import DAY
from sportello.payments.tests.test_refunds import refund, transfer_paid  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_received_payment_emails_its_receipt(
    alice: Membership, make_invoice: Callable[..., Invoice], transfer_paid: Callable[..., Payment]
) -> None:
    invoice = make_invoice()
    payment = transfer_paid(invoice, received="150.00")

    [receipt] = EmailLog.objects.filter(kind="receipt")
    assert (receipt.to_email, receipt.account_id) == ("alice@example.org", alice.account_id)
    assert receipt.subject == "Payment received: €150.00"
    text = receipt.body_text
    assert "We received your payment of €150.00 by Bank transfer on 22 Nov 2026. Thank you." in text
    assert f"- {invoice.number}: €121.00" in text
    assert "€29.00 more than was owed was added to your account credit." in text
    assert f"{settings.SITE_URL}/billing/payments/{payment.public_id}/receipt/" in text
    assert invoice.number in receipt.body_html


def test_the_receipt_is_in_each_contacts_language(
    alice: Membership, make_invoice: Callable[..., Invoice], transfer_paid: Callable[..., Payment]
) -> None:
    alice.account.language = "es"
    alice.account.save(update_fields=["language"])
    Contact.objects.create(account=alice.account, name="Luis", email="luis@alice.example", topics=[EmailTopic.RECEIPTS])

    transfer_paid(make_invoice())

    receipt = EmailLog.objects.get(kind="receipt", to_email="luis@alice.example")
    assert "121,00\xa0€" in receipt.body_text
    assert "22 nov 2026" in receipt.body_text


def test_nothing_is_sent_while_nothing_is_received(
    alice: Membership, make_invoice: Callable[..., Invoice], billing_setup: None
) -> None:
    plan = payment_create(
        account=alice.account, invoices=[make_invoice()], method="bank_transfer", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    payment_begin(payment=plan.payment, return_url="http://testserver/")
    assert not EmailLog.objects.filter(kind="receipt").exists()


def test_the_receipt_page_lists_what_the_payment_paid(
    alice_client: Client, make_invoice: Callable[..., Invoice], transfer_paid: Callable[..., Payment]
) -> None:
    invoice = make_invoice()
    payment = transfer_paid(invoice, received="150.00")
    refund(payment, "60.50", destination="credit")

    page = alice_client.get(reverse("portal:payment-receipt", args=[payment.public_id]))

    assert page.status_code == 200
    text = page.content.decode()
    assert "Payment receipt" in text and invoice.number in text
    assert "€150.00" in text and "€121.00" in text and "€29.00" in text
    assert "Bank transfer" in text and "22 Nov 2026" in text
    assert "To account credit" in text and "€60.50" in text


def test_the_receipt_is_linked_from_the_billing_history_and_the_payment(
    alice_client: Client, make_invoice: Callable[..., Invoice], transfer_paid: Callable[..., Payment]
) -> None:
    payment = transfer_paid(make_invoice())
    link = reverse("portal:payment-receipt", args=[payment.public_id])
    assert link in alice_client.get(reverse("portal:billing-history")).content.decode()
    assert link in alice_client.get(reverse("portal:payment", args=[payment.public_id])).content.decode()


def test_another_accounts_or_an_unpaid_receipt_is_not_found(
    alice: Membership,
    bob: Membership,
    client: Client,
    make_invoice: Callable[..., Invoice],
    transfer_paid: Callable[..., Payment],
) -> None:
    paid = transfer_paid(make_invoice())
    plan = payment_create(
        account=alice.account, invoices=[make_invoice()], method="bank_transfer", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    client.force_login(alice.user)
    assert client.get(reverse("portal:payment-receipt", args=[plan.payment.public_id])).status_code == 404
    assert client.get(reverse("portal:payment-receipt", args=["not-a-uuid"])).status_code == 404
    client.force_login(bob.user)
    assert client.get(reverse("portal:payment-receipt", args=[paid.public_id])).status_code == 404


def test_members_without_the_billing_area_cannot_open_receipts(
    alice: Membership, client: Client, make_invoice: Callable[..., Invoice], transfer_paid: Callable[..., Payment]
) -> None:
    paid = transfer_paid(make_invoice())
    technician = make_member("tech@example.org", "Unused", role=Role.TECHNICAL)
    technician.account = alice.account
    technician.save()
    client.force_login(technician.user)
    assert client.get(reverse("portal:payment-receipt", args=[paid.public_id])).status_code == 404
