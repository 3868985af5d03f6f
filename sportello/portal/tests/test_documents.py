"""Invoice, credit note and quote downloads and printable pages in the client area, and the
staff download: the member's own documents only, others' (or guessed numbers) are 404."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.billing.calc import line_amount_minor
from sportello.billing.models import (
    DocumentKind,
    Invoice,
    InvoiceStatus,
    Quote,
    QuoteLine,
    QuoteStatus,
    QuoteTax,
    SettlementKind,
)
from sportello.billing.payment_codes import epc_payload
from sportello.billing.printed import invoice_printed, minor_display, unit_price_display
from sportello.billing.selectors import document_lines_shown
from sportello.billing.selectors_portal import shown_status
from sportello.billing.services import NewLine, invoice_create, invoice_issue, invoice_settle
from sportello.billing.taxes import TaxDecision
from sportello.billing.tests.conftest import billing_setup, seller, tax_rates  # noqa: F401 (fixtures)
from sportello.billing.tests.document_readers import data_uri_svg, qr_decode, qr_modules_in, svg_qr_modules
from sportello.core.money import Money, currency_exponent
from sportello.core.time import local_date, utc_now
from sportello.portal.csv_export import plain_amount

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("billing_setup")]
DAY = dt.date(2026, 3, 2)


def text_of(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).replace("\xa0", " ")


def printable_qr(page: str) -> str:
    """What the payment QR code on a printable page reads: its SVG image, decoded."""
    (source,) = re.findall(r'<img src="(data:image/svg\+xml;base64,[^"]+)"', page)
    return qr_decode(svg_qr_modules(data_uri_svg(source)))


def plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


class HtmlFigures(HTMLParser):
    """What an HTML page shows in its tables and definition lists: every table as its rows
    of cell texts (header row included), and every <dt>/<dd> pair, in page order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.pairs: list[tuple[str, str]] = []
        self._cell: list[str] | None = None
        self._term: list[str] | None = None
        self._terms: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("dt", "dd"):
            self._term = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join(plain("".join(self._cell)).split()))
            self._cell = None
        elif tag in ("dt", "dd") and self._term is not None:
            text = " ".join(plain("".join(self._term)).split())
            self._term = None
            if tag == "dt":
                self._terms.append(text)
            elif self._terms:
                self.pairs.append((self._terms.pop(), text))

    def handle_data(self, data: str) -> None:
        for collecting in (self._cell, self._term):
            if collecting is not None:
                collecting.append(data)

    def table_with(self, heading: str) -> list[list[str]]:
        """The rows (without the header) of the table whose header row has `heading`."""
        (table,) = [rows for rows in self.tables if rows and heading in rows[0]]
        return table[1:]


@pytest.fixture
def alice_invoice(alice: Membership, django_capture_on_commit_callbacks: Any) -> Invoice:
    draft = invoice_create(
        account=alice.account,
        lines=[NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("200.00"))],
        as_of=DAY,
    )
    with django_capture_on_commit_callbacks(execute=True):
        invoice_issue(invoice=draft, as_of=DAY)
    return Invoice.objects.get(pk=draft.pk)


@pytest.fixture
def alice_quote(alice: Membership) -> Quote:
    quote = Quote.objects.create(
        account=alice.account,
        status=QuoteStatus.SENT,
        subject="Migration",
        currency="EUR",
        number="Q-2026-00003",
        series="Q",
        year=2026,
        sequence=3,
        issue_date=DAY,
        net_minor=9000,
        tax_minor=1890,
        total_minor=10890,
    )
    QuoteLine.objects.create(
        quote=quote,
        description="Site migration",
        quantity=Decimal(2),
        unit_price=Decimal("45.00"),
        amount_minor=9000,
        net_minor=9000,
        tax_rate=Decimal(21),
        tax_category="S",
        tax_name="IVA 21%",
    )
    QuoteTax.objects.create(
        quote=quote, category="S", rate=Decimal(21), name="IVA 21%", taxable_minor=9000, tax_minor=1890
    )
    return quote


def test_it_downloads_the_stored_invoice_pdf_as_an_attachment(alice_client: Client, alice_invoice: Invoice) -> None:
    response = alice_client.get(reverse("portal:invoice-pdf", args=[alice_invoice.number]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="INV-2026-00001.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    assert hashlib.sha256(response.content).hexdigest() == alice_invoice.pdf_sha256
    text = text_of(response.content)
    assert "INV-2026-00001" in text and "€242.00" in text


def test_it_shows_the_printable_invoice_with_the_same_content(alice_client: Client, alice_invoice: Invoice) -> None:
    response = alice_client.get(reverse("portal:invoice-print", args=[alice_invoice.number]))
    assert response.status_code == 200
    page = response.content.decode()
    for expected in (
        "INV-2026-00001",
        "Hosting Pro",
        "Alice Servicios S.L.",
        "Sportello Hosting S.L.",
        "€242.00",
        "€42.00",
        "IVA 21%",
        "ES91 2100 0418 4502 0005 1332",
        'src="data:image/svg+xml;base64,',
    ):
        assert expected in page
    assert reverse("portal:invoice-pdf", args=[alice_invoice.number]) in page
    assert "portal/css/documents.css" in page
    # CSP: no inline style or script on the page.
    assert " style=" not in page and "<style" not in page
    assert "<script>" not in page and "onclick" not in page


def test_it_hides_other_accounts_documents(
    client: Client, bob: Membership, alice_invoice: Invoice, alice_quote: Quote
) -> None:
    client.force_login(bob.user)
    for name, number in (
        ("portal:invoice-pdf", alice_invoice.number),
        ("portal:invoice-print", alice_invoice.number),
        ("portal:credit-note-pdf", alice_invoice.number),
        ("portal:quote-pdf", alice_quote.number),
        ("portal:quote-print", alice_quote.number),
        ("portal:invoice-pdf", "INV-2026-00002"),  # a guessed number
        ("portal:invoice-pdf", "PRO-2026-00001"),
    ):
        assert client.get(reverse(name, args=[number])).status_code == 404, name


def test_it_hides_drafts_and_needs_the_billing_area(client: Client, alice: Membership, alice_invoice: Invoice) -> None:
    draft = invoice_create(
        account=alice.account, lines=[NewLine(description="x", quantity=Decimal(1), unit_price=Decimal(1))], as_of=DAY
    )
    client.force_login(alice.user)
    assert client.get(reverse("portal:invoice-print", args=[f"draft {draft.pk}"])).status_code == 404
    technician = User.objects.create_user("tech@example.org", "tech-passphrase-123")
    membership_add(account=alice.account, user=technician, role=Role.TECHNICAL)
    client.force_login(technician)
    assert client.get(reverse("portal:invoice-pdf", args=[alice_invoice.number])).status_code == 404
    anonymous = Client()
    assert anonymous.get(reverse("portal:invoice-pdf", args=[alice_invoice.number])).status_code == 302


def test_it_serves_credit_notes_and_quotes(alice_client: Client, alice_invoice: Invoice, alice_quote: Quote) -> None:
    draft = invoice_create(
        account=alice_invoice.account,
        lines=[NewLine(description="Refund", quantity=Decimal(1), unit_price=Decimal("50.00"))],
        as_of=DAY,
        kind=DocumentKind.CREDIT_NOTE,
        corrects=alice_invoice,
    )
    credit_note = invoice_issue(invoice=draft, as_of=DAY)
    response = alice_client.get(reverse("portal:credit-note-pdf", args=[credit_note.number]))
    assert response.status_code == 200 and "CN-2026-00001" in text_of(response.content)
    assert response["Content-Disposition"] == 'attachment; filename="CN-2026-00001.pdf"'
    page = alice_client.get(reverse("portal:credit-note-print", args=[credit_note.number])).content.decode()
    assert "CN-2026-00001" in page and "INV-2026-00001" in page and "€60.50" in page
    # An invoice number is not a credit note's; the invoice URLs serve both (the billing pages link there).
    assert alice_client.get(reverse("portal:credit-note-pdf", args=[alice_invoice.number])).status_code == 404
    assert alice_client.get(reverse("portal:invoice-pdf", args=[credit_note.number])).content == response.content

    response = alice_client.get(reverse("portal:quote-pdf", args=[alice_quote.number]))
    assert response.status_code == 200 and "€108.90" in text_of(response.content)
    assert response["Content-Disposition"] == 'attachment; filename="Q-2026-00003.pdf"'
    page = alice_client.get(reverse("portal:quote-print", args=[alice_quote.number])).content.decode()
    assert "Q-2026-00003" in page and "Site migration" in page and "€108.90" in page


def test_staff_download_any_invoice_with_the_permission(client: Client, alice_invoice: Invoice) -> None:
    url = reverse("staff-invoice-pdf", args=[alice_invoice.pk])
    clerk = User.objects.create_user("clerk@example.com", "clerk-passphrase-1", is_staff=True)
    client.force_login(clerk)
    assert client.get(url).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client.force_login(User.objects.get(pk=clerk.pk))
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == default_storage.open(alice_invoice.pdf.name).read()
    customer = Client()
    customer.force_login(alice_invoice.account.memberships.get().user)
    assert customer.get(url).status_code == 302  # to the back-office login


def test_the_printable_brl_invoice_offers_the_pix_code(client: Client, bob: Membership) -> None:
    from sportello.billing.models import Seller

    Seller.objects.filter(pk=1).update(pix_key="financeiro@sportello.com.br", pix_city="Recife")
    draft = invoice_create(
        account=bob.account,
        lines=[NewLine(description="Hospedagem", quantity=Decimal(1), unit_price=Decimal("99.90"))],
        as_of=DAY,
    )
    invoice = invoice_issue(invoice=draft, as_of=DAY)
    code = invoice_printed(invoice).payment.pix_code  # type: ignore[union-attr]
    client.force_login(bob.user)
    page = client.get(reverse("portal:invoice-print", args=[invoice.number])).content.decode()
    assert '<label class="document-small-heading" for="pix-code">PIX copy and paste code</label>' in page
    assert f'readonly rows="3">{code}</textarea>' in page
    assert 'src="data:image/svg+xml;base64,' in page


def test_the_printable_eur_invoice_and_its_pdf_carry_the_epc_qr_code(
    alice_client: Client, alice_invoice: Invoice
) -> None:
    expected = epc_payload(
        name="Sportello Hosting S.L.",
        iban="ES91 2100 0418 4502 0005 1332",
        bic="CAIXESBBXXX",
        amount=Decimal("242.00"),
        text="INV-2026-00001",
    )
    assert expected.split("\n")[4:] == [
        "CAIXESBBXXX",
        "Sportello Hosting S.L.",
        "ES9121000418450200051332",
        "EUR242.00",
        "",
        "",
        "INV-2026-00001",
    ]
    page = alice_client.get(reverse("portal:invoice-print", args=[alice_invoice.number])).content.decode()
    assert printable_qr(page) == expected
    assert 'alt="Scan with your banking app to pay by SEPA transfer."' in page
    pdf = alice_client.get(reverse("portal:invoice-pdf", args=[alice_invoice.number])).content
    assert qr_decode(qr_modules_in(pdf)) == expected  # type: ignore[arg-type]


def test_the_printable_page_prints_the_exemption_and_its_zero_tax_row(alice_client: Client, alice: Membership) -> None:
    draft = invoice_create(
        account=alice.account,
        lines=[
            NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("100.00")),
            NewLine(
                description="Training course",
                quantity=Decimal(2),
                unit_price=Decimal("25.00"),
                discount_minor=100,
                tax_class="exempt",
            ),
        ],
        as_of=DAY,
    )
    invoice = invoice_issue(invoice=draft, as_of=DAY)
    html = alice_client.get(reverse("portal:invoice-print", args=[invoice.number])).content.decode()
    printable = HtmlFigures(html)
    assert printable.table_with("Taxable amount") == [
        ["IVA 21%", "21%", "€100.00", "€21.00"],
        ["IVA exento", "0%", "€49.00", "€0.00"],
    ]
    assert printable.table_with("Unit price")[1] == ["Training course", "2", "€25.00", "€1.00", "0%", "€49.00"]
    assert ("Total", "€170.00") in printable.pairs
    assert html.count('<p class="document-legal">Exempt (art. 20 Ley 37/1992)</p>') == 1
    # The invoice page shows the same wording and the same zero-tax row.
    page_html = alice_client.get(reverse("portal:invoice", args=[invoice.number])).content.decode()
    assert HtmlFigures(page_html).table_with("Taxable amount")[1] == ["IVA exento", "0%", "€49.00", "€0.00"]
    assert page_html.count("Exempt (art. 20 Ley 37/1992)") == 1
    pdf = text_of(alice_client.get(reverse("portal:invoice-pdf", args=[invoice.number])).content)
    assert "\nIVA exento\n0%\n€49.00\n€0.00\n" in pdf and pdf.count("Exempt (art. 20 Ley 37/1992)") == 1


def test_it_downloads_the_statement_as_a_pdf(client: Client, alice: Membership, alice_invoice: Invoice) -> None:
    from sportello.billing.models import SettlementKind
    from sportello.billing.services import invoice_settle
    from sportello.core.money import Money

    invoice_settle(
        invoice=alice_invoice,
        amount=Money("100.00", "EUR"),
        kind=SettlementKind.PAYMENT,
        reference="pay-1",
        settled_on=dt.date(2026, 3, 10),
        method="Bank transfer",
    )
    client.force_login(alice.user)
    url = reverse("portal:statement-pdf")
    response = client.get(url, {"start": "2026-03-01", "end": "2026-03-31"})
    assert response.status_code == 200
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="statement-{alice.account.reference}-2026-03-01-2026-03-31.pdf"'
    )
    text = text_of(response.content)
    assert "INV-2026-00001" in text
    for figure in ("€0.00", "€242.00", "€100.00", "€142.00"):
        assert figure in text
    # Bad dates go back to the page that explains them; nothing is rendered.
    refused = client.get(url, {"start": "2026-03-31", "end": "2026-03-01"})
    assert refused.status_code == 302 and refused["Location"].startswith(reverse("portal:statement"))
    bob_client = Client()
    bob = User.objects.create_user("reader@example.org", "reader-passphrase-1")
    membership_add(account=alice.account, user=bob, role=Role.TECHNICAL)
    bob_client.force_login(bob)
    assert bob_client.get(url).status_code == 404


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
    inclusive=st.booleans(),
    lines=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=12),
            st.decimals(min_value=Decimal("0"), max_value=Decimal("999.999"), places=3),
            st.sampled_from([Decimal(21), Decimal(10), Decimal("7.5"), Decimal(0)]),
            # The discount, as a percentage of quantity x unit price (never above it).
            st.sampled_from([0, 0, 5, 33, 100]),
        ),
        min_size=1,
        max_size=4,
    ),
    # Part of the total paid after issue, in per cent: the balance due the page and CSV show.
    paid_percent=st.sampled_from([0, 0, 40]),
)
def test_the_page_the_printable_page_the_pdf_and_the_csv_show_the_same_figures(
    alice_client: Client,
    alice: Membership,
    django_capture_on_commit_callbacks: Any,
    currency: str,
    inclusive: bool,
    lines: list[Any],
    paid_percent: int,
) -> None:
    new_lines = []
    for n, (quantity, price, rate, discount_percent) in enumerate(lines):
        gross = line_amount_minor(quantity=Decimal(quantity), unit_price=price, discount_minor=0, currency=currency)
        new_lines.append(
            NewLine(
                description=f"Line {n}",
                quantity=Decimal(quantity),
                unit_price=price,
                discount_minor=gross * discount_percent // 100,
                tax=TaxDecision(
                    rate=rate,
                    category="S" if rate else "E",
                    name=f"Tax {rate}",
                    reverse_charge=False,
                    exemption_text="",
                ),
            )
        )
    draft = invoice_create(
        account=alice.account, lines=new_lines, as_of=DAY, currency=currency, prices_include_tax=inclusive
    )
    # Issued as in production: the PDF is rendered and kept once the issue commits (the
    # email that would go with it is left out, for time).
    with django_capture_on_commit_callbacks(execute=True), override_settings(BILLING_INVOICE_EMAILS=False):
        invoice_issue(invoice=draft, as_of=DAY)
    invoice = Invoice.objects.get(pk=draft.pk)
    number = invoice.number
    assert invoice.pdf.name and invoice.total_minor == invoice.net_minor + invoice.tax_minor
    assert invoice.net_minor == sum(line.net_minor for line in invoice.lines.all())
    # Then part of it may be paid: what is due now differs from the total.
    paid = invoice.total_minor * paid_percent // 100
    if paid:
        invoice_settle(
            invoice=invoice,
            amount=Money.from_minor(paid, currency),
            kind=SettlementKind.PAYMENT,
            reference=f"transfer-{number}",
            settled_on=DAY,
        )
        invoice.refresh_from_db()
    due = invoice.total_minor - paid

    def money(minor: int) -> str:
        return plain(minor_display(minor, currency, "en"))

    shown_lines = document_lines_shown(document=invoice)
    # Each line before tax: quantity, unit price, discount (or none), rate, net amount.
    expected_lines = [
        [
            f"{shown.line.quantity.normalize():f}",
            plain(unit_price_display(shown.unit_price, currency, "en")),
            money(shown.discount_minor) if shown.discount_minor else "",
            f"{shown.line.tax_rate.normalize():f}%",
            money(shown.net_minor),
        ]
        for shown in shown_lines
    ]
    taxes = list(invoice.taxes.all())
    expected_taxes = [
        [tax.name, f"{tax.rate.normalize():f}%", money(tax.taxable_minor), money(tax.tax_minor)] for tax in taxes
    ]
    assert any(shown.discount_minor for shown in shown_lines) == any(line.discount_minor for line in new_lines)

    page = HtmlFigures(alice_client.get(reverse("portal:invoice", args=[number])).content.decode())
    rows = page.table_with("Unit price")
    assert [row[0] for row in rows] == [f"Line {n}" for n in range(len(lines))]
    assert [[*row[2:4], "" if row[4] == "—" else row[4], *row[5:]] for row in rows] == expected_lines
    assert page.table_with("Taxable amount") == expected_taxes
    for pair in (
        ("Net amount", money(invoice.net_minor)),
        ("Tax", money(invoice.tax_minor)),
        ("Total", money(invoice.total_minor)),
        ("Received", money(paid)),
        ("Balance due", money(due)),
    ):
        assert pair in page.pairs

    printable_html = alice_client.get(reverse("portal:invoice-print", args=[number])).content.decode()
    printable = HtmlFigures(printable_html)
    rows = printable.table_with("Unit price")
    assert [row[0] for row in rows] == [f"Line {n}" for n in range(len(lines))]
    assert [row[1:] for row in rows] == expected_lines
    assert printable.table_with("Taxable amount") == expected_taxes
    totals = [("Net total", money(invoice.net_minor)), ("Tax total", money(invoice.tax_minor))]
    for pair in (*totals, ("Total", money(invoice.total_minor))):
        assert pair in printable.pairs

    pdf = plain(text_of(alice_client.get(reverse("portal:invoice-pdf", args=[number])).content))
    # One cell per line of text: each row's cells in order (an empty discount prints nothing).
    for n, cells in enumerate(expected_lines):
        assert "\n".join([f"Line {n}", *(cell for cell in cells if cell)]) + "\n" in pdf
    summary = "\n".join(cell for row in expected_taxes for cell in row)
    assert f"Taxable amount\nTax amount\n{summary}\n" in pdf
    figures = "\n".join(f"{label}\n{value}" for label, value in (*totals, ("Total", money(invoice.total_minor))))
    assert f"\n{figures}\n" in pdf

    if due:
        # The printable page asks for what is due now; the PDF is the one kept from the issue.
        assert ("Amount due", money(due)) in printable.pairs
        assert f"\nAmount due\n{money(invoice.total_minor)}\n" in pdf
        if currency == "EUR":
            payload = epc_payload(
                name="Sportello Hosting S.L.",
                iban="ES9121000418450200051332",
                bic="CAIXESBBXXX",
                amount=Money.from_minor(due, currency).amount,
                text=number,
            )
            assert printable_qr(printable_html) == payload
    else:
        assert "Amount due" not in printable_html and "data:image/svg+xml" not in printable_html

    # The CSV: every cell of the invoice's row, the figures as plain decimals.
    csv_text = alice_client.get(reverse("portal:invoices-csv"), {"status": "all"}).content.decode("utf-8-sig")
    (row,) = [row for row in csv.DictReader(io.StringIO(csv_text)) if row["Number"] == number]
    as_of = local_date(utc_now(), alice.account.time_zone)
    assert row == {
        "Type": "Invoice",
        "Number": number,
        "Issue date": DAY.isoformat(),
        "Due date": invoice.due_date.isoformat(),  # type: ignore[union-attr]
        "Status": str(InvoiceStatus(shown_status(invoice, as_of=as_of)).label),
        "Total": plain_amount(Money.from_minor(invoice.total_minor, currency)),
        "Balance due": plain_amount(Money.from_minor(due, currency)),
        "Currency": currency,
        "Corrects invoice": "",
    }
    assert Decimal(row["Total"]).as_tuple().exponent == -currency_exponent(currency)


def test_an_inclusive_invoice_shows_prices_before_tax_on_the_page_and_the_printable_page(
    alice_client: Client, alice: Membership
) -> None:
    draft = invoice_create(
        account=alice.account,
        lines=[
            NewLine(description="Hosting Pro", quantity=Decimal(2), unit_price=Decimal("12.10"), discount_minor=121)
        ],
        as_of=DAY,
        prices_include_tax=True,
    )
    invoice = invoice_issue(invoice=draft, as_of=DAY)
    # 24.20 - 1.21 = 22.99 with 21 % included: tax 3.99, net 19.00; discount 1.00 before tax.
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (1900, 399, 2299)
    for name in ("portal:invoice", "portal:invoice-print"):
        page = alice_client.get(reverse(name, args=[invoice.number])).content.decode()
        lines = page.split("Hosting Pro", 1)[1].split("</tr>", 1)[0]
        assert [figure in lines for figure in ("€10.00", "€1.00", "€19.00", "€12.10", "€1.21", "€22.99")] == [
            True,
            True,
            True,
            False,
            False,
            False,
        ]
        assert "€3.99" in page and "€22.99" in page


def test_a_cancelled_draft_is_never_shown_to_the_customer(alice_client: Client, alice: Membership) -> None:
    from sportello.billing.credit_notes import invoice_cancel

    draft = invoice_create(
        account=alice.account,
        lines=[NewLine(description="Discarded hosting", quantity=Decimal(1), unit_price=Decimal("9.00"))],
        as_of=DAY,
    )
    invoice_cancel(invoice=draft, reason="Wrong customer", as_of=DAY)
    for name, params in (("portal:invoices", {"status": "all"}), ("portal:invoices-csv", {"status": "all"})):
        response = alice_client.get(reverse(name), params)
        assert response.status_code == 200 and "Discarded hosting" not in response.content.decode("utf-8-sig")
    listing = alice_client.get(reverse("portal:invoices"), {"status": "cancelled"}).content.decode()
    assert "€10.89" not in listing
    statement = alice_client.get(reverse("portal:statement-csv"), {"start": "2026-01-01", "end": "2026-12-31"})
    assert "10.89" not in statement.content.decode("utf-8-sig")


def test_the_printable_page_shows_the_logo_the_pdf_prints(alice_client: Client, alice: Membership) -> None:
    import base64

    from PIL import Image

    from sportello.billing.models import Seller
    from sportello.billing.selectors import seller_current
    from sportello.billing.tests.test_pdf import seller_with_logo

    provider = seller_current()
    seller_with_logo(provider, "logo-print-test.png")
    draft = invoice_create(
        account=alice.account,
        lines=[NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("100.00"))],
        as_of=DAY,
    )
    invoice = invoice_issue(invoice=draft, as_of=DAY)
    html = alice_client.get(reverse("portal:invoice-print", args=[invoice.number])).content.decode()
    (src,) = re.findall(r'<img class="document-logo" src="data:image/png;base64,([^"]+)" alt="">', html)
    # The same picture as in the PDF: flattened on white, no transparency.
    logo = Image.open(io.BytesIO(base64.b64decode(src)))
    assert (logo.mode, logo.size) == ("RGB", (300, 100))
    assert logo.getpixel((10, 50)) == (200, 30, 30) and logo.getpixel((290, 50)) == (255, 255, 255)
    # Without a logo (and for documents issued after it is removed), none.
    Seller.objects.filter(pk=provider.pk).update(logo="")
    later = invoice_issue(
        invoice=invoice_create(
            account=alice.account,
            lines=[NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("100.00"))],
            as_of=DAY,
        ),
        as_of=DAY,
    )
    page = alice_client.get(reverse("portal:invoice-print", args=[later.number])).content.decode()
    assert 'class="document-logo"' not in page
