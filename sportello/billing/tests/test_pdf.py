"""Invoice, credit note, quote and statement PDFs: their text against the stored figures,
their PDF/A-3b structure, and the stored copy that is never rendered again."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from sportello.accounts.models import Account, Membership
from sportello.billing import pdf as billing_pdf
from sportello.billing.calc import LineInput, document_figures, line_amount_minor
from sportello.billing.models import (
    DocumentKind,
    Invoice,
    Quote,
    QuoteLine,
    QuoteStatus,
    QuoteTax,
    Seller,
    SettlementKind,
    TaxCategory,
)
from sportello.billing.payment_codes import epc_payload
from sportello.billing.pdf import (
    StatementRow,
    invoice_pdf,
    invoice_pdf_file,
    invoice_pdf_store,
    quote_pdf,
    statement_pdf,
)
from sportello.billing.printed import country_name, invoice_printed, minor_display, rate_display, unit_price_display
from sportello.billing.selectors import document_lines_shown
from sportello.billing.services import NewLine, invoice_create, invoice_issue, invoice_settle
from sportello.billing.taxes import TaxDecision
from sportello.billing.tests.document_readers import qr_decode, qr_modules_in
from sportello.conftest import make_member
from sportello.core.formatting import date_display, money_display
from sportello.core.money import Money

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 3, 2)
CREATED = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def text_of(data: bytes) -> str:
    """The PDF's text, with no-break spaces as plain spaces (as text extraction gives them)."""
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ").replace("\u202f", " ")


def shown(value: str) -> str:
    return value.replace("\xa0", " ").replace("\u202f", " ")


def issue(account: Account, lines: list[NewLine], **kwargs: Any) -> Invoice:
    draft = invoice_create(account=account, lines=lines, as_of=DAY, **kwargs)
    return invoice_issue(invoice=draft, as_of=DAY)


def two_lines() -> list[NewLine]:
    return [
        NewLine(
            description="Hosting Pro",
            quantity=Decimal("1"),
            unit_price=Decimal("200.00"),
            period_start=dt.date(2026, 3, 1),
            period_end=dt.date(2026, 4, 1),
        ),
        NewLine(
            description="Backup storage",
            quantity=Decimal("50"),
            unit_price=Decimal("2.50"),
            discount_minor=500,
            tax_class="reduced",
        ),
    ]


@pytest.mark.parametrize("language", ["es", "it", "pt-br", "en"])
def test_it_prints_every_mandatory_field_and_the_stored_figures(billing_setup: None, language: str) -> None:
    member = make_member(
        f"{language}@example.org",
        "Cliente Ñandú S.A.",
        language=language,
        vat_id="ESA58818501",
        address_line1="Gran Vía 2",
        postal_code="28013",
        city="Madrid",
    )
    invoice = issue(member.account, two_lines())
    text = text_of(invoice_pdf(invoice, created=CREATED))

    with translation.override(language):
        assert "Invoice" in text or translation.gettext("Invoice") in text
        assert invoice.number in text
        assert date_display(DAY, language) in text  # issue date
        for party in ("Sportello Hosting S.L.", "Calle Mayor 1", "28013 Madrid", "ESB12345674"):
            assert party in text
        for party in ("Cliente Ñandú S.A.", "Gran Vía 2", "ESA58818501", country_name("ES", language)):
            assert party in text
        # Each line: nature, period (last day shown), quantity, unit price before tax, discount, rate, amount.
        assert "Hosting Pro" in text and "Backup storage" in text
        assert f"{date_display(dt.date(2026, 3, 1), language)} – {date_display(dt.date(2026, 3, 31), language)}" in text
        for line in invoice.lines.all():
            assert shown(minor_display(line.net_minor, "EUR", language)) in text
            assert shown(rate_display(line.tax_rate, language)) in text
        assert shown(money_display(Money("200.00", "EUR"), language)) in text
        assert shown(money_display(Money("2.50", "EUR"), language)) in text
        assert shown(money_display(Money("5.00", "EUR"), language)) in text  # the discount
        assert "50" in text
        # The tax summary per rate, and the totals exactly as stored.
        for tax in invoice.taxes.all():
            assert tax.name in text
            assert shown(minor_display(tax.taxable_minor, "EUR", language)) in text
            assert shown(minor_display(tax.tax_minor, "EUR", language)) in text
        assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (32000, 5400, 37400)
        for figure in (invoice.net_minor, invoice.tax_minor, invoice.total_minor):
            assert shown(minor_display(figure, "EUR", language)) in text
        assert translation.gettext("Page %(page)s of %(pages)s") % {"page": 1, "pages": 1} in text
        # Bank details for EUR.
        assert "ES91 2100 0418 4502 0005 1332" in text and "CAIXESBBXXX" in text


def test_it_prints_reverse_charge_and_both_vat_numbers(billing_setup: None) -> None:
    member = make_member("de@example.org", "Kunde GmbH", country="DE", vat_id="DE136695976", city="Berlin")
    invoice = issue(member.account, [NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal(100))])
    text = text_of(invoice_pdf(invoice))
    assert invoice.tax_minor == 0 and invoice.total_minor == 10000
    assert "Reverse charge" in text
    assert "DE136695976" in text and "ESB12345674" in text
    assert shown(money_display(Money("100.00", "EUR"), "en")) in text


def test_it_prints_the_corrected_invoice_on_a_credit_note(alice: Membership, billing_setup: None) -> None:
    invoice = issue(alice.account, two_lines())
    credit_note = issue(
        alice.account,
        [NewLine(description="Refund of Hosting Pro", quantity=Decimal(1), unit_price=Decimal("200.00"))],
        kind=DocumentKind.CREDIT_NOTE,
        corrects=invoice,
    )
    text = text_of(invoice_pdf(credit_note))
    assert "Credit note" in text
    assert credit_note.number in text and invoice.number in text
    assert "Corrects invoice" in text
    # A credit note's amounts print negative, as everywhere it is shown (Invoice.shown_sign):
    # the line, the tax and the totals.
    assert (credit_note.net_minor, credit_note.tax_minor, credit_note.total_minor) == (20000, 4200, 24200)
    for amount in ("-€200.00", "-€42.00", "-€242.00"):
        assert amount in text, amount
    assert "IBAN" not in text  # nothing to pay on a credit note


def test_it_prints_the_pix_code_and_the_paid_date(bob: Membership, seller: Seller, tax_rates: list[Any]) -> None:
    Seller.objects.filter(pk=seller.pk).update(pix_key="financeiro@sportello.com.br", pix_city="Recife")
    invoice = issue(bob.account, [NewLine(description="Hospedagem", quantity=Decimal(1), unit_price=Decimal("99.90"))])
    printed = invoice_printed(invoice)
    assert printed.payment is not None
    code = printed.payment.pix_code
    assert code.startswith("00020126") and "5405" + "99.90" in code and "6006Recife" in code
    text = text_of(invoice_pdf(invoice))
    assert code in text.replace("\n", "")
    assert "financeiro@sportello.com.br" in text

    invoice_settle(
        invoice=invoice,
        amount=Money("99.90", "BRL"),
        kind=SettlementKind.PAYMENT,
        reference="pix-1",
        settled_on=dt.date(2026, 3, 5),
    )
    invoice.refresh_from_db()
    paid = text_of(invoice_pdf(invoice))
    assert f"Paid on {date_display(dt.date(2026, 3, 5), invoice.language)}" in paid
    assert code not in paid.replace("\n", "")


def test_it_writes_pdf_a_3b(alice: Membership, billing_setup: None) -> None:
    data = invoice_pdf(issue(alice.account, two_lines()), created=CREATED)
    reader = PdfReader(io.BytesIO(data), strict=True)
    root = reader.trailer["/Root"]
    assert data.startswith(b"%PDF-1.7\n%\x93\x8c\x8b\x9e")  # the header, then a comment of binary bytes
    assert "/Encrypt" not in reader.trailer
    first, second = reader.trailer["/ID"]
    assert len(first) == len(second) == 16
    # Output intent: sRGB ICC profile.
    (intent,) = [item.get_object() for item in root["/OutputIntents"]]
    assert intent["/S"] == "/GTS_PDFA1" and intent["/OutputConditionIdentifier"] == "sRGB IEC61966-2.1"
    profile = intent["/DestOutputProfile"].get_object()
    assert profile["/N"] == 3 and profile.get_data()[36:40] == b"acsp"
    # XMP: PDF/A-3B identification, uncompressed, values equal to the Info dictionary's.
    metadata = root["/Metadata"].get_object()
    assert "/Filter" not in metadata
    xmp = metadata.get_data().decode("utf-8")
    assert "<pdfaid:part>3</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    info = reader.trailer["/Info"].get_object()
    assert info["/Title"] == "Invoice INV-2026-00001" and f">{info['/Title']}<" in xmp
    assert f"<rdf:li>{info['/Author']}</rdf:li>" in xmp
    assert info["/CreationDate"] == "D:20260302093000+00'00'" and "2026-03-02T09:30:00+00:00" in xmp
    assert info["/Producer"] == "Sportello" and "<pdf:Producer>Sportello</pdf:Producer>" in xmp
    assert set(info.keys()) == {"/Title", "/Author", "/Subject", "/Creator", "/Producer", "/CreationDate", "/ModDate"}
    # Every font used is an embedded TrueType subset; no standard (unembedded) font.
    fonts = 0
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            assert font["/Subtype"] == "/TrueType" and "/Encoding" not in font
            assert "/FontFile2" in font["/FontDescriptor"]
            assert re.fullmatch(r"/[A-Z]{6}\+DejaVuSans(-Bold)?|/[A-Z]{6}\+BitstreamVeraSans-\w+", font["/BaseFont"])
            fonts += 1
    assert fonts >= 2
    assert b"/Helvetica" not in data
    # Streams: an EOL before every endstream; no transparency.
    assert data.count(b"endstream") == data.count(b"\nendstream")
    assert b"/SMask" not in data and b"/CA " not in data and b"/ca " not in data


def test_it_keeps_the_pdf_rendered_at_issue(
    alice: Membership, billing_setup: None, django_capture_on_commit_callbacks: Any
) -> None:
    draft = invoice_create(account=alice.account, lines=two_lines(), as_of=DAY)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_issue(invoice=draft, as_of=DAY)
    invoice = Invoice.objects.get(pk=draft.pk)
    assert invoice.pdf.name.startswith("invoices/2026/INV-2026-00001-")
    stored = default_storage.open(invoice.pdf.name).read()
    assert hashlib.sha256(stored).hexdigest() == invoice.pdf_sha256
    assert "Alice Servicios S.L." in text_of(stored)

    Account.objects.filter(pk=alice.account_id).update(name="Alice Renamed S.A.")
    Seller.objects.filter(pk=1).update(name="Another Seller")
    served = invoice_pdf_file(invoice=Invoice.objects.get(pk=invoice.pk))
    assert served == stored
    again = invoice_pdf_store(invoice_id=invoice.pk)
    assert (again.pdf.name, again.pdf_sha256) == (invoice.pdf.name, invoice.pdf_sha256)
    # The parties are frozen on the invoice too, so even a new render would print the old name.
    assert "Alice Renamed S.A." not in text_of(served)
    assert "Alice Servicios S.L." in text_of(invoice_pdf(Invoice.objects.get(pk=invoice.pk)))


def test_two_renders_never_both_write(
    alice: Membership, billing_setup: None, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.BILLING_PDF_ON_ISSUE = False
    invoice = issue(alice.account, two_lines())
    render = billing_pdf.invoice_pdf
    raced: list[Invoice] = []

    def render_while_another_stores(document: Invoice, **kwargs: Any) -> bytes:
        data = render(document, **kwargs)
        if not raced:  # the other render finishes first, while this one is still rendering
            monkeypatch.setattr(billing_pdf, "invoice_pdf", render)
            raced.append(invoice_pdf_store(invoice_id=document.pk))
        return data + b"\n% the slower render"

    saved: list[str] = []
    save = default_storage.save

    def save_and_note(name: str, content: Any) -> str:
        saved.append(save(name, content))
        return saved[-1]

    monkeypatch.setattr(billing_pdf.default_storage, "save", save_and_note)
    monkeypatch.setattr(billing_pdf, "invoice_pdf", render_while_another_stores)
    result = invoice_pdf_store(invoice_id=invoice.pk)
    (winner,) = raced
    assert (result.pdf.name, result.pdf_sha256) == (winner.pdf.name, winner.pdf_sha256)
    stored = default_storage.open(result.pdf.name).read()
    assert hashlib.sha256(stored).hexdigest() == winner.pdf_sha256
    assert not stored.endswith(b"% the slower render")
    # Both renders wrote a file; the loser removed its own.
    assert len(saved) == 2 and saved[0] == result.pdf.name
    assert default_storage.exists(saved[0]) and not default_storage.exists(saved[1])


def test_a_payment_request_is_rendered_on_demand_and_the_fiscal_invoice_kept_when_paid(
    alice: Membership, billing_setup: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.BILLING_NUMBERING = "payment"
    draft = invoice_create(account=alice.account, lines=two_lines(), as_of=DAY)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_issue(invoice=draft, as_of=DAY)
    invoice.refresh_from_db()
    assert invoice.number == "" and invoice.pdf.name == ""
    text = text_of(invoice_pdf_file(invoice=invoice))
    assert "Payment request" in text and invoice.proforma_number in text
    with django_capture_on_commit_callbacks(execute=True):
        invoice_settle(
            invoice=invoice,
            amount=Money("374.00", "EUR"),
            kind=SettlementKind.PAYMENT,
            reference="t-1",
            settled_on=dt.date(2026, 3, 4),
        )
    invoice.refresh_from_db()
    assert invoice.number == "INV-2026-00001" and invoice.pdf.name
    stored = text_of(default_storage.open(invoice.pdf.name).read())
    assert "Invoice" in stored and "INV-2026-00001" in stored and "Paid on 4 Mar 2026" in stored


def test_it_prints_a_quote(alice: Membership, billing_setup: None) -> None:
    lines = [LineInput(quantity=Decimal(2), unit_price=Decimal("45.00"), tax_rate=Decimal(21), tax_category="S")]
    figures = document_figures(lines, currency="EUR", prices_include_tax=False)
    quote = Quote.objects.create(
        account=alice.account,
        status=QuoteStatus.SENT,
        subject="Migration",
        currency="EUR",
        number="Q-2026-00007",
        series="Q",
        year=2026,
        sequence=7,
        issue_date=DAY,
        valid_until=dt.date(2026, 4, 1),
        net_minor=figures.net_minor,
        tax_minor=figures.tax_minor,
        total_minor=figures.total_minor,
    )
    QuoteLine.objects.create(
        quote=quote,
        description="Site migration",
        quantity=Decimal(2),
        unit_price=Decimal("45.00"),
        amount_minor=9000,
        net_minor=9000,
        tax_rate=Decimal(21),
        tax_category=TaxCategory.STANDARD,
        tax_name="IVA 21%",
    )
    QuoteTax.objects.create(
        quote=quote, category="S", rate=Decimal(21), name="IVA 21%", taxable_minor=9000, tax_minor=1890
    )
    text = text_of(quote_pdf(quote))
    assert "Quote" in text and "Q-2026-00007" in text and "Site migration" in text
    assert "Alice Servicios S.L." in text and "Sportello Hosting S.L." in text
    assert "Valid until" in text and date_display(dt.date(2026, 4, 1), "en") in text
    assert shown(money_display(Money("108.90", "EUR"), "en")) in text
    assert "IBAN" not in text


def test_it_prints_a_statement_with_a_running_balance(alice: Membership, billing_setup: None) -> None:
    rows = [
        StatementRow(
            date=dt.date(2026, 3, 2), reference="INV-2026-00001", description="Invoice", debit=Money("121.00", "EUR")
        ),
        StatementRow(
            date=dt.date(2026, 3, 9), reference="Payment 7", description="Card", credit=Money("100.00", "EUR")
        ),
    ]
    data = statement_pdf(
        account=alice.account,
        rows=rows,
        opening=Money("10.00", "EUR"),
        closing=Money("31.00", "EUR"),
        period=(dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
        language="es",
    )
    text = text_of(data)
    for figure in ("10,00 €", "121,00 €", "131,00 €", "100,00 €", "31,00 €"):
        assert figure in text
    assert "INV-2026-00001" in text and "Payment 7" in text and alice.account.reference in text
    with pytest.raises(ValueError, match="closing balance"):
        statement_pdf(
            account=alice.account,
            rows=rows,
            opening=Money("10.00", "EUR"),
            closing=Money("30.00", "EUR"),
            period=(dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
            language="es",
        )


def test_it_replaces_characters_the_fonts_lack(alice: Membership, billing_setup: None) -> None:
    invoice = issue(alice.account, [NewLine(description="Hosting 東京", quantity=Decimal(1), unit_price=Decimal(10))])
    assert "Hosting ??" in text_of(invoice_pdf(invoice))


CURRENCIES = st.sampled_from(["EUR", "JPY", "KWD"])
RATES = st.sampled_from([(Decimal(21), "S"), (Decimal(10), "S"), (Decimal("7.5"), "S"), (Decimal(0), "E")])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    currency=CURRENCIES,
    inclusive=st.booleans(),
    lines=st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2),
            st.decimals(min_value=Decimal("0"), max_value=Decimal("9999.999"), places=3),
            RATES,
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_the_pdf_shows_the_stored_total(
    alice: Membership, billing_setup: None, currency: str, inclusive: bool, lines: list[Any]
) -> None:
    new_lines = [
        NewLine(
            description=f"Line {n}",
            quantity=quantity,
            unit_price=price,
            tax=TaxDecision(rate=rate, category=category, name=f"Tax {rate}", reverse_charge=False, exemption_text=""),
        )
        for n, (quantity, price, (rate, category)) in enumerate(lines)
    ]
    invoice = issue(alice.account, new_lines, currency=currency, prices_include_tax=inclusive)
    assert invoice.total_minor == sum(line.net_minor for line in invoice.lines.all()) + sum(
        tax.tax_minor for tax in invoice.taxes.all()
    )
    text = text_of(invoice_pdf(invoice))
    assert shown(minor_display(invoice.total_minor, currency, "en")) in text.split("Total\n", 1)[1]
    assert shown(minor_display(invoice.net_minor, currency, "en")) in text
    assert shown(minor_display(invoice.tax_minor, currency, "en")) in text
    # Each line before tax (art. 226): quantity x unit price = its net, however prices were entered.
    rows = text.split("Net amount", 1)[1]
    for line in document_lines_shown(document=invoice):
        assert (
            line_amount_minor(
                quantity=line.line.quantity,
                unit_price=line.unit_price,
                discount_minor=line.discount_minor,
                currency=currency,
            )
            == line.net_minor
        )
        assert shown(unit_price_display(line.unit_price, currency, "en")) in rows
        assert shown(minor_display(line.net_minor, currency, "en")) in rows
    for tax in invoice.taxes.all():
        assert tax.taxable_minor == sum(
            line.net_minor
            for line in invoice.lines.all()
            if (line.tax_category, line.tax_rate) == (tax.category, tax.rate)
        )
        assert shown(minor_display(tax.taxable_minor, currency, "en")) in text


def test_an_inclusive_invoice_prints_unit_prices_and_amounts_before_tax(alice: Membership, billing_setup: None) -> None:
    lines = [
        NewLine(description="Hosting Pro", quantity=Decimal(2), unit_price=Decimal("12.10")),
        NewLine(description="Backup", quantity=Decimal(1), unit_price=Decimal("12.10"), discount_minor=121),
        NewLine(description="Mailbox", quantity=Decimal(7), unit_price=Decimal("1.00")),
    ]
    invoice = issue(alice.account, lines, prices_include_tax=True)
    # 24.20 + 10.89 + 7.00 = 42.09 with 21 % included: tax 7.30, net 34.79 shared by largest remainder.
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (3479, 730, 4209)
    assert [line.net_minor for line in invoice.lines.all()] == [2000, 900, 579]
    text = text_of(invoice_pdf(invoice))
    rows = text.split("Net amount", 1)[1].split("Taxable amount", 1)[0]
    assert "Unit price (tax incl.)" not in text
    for figure in ("€10.00", "€20.00", "€1.00", "€9.00", "€0.827", "€5.79"):
        assert figure in rows
    assert "€12.10" not in rows and "€24.20" not in rows and "€1.21" not in rows
    # The tax summary and totals are the stored ones, unchanged.
    assert "€34.79" in text and "€7.30" in text and "€42.09" in text


# --- Exemptions, the seller's logo and the EPC QR code ------------------------------------------


def exempt_and_taxed() -> list[NewLine]:
    return [
        NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("100.00")),
        NewLine(
            description="Training course",
            quantity=Decimal(2),
            unit_price=Decimal("25.00"),
            discount_minor=100,
            tax_class="exempt",
        ),
    ]


def test_an_exempt_line_prints_its_wording_and_a_zero_tax_row(alice: Membership, billing_setup: None) -> None:
    invoice = issue(alice.account, exempt_and_taxed())
    assert [(t.category, t.name, t.taxable_minor, t.tax_minor) for t in invoice.taxes.all()] == [
        (TaxCategory.STANDARD, "IVA 21%", 10000, 2100),
        (TaxCategory.EXEMPT, "IVA exento", 4900, 0),
    ]
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (14900, 2100, 17000)
    assert invoice.legal_notes == "Exempt (art. 20 Ley 37/1992)"
    text = text_of(invoice_pdf(invoice))
    # Cells are extracted one per line, in reading order: the line, then the tax summary
    # row of the exemption with its rate and zero tax, and the wording under the summary.
    assert "\nTraining course\n2\n€25.00\n€1.00\n0%\n€49.00\n" in text
    summary = text.split("Taxable amount\nTax amount\n", 1)[1]
    assert summary.startswith("IVA 21%\n21%\n€100.00\n€21.00\nIVA exento\n0%\n€49.00\n€0.00\nNet total\n€149.00\n")
    assert "\nTotal\n€170.00\nExempt (art. 20 Ley 37/1992)\n" in text
    assert text.count("Exempt (art. 20 Ley 37/1992)") == 1


def test_an_exemption_without_a_name_prints_its_category(alice: Membership, billing_setup: None) -> None:
    exempt = TaxDecision(
        rate=Decimal(0),
        category=TaxCategory.EXEMPT,
        name="",
        reverse_charge=False,
        exemption_text="Exento de IVA (art. 20.Uno.9 LIVA)",
    )
    invoice = issue(
        alice.account, [NewLine(description="Course", quantity=Decimal(1), unit_price=Decimal("80.00"), tax=exempt)]
    )
    (row,) = invoice_printed(invoice).taxes
    assert (row.label, row.rate, row.taxable, row.tax, row.exemption) == (
        "Exempt from tax",
        "0%",
        "€80.00",
        "€0.00",
        "Exento de IVA (art. 20.Uno.9 LIVA)",
    )
    text = text_of(invoice_pdf(invoice))
    assert "\nExempt from tax\n0%\n€80.00\n€0.00\n" in text
    assert text.count("Exento de IVA (art. 20.Uno.9 LIVA)") == 1


def logo_png(width: int = 300, height: int = 100) -> bytes:
    """A logo with transparency: red on its left half, nothing on its right half."""
    from PIL import Image as PILImage

    image = PILImage.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (0, 0, width // 2, height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def seller_with_logo(seller: Seller, name: str) -> str:
    from django.core.files.base import ContentFile

    seller.logo.save(name, ContentFile(logo_png()), save=True)
    return str(seller.logo.name)


def test_the_sellers_logo_is_printed_flattened_on_white(
    alice: Membership, seller: Seller, tax_rates: list[Any]
) -> None:
    stored = seller_with_logo(seller, "logo-pdf-test.png")
    invoice = issue(alice.account, two_lines())
    assert invoice.seller["logo"] == stored
    data = invoice_pdf(invoice)
    page = PdfReader(io.BytesIO(data)).pages[0]
    images = [obj.get_object() for obj in page["/Resources"]["/XObject"].values()]
    (image,) = [obj for obj in images if obj["/Subtype"] == "/Image"]
    # RGB without a soft mask (PDF/A-3b: no transparency), at the logo's own size.
    assert (image["/Width"], image["/Height"], image["/ColorSpace"]) == (300, 100, "/DeviceRGB")
    assert "/SMask" not in image and b"/SMask" not in data
    (name,) = [key for key, obj in page["/Resources"]["/XObject"].items() if obj.get_object() is image]
    assert f"{name} Do".encode() in page.get_contents().get_data()
    (drawn,) = page.images
    pixels = drawn.image.convert("RGB")
    assert pixels.getpixel((10, 50)) == (200, 30, 30) and pixels.getpixel((290, 50)) == (255, 255, 255)
    # Once staff remove the logo, new documents print none; those issued keep theirs.
    Seller.objects.filter(pk=seller.pk).update(logo="")
    later = issue(alice.account, two_lines())
    assert later.seller["logo"] == ""
    assert len(PdfReader(io.BytesIO(invoice_pdf(later))).pages[0].images) == 0
    assert len(PdfReader(io.BytesIO(invoice_pdf(invoice))).pages[0].images) == 1


def test_an_eur_invoice_carries_the_epc_qr_code_of_its_amount_due(alice: Membership, billing_setup: None) -> None:
    invoice = issue(alice.account, two_lines())
    expected = epc_payload(
        name="Sportello Hosting S.L.",
        iban="ES91 2100 0418 4502 0005 1332",
        bic="CAIXESBBXXX",
        amount=Decimal("374.00"),
        text=invoice.number,
    )
    # EPC069-12: service tag, version, UTF-8, SCT, BIC, name, IBAN, amount, no purpose, no
    # structured reference, the invoice number as the remittance text.
    assert expected == (
        "BCD\n002\n1\nSCT\nCAIXESBBXXX\nSportello Hosting S.L.\nES9121000418450200051332\nEUR374.00\n\n\nINV-2026-00001"
    )
    printed = invoice_printed(invoice)
    assert printed.payment is not None and printed.payment.qr_payload == expected
    # What a banking app reads from the code drawn on the page.
    assert qr_decode(qr_modules_in(invoice_pdf(invoice))) == expected  # type: ignore[arg-type]
    # Part paid: the code asks for what is left.
    invoice_settle(
        invoice=invoice, amount=Money("100.00", "EUR"), kind=SettlementKind.PAYMENT, reference="p-1", settled_on=DAY
    )
    invoice.refresh_from_db()
    rest = expected.replace("EUR374.00", "EUR274.00")
    assert invoice_printed(invoice).payment.qr_payload == rest  # type: ignore[union-attr]
    assert qr_decode(qr_modules_in(invoice_pdf(invoice))) == rest  # type: ignore[arg-type]


def test_only_eur_invoices_carry_the_epc_qr_code(alice: Membership, billing_setup: None) -> None:
    hosting = NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal(3000))
    invoice = issue(alice.account, [hosting], currency="JPY")
    printed = invoice_printed(invoice)
    assert printed.payment is not None and printed.payment.qr_payload == ""
    assert ("IBAN", "ES91 2100 0418 4502 0005 1332") in printed.payment.details
    assert qr_modules_in(invoice_pdf(invoice)) is None


def test_a_logo_that_cannot_be_read_is_left_out(alice: Membership, seller: Seller, tax_rates: list[Any]) -> None:
    from django.core.files.base import ContentFile

    seller.logo.save("logo-broken.png", ContentFile(b"not an image"), save=True)
    invoice = issue(alice.account, two_lines())
    assert invoice.seller["logo"] == seller.logo.name
    data = invoice_pdf(invoice)
    assert len(PdfReader(io.BytesIO(data)).pages[0].images) == 0
    assert invoice.number in text_of(data) and "Sportello Hosting S.L." in text_of(data)
