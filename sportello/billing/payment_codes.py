"""Payment codes printed on documents and shown in the client area: what a banking app scans.

- EUR: the EPC QR code (European Payments Council, EPC069-12 "Quick Response Code:
  guidelines to enable data capture for the initiation of a SEPA credit transfer"),
  version 002, UTF-8. Its payload is twelve lines at most, separated by LF:
      BCD / 002 / 1 / SCT / BIC / name / IBAN / EUR<amount> / purpose /
      structured reference (ISO 11649) / unstructured remittance text / information
  Either the structured reference or the text is given, never both; trailing empty lines
  are left out. Amount: 0.01 to 999999999.99 EUR, a dot for decimals, no grouping.
  Whole payload at most 331 bytes; QR error correction level M, version 13 at most.
- BRL: the PIX BR Code "copia e cola" (Banco Central do Brasil, "Manual de Padrões para
  Iniciação do Pix", on EMV QRCPS-MPM): a string of TLV fields, each an id of two digits,
  a length of two digits and the value; the last field (63) is a CRC16-CCITT (polynomial
  0x1021, initial value 0xFFFF, no reflection, no final xor) over the whole string up to
  and including "6304", written as four upper-case hexadecimal digits. Names and city are
  ASCII (accents removed) and cut to the EMV limits (25 and 15 characters).

The same payloads feed the PDF (drawn as vector squares from `qr_matrix`), the printable
page and the payments issue (`qr_svg` / `qr_png`).
"""

from __future__ import annotations

import io
import re
import unicodedata
from decimal import Decimal

import segno

# --- EPC QR (SEPA credit transfer) -------------------------------------------------------------

EPC_MAX_BYTES = 331
EPC_MIN_AMOUNT = Decimal("0.01")
EPC_MAX_AMOUNT = Decimal("999999999.99")
EPC_MAX_VERSION = 13


class PaymentCodeError(ValueError):
    """Details that cannot make a valid payment code; `field` says which one."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _compact(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def epc_payload(
    *,
    name: str,
    iban: str,
    amount: Decimal,
    bic: str = "",
    text: str = "",
    reference: str = "",
    purpose: str = "",
    information: str = "",
) -> str:
    """The EPC QR payload for a SEPA credit transfer of `amount` EUR to `name` / `iban`.

    `text` is the unstructured remittance information (an invoice number, up to 140
    characters); `reference` a structured ISO 11649 creditor reference (RF..., up to 35).
    """
    name = " ".join((name or "").split())
    iban = _compact(iban)
    bic = _compact(bic)
    text = " ".join((text or "").split())
    reference = _compact(reference)
    purpose = _compact(purpose)
    amount = Decimal(amount)
    if not 0 < len(name) <= 70:
        raise PaymentCodeError("name", "length")
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}", iban):
        raise PaymentCodeError("iban", "format")
    if bic and not re.fullmatch(r"[A-Z0-9]{8}([A-Z0-9]{3})?", bic):
        raise PaymentCodeError("bic", "format")
    if bool(text) == bool(reference):
        raise PaymentCodeError("reference", "text_or_reference")
    if len(text) > 140:
        raise PaymentCodeError("text", "length")
    if len(reference) > 35:
        raise PaymentCodeError("reference", "length")
    if purpose and not re.fullmatch(r"[A-Z0-9]{4}", purpose):
        raise PaymentCodeError("purpose", "format")
    if len(information) > 70:
        raise PaymentCodeError("information", "length")
    if amount != amount.quantize(Decimal("0.01")) or not EPC_MIN_AMOUNT <= amount <= EPC_MAX_AMOUNT:
        raise PaymentCodeError("amount", "range")
    lines = ["BCD", "002", "1", "SCT", bic, name, iban, f"EUR{amount:.2f}", purpose, reference, text, information]
    while lines[-1] == "":
        lines.pop()
    payload = "\n".join(lines)
    if len(payload.encode("utf-8")) > EPC_MAX_BYTES:
        raise PaymentCodeError("payload", "too_long")
    return payload


# --- PIX BR Code -------------------------------------------------------------------------------

PIX_GUI = "br.gov.bcb.pix"
PIX_NAME_MAX = 25
PIX_CITY_MAX = 15
PIX_TXID_MAX = 25
# The txid of a static code without an identifier of its own (BCB manual).
PIX_NO_TXID = "***"


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, MSB first, no final xor.

    The catalogue's check value: crc16_ccitt(b"123456789") == 0x29B1.
    """
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def ascii_text(value: str) -> str:
    """`value` without accents or characters outside printable ASCII ("São Paulo" -> "Sao Paulo")."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    printable = "".join(c if " " <= c <= "~" else " " for c in stripped.encode("ascii", "ignore").decode("ascii"))
    return " ".join(printable.split())


def _tlv(tag: str, value: str) -> str:
    if len(value) > 99:
        raise PaymentCodeError(tag, "too_long")
    return f"{tag}{len(value):02d}{value}"


def pix_txid(reference: str) -> str:
    """An invoice number as a PIX txid: letters and digits only, at most 25 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9]", "", ascii_text(reference))[:PIX_TXID_MAX]
    return cleaned or PIX_NO_TXID


def pix_payload(*, key: str, name: str, city: str, amount: Decimal | None = None, txid: str = "") -> str:
    """The PIX "copia e cola" string paying `amount` BRL to the PIX `key` of `name` in `city`.

    Fields, in order: 00 payload format "01"; 26 merchant account (00 GUI br.gov.bcb.pix,
    01 key); 52 category "0000"; 53 currency "986"; 54 amount (if any); 58 country "BR";
    59 name; 60 city; 62 additional data (05 txid); 63 CRC.
    """
    key = (key or "").strip()
    if not key or len(key) > 77:
        raise PaymentCodeError("key", "length")
    merchant_name = ascii_text(name)[:PIX_NAME_MAX].strip()
    merchant_city = ascii_text(city)[:PIX_CITY_MAX].strip()
    if not merchant_name:
        raise PaymentCodeError("name", "required")
    if not merchant_city:
        raise PaymentCodeError("city", "required")
    fields = [
        _tlv("00", "01"),
        _tlv("26", _tlv("00", PIX_GUI) + _tlv("01", key)),
        _tlv("52", "0000"),
        _tlv("53", "986"),
    ]
    if amount is not None:
        amount = Decimal(amount)
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            raise PaymentCodeError("amount", "range")
        text = f"{amount:.2f}"
        if len(text) > 13:
            raise PaymentCodeError("amount", "range")
        fields.append(_tlv("54", text))
    fields += [
        _tlv("58", "BR"),
        _tlv("59", merchant_name),
        _tlv("60", merchant_city),
        _tlv("62", _tlv("05", pix_txid(txid) if txid else PIX_NO_TXID)),
    ]
    body = "".join(fields) + "6304"
    return body + f"{crc16_ccitt(body.encode('utf-8')):04X}"


# --- QR images ---------------------------------------------------------------------------------


def payment_qr(payload: str) -> segno.QRCode:
    """The QR code of a payment payload: error correction level M (EPC requires it; PIX
    readers expect it too), UTF-8, the smallest version that holds it."""
    qr = segno.make_qr(payload.encode("utf-8"), error="m", boost_error=False)
    if payload.startswith("BCD\n") and int(qr.version) > EPC_MAX_VERSION:
        raise PaymentCodeError("payload", "too_long")
    return qr


def qr_matrix(payload: str) -> list[list[bool]]:
    """The modules of the payload's QR code, dark = True, without the quiet zone."""
    return [[bool(module) for module in row] for row in payment_qr(payload).matrix]


def qr_svg(payload: str, *, scale: int = 4, title: str = "") -> bytes:
    """The QR code as a standalone SVG document (black on white, 4-module quiet zone)."""
    buffer = io.BytesIO()
    payment_qr(payload).save(buffer, kind="svg", scale=scale, border=4, title=title or None, xmldecl=True)
    return buffer.getvalue()


def qr_png(payload: str, *, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    payment_qr(payload).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
