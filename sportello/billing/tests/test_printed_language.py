"""Every text of a document in the document's language, on the PDF and the printable page:
tax ids labelled by their party's country, legal notes and tax names translated."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from sportello.accounts.models import Membership
from sportello.accounts.taxids import tax_id_label
from sportello.billing.models import Invoice, Seller, TaxRate
from sportello.billing.pdf import invoice_pdf, quote_pdf
from sportello.billing.quotes import quote_create, quote_send
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.conftest import make_member

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 3, 2)


def flat(text: str) -> str:
    """Text with every run of spaces, no-break spaces and line breaks as one space."""
    return re.sub(r"[\s\xa0\u202f]+", " ", text)


def pdf_text(invoice: Invoice) -> str:
    reader = PdfReader(io.BytesIO(invoice_pdf(invoice)))
    return flat(" ".join(page.extract_text() for page in reader.pages))


def page_text(client: Client, member: Membership, name: str, number: str) -> str:
    client.force_login(member.user)
    response = client.get(reverse(name, args=[number]))
    assert response.status_code == 200
    return flat(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def issue(member: Membership) -> Invoice:
    draft = invoice_create(
        account=member.account,
        lines=[NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal(100))],
        as_of=DAY,
    )
    return invoice_issue(invoice=draft, as_of=DAY)


@pytest.mark.parametrize(
    ("country", "tax_id", "label"),
    [
        ("ES", "B12345674", "NIF"),
        ("PT", "501964843", "NIF"),
        ("IT", "12345670017", "P.IVA"),
        ("IT", "RSSMRA85T10A562S", "C.F."),
        ("DE", "DE136695976", "USt-IdNr."),
        ("FR", "FR40303265045", "N° TVA"),
        ("BR", "11.222.333/0001-81", "CNPJ"),
        ("BR", "390.533.447-05", "CPF"),
        ("us", "12-3456789", "Tax ID"),
        ("BR", "123", "Tax ID"),
    ],
)
def test_a_tax_id_is_labelled_by_its_country(country: str, tax_id: str, label: str) -> None:
    assert tax_id_label(country, tax_id) == label


@pytest.fixture
def spanish_seller(seller: Seller, tax_rates: list[TaxRate]) -> Seller:
    seller.tax_id = "B12345674"
    seller.save(update_fields=["tax_id"])
    return seller


def test_a_spanish_sellers_invoice_in_portuguese_labels_each_tax_id_by_its_country(
    client: Client, spanish_seller: Seller
) -> None:
    member = make_member(
        "compras@example.com.br", "Cliente Ltda.", country="BR", currency="BRL", language="pt-br", city="Recife"
    )
    member.account.tax_id = "11.222.333/0001-81"
    member.account.save(update_fields=["tax_id"])
    invoice = issue(member)
    for text in (
        pdf_text(invoice),
        page_text(client, member, "portal:invoice-print", invoice.number),
        page_text(client, member, "portal:invoice", invoice.number),
    ):
        assert "NIF: B12345674" in text or "NIF B12345674" in text
        assert "CNPJ: 11.222.333/0001-81" in text or "CNPJ 11.222.333/0001-81" in text
        assert "CPF" not in text


def test_an_italian_buyers_partita_iva_is_labelled_p_iva(client: Client, spanish_seller: Seller) -> None:
    member = make_member("acquisti@example.it", "Cliente S.r.l.", country="IT", language="it", city="Roma")
    member.account.tax_id = "12345670017"
    member.account.save(update_fields=["tax_id"])
    invoice = issue(member)
    for text in (pdf_text(invoice), page_text(client, member, "portal:invoice-print", invoice.number)):
        assert "P.IVA: 12345670017" in text or "P.IVA 12345670017" in text
        assert "NIF: B12345674" in text or "NIF B12345674" in text
        assert "Codice fiscale" not in text


REVERSE_CHARGE = {
    "en": (
        "Reverse charge: VAT to be accounted for by the recipient (art. 196, Directive 2006/112/EC).",
        "Reverse charge",
    ),
    "es": (
        "Inversión del sujeto pasivo: IVA a liquidar por el destinatario (art. 196, Directiva 2006/112/CE).",
        "Inversión del sujeto pasivo",
    ),
    "pt-br": (
        "Autoliquidação (inversão do sujeito passivo): o IVA é devido pelo destinatário "
        "(art. 196 da Diretiva 2006/112/CE).",
        "Autoliquidação (inversão do sujeito passivo)",
    ),
    "it": (
        "Inversione contabile (art. 196, direttiva 2006/112/CE): IVA da assolvere a cura del destinatario.",
        "Inversione contabile (reverse charge)",
    ),
}
OUTSIDE_EU = {
    "en": (
        "Not subject to EU VAT: services supplied outside the EU (art. 44 and 59, Directive 2006/112/EC).",
        "Not subject to VAT",
    ),
    "es": (
        "Operación no sujeta al IVA de la UE: servicios prestados fuera de la UE "
        "(arts. 44 y 59, Directiva 2006/112/CE).",
        "No sujeto a IVA",
    ),
    "pt-br": (
        "Não sujeito ao IVA da UE: serviços prestados fora da UE (arts. 44 e 59 da Diretiva 2006/112/CE).",
        "Não sujeito a IVA",
    ),
    "it": (
        "Operazione non soggetta a IVA UE: servizi resi fuori dall'UE (artt. 44 e 59, direttiva 2006/112/CE).",
        "Operazione non soggetta a IVA",
    ),
}


@pytest.mark.parametrize("language", ["en", "es", "pt-br", "it"])
def test_the_reverse_charge_note_and_tax_name_print_in_the_documents_language(
    client: Client, spanish_seller: Seller, language: str
) -> None:
    member = make_member(
        "einkauf@example.de", "Kunde GmbH", country="DE", vat_id="DE136695976", language=language, city="Berlin"
    )
    invoice = issue(member)
    note, tax_name = REVERSE_CHARGE[language]
    assert invoice.legal_notes == note
    assert [tax.name for tax in invoice.taxes.all()] == [tax_name]
    assert [line.tax_name for line in invoice.lines.all()] == [tax_name]
    for text in (pdf_text(invoice), page_text(client, member, "portal:invoice-print", invoice.number)):
        assert note in text
        assert tax_name in text


@pytest.mark.parametrize("language", ["en", "es", "pt-br", "it"])
def test_the_outside_the_eu_note_and_tax_name_print_in_the_documents_language(
    client: Client, spanish_seller: Seller, language: str
) -> None:
    member = make_member("buyer@example.com", "Buyer Inc.", country="US", currency="EUR", language=language)
    invoice = issue(member)
    note, tax_name = OUTSIDE_EU[language]
    assert invoice.legal_notes == note
    assert [tax.name for tax in invoice.taxes.all()] == [tax_name]
    for text in (pdf_text(invoice), page_text(client, member, "portal:invoice-print", invoice.number)):
        assert note in text
        assert tax_name in text
    # The English wording appears on the English document only.
    english = OUTSIDE_EU["en"][0]
    assert (english in pdf_text(invoice)) == (language == "en")


def test_a_quote_prints_its_tax_name_note_and_tax_ids_in_its_language(spanish_seller: Seller) -> None:
    member = make_member(
        "compras@example.com.br", "Cliente Ltda.", country="BR", currency="EUR", language="pt-br", city="Recife"
    )
    member.account.tax_id = "390.533.447-05"
    member.account.save(update_fields=["tax_id"])
    quote = quote_create(
        account=member.account,
        subject="Migração",
        lines=[NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal(100))],
        as_of=DAY,
    )
    quote = quote_send(quote=quote, as_of=DAY)
    note, tax_name = OUTSIDE_EU["pt-br"]
    assert quote.legal_notes == note
    assert [tax.name for tax in quote.taxes.all()] == [tax_name]
    assert [line.tax_name for line in quote.lines.all()] == [tax_name]
    reader = PdfReader(io.BytesIO(quote_pdf(quote)))
    text = flat(" ".join(page.extract_text() for page in reader.pages))
    assert note in text and tax_name in text
    assert "CPF: 390.533.447-05" in text or "CPF 390.533.447-05" in text
    assert "NIF: B12345674" in text or "NIF B12345674" in text
