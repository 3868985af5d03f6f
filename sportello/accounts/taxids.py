"""Validation and normal form of customers' tax identifiers (python-stdnum).

- `vat_id`: an EU VAT number with its country prefix (ESB12345674, IT12345670892),
  checked with the member state's own algorithm. Greece's prefix is EL.
- `tax_id`: the national id of the account's country: Spanish NIF/NIE/CIF, Italian
  partita IVA or codice fiscale, Brazilian CNPJ or CPF. Other countries' ids are kept
  as typed (trimmed), since there is no algorithm to check them here.

python-stdnum accepts CPFs made of one repeated digit (111.111.111-11); the Receita
Federal treats them as invalid, so they are refused here.
"""

from __future__ import annotations

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
