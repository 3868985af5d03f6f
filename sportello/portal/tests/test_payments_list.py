# ruff: noqa: F811  (fixtures imported from the payments tests are redefined as parameters)
"""The client area's payments list and the invoice page's notice of a transfer or PIX payment
still awaited: the "second copy" of the instructions a customer pays from."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership, Role
from sportello.billing.models import Invoice, InvoiceStatus, Seller
from sportello.conftest import make_member
from sportello.core.money import Money
from sportello.core.testing import Clock
from sportello.payments.models import Payment
from sportello.payments.services import payment_begin, payment_create, transfer_register, webhook_receive
from sportello.payments.tests.conftest import (  # noqa: F401
    DAY,
    _testcard_on,
    billing_setup,
    issued_invoice,
    make_invoice,
    seller,
    tax_rates,
)
from sportello.payments.tests.test_payments import NOW, event, signed

pytestmark = pytest.mark.django_db


def started(membership: Membership, invoices: list[Invoice], method: str, *, as_of: dt.date = DAY) -> Payment:
    plan = payment_create(
        account=membership.account, invoices=invoices, method=method, use_credit=False, by=None, as_of=as_of
    )
    assert plan.payment is not None
    return payment_begin(payment=plan.payment, return_url="http://testserver/back/")


def table_rows(page: str) -> list[list[str]]:
    """The cells of each body row of the page's table, as text (links' hidden words included)."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append(
            [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()).replace(" ,", ",") for cell in cells]
        )
    return rows


def links(page: str) -> list[tuple[str, str]]:
    """The (href, text) of the table body's links."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        (href, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split()))
        for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', body, re.S)
    ]


def test_it_lists_the_accounts_payments_with_their_invoices_and_what_to_open(
    alice: Membership, alice_client: Client, make_invoice: Callable[..., Invoice]
) -> None:
    first, second, third = make_invoice("100.00"), make_invoice("10.00"), make_invoice("50.00")
    paid = started(alice, [second], "bank_transfer", as_of=DAY - dt.timedelta(days=2))
    transfer_register(payment=paid, amount=Money("12.10", "EUR"), received_on=DAY, by=None)  # type: ignore[arg-type]
    declined = started(alice, [third], "testcard", as_of=DAY - dt.timedelta(days=1))
    body, headers = signed(event(declined, "failed", failure_code="card_declined"))
    assert webhook_receive(gateway="testcard", body=body, headers=headers, now=NOW).outcome == "applied"
    awaiting = started(alice, [first, third], "bank_transfer")
    page = alice_client.get(reverse("portal:payments"))
    assert page.status_code == 200
    text = page.content.decode()
    assert table_rows(text) == [
        ["22 Nov 2026", "Bank transfer", "€181.50", "Awaiting your transfer", f"{first.number}, {third.number}",
         "Transfer details €181.50"],
        ["21 Nov 2026", "Visa •••• 4242", "€60.50", "Failed", third.number, "Details €60.50"],
        ["20 Nov 2026", "Bank transfer", "€12.10", "Succeeded", second.number, "Receipt €12.10"],
    ]  # fmt: skip
    assert links(text) == [
        (reverse("portal:invoice", args=[first.number]), first.number),
        (reverse("portal:invoice", args=[third.number]), third.number),
        (reverse("portal:payment", args=[awaiting.public_id]), "Transfer details €181.50"),
        (reverse("portal:invoice", args=[third.number]), third.number),
        (reverse("portal:payment", args=[declined.public_id]), "Details €60.50"),
        (reverse("portal:invoice", args=[second.number]), second.number),
        (reverse("portal:payment-receipt", args=[paid.public_id]), "Receipt €12.10"),
    ]
    # The second copy: the transfer details, from the list, as when the payment started.
    details = alice_client.get(reverse("portal:payment", args=[awaiting.public_id])).content.decode()
    reference = awaiting.gateway_reference
    assert "Waiting for your transfer" in details and "ES9121000418450200051332" in details
    assert " ".join(reference[i : i + 4] for i in range(0, len(reference), 4)) in details
    assert 'src="data:image/svg+xml' in details, "the EPC QR code"
    # Reached from every billing page's tabs.
    overview = alice_client.get(reverse("portal:billing")).content.decode()
    assert f'<a href="{reverse("portal:payments")}">Payments</a>' in overview
    assert f'<a href="{reverse("portal:payments")}" aria-current="page">Payments</a>' in text


def test_other_accounts_payments_are_not_listed_and_members_without_billing_get_404(
    alice: Membership, bob: Membership, client: Client, make_invoice: Callable[..., Invoice]
) -> None:
    started(alice, [make_invoice()], "bank_transfer")
    client.force_login(bob.user)
    page = client.get(reverse("portal:payments")).content.decode()
    assert "No payments yet" in page and "<tbody>" not in page
    reader = make_member("reader@example.org", "Unused", role=Role.READ_ONLY)
    reader.account = alice.account
    reader.save()
    client.force_login(reader.user)
    assert len(table_rows(client.get(reverse("portal:payments")).content.decode())) == 1
    technician = make_member("tech@example.org", "Unused too", role=Role.TECHNICAL)
    technician.account = alice.account
    technician.save()
    client.force_login(technician.user)
    assert client.get(reverse("portal:payments")).status_code == 404


def test_the_invoice_page_points_to_a_transfer_awaiting_registration(
    alice: Membership, alice_client: Client, make_invoice: Callable[..., Invoice]
) -> None:
    invoice, other = make_invoice("100.00"), make_invoice("10.00")
    url = reverse("portal:invoice", args=[invoice.number])
    assert "awaiting registration" not in alice_client.get(url).content.decode()
    payment = started(alice, [invoice, other], "bank_transfer")
    started(alice, [other], "testcard")  # a card payment left open says nothing here
    page = alice_client.get(url).content.decode()
    notice = (
        "A bank transfer of €133.10 is awaiting registration — "
        f'<a href="{reverse("portal:payment", args=[payment.public_id])}">see the transfer details</a>'
    )
    assert page.count("is awaiting registration") == 1 and notice in page
    # Once the transfer is registered the invoice is paid, and the notice goes.
    transfer_register(payment=payment, amount=Money("133.10", "EUR"), received_on=DAY, by=None)  # type: ignore[arg-type]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert "awaiting registration" not in alice_client.get(url).content.decode()


PIX_NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)


def test_an_open_pix_code_is_listed_and_pointed_to_until_it_expires(
    bob: Membership, client: Client, billing_setup: None, seller: Seller, settings: Any, monkeypatch: Any
) -> None:
    settings.PAYMENTS_PIX_EXPIRY_MINUTES = 60
    Seller.objects.filter(pk=seller.pk).update(pix_key="7d9f0335-8dcc-4054-9bf9-0dbd61d36906", pix_city="Recife")
    monkeypatch.setattr("sportello.payments.adapters.pix.utc_now", Clock(PIX_NOW))
    monkeypatch.setattr("sportello.portal.views.payments.utc_now", Clock(PIX_NOW))
    invoice = issued_invoice(bob.account, "100.00")
    payment = started(bob, [invoice], "pix")
    client.force_login(bob.user)
    detail = reverse("portal:payment", args=[payment.public_id])
    rows = table_rows(client.get(reverse("portal:payments")).content.decode())
    assert rows == [["22 Nov 2026", "PIX", "R$100.00", "Awaiting your PIX", invoice.number, "PIX code R$100.00"]]
    page = client.get(reverse("portal:invoice", args=[invoice.number])).content.decode()
    assert f'A PIX payment of R$100.00 is awaiting your bank — <a href="{detail}">see the PIX code</a>' in page
    assert payment.instructions["code"] in client.get(detail).content.decode()
    # An hour later the code has expired: nothing left to pay it with, nothing pointed to.
    monkeypatch.setattr("sportello.portal.views.payments.utc_now", Clock(PIX_NOW + dt.timedelta(minutes=61)))
    rows = table_rows(client.get(reverse("portal:payments")).content.decode())
    assert rows == [["22 Nov 2026", "PIX", "R$100.00", "Started", invoice.number, "Details R$100.00"]]
    page = client.get(reverse("portal:invoice", args=[invoice.number])).content.decode()
    assert "is awaiting your bank" not in page
