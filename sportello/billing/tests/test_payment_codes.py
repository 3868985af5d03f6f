"""EPC QR (SEPA) and PIX BR Code payloads, checked against published values and field by field."""

from __future__ import annotations

from decimal import Decimal

import pytest
import segno
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sportello.billing.payment_codes import (
    PaymentCodeError,
    ascii_text,
    crc16_ccitt,
    epc_payload,
    pix_payload,
    pix_txid,
    qr_matrix,
    qr_png,
    qr_svg,
)
from sportello.billing.tests.document_readers import QrUnreadable, qr_decode, svg_qr_modules

# Banco Central do Brasil, "Manual de Padrões para Iniciação do Pix", Anexo I, p. 16.
BCB_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
    "5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)


def test_it_computes_the_crc16_ccitt_check_value() -> None:
    # The CRC catalogue's check value for CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF).
    assert crc16_ccitt(b"123456789") == 0x29B1


def test_it_builds_the_central_bank_example_exactly() -> None:
    payload = pix_payload(key="123e4567-e12b-12d1-a456-426655440000", name="Fulano de Tal", city="BRASILIA")
    assert payload == BCB_EXAMPLE
    assert f"{crc16_ccitt(BCB_EXAMPLE[:-4].encode()):04X}" == "1D3D"


def test_it_builds_a_pix_code_with_amount_txid_and_ascii_limits() -> None:
    payload = pix_payload(
        key="financeiro@exemplo.com.br",
        name="Serviços de Hospedagem Ação Ltda.",
        city="São José dos Campos",
        amount=Decimal("1234.50"),
        txid="INV-2026-00001",
    )
    body = (
        "000201"
        "2647"
        "0014br.gov.bcb.pix"
        "0125financeiro@exemplo.com.br"
        "52040000"
        "5303986"
        "54071234.50"
        "5802BR"
        "5925Servicos de Hospedagem Ac"
        "6015Sao Jose dos Ca"
        "6216"
        "0512INV202600001"
        "6304"
    )
    assert payload == body + f"{crc16_ccitt(body.encode()):04X}"
    assert payload.isascii()


def test_it_refuses_pix_codes_it_cannot_build() -> None:
    with pytest.raises(PaymentCodeError) as missing_key:
        pix_payload(key="", name="Fulano", city="Recife")
    assert missing_key.value.field == "key"
    with pytest.raises(PaymentCodeError) as bad_amount:
        pix_payload(key="k", name="Fulano", city="Recife", amount=Decimal("0"))
    assert bad_amount.value.field == "amount"
    with pytest.raises(PaymentCodeError) as unnamed:
        pix_payload(key="k", name="東京", city="Recife")
    assert unnamed.value.field == "name"


def test_it_makes_txids_and_ascii_text() -> None:
    assert pix_txid("INV-2026-00001") == "INV202600001"
    assert pix_txid("---") == "***"
    assert pix_txid("A" * 40) == "A" * 25
    assert ascii_text("  Ñandú  Açaí\tRecife ") == "Nandu Acai Recife"


def test_it_builds_the_epc_payload_line_by_line() -> None:
    payload = epc_payload(
        name="Sportello Hosting S.L.",
        iban="ES91 2100 0418 4502 0005 1332",
        bic="caixesbbxxx",
        amount=Decimal("386.75"),
        text="INV-2026-00001",
    )
    assert payload.split("\n") == [
        "BCD",  # service tag
        "002",  # version
        "1",  # character set: UTF-8
        "SCT",  # SEPA credit transfer
        "CAIXESBBXXX",  # BIC
        "Sportello Hosting S.L.",  # beneficiary
        "ES9121000418450200051332",  # IBAN without spaces
        "EUR386.75",  # amount
        "",  # purpose
        "",  # structured reference
        "INV-2026-00001",  # unstructured remittance
    ]


def test_it_builds_an_epc_payload_with_a_structured_reference_and_no_bic() -> None:
    payload = epc_payload(
        name="Sportello", iban="DE89370400440532013000", amount=Decimal("0.01"), reference="RF18539007547034"
    )
    assert payload == "BCD\n002\n1\nSCT\n\nSportello\nDE89370400440532013000\nEUR0.01\n\nRF18539007547034"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("1000000000.00")}, "amount"),
        ({"amount": Decimal("1.001")}, "amount"),
        ({"iban": "not an iban"}, "iban"),
        ({"bic": "XX"}, "bic"),
        ({"name": "x" * 71}, "name"),
        ({"reference": "RF18539007547034"}, "reference"),
        ({"text": ""}, "reference"),
        ({"text": "x" * 141}, "text"),
    ],
)
def test_it_refuses_epc_payloads_the_standard_forbids(changes: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "name": "Sportello",
        "iban": "ES9121000418450200051332",
        "amount": Decimal("10.00"),
        "text": "INV-1",
    }
    arguments.update(changes)
    with pytest.raises(PaymentCodeError) as refused:
        epc_payload(**arguments)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_it_draws_the_qr_code_at_level_m_as_svg_png_and_matrix() -> None:
    payload = epc_payload(name="Sportello", iban="ES9121000418450200051332", amount=Decimal("10.00"), text="INV-1")
    expected = segno.make_qr(payload.encode("utf-8"), error="m", boost_error=False)
    matrix = qr_matrix(payload)
    assert len(matrix) == expected.symbol_size(border=0)[0]
    assert matrix == [[bool(module) for module in row] for row in expected.matrix]
    assert expected.error == "M"
    svg = qr_svg(payload, title="EPC")
    assert svg.startswith(b"<?xml") and b"<svg" in svg and b"<title>EPC</title>" in svg
    assert qr_png(payload).startswith(b"\x89PNG\r\n\x1a\n")


# --- The QR reader the document tests use ---------------------------------------------------------


@settings(max_examples=60)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=160))
def test_the_test_qr_reader_reads_back_any_payment_code(payload: str) -> None:
    """`document_readers.qr_decode` reads what `payment_qr` writes, as a matrix and as an SVG,
    with whatever version and mask segno chose: what the document tests decode is trustworthy."""
    assume(segno.make_qr(payload.encode("utf-8"), error="m", boost_error=False).version <= 13)
    assert qr_decode(qr_matrix(payload)) == payload
    assert qr_decode(svg_qr_modules(qr_svg(payload))) == payload


def test_the_test_qr_reader_reads_the_largest_epc_code_and_refuses_a_damaged_one() -> None:
    payload = epc_payload(
        name="N" * 70,
        iban="ES9121000418450200051332",
        bic="CAIXESBBXXX",
        amount=Decimal("999999999.99"),
        text="T" * 140,
        purpose="GDDS",
        information="I" * 46,
    )
    matrix = qr_matrix(payload)
    assert (len(matrix) - 17) // 4 == 13
    assert qr_decode(matrix) == payload
    matrix[len(matrix) - 1][len(matrix) - 1] ^= True  # the first data module
    with pytest.raises(QrUnreadable, match="error correction"):
        qr_decode(matrix)
