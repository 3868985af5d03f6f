# ruff: noqa: F811  (fixtures imported from the payments tests are redefined as parameters)
"""The back office for payments: records staff read, and what staff do through the services
(register a transfer, import a statement, adjust credit, resolve the reconciliation queue)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus
from sportello.core.models import AuditEvent
from sportello.core.money import Money
from sportello.payments.models import BankStatementLine, CreditEntry, Payment, PaymentStatus, ReconciliationItem
from sportello.payments.selectors import credit_balance
from sportello.payments.services import payment_begin, payment_create
from sportello.payments.tests.conftest import (  # noqa: F401
    DAY,
    _testcard_on,
    billing_setup,
    make_invoice,
    seller,
    tax_rates,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def transfer(alice: Membership, make_invoice: Callable[..., Invoice]) -> Payment:
    plan = payment_create(
        account=alice.account, invoices=[make_invoice()], method="bank_transfer", use_credit=False, by=None, as_of=DAY
    )
    assert plan.payment is not None
    return payment_begin(payment=plan.payment, return_url="http://testserver/")


def test_every_payments_page_opens(admin_client: Client, transfer: Payment) -> None:
    ReconciliationItem.objects.create(
        kind="unknown_payment", gateway="testcard", reference="cs_x", amount_minor=100, currency="EUR"
    )
    for name in (
        "payment",
        "paymentevent",
        "processedwebhook",
        "reconciliationitem",
        "creditentry",
        "bankstatementline",
    ):
        assert admin_client.get(reverse(f"admin:payments_{name}_changelist")).status_code == 200, name
    assert admin_client.get(reverse("admin:payments_payment_change", args=[transfer.pk])).status_code == 200
    assert admin_client.get(reverse("admin:payments_creditentry_add")).status_code == 200
    assert admin_client.get(reverse("admin:payments_bankstatementline_import")).status_code == 200


def test_staff_register_a_transfer_with_the_amount_received(admin_client: Client, transfer: Payment) -> None:
    awaiting = admin_client.get(reverse("admin:payments_payment_changelist") + "?transfers=awaiting").content.decode()
    assert transfer.gateway_reference in awaiting
    response = admin_client.post(
        reverse("admin:payments_payment_changelist"),
        {
            "action": "register_transfer",
            "_selected_action": [transfer.pk],
            "amount": "121.00",
            "received_on": "2026-11-24",
            "note": "seen",
        },
    )
    assert response.status_code == 302
    transfer.refresh_from_db()
    assert transfer.status == PaymentStatus.SUCCEEDED
    invoice = Invoice.objects.get()
    assert (invoice.status, str(invoice.paid_date)) == (InvoiceStatus.PAID, "2026-11-24")
    assert AuditEvent.objects.filter(action="payment.transfer_registered").count() == 1
    awaiting = admin_client.get(reverse("admin:payments_payment_changelist") + "?transfers=awaiting")
    assert awaiting.context["cl"].result_count == 0


def test_registering_without_an_amount_changes_nothing(admin_client: Client, transfer: Payment) -> None:
    admin_client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "register_transfer", "_selected_action": [transfer.pk], "amount": ""},
    )
    transfer.refresh_from_db()
    assert transfer.status == PaymentStatus.INITIATED


def test_staff_import_a_statement_and_resolve_what_did_not_match(admin_client: Client, transfer: Payment) -> None:
    text = (
        f"date,amount,currency,reference\n2026-11-24,121.00,EUR,{transfer.gateway_reference}\n2026-11-24,9.99,EUR,?\n"
    )
    url = reverse("admin:payments_bankstatementline_import")
    response = admin_client.post(url, {"statement": SimpleUploadedFile("nov.csv", text.encode())}, follow=True)
    assert "1 transfers registered" in response.content.decode()
    transfer.refresh_from_db()
    assert transfer.status == PaymentStatus.SUCCEEDED
    item = ReconciliationItem.objects.get()
    response = admin_client.post(
        reverse("admin:payments_reconciliationitem_changelist"),
        {"action": "resolve", "_selected_action": [item.pk], "resolution": "Refunded to the sender"},
    )
    item.refresh_from_db()
    assert (item.resolution, item.resolved_at is not None) == ("Refunded to the sender", True)
    response = admin_client.post(url, {"statement": SimpleUploadedFile("bad.csv", b"nothing,useful\n1,2\n")})
    assert "Nothing imported" in response.content.decode()
    assert BankStatementLine.objects.count() == 2


def test_staff_adjust_credit_with_a_reason_never_below_zero(
    admin_client: Client, alice: Membership, billing_setup: None
) -> None:
    url = reverse("admin:payments_creditentry_add")
    form = {"account": alice.account_id, "currency": "EUR", "amount": "25.00", "note": "Compensation for downtime"}
    assert admin_client.post(url, form).status_code == 302
    assert credit_balance(account=alice.account, currency="EUR") == Money("25.00", "EUR")  # type: ignore[arg-type]
    response = admin_client.post(url, {**form, "amount": "-30.00"}, follow=True)
    assert "Not saved" in response.content.decode()
    response = admin_client.post(url, {**form, "note": ""})
    assert response.status_code == 200 and "Say why the credit changes." in response.content.decode()
    assert list(CreditEntry.objects.values_list("amount_minor", "kind")) == [(2500, "adjustment")]
    page = admin_client.get(f"{reverse('admin:payments_creditentry_changelist')}?account__id__exact={alice.account_id}")
    assert "€25.00" in page.content.decode()


def test_staff_cannot_edit_or_delete_records(admin_client: Client, transfer: Payment) -> None:
    before = list(Payment.objects.values_list("status", "amount_minor"))
    response: Any = admin_client.post(reverse("admin:payments_payment_change", args=[transfer.pk]), {"amount_minor": 1})
    assert response.status_code == 403
    assert (
        admin_client.post(reverse("admin:payments_payment_delete", args=[transfer.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert list(Payment.objects.values_list("status", "amount_minor")) == before


def test_the_payments_list_filters_by_status_and_gateway_and_navigates_by_date(
    admin_client: Client, alice: Membership, make_invoice: Callable[..., Invoice]
) -> None:
    from sportello.payments.services import transfer_register, webhook_receive
    from sportello.payments.tests.test_payments import NOW, event, signed

    def started(method: str) -> Payment:
        plan = payment_create(
            account=alice.account, invoices=[make_invoice()], method=method, use_credit=False, by=None, as_of=DAY
        )
        assert plan.payment is not None
        return payment_begin(payment=plan.payment, return_url="http://testserver/")

    def told(payment: Payment, kind: str, **fields: Any) -> None:
        body, headers = signed(event(payment, kind, event_id=f"evt_{payment.pk}", **fields))
        assert webhook_receive(gateway="testcard", body=body, headers=headers, now=NOW).outcome == "applied"

    card_paid, transfer_awaited, card_declined, transfer_paid = (
        started("testcard"),
        started("bank_transfer"),
        started("testcard"),
        started("bank_transfer"),
    )
    told(card_paid, "succeeded")
    told(card_declined, "failed", failure_code="card_declined")
    transfer_register(payment=transfer_paid, amount=Money("121.00", "EUR"), received_on=DAY, by=None)  # type: ignore[arg-type]
    when = {
        card_paid: dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC),
        transfer_awaited: dt.datetime(2026, 11, 3, 12, 0, tzinfo=dt.UTC),
        card_declined: dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC),
        transfer_paid: dt.datetime(2025, 12, 31, 12, 0, tzinfo=dt.UTC),
    }
    for payment, created_at in when.items():
        Payment.objects.filter(pk=payment.pk).update(created_at=created_at)
    url = reverse("admin:payments_payment_changelist")

    def listed(query: str) -> list[int]:
        response = admin_client.get(f"{url}?{query}")
        assert response.status_code == 200
        return [payment.pk for payment in response.context["cl"].result_list]

    assert listed("") == [card_declined.pk, transfer_awaited.pk, card_paid.pk, transfer_paid.pk]
    assert listed("status__exact=succeeded") == [card_paid.pk, transfer_paid.pk]
    assert listed("status__exact=failed") == [card_declined.pk]
    assert listed("status__exact=initiated") == [transfer_awaited.pk]
    assert listed("gateway__exact=bank_transfer") == [transfer_awaited.pk, transfer_paid.pk]
    assert listed("gateway__exact=testcard") == [card_declined.pk, card_paid.pk]
    assert listed("gateway__exact=testcard&status__exact=succeeded") == [card_paid.pk]
    assert listed("gateway__exact=pix") == []
    assert listed("created_at__year=2026") == [card_declined.pk, transfer_awaited.pk, card_paid.pk]
    assert listed("created_at__year=2026&created_at__month=11") == [card_declined.pk, transfer_awaited.pk]
    assert listed("created_at__year=2026&created_at__month=11&created_at__day=3") == [transfer_awaited.pk]
    assert listed("created_at__year=2025") == [transfer_paid.pk]
    assert listed("created_at__year=2026&gateway__exact=bank_transfer") == [transfer_awaited.pk]
    # The date navigation offers the years, then the months of a year, that have payments.
    page = admin_client.get(url).content.decode()
    assert "?created_at__year=2025" in page and "?created_at__year=2026" in page
    page = admin_client.get(f"{url}?created_at__year=2026").content.decode()
    months = re.findall(r"\?created_at__month=(\d+)&amp;created_at__year=2026", page)
    assert sorted(set(months)) == ["10", "11"]
