# ruff: noqa: F811  (fixtures imported from the payments tests are redefined as parameters)
"""The back office's refund form on a payment's page: defaults, refusals that change nothing,
the audit record, the history of refunds, and staff without the permission."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership, User
from sportello.billing.models import Invoice, InvoiceStatus
from sportello.core.models import AuditEvent
from sportello.payments.models import Payment, Refund, RefundStatus
from sportello.payments.tests.conftest import (  # noqa: F401
    DAY,
    _testcard_on,
    billing_setup,
    make_invoice,
    seller,
    tax_rates,
)
from sportello.payments.tests.test_refunds import card_paid, state, transfer_paid  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_payment_page_links_to_the_refund_form_which_proposes_the_rest(
    admin_client: Client, make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment]
) -> None:
    payment = card_paid(make_invoice())
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    assert url in admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()
    page = admin_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'name="amount" value="121.00"' in text
    assert 'value="gateway" required id="id_destination_0" checked' in text
    assert "€121.00" in text and "None yet." in text


def test_staff_refund_part_of_a_payment_and_see_it_listed(
    admin_client: Client,
    admin_user: User,
    alice: Membership,
    make_invoice: Callable[..., Invoice],
    card_paid: Callable[..., Payment],
) -> None:
    invoice = make_invoice()
    payment = card_paid(invoice)
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    form = {"amount": "60.50", "destination": "gateway", "reason": "Downtime in March", "token": "t1"}

    response = admin_client.post(url, form)

    assert response.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount_minor, refund.status, refund.by, refund.reason) == (
        6050,
        RefundStatus.SUCCEEDED,
        admin_user,
        "Downtime in March",
    )
    audit = AuditEvent.objects.get(action="payment.refunded")
    assert (audit.actor, audit.account_id, audit.data["amount_minor"]) == (admin_user, alice.account_id, 6050)
    # The same form sent again refunds nothing more.
    assert admin_client.post(url, form).status_code == 302
    assert Refund.objects.count() == 1
    page = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()
    assert "Downtime in March" in page and "€60.50" in page
    assert "Downtime in March" in admin_client.get(url).content.decode()


def test_a_refused_refund_shows_why_and_changes_nothing(
    admin_client: Client, make_invoice: Callable[..., Invoice], transfer_paid: Callable[..., Payment]
) -> None:
    payment = transfer_paid(make_invoice())
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    before = state()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"amount": "121.01", "destination": "credit"}, "At most €121.00 can be refunded this way."),
        ({"amount": "10.00", "destination": "gateway"}, "This payment method cannot give money back"),
        ({"amount": "60.01", "destination": "credit"}, "refund €60.00 or €60.02"),
        ({"amount": "1.001", "destination": "credit"}, "Too many decimals for this currency."),
    ]
    for data, message in cases:
        response = admin_client.post(url, {**data, "reason": "Goodwill", "token": "t"})
        assert response.status_code == 200
        assert message in response.content.decode(), message
    assert state() == before
    invoice = Invoice.objects.get()
    assert invoice.status == InvoiceStatus.PAID


def test_staff_without_the_permission_cannot_refund(
    client: Client, make_invoice: Callable[..., Invoice], card_paid: Callable[..., Payment]
) -> None:
    payment = card_paid(make_invoice())
    clerk = User.objects.create_user("clerk@provider.example", "pw-clerk-123456", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client.force_login(clerk)
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    assert client.get(url).status_code == 403
    form = {"amount": "121.00", "destination": "gateway", "reason": "x", "token": "t"}
    assert client.post(url, form).status_code == 403
    assert not Refund.objects.exists()
