"""Invoices, payments and account credit through the API: member tokens with the billing
scope read their account's; payments:write moves money, each write once per Idempotency-Key;
every refusal (another account's invoice, not enough credit, a key reused for another
request) changes nothing."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test import Client

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import membership_add, membership_change
from sportello.api.models import IdempotencyRecord
from sportello.billing.models import Invoice, InvoiceStatus
from sportello.billing.services import NewLine, invoice_create
from sportello.billing.tests.conftest import billing_setup, seller, tax_rates  # noqa: F401
from sportello.core.money import Money
from sportello.payments.models import CreditEntry, Payment, TestcardCheckout
from sportello.payments.services import credit_adjust, payment_create
from sportello.payments.tests.conftest import issued_invoice

from .conftest import Caller, member_token

pytestmark = pytest.mark.django_db

SCOPES = ["billing", "payments:write"]


@pytest.fixture(autouse=True)
def _setup(billing_setup: None, settings: Any) -> None:  # noqa: F811
    settings.PAYMENTS_TESTCARD_ENABLED = True


@pytest.fixture
def api(alice: Membership) -> Caller:
    return Caller(Client(), member_token(alice, SCOPES)[1])


@pytest.fixture
def invoice(alice: Membership) -> Invoice:
    """€100.00 plus 21 % IVA, issued on 22 November 2026, due 6 December."""
    return issued_invoice(alice.account, "100.00")


def stamp(moment: dt.datetime) -> str:
    """A time as the API's JSON writes it (Django's encoder: milliseconds, Z for UTC)."""
    return str(DjangoJSONEncoder().default(moment))


def money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def ledger(account: Any) -> list[tuple[str, int]]:
    return list(CreditEntry.objects.filter(account=account).order_by("id").values_list("kind", "amount_minor"))


def state(account: Any) -> dict[str, Any]:
    """Everything a money-moving write could change."""
    return {
        "credit": ledger(account),
        "invoices": list(Invoice.objects.filter(account=account).order_by("id").values_list("id", "status")),
        "payments": list(Payment.objects.filter(account=account).values_list("id", "status")),
        "keys": IdempotencyRecord.objects.count(),
    }


def invoice_body(invoice: Invoice, *, balance: str, status: str = "open", paid_date: str | None = None) -> dict:
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "kind": "invoice",
        "status": status,
        "source": "manual",
        "currency": "EUR",
        "issue_date": "2026-11-22",
        "due_date": "2026-12-06",
        "paid_date": paid_date,
        "net": money("100.00"),
        "tax": money("21.00"),
        "total": money("121.00"),
        "balance": money(balance),
        "created_at": stamp(invoice.created_at),
    }


# --- Reading ------------------------------------------------------------------------------------


def test_it_lists_the_account_s_invoices_newest_first_with_a_cursor(api, alice, bob):
    first = issued_invoice(alice.account, "100.00")
    second = issued_invoice(alice.account, "10.00")
    issued_invoice(bob.account, "50.00", currency="BRL")
    invoice_create(  # a draft is the provider's business
        account=alice.account,
        lines=[NewLine(description="Draft", quantity=Decimal(1), unit_price=Decimal(5))],
        as_of=dt.date(2026, 11, 22),
    )
    page = api.get("/invoices?limit=1").json()
    assert [item["number"] for item in page["items"]] == [second.number]
    assert page["items"][0]["total"] == money("12.10")
    rest = api.get(f"/invoices?limit=1&cursor={page['next_cursor']}").json()
    assert rest == {"items": [invoice_body(first, balance="121.00")], "next_cursor": None}


def test_it_filters_invoices_by_status(api, alice, invoice):
    paid = issued_invoice(alice.account, "10.00")
    credit_adjust(account=alice.account, amount=Money("12.10", "EUR"), note="goodwill", by=None)
    payment_create(
        account=alice.account, invoices=[paid], method="credit", use_credit=False, by=None, as_of=dt.date(2026, 11, 23)
    )
    assert [item["id"] for item in api.get("/invoices?status=paid").json()["items"]] == [paid.pk]
    assert [item["id"] for item in api.get("/invoices?status=open").json()["items"]] == [invoice.pk]
    assert api.get("/invoices?status=overdue").json() == {"items": [], "next_cursor": None}
    response = api.get("/invoices?status=draft")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "query.status")


def test_a_cursor_of_another_filter_is_refused(api, alice, invoice):
    issued_invoice(alice.account, "10.00")
    cursor = api.get("/invoices?limit=1").json()["next_cursor"]
    response = api.get(f"/invoices?status=open&limit=1&cursor={cursor}")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")


def test_an_invoice_shows_its_lines_taxes_and_what_paid_it(api, alice, invoice):
    credit_adjust(account=alice.account, amount=Money("21.00", "EUR"), note="goodwill", by=None)
    api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "21.00"})
    body = api.get(f"/invoices/{invoice.pk}").json()
    assert body["status"] == "partially_paid" and body["balance"] == money("100.00")
    assert body["lines"] == [
        {
            "description": "Hosting Pro",
            "quantity": "1",
            "unit_price": "100",
            "discount": money("0.00"),
            "net": money("100.00"),
            "tax_rate": "21",
            "period_start": None,
            "period_end": None,
        }
    ]
    assert [(tax["rate"], tax["taxable"], tax["tax"]) for tax in body["taxes"]] == [
        ("21", money("100.00"), money("21.00"))
    ]
    assert [(s["kind"], s["amount"], s["method"]) for s in body["settlements"]] == [
        ("credit", money("21.00"), "Account credit")
    ]


def test_another_account_s_invoice_and_payment_are_not_found(api, bob, billing_setup):  # noqa: F811
    theirs = issued_invoice(bob.account, "50.00", currency="BRL")
    plan = payment_create(
        account=bob.account,
        invoices=[theirs],
        method="testcard",
        use_credit=False,
        by=None,
        as_of=dt.date(2026, 11, 22),
    )
    assert plan.payment is not None
    for path in (f"/invoices/{theirs.pk}", f"/payments/{plan.payment.public_id}", "/invoices/999999"):
        response = api.get(path)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
    assert api.get("/invoices").json()["items"] == []
    assert api.get("/payments").json()["items"] == []


def test_reading_billing_needs_the_billing_scope(alice, integration_api, invoice):
    services_only = Caller(Client(), member_token(alice, ["read", "services"])[1])
    for caller in (services_only, integration_api):
        for path in ("/invoices", f"/invoices/{invoice.pk}", "/payments", "/credit"):
            response = caller.get(path)
            assert (response.status_code, response.json()["code"]) == (403, "missing_scope"), path
            assert response.json()["message"] == "This token does not allow this: it needs the “billing” scope."


def test_the_credit_shows_balances_and_the_ledger_newest_first(api, alice, invoice):
    credit_adjust(account=alice.account, amount=Money("30.00", "EUR"), note="goodwill", by=None)
    credit_adjust(account=alice.account, amount=Money("5.00", "BRL"), note="refund of a BRL charge", by=None)
    api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "10.50"})
    body = api.get("/credit?limit=2").json()
    assert body["balances"] == [money("19.50"), money("5.00", "BRL")]
    assert [(e["kind"], e["amount"], e["invoice_number"], e["note"]) for e in body["entries"]] == [
        ("applied", money("-10.50"), invoice.number, ""),
        ("adjustment", money("5.00", "BRL"), None, "refund of a BRL charge"),
    ]
    more = api.get(f"/credit?limit=2&cursor={body['next_cursor']}").json()
    assert [(e["kind"], e["amount"]) for e in more["entries"]] == [("adjustment", money("30.00"))]
    assert more["next_cursor"] is None


# --- Paying from credit ---------------------------------------------------------------------------


def test_it_pays_an_invoice_from_credit(api, alice, invoice):
    credit_adjust(account=alice.account, amount=Money("150.00", "EUR"), note="goodwill", by=None)
    response = api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "121.00"}, key="pay-1")
    assert response.status_code == 201
    entry = CreditEntry.objects.get(kind="applied")
    invoice.refresh_from_db()
    assert response.json() == {
        "entry": {
            "id": entry.pk,
            "kind": "applied",
            "amount": money("-121.00"),
            "invoice_id": invoice.pk,
            "invoice_number": invoice.number,
            "note": "",
            "at": stamp(entry.at),
        },
        "invoice": invoice_body(invoice, balance="0.00", status="paid", paid_date=invoice.paid_date.isoformat()),
        "balance": money("29.00"),
    }
    assert "Idempotent-Replayed" not in response


def test_the_same_key_and_amount_replays_without_spending_again(api, alice, invoice):
    credit_adjust(account=alice.account, amount=Money("150.00", "EUR"), note="goodwill", by=None)
    first = api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "20.00"}, key="k")
    again = api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "20.00"}, key="k")
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert ledger(alice.account) == [("adjustment", 15000), ("applied", -2000)]
    # A new key is a new payment.
    assert api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "20.00"}, key="k2").status_code == 201
    assert ledger(alice.account) == [("adjustment", 15000), ("applied", -2000), ("applied", -2000)]


def test_the_same_key_with_another_amount_or_invoice_is_refused(api, alice, invoice):
    other = issued_invoice(alice.account, "10.00")
    credit_adjust(account=alice.account, amount=Money("150.00", "EUR"), note="goodwill", by=None)
    api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "20.00"}, key="k")
    before = state(alice.account)
    for path, amount in (
        (f"/invoices/{invoice.pk}/pay-with-credit", "21.00"),
        (f"/invoices/{other.pk}/pay-with-credit", "20.00"),
    ):
        response = api.post(path, {"amount": amount}, key="k")
        assert response.status_code == 422
        assert response.json() == {
            "code": "idempotency_key_reused",
            "message": "This Idempotency-Key was already used for a different request. "
            "Use a new key for a new request.",
            "errors": [],
        }
    assert state(alice.account) == before


@pytest.mark.parametrize("key", [None, "", "a" * 129, "with space"])
def test_paying_needs_a_valid_idempotency_key(api, alice, invoice, key):
    credit_adjust(account=alice.account, amount=Money("150.00", "EUR"), note="goodwill", by=None)
    before = state(alice.account)
    headers = api.headers() if key is None else api.headers(**{"Idempotency-Key": key})
    for path, body in (
        (f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "1.00"}),
        ("/credit/funds", {"amount": "10.00"}),
        ("/payments", {"invoice_ids": [invoice.pk], "gateway": "testcard"}),
    ):
        response = api.client.post(f"/api/v1{path}", data=body, content_type="application/json", headers=headers)
        assert response.status_code == 422, path
        assert [error["field"] for error in response.json()["errors"]] == ["header.Idempotency-Key"]
    assert state(alice.account) == before


@pytest.mark.parametrize(
    ("amount", "credit", "status", "code", "message"),
    [
        ("50.00", "10.00", 409, "insufficient_credit", "Your account credit (€10.00) does not cover €50.00."),
        ("121.01", "200.00", 422, "invalid_amount", "The amount is more than the invoice still owes."),
        ("0", "10.00", 422, "invalid_amount", "The amount must be more than zero."),
        ("1.005", "10.00", 422, "invalid_amount", "Use at most the decimals of EUR."),
    ],
)
def test_refused_credit_payments_change_nothing(api, alice, invoice, amount, credit, status, code, message):
    credit_adjust(account=alice.account, amount=Money(credit, "EUR"), note="goodwill", by=None)
    before = state(alice.account)
    response = api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": amount})
    assert (response.status_code, response.json()["code"], response.json()["message"]) == (status, code, message)
    assert state(alice.account) == before
    # Nothing was kept of the refused request: the key is free for a corrected one.
    assert api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "1.00"}).status_code == 201


@pytest.mark.parametrize("amount", ["-1", "1e3", "", "12,50", "1.0001"])
def test_amounts_that_are_not_decimal_strings_are_refused(api, alice, invoice, amount):
    before = state(alice.account)
    response = api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": amount})
    assert (response.status_code, [e["field"] for e in response.json()["errors"]]) == (422, ["body.amount"])
    response = api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": 12.5})
    assert (response.status_code, [e["field"] for e in response.json()["errors"]]) == (422, ["body.amount"])
    assert state(alice.account) == before


def test_a_paid_invoice_cannot_be_paid_again(api, alice, invoice):
    credit_adjust(account=alice.account, amount=Money("300.00", "EUR"), note="goodwill", by=None)
    api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "121.00"}, key="first")
    before = state(alice.account)
    response = api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "1.00"}, key="second")
    assert (response.status_code, response.json()["code"]) == (409, "invoice_not_payable")
    assert response.json()["message"] == f"Invoice {invoice.number} cannot be paid now: it may have been paid already."
    assert state(alice.account) == before


def test_another_account_s_invoice_cannot_be_paid(api, alice, bob):
    theirs = issued_invoice(bob.account, "50.00", currency="BRL")
    credit_adjust(account=bob.account, amount=Money("100.00", "BRL"), note="goodwill", by=None)
    before = (state(alice.account), state(bob.account))
    response = api.post(f"/invoices/{theirs.pk}/pay-with-credit", {"amount": "1.00"})
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    response = api.post("/payments", {"invoice_ids": [theirs.pk], "gateway": "testcard"})
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert (state(alice.account), state(bob.account)) == before


def test_moving_money_needs_payments_write(alice, invoice):
    credit_adjust(account=alice.account, amount=Money("150.00", "EUR"), note="goodwill", by=None)
    reader = Caller(Client(), member_token(alice, ["billing"])[1])
    before = state(alice.account)
    for path, body in (
        (f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "1.00"}),
        ("/credit/funds", {"amount": "10.00"}),
        ("/payments", {"invoice_ids": [invoice.pk], "gateway": "testcard"}),
    ):
        response = reader.post(path, body)
        assert (response.status_code, response.json()["code"]) == (403, "missing_scope"), path
        assert response.json()["message"] == "This token does not allow this: it needs the “payments:write” scope."
    assert state(alice.account) == before


def test_a_member_made_read_only_can_no_longer_pay(alice, invoice):
    colleague = membership_add(
        account=alice.account, user=User.objects.create_user("fin@example.org", "x" * 12), role=Role.FINANCE
    )
    caller = Caller(Client(), member_token(colleague, SCOPES)[1])
    credit_adjust(account=alice.account, amount=Money("150.00", "EUR"), note="goodwill", by=None)
    membership_change(membership=colleague, role=Role.READ_ONLY, acting=alice, by=alice.user)
    before = state(alice.account)
    assert caller.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "1.00"}).status_code == 403
    assert state(alice.account) == before


# --- Adding funds ---------------------------------------------------------------------------------


def test_adding_funds_issues_the_invoice_to_pay_once_per_key(api, alice):
    response = api.post("/credit/funds", {"amount": "50.00"}, key="funds-1")
    assert response.status_code == 201
    funds = Invoice.objects.get(account=alice.account)
    body = response.json()
    assert (body["id"], body["source"], body["status"], body["total"], body["tax"], body["balance"]) == (
        funds.pk,
        "funds",
        "open",
        money("50.00"),
        money("0.00"),
        money("50.00"),
    )
    again = api.post("/credit/funds", {"amount": "50.00"}, key="funds-1")
    assert (again.json(), again["Idempotent-Replayed"]) == (body, "true")
    assert Invoice.objects.filter(account=alice.account).count() == 1
    assert ledger(alice.account) == []  # credit comes when the funds invoice is paid


@pytest.mark.parametrize(
    ("amount", "message"), [("1.00", "The amount is below the minimum."), ("10001", "The amount is above the maximum.")]
)
def test_funds_outside_the_limits_are_refused(api, alice, amount, message):
    before = state(alice.account)
    response = api.post("/credit/funds", {"amount": amount})
    assert (response.status_code, response.json()["code"], response.json()["message"]) == (
        422,
        "invalid_amount",
        message,
    )
    assert state(alice.account) == before


# --- Starting a payment ---------------------------------------------------------------------------


def test_a_card_payment_answers_with_the_processor_s_page(
    api, alice, invoice, client, django_capture_on_commit_callbacks
):
    response = api.post("/payments", {"invoice_ids": [invoice.pk], "gateway": "testcard"}, key="pay")
    assert response.status_code == 201
    payment = Payment.objects.get()
    body = response.json()
    assert re.fullmatch(r"http://testserver/testcard/pay/[\w-]+/", body["next_url"])
    assert body == {
        "id": str(payment.public_id),
        "gateway": "testcard",
        "status": "initiated",
        "amount": money("121.00"),
        "method": "Card",
        "invoices": [{"id": invoice.pk, "number": invoice.number, "planned": money("121.00")}],
        "next_url": body["next_url"],
        "instructions": {},
        "failure_code": None,
        "started_on": payment.started_on.isoformat(),
        "created_at": stamp(payment.created_at),
    }
    again = api.post("/payments", {"invoice_ids": [invoice.pk], "gateway": "testcard"}, key="pay")
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (201, body, "true")
    assert (Payment.objects.count(), TestcardCheckout.objects.count()) == (1, 1)
    # The customer pays on the processor's page; the API then says so.
    client.force_login(alice.user)
    with django_capture_on_commit_callbacks(execute=True):  # the processor's signed notification
        client.post(body["next_url"], {"number": "4242424242424242", "expiry": "12/39", "cvc": "123", "name": "A"})
    status = api.get(f"/payments/{payment.public_id}").json()
    assert (status["status"], status["method"]) == ("succeeded", "Visa •••• 4242")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_a_bank_transfer_answers_with_the_instructions(api, invoice):
    response = api.post("/payments", {"invoice_ids": [invoice.pk, invoice.pk], "gateway": "bank_transfer"})
    assert response.status_code == 201
    payment = Payment.objects.get()
    body = response.json()
    assert (body["status"], body["next_url"], body["method"]) == ("initiated", None, "Bank transfer")
    assert body["instructions"] == {
        "beneficiary": "Sportello Hosting S.L.",
        "iban": "ES9121000418450200051332",
        "bic": "CAIXESBBXXX",
        "bank_name": "",
        "reference": payment.gateway_reference,
        "amount": "121.00",
        "currency": "EUR",
        "clearing_days": 3,
        "documents": [invoice.number],
    }
    assert api.get("/payments").json()["items"] == [body]


@pytest.mark.parametrize("gateway", ["credit", "stripe", "nope"])
def test_an_unavailable_method_is_refused(api, alice, invoice, gateway):
    before = state(alice.account)
    response = api.post("/payments", {"invoice_ids": [invoice.pk], "gateway": gateway})
    assert (response.status_code, response.json()["code"]) == (422, "method_unavailable")
    assert state(alice.account) == before


def test_invoices_in_two_currencies_or_already_paid_are_refused(api, alice, invoice):
    brl = issued_invoice(alice.account, "10.00", currency="BRL")
    before = state(alice.account)
    response = api.post("/payments", {"invoice_ids": [invoice.pk, brl.pk], "gateway": "testcard"})
    assert (response.status_code, response.json()["message"]) == (
        422,
        "Choose invoices in one currency: one payment cannot mix BRL, EUR.",
    )
    credit_adjust(account=alice.account, amount=Money("121.00", "EUR"), note="goodwill", by=None)
    api.post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "121.00"}, key="credit")
    before = state(alice.account)
    response = api.post("/payments", {"invoice_ids": [invoice.pk], "gateway": "testcard"})
    assert (response.status_code, response.json()["code"]) == (409, "invoice_not_payable")
    assert state(alice.account) == before


# --- Concurrency ----------------------------------------------------------------------------------


def race(count: int, work: Any) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(work(n))
        except BaseException as exc:  # pragma: no cover - reported by the assertions
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_credit_payments_with_one_key_spend_once(on_postgresql, alice, invoice):
    credit_adjust(account=alice.account, amount=Money("100.00", "EUR"), note="goodwill", by=None)
    secret = member_token(alice, SCOPES)[1]

    def send(_n: int) -> tuple[int, str | None]:
        response = Caller(Client(), secret).post(f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "30.00"})
        return response.status_code, response.headers.get("Idempotent-Replayed")

    results, errors = race(6, send)
    assert errors == []
    assert sorted(results, key=lambda r: r[1] or "") == [(201, None)] + [(201, "true")] * 5
    assert ledger(alice.account) == [("adjustment", 10000), ("applied", -3000)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_credit_payments_with_different_keys_never_overspend(on_postgresql, alice, invoice):
    credit_adjust(account=alice.account, amount=Money("100.00", "EUR"), note="goodwill", by=None)
    secret = member_token(alice, SCOPES)[1]

    def send(n: int) -> int:
        response = Caller(Client(), secret).post(
            f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "30.00"}, key=f"k{n}"
        )
        return int(response.status_code)

    results, errors = race(6, send)
    assert errors == []
    assert sorted(results) == [201, 201, 201, 409, 409, 409]
    assert sum(amount for _kind, amount in ledger(alice.account)) == 1000


# --- Card data ------------------------------------------------------------------------------

CARD_NUMBER = "4242424242424242"

# (endpoint, what the client sent besides the expected fields, the fields the answer names).
CARD_FIELDS = [
    ("pay", {"card_number": CARD_NUMBER, "cvc": "123", "exp": "12/39"}, ["body.card_number", "body.cvc", "body.exp"]),
    ("pay", {"card": {"number": CARD_NUMBER, "exp_month": 12, "exp_year": 2039}}, ["body.card"]),
    ("pay", {"gateway": CARD_NUMBER}, ["body.gateway"]),
    ("credit", {"number": CARD_NUMBER}, ["body.number"]),
]


@pytest.mark.parametrize("endpoint, extra, fields", CARD_FIELDS)
def test_card_data_sent_to_the_api_is_refused_and_kept_nowhere(api, alice, invoice, caplog, endpoint, extra, fields):
    from sportello.payments.tests.test_testcard import every_stored_value

    caplog.set_level(logging.DEBUG)
    credit_adjust(account=alice.account, amount=Money("10.00", "EUR"), note="goodwill", by=None)
    if endpoint == "pay":
        path, body = "/payments", {"invoice_ids": [invoice.pk], "gateway": "testcard"}
    else:
        path, body = f"/invoices/{invoice.pk}/pay-with-credit", {"amount": "1.00"}
    before = state(alice.account)
    response = api.post(path, {**body, **extra}, key="card-1")
    assert response.status_code == 422
    assert (response.json()["code"], sorted(error["field"] for error in response.json()["errors"])) == (
        "invalid",
        fields,
    )
    assert CARD_NUMBER not in response.content.decode()
    assert state(alice.account) == before
    assert TestcardCheckout.objects.count() == 0
    logged = caplog.text + "\n".join(repr(record.__dict__) for record in caplog.records)
    assert CARD_NUMBER not in logged
    assert CARD_NUMBER not in every_stored_value()
    # The same request without the card data goes through: the refusal was the card data's.
    assert api.post(path, body, key="card-1").status_code == 201
