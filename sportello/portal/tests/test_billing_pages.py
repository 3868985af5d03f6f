"""The client area's billing pages: overview and dashboard figures, the invoices list with its
status groups, sorting, pagination and totals, the invoice and credit note pages, the CSV
files and "email me this list", the billing history and the account statement.

Alice (Spain, EUR, 21 % VAT) has, on 1 March 2026:
  D  242.00 issued 05 Jan, due 19 Jan, paid 15 Jan by card         -> paid
  CN  24.20 issued 05 Feb, corrects D                              -> credit note
  A  121.00 issued 10 Jan, due 24 Jan, unpaid                      -> overdue
  E    6.05 issued 20 Jan, due 03 Feb, cancelled                   -> cancelled
  B   60.50 issued 01 Feb, due 15 Feb, 20.00 paid on 10 Feb        -> overdue, partially paid (40.50 due)
  F   36.30 USD issued 10 Feb, due 24 Feb, unpaid                  -> overdue (second currency)
  C   12.10 issued 20 Feb, due 06 Mar, unpaid                      -> not yet due
Bob (Brazil, BRL) has one overdue invoice, which must never show up for Alice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.billing.models import (
    DocumentKind,
    Invoice,
    InvoiceStatus,
    Seller,
    SettlementKind,
    TaxCategory,
    TaxRate,
)
from sportello.billing.services import (
    NewLine,
    invoice_create,
    invoice_issue,
    invoice_send_to_collections,
    invoice_settle,
)
from sportello.billing.taxes import TaxDecision
from sportello.core.money import Money
from sportello.core.testing import Clock
from sportello.notifications.models import EmailLog
from sportello.payments.services import credit_adjust
from sportello.payments.tests.conftest import pay_confirmed
from sportello.portal.csv_export import csv_cell
from sportello.portal.views import billing as billing_views

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def day(month: int, number: int) -> dt.date:
    return dt.date(2026, month, number)


def issue(membership: Membership, price: str, issued: dt.date, due: dt.date, currency: str | None = None) -> Invoice:
    line = NewLine(description=f"Hosting {price}", quantity=Decimal(1), unit_price=Decimal(price))
    draft = invoice_create(account=membership.account, lines=[line], as_of=issued, currency=currency)
    return invoice_issue(invoice=draft, as_of=issued, due_date=due)


def pay(invoice: Invoice, amount: str, on: dt.date, method: str = "Bank transfer", reference: str = "") -> None:
    invoice_settle(
        invoice=invoice,
        amount=Money(amount, invoice.currency),
        kind=SettlementKind.PAYMENT,
        reference=reference or f"pay-{invoice.pk}-{amount}",
        settled_on=on,
        method=method,
    )


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(NOW)
    monkeypatch.setattr("sportello.portal.views.billing.utc_now", clock)
    monkeypatch.setattr("sportello.portal.templatetags.portal_billing.utc_now", clock)


@pytest.fixture
def taxes(db: None) -> None:
    Seller.objects.update_or_create(
        pk=1, defaults={"name": "Sportello Hosting S.L.", "country": "ES", "vat_id": "ESB12345674", "city": "Madrid"}
    )
    TaxRate.objects.create(
        country="ES", tax_class="standard", name="IVA 21%", rate=Decimal(21), valid_from=dt.date(2000, 1, 1)
    )


@pytest.fixture
def docs(alice: Membership, bob: Membership, taxes: None) -> dict[str, Invoice]:
    d = issue(alice, "200.00", day(1, 5), day(1, 19))
    pay(d, "242.00", day(1, 15), method="Card •••• 4242")
    a = issue(alice, "100.00", day(1, 10), day(1, 24))
    e = issue(alice, "5.00", day(1, 20), day(2, 3))
    # The cancel transition's service arrives with the back office; the pages only read the status.
    Invoice.objects.filter(pk=e.pk).update(status=InvoiceStatus.CANCELLED)
    b = issue(alice, "50.00", day(2, 1), day(2, 15))
    pay(b, "20.00", day(2, 10))
    line = d.lines.get()
    note = invoice_create(
        account=alice.account,
        kind=DocumentKind.CREDIT_NOTE,
        corrects=d,
        lines=[
            NewLine(
                description="Credit for downtime",
                quantity=Decimal(1),
                unit_price=Decimal("20.00"),
                tax=TaxDecision(Decimal(21), TaxCategory.STANDARD, "IVA 21%", False, ""),
                corrects_line_id=line.pk,
            )
        ],
        as_of=day(2, 5),
    )
    cn = invoice_issue(invoice=note, as_of=day(2, 5))
    f = issue(alice, "30.00", day(2, 10), day(2, 24), currency="USD")
    c = issue(alice, "10.00", day(2, 20), day(3, 6))
    bobs = issue(bob, "100.00", day(2, 1), day(2, 10))
    # A draft: never visible to the customer.
    draft = invoice_create(
        account=alice.account,
        lines=[NewLine(description="Draft", quantity=Decimal(1), unit_price=Decimal("999"))],
        as_of=day(2, 25),
    )
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f, "CN": cn, "bob": bobs, "draft": draft}


def text(response: Any) -> str:
    return response.content.decode()


def numbers_in(body: str, docs: dict[str, Invoice]) -> list[str]:
    """The documents a page lists, in the order it lists them (by their rows' links)."""
    found = []
    for key, document in docs.items():
        if document.display_number and f">{document.display_number}</a>" in body:
            found.append((body.index(f">{document.display_number}</a>"), key))
    return [key for _, key in sorted(found)]


def parse_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


# --- Numbers of the documents, for reading tests ------------------------------------------------


def test_the_fixture_numbers_follow_issue_order(docs: dict[str, Invoice]) -> None:
    assert [docs[k].display_number for k in ("D", "A", "E", "B", "CN", "F", "C", "bob")] == [
        "INV-2026-00001",
        "INV-2026-00002",
        "INV-2026-00003",
        "INV-2026-00004",
        "CN-2026-00001",
        "INV-2026-00005",
        "INV-2026-00006",
        "INV-2026-00007",
    ]


# --- Dashboard and overview ----------------------------------------------------------------------


def test_the_dashboard_cards_say_what_is_overdue_next_and_open_per_currency(
    alice_client: Client, docs: dict[str, Invoice]
) -> None:
    body = text(alice_client.get(reverse("portal:dashboard")))
    cards = body[body.index('id="money-heading"') : body.index('id="areas-heading"')]
    overdue = cards[: cards.index("Next invoice due")]
    assert "card-danger" in body
    assert "€161.50" in overdue and "2 invoices past their due date" in overdue
    assert "US$36.30" in overdue and "1 invoice past its due date" in overdue
    assert 'href="/billing/invoices/?status=overdue"' in overdue
    next_due = cards[cards.index("Next invoice due") : cards.index("Open balance")]
    assert "€12.10" in next_due and "Due on 6 Mar 2026 · invoice INV-2026-00006" in next_due
    assert f'<a href="{reverse("portal:invoice", args=["INV-2026-00006"])}">Next invoice due</a>' in cards
    open_balance = cards[cards.index("Open balance") : cards.index("<h3>", cards.index("Open balance"))]
    assert "€173.60" in open_balance and "3 unpaid invoices, overdue included" in open_balance
    assert "US$36.30" in open_balance and "1 unpaid invoice, overdue included" in open_balance
    # No credit: a zero in the account's currency, and how to get some.
    credit = cards[cards.index("<h3>", cards.index("Open balance")) :]
    assert f'<a href="{reverse("portal:credit")}">Account credit</a>' in credit
    assert credit.count('class="card-figure"') == 1 and '<p class="card-figure">€0.00</p>' in credit
    assert "No credit to use: add funds to pay your invoices from it." in credit
    assert cards.count('<li class="card') == 4
    # Bob's overdue BRL invoice is nowhere.
    assert "R$" not in cards and "BRL" not in cards


def test_the_overdue_card_has_a_pay_button_per_currency_with_its_invoices_ticked(
    alice_client: Client, docs: dict[str, Invoice]
) -> None:
    body = text(alice_client.get(reverse("portal:dashboard")))
    cards = body[body.index('id="money-heading"') : body.index('id="areas-heading"')]
    overdue = cards[: cards.index("Next invoice due")]
    pay = reverse("portal:pay")
    a, b, f = (docs[key].display_number for key in ("A", "B", "F"))
    # Oldest due first, as a payment settles them; one currency per payment.
    assert f'<a class="button button-primary" href="{pay}?invoice={a}&amp;invoice={b}">Pay €161.50</a>' in overdue
    assert f'<a class="button button-primary" href="{pay}?invoice={f}">Pay US$36.30</a>' in overdue
    assert overdue.count(pay) == 2
    page = text(alice_client.get(pay, {"invoice": [a, b]}))
    for number in (a, b):
        row = page[page.index(f'value="{number}"') : page.index(">", page.index(f'value="{number}"'))]
        assert row.endswith(" checked"), number
    unticked = page[page.index(f'value="{f}"') : page.index(">", page.index(f'value="{f}"'))]
    assert not unticked.endswith(" checked")


def test_the_overdue_card_has_no_pay_button_for_a_read_only_member(
    client: Client, alice: Membership, docs: dict[str, Invoice]
) -> None:
    viewer = User.objects.create_user("viewer@example.org", "x" * 12)
    membership_add(account=alice.account, user=viewer, role=Role.READ_ONLY)
    client.force_login(viewer)
    body = text(client.get(reverse("portal:dashboard")))
    assert "€161.50" in body and reverse("portal:pay") not in body


def test_the_credit_card_shows_the_credit_held_in_each_currency(
    alice_client: Client, alice: Membership, bob: Membership, docs: dict[str, Invoice]
) -> None:
    credit_adjust(account=alice.account, amount=Money("25.00", "EUR"), note="Welcome credit", by=None)
    credit_adjust(account=alice.account, amount=Money("10.00", "USD"), note="Goodwill", by=None)
    # Credit once held in BRL and spent: nothing to show for it.
    credit_adjust(account=alice.account, amount=Money("5.00", "BRL"), note="Goodwill", by=None)
    credit_adjust(account=alice.account, amount=Money("-5.00", "BRL"), note="Correction", by=None)
    credit_adjust(account=bob.account, amount=Money("99.00", "BRL"), note="Bob's", by=None)
    for url in (reverse("portal:dashboard"), reverse("portal:billing")):
        body = text(alice_client.get(url))
        cards = body[body.index('id="money-heading"') : body.index("</section>", body.index('id="money-heading"'))]
        credit = cards[cards.index(">Account credit</a>") :]
        assert credit.count('class="card-figure"') == 2, url
        assert credit.index("€25.00") < credit.index("US$10.00")  # the account's currency first
        assert "Money you have with us: it pays your invoices before any card or transfer." in credit
        assert "R$" not in credit and "No credit to use" not in credit


def test_the_dashboard_cards_say_nothing_is_owed_without_invoices(alice_client: Client) -> None:
    body = text(alice_client.get(reverse("portal:dashboard")))
    assert "Nothing overdue" in body and "Nothing to pay" in body and "No invoice is waiting to fall due." in body
    assert '<p class="card-figure">€0.00</p>' in body and "No credit to use" in body
    assert "card-danger" not in body


def test_a_member_without_billing_sees_no_money_on_the_dashboard(client: Client, alice: Membership, docs: Any) -> None:
    tech = User.objects.create_user("tech@example.org", "x" * 12)
    membership_add(account=alice.account, user=tech, role=Role.TECHNICAL)
    client.force_login(tech)
    body = text(client.get(reverse("portal:dashboard")))
    assert "Billing at a glance" not in body and "€" not in body
    assert client.get(reverse("portal:invoices")).status_code == 404
    assert client.get(reverse("portal:invoice", args=["INV-2026-00001"])).status_code == 404


def test_the_overview_lists_unpaid_invoices_overdue_first(alice_client: Client, docs: dict[str, Invoice]) -> None:
    body = text(alice_client.get(reverse("portal:billing")))
    table = body[body.index('id="invoices-heading"') : body.index('id="details-heading"')]
    assert numbers_in(table, docs) == ["A", "B", "F", "C"]
    assert "Alice Servicios S.L." in body and "ESB12345674" in body


# --- The invoices list ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("all", ["A", "B", "F", "C", "D", "E", "CN"]),
        ("overdue", ["A", "B", "F"]),
        ("open", ["C"]),
        ("partially_paid", ["B"]),
        ("paid", ["D"]),
        ("cancelled", ["E"]),
        ("credit_notes", ["CN"]),
        ("nonsense", ["A", "B", "F", "C", "D", "E", "CN"]),
    ],
)
def test_the_status_filters_show_their_group_and_never_another_account(
    alice_client: Client, docs: dict[str, Invoice], status: str, expected: list[str]
) -> None:
    response = alice_client.get(reverse("portal:invoices"), {"status": status})
    assert response.status_code == 200
    body = text(response)
    assert numbers_in(body, docs) == expected
    assert docs["bob"].number not in body and "Bob" not in body


def test_the_filter_links_count_and_mark_the_current_one(alice_client: Client, docs: dict[str, Invoice]) -> None:
    body = text(alice_client.get(reverse("portal:invoices"), {"status": "overdue"}))
    nav = body[body.index('class="status-filters"') : body.index("</nav>", body.index('class="status-filters"'))]
    for label, count in [
        ("All", 7),
        ("Overdue", 3),
        ("Not yet due", 1),
        ("Partially paid", 1),
        ("Paid", 1),
        ("Cancelled or refunded", 1),
        ("Credit notes", 1),
    ]:
        assert f'{label} <span class="filter-count">({count})</span>' in nav
    assert nav.count('aria-current="page"') == 1
    assert 'href="/billing/invoices/?status=overdue&amp;sort=status" aria-current="page"' in nav


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("number", ["A", "B", "F"]),
        ("-number", ["F", "B", "A"]),
        ("due_date", ["A", "B", "F"]),
        ("-due_date", ["F", "B", "A"]),
        ("issue_date", ["A", "B", "F"]),
        ("total", ["B", "A", "F"]),  # EUR before USD, then by amount
        ("-balance", ["F", "A", "B"]),
        ("status", ["A", "B", "F"]),
    ],
)
def test_the_columns_sort_both_ways(
    alice_client: Client, docs: dict[str, Invoice], sort: str, expected: list[str]
) -> None:
    body = text(alice_client.get(reverse("portal:invoices"), {"status": "overdue", "sort": sort}))
    assert numbers_in(body, docs) == expected


def test_the_sorted_column_says_so_and_links_to_the_reverse(alice_client: Client, docs: Any) -> None:
    body = text(alice_client.get(reverse("portal:invoices"), {"status": "paid", "sort": "due_date"}))
    assert (
        '<th scope="col" aria-sort="ascending"><a class="sort-link" '
        'href="/billing/invoices/?status=paid&amp;sort=-due_date">Due date' in body
    )
    assert body.count("aria-sort=") == 1


def test_the_list_is_paginated_keeping_filter_and_sort(
    alice_client: Client, docs: dict[str, Invoice], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(billing_views, "PAGE_SIZE", 2)
    first = text(alice_client.get(reverse("portal:invoices"), {"status": "overdue", "sort": "-due_date"}))
    assert numbers_in(first, docs) == ["F", "B"]
    assert 'href="/billing/invoices/?status=overdue&amp;sort=-due_date&amp;page=2"' in first
    second = text(alice_client.get(reverse("portal:invoices"), {"status": "overdue", "sort": "-due_date", "page": "2"}))
    assert numbers_in(second, docs) == ["A"]
    # A page past the end shows the last one, not an error.
    assert numbers_in(
        text(alice_client.get(reverse("portal:invoices"), {"status": "overdue", "page": "99"})), docs
    ) == ["F"]


def test_the_totals_under_the_list_are_per_currency_over_every_page(
    alice_client: Client, docs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(billing_views, "PAGE_SIZE", 2)
    body = text(alice_client.get(reverse("portal:invoices")))
    foot = body[body.index("<tfoot>") : body.index("</tfoot>")]
    # EUR: 242.00 - 24.20 + 121.00 + 6.05 + 60.50 + 12.10; still due 121.00 + 40.50 + 12.10.
    assert "Total in EUR (6 documents)" in foot and "€417.45" in foot and "€173.60" in foot
    assert "Total in USD (1 document)" in foot and "US$36.30" in foot
    assert foot.index("EUR") < foot.index("USD")


# --- One document --------------------------------------------------------------------------------


def test_the_invoice_page_shows_parties_lines_taxes_payments_and_balance(
    alice_client: Client, docs: dict[str, Invoice]
) -> None:
    response = alice_client.get(reverse("portal:invoice", args=[docs["B"].number]))
    assert response.status_code == 200
    body = text(response)
    for expected in [
        "Invoice INV-2026-00004",
        'badge-overdue">Overdue',
        "Sportello Hosting S.L.",
        "Alice Servicios S.L.",
        "ESB12345674",
        "Hosting 50.00",
        "€50.00",  # unit price and amount
        "21%",
        "IVA 21%",
        "€10.50",  # tax
        "€60.50",
        "Balance due: €40.50",
        "10 Feb 2026",
        "Bank transfer",
        "€20.00",
        "No credit note corrects this invoice.",
    ]:
        assert expected in body, expected


def test_the_invoice_page_lists_its_credit_notes_and_the_note_links_back(
    alice_client: Client, docs: dict[str, Invoice]
) -> None:
    body = text(alice_client.get(reverse("portal:invoice", args=[docs["D"].number])))
    assert f'href="{reverse("portal:credit-note", args=["CN-2026-00001"])}">Credit note CN-2026-00001</a>' in body
    assert "Card •••• 4242" in body and 'badge-paid">Paid' in body
    note = text(alice_client.get(reverse("portal:credit-note", args=["CN-2026-00001"])))
    assert "Credit note CN-2026-00001" in note and "Credit for downtime" in note and "€24.20" in note
    assert f'href="{reverse("portal:invoice", args=["INV-2026-00001"])}"' in note


def test_a_credit_note_is_negative_in_the_list_on_its_page_its_printable_page_and_its_pdf(
    alice_client: Client, docs: dict[str, Invoice]
) -> None:
    """One sign convention (Invoice.shown_sign): 20.00 + 4.20 IVA credited reads -€24.20
    wherever the note is shown; stored figures stay positive."""
    note = docs["CN"]
    assert (note.net_minor, note.tax_minor, note.total_minor) == (2000, 420, 2420)
    listed = text(alice_client.get(reverse("portal:invoices"), {"status": "credit_notes"}))
    row = listed[listed.index(f">{note.number}</a>") : listed.index("</tr>", listed.index(f">{note.number}</a>"))]
    assert '<td class="num">-€24.20</td>' in row
    page = text(alice_client.get(reverse("portal:credit-note", args=[note.number])))
    lines = page[page.index('id="lines-heading"') : page.index("</table>", page.index('id="lines-heading"'))]
    # Unit price and amount: quantity 1 x -€20.00 = -€20.00.
    assert lines.count('<td class="num">-€20.00</td>') == 2
    taxes = page[page.index('id="taxes-heading"') : page.index("</table>", page.index('id="taxes-heading"'))]
    assert '<td class="num">-€20.00</td>' in taxes and '<td class="num">-€4.20</td>' in taxes
    totals = page[page.index('id="totals-heading"') : page.index("</dl>", page.index('id="totals-heading"'))]
    assert "<dd>-€20.00</dd>" in totals and "<dd>-€4.20</dd>" in totals and "<dd>-€24.20</dd>" in totals
    assert "€24.20" not in totals.replace("-€24.20", "")
    corrected = text(alice_client.get(reverse("portal:invoice", args=[docs["D"].number])))
    assert f"Credit note {note.number}</a> · 5 Feb 2026 · -€24.20" in corrected
    printable = text(alice_client.get(reverse("portal:credit-note-print", args=[note.number])))
    assert "<dd>-€24.20</dd>" in printable and "<dd>€24.20</dd>" not in printable
    pdf = alice_client.get(reverse("portal:credit-note-pdf", args=[note.number]))
    pdf_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "-€24.20" in pdf_text.replace("\xa0", " ") and "-€4.20" in pdf_text


def test_print_and_pdf_links_appear_only_when_those_pages_exist(alice_client: Client, docs: Any) -> None:
    body = text(alice_client.get(reverse("portal:invoice", args=["INV-2026-00001"])))
    from django.urls import NoReverseMatch

    try:
        pdf = reverse("portal:invoice-pdf", args=["INV-2026-00001"])
    except NoReverseMatch:
        assert "Download PDF" not in body
    else:
        assert f'href="{pdf}"' in body


@pytest.mark.parametrize(
    "path",
    [
        ("portal:invoice", "INV-2026-00007"),  # bob's
        ("portal:invoice", "INV-2026-00099"),  # a guess
        ("portal:invoice", "CN-2026-00001"),  # a credit note is not an invoice
        ("portal:credit-note", "INV-2026-00001"),
        ("portal:credit-note", "CN-2026-00002"),
    ],
)
def test_another_accounts_guessed_or_wrong_kind_numbers_are_404(
    alice_client: Client, docs: Any, path: tuple[str, str]
) -> None:
    name, number = path
    assert alice_client.get(reverse(name, args=[number])).status_code == 404


def test_drafts_are_never_visible(alice_client: Client, docs: dict[str, Invoice]) -> None:
    draft = docs["draft"]
    assert draft.number == "" and draft.status == InvoiceStatus.DRAFT
    body = text(alice_client.get(reverse("portal:invoices")))
    assert "Draft" not in body and "€1,208.79" not in body
    assert alice_client.get(f"/billing/invoices/{draft.pk}/").status_code == 404


def test_bob_cannot_open_alices_invoice(client: Client, bob: Membership, docs: dict[str, Invoice]) -> None:
    client.force_login(bob.user)
    assert client.get(reverse("portal:invoice", args=[docs["A"].number])).status_code == 404
    assert client.get(reverse("portal:invoice", args=[docs["bob"].number])).status_code == 200


# --- An invoice in collections ------------------------------------------------------------------


def test_an_invoice_in_collections_stays_in_the_overdue_group_says_so_and_can_be_paid(
    alice: Membership, alice_client: Client, docs: dict[str, Invoice]
) -> None:
    staff = User.objects.create_user("ops@example.org", "ops-staff-passphrase-1", is_staff=True)
    invoice_send_to_collections(invoice=docs["A"], reason="Handed to the agency", as_of=day(3, 1), by=staff)
    listing = text(alice_client.get(reverse("portal:invoices"), {"status": "overdue"}))
    assert numbers_in(listing, docs) == ["A", "B", "F"]
    row = listing[listing.index(f">{docs['A'].number}</a>") : listing.index("</tr>", listing.index(docs["A"].number))]
    assert '<span class="badge badge-collections">In collections</span>' in row and "€121.00" in row
    nav = listing[listing.index('class="status-filters"') : listing.index("</nav>", listing.index("status-filters"))]
    assert 'Overdue <span class="filter-count">(3)</span>' in nav
    # Still owed and past due: counted with the overdue invoices on the dashboard.
    cards = text(alice_client.get(reverse("portal:dashboard")))
    assert "€161.50" in cards and "2 invoices past their due date" in cards
    page = text(alice_client.get(reverse("portal:invoice", args=[docs["A"].number])))
    assert '<span class="badge badge-collections">In collections</span>' in page
    assert '<div class="alert alert-error">' in page
    assert "the due date has passed and the invoice has been sent to collections. Paying it settles it." in page
    assert f'href="{reverse("portal:invoice-pay", args=[docs["A"].number])}"' in page
    # The customer pays it (from credit here): paid, through the usual settlement.
    credit_adjust(account=alice.account, amount=Money("121.00", "EUR"), note="Transfer to us", by=None)
    response = pay_confirmed(
        alice_client,
        reverse("portal:invoice-pay", args=[docs["A"].number]),
        {"invoices": docs["A"].number, "method": "credit"},
    )
    assert response.status_code == 302
    docs["A"].refresh_from_db()
    assert docs["A"].status == InvoiceStatus.PAID
    paid = text(alice_client.get(reverse("portal:invoices"), {"status": "paid"}))
    assert numbers_in(paid, docs) == ["D", "A"]  # by due date


# --- CSV -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+33 1", "'+33 1"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-12.50", "-12.50"),  # a negative amount stays a number
        ("12.50", "12.50"),
        ("Hosting", "Hosting"),
        ("", ""),
    ],
)
def test_csv_cells_never_run_as_formulas(value: str, cell: str) -> None:
    assert csv_cell(value) == cell


def test_the_list_csv_holds_the_filtered_list_with_plain_amounts(alice_client: Client, docs: Any) -> None:
    response = alice_client.get(reverse("portal:invoices-csv"), {"status": "all", "sort": "number"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="invoices-{docs["A"].account.reference}-all.csv"'
    rows = parse_csv(response.content)
    assert rows == [
        ["Type", "Number", "Issue date", "Due date", "Status", "Total", "Balance due", "Currency", "Corrects invoice"],
        ["Credit note", "CN-2026-00001", "2026-02-05", "", "Credit note", "-24.20", "0.00", "EUR", "INV-2026-00001"],
        ["Invoice", "INV-2026-00001", "2026-01-05", "2026-01-19", "Paid", "242.00", "0.00", "EUR", ""],
        ["Invoice", "INV-2026-00002", "2026-01-10", "2026-01-24", "Overdue", "121.00", "121.00", "EUR", ""],
        ["Invoice", "INV-2026-00003", "2026-01-20", "2026-02-03", "Cancelled", "6.05", "0.00", "EUR", ""],
        ["Invoice", "INV-2026-00004", "2026-02-01", "2026-02-15", "Overdue", "60.50", "40.50", "EUR", ""],
        ["Invoice", "INV-2026-00005", "2026-02-10", "2026-02-24", "Overdue", "36.30", "36.30", "USD", ""],
        ["Invoice", "INV-2026-00006", "2026-02-20", "2026-03-06", "Unpaid", "12.10", "12.10", "EUR", ""],
    ]


def test_the_history_lists_paid_charges_with_method_and_total_and_escapes_csv(
    alice_client: Client, docs: dict[str, Invoice]
) -> None:
    c = docs["C"]
    pay(c, "12.10", day(2, 27), method='=HYPERLINK("http://evil.example","x")')
    body = text(alice_client.get(reverse("portal:billing-history")))
    assert numbers_in(body, docs) == ["C", "D"]
    assert "Total paid in EUR" in body and "€254.10" in body
    rows = parse_csv(alice_client.get(reverse("portal:billing-history-csv")).content)
    assert rows == [
        ["Number", "Issue date", "Due date", "Settlement date", "Method", "Amount", "Currency"],
        [
            "INV-2026-00006",
            "2026-02-20",
            "2026-03-06",
            "2026-02-27",
            '\'=HYPERLINK("http://evil.example","x")',
            "12.10",
            "EUR",
        ],
        ["INV-2026-00001", "2026-01-05", "2026-01-19", "2026-01-15", "Card •••• 4242", "242.00", "EUR"],
    ]


# --- Email me this list ----------------------------------------------------------------------------


def test_email_me_this_list_sends_the_filtered_csv_to_the_member_and_logs_it(
    alice_client: Client, alice: Membership, docs: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.PROVIDER_NAME = "Sportello"
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("portal:invoices-email"), {"status": "overdue", "sort": "-due_date"})
    assert response.status_code == 302
    assert response["Location"] == "/billing/invoices/?status=overdue&sort=-due_date"
    [message] = mail.outbox
    assert message.to == ["alice@example.org"]
    assert message.subject == "Your invoice list from Sportello: Overdue"
    assert "(“Overdue”): 3 documents, as a CSV file" in message.body
    assert "Total €181.50, of which still due €161.50." in message.body
    assert "Total US$36.30, of which still due US$36.30." in message.body
    [(name, content, mimetype)] = message.attachments
    assert (name, mimetype) == (f"invoices-{alice.account.reference}-overdue.csv", "text/csv")
    rows = parse_csv(content.encode() if isinstance(content, str) else content)
    assert [row[1] for row in rows] == ["Number", "INV-2026-00005", "INV-2026-00004", "INV-2026-00002"]
    entry = EmailLog.objects.get()
    assert (entry.account, entry.recipient, entry.kind, entry.status) == (alice.account, alice.user, "list", "sent")
    assert entry.attachment_names == [f"invoices-{alice.account.reference}-overdue.csv"]
    log = text(alice_client.get(reverse("portal:email-log")))
    assert "Your invoice list from Sportello: Overdue" in log


def test_email_me_this_list_refuses_get_and_needs_billing(client: Client, alice: Membership, docs: Any) -> None:
    client.force_login(alice.user)
    assert client.get(reverse("portal:invoices-email")).status_code == 405
    tech = User.objects.create_user("tech@example.org", "x" * 12)
    membership_add(account=alice.account, user=tech, role=Role.TECHNICAL)
    client.force_login(tech)
    assert client.post(reverse("portal:invoices-email"), {"status": "all"}).status_code == 404
    assert EmailLog.objects.count() == 0 and mail.outbox == []


# --- Account statement -----------------------------------------------------------------------------


def test_the_statement_has_opening_entries_running_balance_and_closing(
    alice_client: Client, docs: dict[str, Invoice]
) -> None:
    response = alice_client.get(reverse("portal:statement"), {"start": "2026-02-01", "end": "2026-02-28"})
    body = text(response)
    eur = body[body.index("Statement in EUR") : body.index("Statement in USD")]
    # Opening: 242.00 + 121.00 + 6.05 invoiced before February, 242.00 paid = 127.05.
    assert "€127.05" in eur
    order = [
        ("Invoice INV-2026-00004", "€60.50", "€187.55"),
        ("Credit note CN-2026-00001", "-€24.20", "€163.35"),
        ("Payment of invoice INV-2026-00004 (Bank transfer)", "-€20.00", "€143.35"),
        ("Invoice INV-2026-00006", "€12.10", "€155.45"),
    ]
    positions = [eur.index(description) for description, _, _ in order]
    assert positions == sorted(positions)
    for description, amount, balance in order:
        row = eur[eur.index(description) : eur.index("</tr>", eur.index(description))]
        assert amount in row and balance in row, description
    assert eur.count("€155.45") >= 2  # last entry and closing balance
    usd = body[body.index("Statement in USD") :]
    assert "Invoice INV-2026-00005" in usd and "US$36.30" in usd


def test_the_statement_csv_has_the_same_figures(alice_client: Client, docs: Any) -> None:
    response = alice_client.get(reverse("portal:statement-csv"), {"start": "2026-02-01", "end": "2026-02-28"})
    rows = parse_csv(response.content)
    assert rows == [
        ["Date", "Type", "Description", "Reference", "Amount", "Balance", "Currency"],
        ["2026-02-01", "", "Opening balance", "", "", "127.05", "EUR"],
        ["2026-02-01", "Invoice", "Invoice INV-2026-00004", "INV-2026-00004", "60.50", "187.55", "EUR"],
        ["2026-02-05", "Credit note", "Credit note CN-2026-00001", "CN-2026-00001", "-24.20", "163.35", "EUR"],
        [
            "2026-02-10",
            "Payment",
            "Payment of invoice INV-2026-00004 (Bank transfer)",
            "INV-2026-00004",
            "-20.00",
            "143.35",
            "EUR",
        ],
        ["2026-02-20", "Invoice", "Invoice INV-2026-00006", "INV-2026-00006", "12.10", "155.45", "EUR"],
        ["2026-02-28", "", "Closing balance", "", "", "155.45", "EUR"],
        ["2026-02-01", "", "Opening balance", "", "", "0.00", "USD"],
        ["2026-02-10", "Invoice", "Invoice INV-2026-00005", "INV-2026-00005", "36.30", "36.30", "USD"],
        ["2026-02-28", "", "Closing balance", "", "", "36.30", "USD"],
    ]


def test_the_statement_defaults_to_this_year_so_far(alice_client: Client, docs: Any) -> None:
    body = text(alice_client.get(reverse("portal:statement")))
    assert 'value="2026-01-01"' in body and 'value="2026-03-01"' in body
    # Everything of 2026 up to 1 March: 242 + 121 + 6.05 + 60.50 - 24.20 + 12.10 - 242 - 20 = 155.45.
    assert "Statement in EUR, 1 Jan 2026 – 1 Mar 2026" in body and "€155.45" in body


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"start": "2026-03-01", "end": "2026-02-01"}, "The end date must be on or after the start date."),
        ({"start": "not a date", "end": "2026-02-01"}, "Enter a valid date."),
        ({"start": "2026-01-01"}, "This field is required."),
        ({"start": "1990-01-01", "end": "2026-01-01"}, "A statement covers at most ten years"),
    ],
)
def test_bad_statement_dates_are_said_next_to_the_field(
    alice_client: Client, docs: Any, params: dict[str, str], error: str
) -> None:
    response = alice_client.get(reverse("portal:statement"), params)
    assert response.status_code == 200
    body = text(response)
    assert 'class="field-error"' in body and error in body
    assert "Opening balance" not in body
    assert alice_client.get(reverse("portal:statement-csv"), params).status_code == 302


def test_the_statement_never_counts_another_accounts_documents(client: Client, bob: Membership, docs: Any) -> None:
    client.force_login(bob.user)
    rows = parse_csv(client.get(reverse("portal:statement-csv"), {"start": "2026-01-01", "end": "2026-03-01"}).content)
    assert rows[1:] == [
        ["2026-01-01", "", "Opening balance", "", "", "0.00", "BRL"],
        ["2026-02-01", "Invoice", "Invoice INV-2026-00007", "INV-2026-00007", "100.00", "100.00", "BRL"],
        ["2026-03-01", "", "Closing balance", "", "", "100.00", "BRL"],
    ]
