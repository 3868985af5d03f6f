"""Which tax a sale bears, by the place-of-supply rules in `billing.taxes`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sportello.billing.errors import TaxRateMissing
from sportello.billing.models import TaxCategory, TaxRate
from sportello.billing.taxes import REVERSE_CHARGE_TEXT, tax_decide
from sportello.conftest import make_member

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 22)


def decide(tax_class: str = "standard", seller: str = "ES", **account: str):  # type: ignore[no-untyped-def]
    membership = make_member(
        f"{len(TaxRate.objects.all())}-{sorted(account.items())}@example.org".replace(" ", ""), "Buyer", **account
    )
    return tax_decide(seller_country=seller, buyer=membership.account, tax_class=tax_class, as_of=DAY)


def test_it_charges_the_domestic_rate_at_home(billing_setup: None) -> None:
    decision = decide(country="ES")
    assert (decision.rate, decision.category, decision.name, decision.reverse_charge) == (
        Decimal("21.0000"),
        TaxCategory.STANDARD,
        "IVA 21%",
        False,
    )


def test_it_reverse_charges_an_eu_business_with_a_valid_vat_number(billing_setup: None) -> None:
    decision = decide(country="IT", vat_id="IT00743110157", currency="EUR")
    assert (decision.rate, decision.category, decision.reverse_charge) == (Decimal(0), TaxCategory.REVERSE_CHARGE, True)
    assert decision.exemption_text == REVERSE_CHARGE_TEXT


def test_it_charges_the_customers_rate_to_eu_consumers(billing_setup: None) -> None:
    decision = decide(country="IT", currency="EUR", kind="person")
    assert (decision.rate, decision.name) == (Decimal("22.0000"), "IVA 22%")


def test_it_falls_back_to_the_sellers_rate_without_a_destination_rate(billing_setup: None) -> None:
    decision = decide(country="FR", currency="EUR")
    assert (decision.rate, decision.name) == (Decimal("21.0000"), "IVA 21%")


def test_it_puts_customers_outside_the_eu_out_of_scope(billing_setup: None) -> None:
    decision = decide(country="BR", currency="BRL")
    assert (decision.rate, decision.category, decision.reverse_charge) == (Decimal(0), TaxCategory.OUTSIDE_SCOPE, False)
    assert "art. 44" in str(decision.exemption_text)


def test_it_keeps_exemptions_with_their_wording(billing_setup: None) -> None:
    decision = decide("exempt", country="IT", vat_id="IT00743110157", currency="EUR")
    assert (decision.category, decision.exemption_text) == (TaxCategory.EXEMPT, "Exempt (art. 20 Ley 37/1992)")


def test_it_uses_the_rate_in_force_on_the_day(billing_setup: None) -> None:
    TaxRate.objects.filter(country="ES", tax_class="standard").update(valid_until=dt.date(2026, 12, 1))
    TaxRate.objects.create(
        country="ES", tax_class="standard", name="IVA 23%", rate=Decimal(23), valid_from=dt.date(2026, 12, 1)
    )
    assert decide(country="ES").rate == Decimal("21.0000")
    membership = make_member("later@example.org", "Later", country="ES")
    later = tax_decide(seller_country="ES", buyer=membership.account, tax_class="standard", as_of=dt.date(2026, 12, 1))
    assert later.rate == Decimal("23.0000")


def test_it_refuses_a_tax_class_nobody_configured(billing_setup: None) -> None:
    with pytest.raises(TaxRateMissing) as error:
        decide("luxury", country="ES")
    assert (error.value.country, error.value.tax_class, error.value.on) == ("ES", "luxury", DAY)


def test_an_invalid_vat_number_is_not_reverse_charged(billing_setup: None) -> None:
    # A VAT number of another country than the account's does not qualify either.
    decision = decide(country="DE", vat_id="IT00743110157", currency="EUR")
    assert (decision.rate, decision.reverse_charge) == (Decimal("19.0000"), False)
