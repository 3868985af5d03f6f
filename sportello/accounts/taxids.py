"""Validation and normal form of customers' tax identifiers (python-stdnum).

- `vat_id`: an EU VAT number with its country prefix (ESB12345674, IT12345670892),
  checked with the member state's own algorithm. Greece's prefix is EL.
- `tax_id`: the national id of the account's country: Spanish NIF/NIE/CIF, Italian
  partita IVA or codice fiscale, Brazilian CNPJ or CPF. Other countries' ids are kept
  as typed (trimmed), since there is no algorithm to check them here.

python-stdnum accepts CPFs made of one repeated digit (111.111.111-11); the Receita
Federal treats them as invalid, so they are refused here.

`tax_id_label` names a party's national id as its own country writes it on an invoice
(NIF, P.IVA, CNPJ...), whatever the document's language: the PDF, the printable page and
the portal's document page all label the seller's and the buyer's ids with it.
"""

from __future__ import annotations

from django.utils.translation import pgettext
from stdnum import exceptions as stdnum_errors
from stdnum.br import cnpj, cpf
from stdnum.es import nif
from stdnum.eu import vat
from stdnum.it import codicefiscale, iva


class TaxIdError(ValueError):
    """`field` holds no valid identifier; `reason` is a short English code for the message."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def clean_vat_id(value: str) -> str:
    """The compact EU VAT number, or "" for none; raises TaxIdError when it does not check out."""
    value = value.strip()
    if not value:
        return ""
    try:
        compact = vat.validate(value)
    except stdnum_errors.ValidationError:
        raise TaxIdError("vat_id", "invalid_vat") from None
    return str(compact)


def _valid_cpf(value: str) -> str:
    digits = cpf.compact(value)
    if len(set(digits)) == 1:
        raise stdnum_errors.InvalidChecksum()
    return str(cpf.format(cpf.validate(digits)))


def clean_tax_id(value: str, *, country: str) -> str:
    """The national tax id in its usual written form; raises TaxIdError when invalid."""
    value = value.strip()
    if not value:
        return ""
    try:
        if country == "ES":
            return str(nif.validate(value))
        if country == "IT":
            compact = value.replace(" ", "").upper()
            if compact.isdigit():
                return str(iva.validate(compact))
            return str(codicefiscale.validate(compact))
        if country == "BR":
            digits = "".join(ch for ch in value if ch.isdigit())
            if len(digits) == 14:
                return str(cnpj.format(cnpj.validate(digits)))
            return _valid_cpf(digits)
    except stdnum_errors.ValidationError:
        raise TaxIdError("tax_id", f"invalid_{country.lower()}") from None
    return value


# The name each country gives its tax id on an invoice: abbreviations, never translated.
_COUNTRY_TAX_ID_LABELS = {
    "ES": "NIF",
    "PT": "NIF",
    "DE": "USt-IdNr.",
    "FR": "N° TVA",
}


def tax_id_label(country: str, tax_id: str) -> str:
    """The label of `tax_id`, a national id of `country`: NIF in Spain and Portugal, P.IVA
    (an 11-digit partita IVA) or C.F. (a codice fiscale) in Italy, CNPJ (14 digits) or CPF
    (11 digits) in Brazil, USt-IdNr. in Germany, N° TVA in France; a translated "Tax ID" in
    the active language otherwise."""
    country = (country or "").strip().upper()
    compact = "".join(ch for ch in tax_id if ch.isalnum())
    if country in _COUNTRY_TAX_ID_LABELS:
        return _COUNTRY_TAX_ID_LABELS[country]
    if country == "IT":
        return "P.IVA" if compact.isdigit() and len(compact) == 11 else "C.F."
    if country == "BR":
        if compact.isdigit() and len(compact) == 14:
            return "CNPJ"
        if compact.isdigit() and len(compact) == 11:
            return "CPF"
    return pgettext("national tax identifier of another country", "Tax ID")
