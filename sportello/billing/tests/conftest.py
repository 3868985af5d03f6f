"""Billing fixtures: the seller and the tax rates the tests rely on, with exact figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sportello.billing.models import Seller, TaxCategory, TaxRate

TAX_RATES = [
    ("ES", "standard", "IVA 21%", "21", TaxCategory.STANDARD, ""),
    ("ES", "reduced", "IVA 10%", "10", TaxCategory.STANDARD, ""),
    ("ES", "exempt", "IVA exento", "0", TaxCategory.EXEMPT, "Exempt (art. 20 Ley 37/1992)"),
    ("IT", "standard", "IVA 22%", "22", TaxCategory.STANDARD, ""),
    ("DE", "standard", "MwSt 19%", "19", TaxCategory.STANDARD, ""),
]


@pytest.fixture
def seller(db: None) -> Seller:
    seller, _ = Seller.objects.update_or_create(
        pk=1,
        defaults={
            "name": "Sportello Hosting S.L.",
            "address_line1": "Calle Mayor 1",
            "postal_code": "28013",
            "city": "Madrid",
            "country": "ES",
            "vat_id": "ESB12345674",
            "iban": "ES9121000418450200051332",
            "bic": "CAIXESBBXXX",
        },
    )
    return seller


@pytest.fixture
def tax_rates(db: None) -> list[TaxRate]:
    return [
        TaxRate.objects.create(
            country=country,
            tax_class=tax_class,
            name=name,
            rate=Decimal(rate),
            category=category,
            exemption_text=text,
            valid_from=dt.date(2000, 1, 1),
        )
        for country, tax_class, name, rate, category, text in TAX_RATES
    ]


@pytest.fixture
def billing_setup(seller: Seller, tax_rates: list[TaxRate]) -> None:
    """The seller in Spain with Spanish, Italian and German rates."""
