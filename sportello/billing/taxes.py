"""Which tax a sale bears: the EU VAT place-of-supply rules for services, reduced to the
cases a provider of hosting, SaaS and telecom services meets.

For a seller established in the EU (Directive 2006/112/EC):
1. Buyer in the seller's country: the seller's domestic rate for the product's tax class.
2. Buyer in another member state with a valid VAT number (B2B, art. 44): no VAT charged;
   the buyer accounts for it (reverse charge, art. 196) and the document says so.
3. Buyer in another member state without one (B2C): electronically supplied and telecom
   services are taxed where the customer is (art. 58, declared through the OSS): that
   country's rate when staff have configured it, else the seller's own (below the EUR
   10,000 threshold of art. 59c the seller's rate applies).
4. Buyer outside the EU: outside the scope of EU VAT (art. 44 for businesses, art. 59 for
   consumers); the document says so.
A seller outside the EU charges its own rate to buyers in its country and nothing abroad.

A tax class with an exempt rate (category E) carries its own legal wording (e.g. art. 132).
The decision's wording is translated into the document's language when it is printed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from stdnum.eu import vat

from sportello.accounts.models import Account
from sportello.billing.errors import TaxRateMissing
from sportello.billing.models import TaxCategory, TaxRate

EU_MEMBER_STATES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)

REVERSE_CHARGE_TEXT = _("Reverse charge: VAT to be accounted for by the recipient (art. 196, Directive 2006/112/EC).")
OUTSIDE_EU_TEXT = _("Not subject to EU VAT: services supplied outside the EU (art. 44 and 59, Directive 2006/112/EC).")
NOT_TAXED_ABROAD_TEXT = _("Not subject to tax in the seller's country: supply to a customer abroad.")
DECISION_WORDINGS = (REVERSE_CHARGE_TEXT, OUTSIDE_EU_TEXT, NOT_TAXED_ABROAD_TEXT)


def decision_wording(text: str) -> str | Promise:
    """The lazy wording of a tax decision that `text` is, in any of the site's languages, so
    that it prints in the document's language; any other text (a rate's own) as it is."""
    for wording in DECISION_WORDINGS:
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                if text == str(wording):
                    return wording
    return text


@dataclass(frozen=True, slots=True)
class TaxDecision:
    rate: Decimal
    # EN 16931 category code: S, Z, E, AE, K, O.
    category: str
    # The rate's printed name ("IVA 21%"), or the category's when no rate row applies.
    name: str | Promise
    reverse_charge: bool
    # Printed wording for exemptions, reverse charge and supplies outside the scope.
    exemption_text: str | Promise


def _country_of_vat_id(vat_id: str) -> str:
    prefix = vat_id[:2].upper()
    return "GR" if prefix == "EL" else prefix


def has_valid_eu_vat_id(account: Account) -> bool:
    """A VAT number that checks out and belongs to the account's own country."""
    if not account.vat_id or not vat.is_valid(account.vat_id):
        return False
    return _country_of_vat_id(vat.compact(account.vat_id)) == account.country.upper()


def tax_rate_on(*, country: str, region: str = "", tax_class: str, on: dt.date) -> TaxRate | None:
    """The rate of `tax_class` in force in `country` (a region's own rate first) on `on`.

    `region` is the buyer's, as typed on the account; it matches a rate's region code
    whatever its case or surrounding spaces ("pt-20" is the rate of "PT-20").
    """
    region = region.strip()
    in_force = (
        TaxRate.objects.filter(country=country.upper(), tax_class=tax_class, valid_from__lte=on)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=on))
        .filter((Q(region="") | Q(region__iexact=region)) if region else Q(region=""))
    )
    # A region's row beats the country's; the latest start wins among equals.
    rows = sorted(in_force, key=lambda row: (row.region != "", row.valid_from), reverse=True)
    return rows[0] if rows else None


def _from_rate(row: TaxRate) -> TaxDecision:
    return TaxDecision(
        rate=row.rate,
        category=row.category,
        name=row.name,
        reverse_charge=False,
        exemption_text=row.exemption_text,
    )


def _required_rate(*, country: str, region: str = "", tax_class: str, on: dt.date) -> TaxDecision:
    row = tax_rate_on(country=country, region=region, tax_class=tax_class, on=on)
    if row is None:
        raise TaxRateMissing(country=country, tax_class=tax_class, on=on)
    return _from_rate(row)


def tax_decide(*, seller_country: str, buyer: Account, tax_class: str, as_of: dt.date) -> TaxDecision:
    """The tax of a sale of `tax_class` services from the seller to `buyer` on `as_of`,
    by the rules in this module's docstring."""
    seller_country = seller_country.upper()
    buyer_country = buyer.country.upper()
    if buyer_country == seller_country:
        return _required_rate(country=seller_country, region=buyer.region, tax_class=tax_class, on=as_of)
    if seller_country not in EU_MEMBER_STATES:
        return TaxDecision(
            rate=Decimal(0),
            category=TaxCategory.OUTSIDE_SCOPE,
            name=TaxCategory.OUTSIDE_SCOPE.label,
            reverse_charge=False,
            exemption_text=NOT_TAXED_ABROAD_TEXT,
        )
    if buyer_country not in EU_MEMBER_STATES:
        return TaxDecision(
            rate=Decimal(0),
            category=TaxCategory.OUTSIDE_SCOPE,
            name=TaxCategory.OUTSIDE_SCOPE.label,
            reverse_charge=False,
            exemption_text=OUTSIDE_EU_TEXT,
        )
    domestic = _required_rate(country=seller_country, tax_class=tax_class, on=as_of)
    if domestic.category == TaxCategory.EXEMPT:
        # An exemption by the nature of the service applies wherever it is supplied.
        return domestic
    if has_valid_eu_vat_id(buyer):
        return TaxDecision(
            rate=Decimal(0),
            category=TaxCategory.REVERSE_CHARGE,
            name=TaxCategory.REVERSE_CHARGE.label,
            reverse_charge=True,
            exemption_text=REVERSE_CHARGE_TEXT,
        )
    destination = tax_rate_on(country=buyer_country, region=buyer.region, tax_class=tax_class, on=as_of)
    return _from_rate(destination) if destination is not None else domestic
