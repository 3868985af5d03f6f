import pytest

from sportello.accounts.taxids import TaxIdError, clean_tax_id, clean_vat_id


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("b12345674", "ES", "B12345674"),
        ("12345678-Z", "ES", "12345678Z"),
        ("12345670892", "IT", "12345670892"),
        ("rssmra85t10a562s", "IT", "RSSMRA85T10A562S"),
        ("11222333000181", "BR", "11.222.333/0001-81"),
        ("529.982.247-25", "BR", "529.982.247-25"),
        ("  ABN 51 824 753 556 ", "AU", "ABN 51 824 753 556"),
        ("", "BR", ""),
    ],
)
def test_it_normalises_valid_national_ids(value, country, expected):
    assert clean_tax_id(value, country=country) == expected


@pytest.mark.parametrize(
    ("value", "country"),
    [
        ("111.111.111-11", "BR"),  # stdnum accepts it; Brazil does not
        ("000.000.000-00", "BR"),
        ("11.222.333/0001-80", "BR"),
        ("12345678A", "ES"),
        ("12345670891", "IT"),
        ("RSSMRA85T10A562X", "IT"),
    ],
)
def test_it_refuses_invalid_national_ids(value, country):
    with pytest.raises(TaxIdError) as raised:
        clean_tax_id(value, country=country)
    assert raised.value.field == "tax_id"


def test_it_checks_eu_vat_numbers():
    assert clean_vat_id("es b12345674") == "ESB12345674"
    assert clean_vat_id("IT 12345670892") == "IT12345670892"
    assert clean_vat_id("") == ""
    with pytest.raises(TaxIdError):
        clean_vat_id("ESB12345675")
    with pytest.raises(TaxIdError):
        clean_vat_id("XX123")
