"""The billing back office writes through the billing services; documents are read-only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership, User
from sportello.billing.models import Invoice, Quote, Seller, Settlement
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.billing.tests.conftest import billing_setup, seller, tax_rates  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("billing_setup")]
DAY = dt.date(2026, 11, 22)


@pytest.fixture
def staff_client(client: Client, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setattr("sportello.staff.admin_billing.today_utc", lambda: DAY)
    client.force_login(User.objects.create_superuser("ops@example.com", "ops-staff-passphrase-1"))
    return client


def lines_data(*rows: tuple[str, str, str, str]) -> dict[str, str]:
    data = {
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for index, (description, quantity, price, tax_class) in enumerate(rows):
        data.update(
            {
                f"lines-{index}-description": description,
                f"lines-{index}-quantity": quantity,
                f"lines-{index}-unit_price": price,
                f"lines-{index}-tax_class": tax_class,
            }
        )
    return data


def issued(alice: Membership) -> Invoice:
    draft = invoice_create(
        account=alice.account,
        lines=[NewLine(description="Hosting", quantity=Decimal(1), unit_price=Decimal("100.00"))],
        as_of=DAY,
    )
    return invoice_issue(invoice=draft, as_of=DAY)


def state() -> tuple[Any, ...]:
    return (
        list(Invoice.objects.order_by("pk").values_list("pk", "status", "number", "total_minor")),
        list(Settlement.objects.order_by("pk").values_list("pk", "amount_minor")),
    )


def test_staff_create_a_manual_draft_whose_figures_come_from_the_services(
    staff_client: Client, alice: Membership
) -> None:
    data = {"account": str(alice.account.pk), "notes": "As agreed by phone", **lines_data(
        ("Consulting", "2", "80.00", "standard"), ("Book", "1", "20.00", "reduced")
    )}  # fmt: skip
    response = staff_client.post(reverse("admin:billing_invoice_add"), data)
    draft = Invoice.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:billing_invoice_change", args=[draft.pk]
    )
    # 160.00 at 21% = 33.60; 20.00 at 10% = 2.00.
    assert (draft.status, draft.net_minor, draft.tax_minor, draft.total_minor, draft.source) == (
        "draft",
        18000,
        3560,
        21560,
        "manual",
    )
    staff_client.post(
        reverse("admin:billing_invoice_changelist"), {"action": "issue", "_selected_action": [str(draft.pk)]}
    )
    draft.refresh_from_db()
    assert (draft.status, draft.number, draft.issue_date) == ("open", "INV-2026-00001", DAY)


def test_a_refused_draft_is_an_error_on_the_form_and_saves_nothing(staff_client: Client, alice: Membership) -> None:
    data = {"account": str(alice.account.pk), "currency": "USD", **lines_data(("Hosting", "1", "10", "luxury"))}
    response = staff_client.post(reverse("admin:billing_invoice_add"), data)
    assert response.status_code == 200 and Invoice.objects.count() == 0
    data = {"account": str(alice.account.pk), **lines_data(("Hosting", "1", "10", "exempt"))}
    Seller.objects.update(country="IT")  # no Italian exempt rate in the fixtures
    response = staff_client.post(reverse("admin:billing_invoice_add"), data)
    assert "No “exempt” tax rate for IT on 2026-11-22" in response.content.decode()
    assert Invoice.objects.count() == 0


def test_issued_invoices_are_read_only(staff_client: Client, alice: Membership) -> None:
    invoice = issued(alice)
    page = staff_client.get(reverse("admin:billing_invoice_change", args=[invoice.pk])).content.decode()
    assert 'name="_save"' not in page and "Record an offline payment" in page and "Issue a credit note" in page
    before = state()
    staff_client.post(reverse("admin:billing_invoice_change", args=[invoice.pk]), {"total_minor": "1"})
    assert state() == before


def test_staff_record_an_offline_payment_once(staff_client: Client, alice: Membership) -> None:
    invoice = issued(alice)
    url = reverse("admin:billing_invoice_payment", args=[invoice.pk])
    data = {"amount": "100.00", "method": "Bank transfer", "settled_on": "2026-11-24", "reference": "TRF-881"}
    assert staff_client.post(url, data).status_code == 302
    settlement = Settlement.objects.get()
    assert (settlement.kind, settlement.amount_minor, settlement.method, settlement.settled_on) == (
        "payment",
        10000,
        "Bank transfer",
        dt.date(2026, 11, 24),
    )
    before = state()
    again = staff_client.post(url, data)
    assert again.status_code == 200 and state() == before
    too_much = staff_client.post(url, {**data, "reference": "TRF-882", "amount": "21.01"}).content.decode()
    assert "more than the invoice still owes" in too_much and state() == before
    staff_client.post(url, {**data, "reference": "TRF-883", "amount": "21.00", "method": "Cash"})
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_date) == ("paid", dt.date(2026, 11, 24))


def test_staff_issue_credit_notes_and_cancel(staff_client: Client, alice: Membership) -> None:
    invoice = issued(alice)
    line = invoice.lines.get()
    url = reverse("admin:billing_invoice_credit_note", args=[invoice.pk])
    response = staff_client.post(url, {"reason": "Half a month of outage", f"line_{line.pk}": "0.5"})
    note = Invoice.objects.get(kind="credit_note")
    assert response["Location"] == reverse("admin:billing_invoice_change", args=[note.pk])
    assert (note.number, note.total_minor, note.corrects_id) == ("CN-2026-00001", 6050, invoice.pk)
    before = state()
    staff_client.post(
        reverse("admin:billing_invoice_changelist"), {"action": "cancel", "_selected_action": [str(invoice.pk)]}
    )
    assert state() == before  # no reason typed
    staff_client.post(
        reverse("admin:billing_invoice_changelist"),
        {"action": "cancel", "reason": "Customer left", "_selected_action": [str(invoice.pk)]},
    )
    invoice.refresh_from_db()
    assert invoice.status == "cancelled"
    assert list(Invoice.objects.filter(kind="credit_note").order_by("number").values_list("number", "total_minor")) == [
        ("CN-2026-00001", 6050),
        ("CN-2026-00002", 6050),
    ]


def test_staff_create_and_send_a_quote(staff_client: Client, alice: Membership) -> None:
    data = {
        "account": str(alice.account.pk),
        "subject": "New shop",
        **lines_data(("Shop setup", "1", "500", "standard")),
    }
    assert staff_client.post(reverse("admin:billing_quote_add"), data).status_code == 302
    quote = Quote.objects.get()
    assert (quote.status, quote.total_minor) == ("draft", 60500)
    staff_client.post(
        reverse("admin:billing_quote_changelist"), {"action": "send", "_selected_action": [str(quote.pk)]}
    )
    quote.refresh_from_db()
    assert (quote.status, quote.number, quote.valid_until) == ("sent", "Q-2026-00001", DAY + dt.timedelta(days=30))


def test_the_seller_is_a_single_row(staff_client: Client) -> None:
    assert staff_client.get(reverse("admin:billing_seller_add")).status_code == 403
    assert staff_client.get(reverse("admin:billing_seller_changelist")).status_code == 200


def test_every_billing_page_of_the_back_office_renders(staff_client: Client, alice: Membership) -> None:
    invoice = issued(alice)
    pages = [
        reverse("admin:billing_invoice_changelist"),
        reverse("admin:billing_invoice_add"),
        reverse("admin:billing_invoice_change", args=[invoice.pk]),
        reverse("admin:billing_invoice_credit_note", args=[invoice.pk]),
        reverse("admin:billing_invoice_payment", args=[invoice.pk]),
        reverse("admin:billing_quote_changelist"),
        reverse("admin:billing_quote_add"),
        reverse("admin:billing_taxrate_changelist"),
        reverse("admin:billing_billingpreference_changelist"),
        reverse("admin:billing_seller_change", args=[Seller.objects.get().pk]),
    ]
    for url in pages:
        assert staff_client.get(url).status_code == 200, url
    credit_page = staff_client.get(pages[3]).content.decode()
    assert "Up to €121.00 can still be credited." in credit_page and "Hosting (× 1)" in credit_page


def test_a_draft_cancelled_by_staff_stays_listed_as_cancelled_without_a_number(
    staff_client: Client, alice: Membership
) -> None:
    draft = invoice_create(
        account=alice.account,
        lines=[NewLine(description="Hosting for the wrong customer", quantity=Decimal(1), unit_price=Decimal("9.00"))],
        as_of=DAY,
    )
    response = staff_client.post(
        reverse("admin:billing_invoice_changelist"),
        {"action": "cancel", "reason": "Wrong customer", "_selected_action": [str(draft.pk)]},
    )
    assert response.status_code == 302
    assert state() == ([(draft.pk, "cancelled", "", 1089)], [])
    assert not Invoice.objects.filter(kind="credit_note").exists()
    listing = staff_client.get(reverse("admin:billing_invoice_changelist")).content.decode()
    assert f"draft {draft.pk}" in listing and "Cancelled" in listing
    page = staff_client.get(reverse("admin:billing_invoice_change", args=[draft.pk]))
    assert page.status_code == 200 and "Hosting for the wrong customer" in page.content.decode()
    # Never a document: no PDF, no balance, no operations.
    assert staff_client.get(reverse("staff-invoice-pdf", args=[draft.pk])).status_code == 404
    assert reverse("admin:billing_invoice_credit_note", args=[draft.pk]) not in listing


def test_staff_send_an_overdue_invoice_to_collections_after_confirming_with_a_reason(
    staff_client: Client, alice: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice = issued(alice)  # due 6 December 2026
    url = reverse("admin:billing_invoice_collections", args=[invoice.pk])
    change = reverse("admin:billing_invoice_change", args=[invoice.pk])
    # Not yet due: no operation offered, and the page refuses it, changing nothing.
    assert url not in staff_client.get(change).content.decode()
    before = state()
    refused = staff_client.post(url, {"reason": "Too early"}).content.decode()
    assert "Only an overdue invoice can be sent to collections; this one is “Unpaid”." in refused
    assert state() == before
    monkeypatch.setattr("sportello.staff.admin_billing.today_utc", lambda: dt.date(2026, 12, 7))
    assert f'<a href="{url}">Send to collections</a>' in staff_client.get(change).content.decode()
    confirm = staff_client.get(url).content.decode()
    assert "The invoice still owes €121.00, due on 2026-12-06." in confirm
    assert 'value="Send to collections"' in confirm and state() == before  # asking changes nothing
    # The reason is required.
    assert staff_client.post(url, {"reason": ""}).status_code == 200 and state() == before
    response = staff_client.post(url, {"reason": "Handed to the agency"})
    assert response.status_code == 302 and response["Location"] == change
    invoice.refresh_from_db()
    assert invoice.status == "collections"
    event = invoice.events.get(transition="collections")
    assert (event.from_status, event.actor.email, event.data["reason"]) == (
        "overdue",
        "ops@example.com",
        "Handed to the agency",
    )
    page = staff_client.get(change).content.decode()
    assert "INV-2026-00001 was sent to collections." in page and "In collections" in page
    assert url not in page and reverse("admin:billing_invoice_payment", args=[invoice.pk]) in page
    # Sent again: refused, nothing changes.
    before = state()
    again = staff_client.post(url, {"reason": "Twice"}).content.decode()
    assert "this one is “In collections”" in again and state() == before


def test_only_staff_allowed_to_change_invoices_reach_the_collections_page(alice: Membership, client: Client) -> None:
    invoice = issued(alice)
    viewer = User.objects.create_user("viewer@example.com", "viewer-passphrase-1", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client.force_login(viewer)
    url = reverse("admin:billing_invoice_collections", args=[invoice.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "Not mine to decide"}).status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == "open"


def test_an_invoice_page_shows_its_parties_and_money_formatted(staff_client: Client, alice: Membership) -> None:
    draft = invoice_create(
        account=alice.account,
        lines=[NewLine(description="Backups", quantity=Decimal(10), unit_price=Decimal("5.99"))],
        as_of=DAY,
    )
    invoice = invoice_issue(invoice=draft, as_of=DAY)
    staff_client.post(
        reverse("admin:billing_invoice_payment", args=[invoice.pk]),
        {"amount": "20.00", "method": "Bank transfer", "settled_on": "2026-11-24", "reference": "TRF-1"},
    )
    page = staff_client.get(reverse("admin:billing_invoice_change", args=[invoice.pk])).content.decode()
    assert (
        '<div class="readonly">Alice Servicios S.L.<br>Madrid<br>Spain<br>VAT number: ESB12345674<br>'
        f"Customer number: {alice.account.reference}</div>"
    ) in page
    assert (
        '<div class="readonly">Sportello Hosting S.L.<br>Calle Mayor 1<br>28013 Madrid<br>Spain<br>'
        "VAT number: ESB12345674</div>"
    ) in page
    assert "address_lines" not in page
    cells = {
        "unit_price_shown": "€5.99",
        "amount_shown": "€59.90",
        "taxable_shown": "€59.90",
        "tax_shown": "€12.58",
    }
    for name, shown in cells.items():
        assert f'<td class="field-{name}">\n              \n                  <p>{shown}</p>' in page
    assert '<td class="field-amount_shown">\n              \n                  <p>€20.00</p>' in page  # the payment
    assert "5.990000" not in page and "<p>599</p>" not in page and "<p>5990</p>" not in page
    line = invoice.lines.get()
    staff_client.post(
        reverse("admin:billing_invoice_credit_note", args=[invoice.pk]),
        {"reason": "Two unused", f"line_{line.pk}": "2"},
    )
    note = Invoice.objects.get(kind="credit_note")
    page = staff_client.get(reverse("admin:billing_invoice_change", args=[note.pk])).content.decode()
    assert '<td class="field-unit_price_shown">\n              \n                  <p>€5.99</p>' in page
    assert '<td class="field-amount_shown">\n              \n                  <p>€11.98</p>' in page
    assert '<div class="readonly">Alice Servicios S.L.<br>Madrid<br>Spain<br>' in page
