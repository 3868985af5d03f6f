"""Which tax a sale bears, by the place-of-supply rules in `billing.taxes`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sportello.billing.errors import TaxRateMissing
from sportello.billing.models import Invoice, TaxCategory, TaxRate
from sportello.billing.services import NewLine, invoice_create, invoice_issue
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


# --- Regional rates, through the invoice ---------------------------------------------------------


def issued(membership_email: str, name: str, on: dt.date, lines: list[NewLine], **account: str) -> Invoice:
    membership = make_member(membership_email, name, **account)
    draft = invoice_create(account=membership.account, lines=lines, as_of=on)
    return invoice_issue(invoice=draft, as_of=on)


def figures(invoice: Invoice) -> tuple[object, ...]:
    """What the tax decision left on an issued invoice: each line's rate and tax name, the
    summary per rate, and the totals."""
    return (
        [(line.tax_rate, line.tax_category, line.tax_name) for line in invoice.lines.all()],
        [(t.category, t.rate, t.name, t.taxable_minor, t.tax_minor) for t in invoice.taxes.all()],
        (invoice.net_minor, invoice.tax_minor, invoice.total_minor),
    )


def taxed(
    rate: str, name: str, totals: tuple[int, int, int], *, lines: int, category: str = TaxCategory.STANDARD
) -> tuple[object, ...]:
    """`figures` of an invoice whose `lines` all bear one rate: net, tax and total `totals`."""
    percent = Decimal(rate).quantize(Decimal("0.0001"))
    net, tax, _total = totals
    return ([(percent, category, name)] * lines, [(category, percent, name, net, tax)], totals)


def rate_add(
    country: str, name: str, percent: int, start: dt.date, until: dt.date | None = None, region: str = ""
) -> TaxRate:
    return TaxRate.objects.create(
        country=country,
        region=region,
        tax_class="standard",
        name=name,
        rate=Decimal(percent),
        valid_from=start,
        valid_until=until,
    )


def hosting_and_backup() -> list[NewLine]:
    # 200.00 + 50 x 2.50 - 5.00 = 320.00 before tax.
    return [
        NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("200.00")),
        NewLine(description="Backup", quantity=Decimal(50), unit_price=Decimal("2.50"), discount_minor=500),
    ]


def test_a_canary_islands_buyer_pays_igic_and_the_mainland_iva_in_force_on_the_day(billing_setup: None) -> None:
    # Spain's history in 2012: IGIC (Canary Islands) went from 5 % to 7 % on 1 July, the
    # mainland's IVA from 18 % to 21 % on 1 September.
    june, july, september = dt.date(2012, 6, 30), dt.date(2012, 7, 1), dt.date(2012, 9, 1)
    TaxRate.objects.filter(country="ES", tax_class="standard").update(valid_from=september)
    rate_add("ES", "IVA 18%", 18, dt.date(2010, 7, 1), until=september)
    rate_add("ES", "IGIC 5%", 5, dt.date(2000, 1, 1), until=july, region="ES-CN")
    rate_add("ES", "IGIC 7%", 7, july, region="ES-CN")
    canarian = {"city": "Las Palmas de Gran Canaria", "region": "ES-CN"}
    madrilenian = {"city": "Madrid", "region": "Madrid"}

    def bill(email: str, on: dt.date, **account: str) -> tuple[object, ...]:
        return figures(issued(email, email.split("@")[0], on, hosting_and_backup(), **account))

    assert bill("c1@example.org", june, **canarian) == taxed("5", "IGIC 5%", (32000, 1600, 33600), lines=2)
    assert bill("m1@example.org", june, **madrilenian) == taxed("18", "IVA 18%", (32000, 5760, 37760), lines=2)
    # The region's new rate applies from its first day, while the mainland keeps its own.
    assert bill("c2@example.org", july, **canarian) == taxed("7", "IGIC 7%", (32000, 2240, 34240), lines=2)
    assert bill("m2@example.org", july, **madrilenian) == taxed("18", "IVA 18%", (32000, 5760, 37760), lines=2)
    # And the mainland's change leaves the islands alone. A buyer with no region is mainland.
    assert bill("c3@example.org", september, **canarian) == taxed("7", "IGIC 7%", (32000, 2240, 34240), lines=2)
    assert bill("e3@example.org", september) == taxed("21", "IVA 21%", (32000, 6720, 38720), lines=2)
    assert Invoice.objects.filter(number__startswith="INV-2012-").count() == 6


def test_an_eu_consumer_in_the_azores_or_madeira_pays_the_regions_rate(billing_setup: None) -> None:
    # Sold from Spain to consumers in Portugal (OSS: the customer's rate). The Azores charged
    # 18 % until 30 June 2021 and 16 % from 1 July; Madeira 22 %; the mainland 23 %.
    june, july = dt.date(2021, 6, 30), dt.date(2021, 7, 1)
    rate_add("PT", "IVA 23%", 23, dt.date(2011, 1, 1))
    rate_add("PT", "IVA 22% (RAM)", 22, dt.date(2011, 1, 1), region="PT-30")
    rate_add("PT", "IVA 18% (RAA)", 18, dt.date(2015, 1, 1), until=july, region="PT-20")

    def bill(email: str, on: dt.date, region: str) -> tuple[object, ...]:
        one_year = [NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("100.00"))]
        consumer = {"country": "PT", "kind": "person", "region": region}
        return figures(issued(email, email.split("@")[0], on, one_year, **consumer))

    assert bill("a1@example.org", june, "PT-20") == taxed("18", "IVA 18% (RAA)", (10000, 1800, 11800), lines=1)
    # The region's rate has ended and its next one is not configured yet: the country's applies.
    assert bill("a2@example.org", july, "PT-20") == taxed("23", "IVA 23%", (10000, 2300, 12300), lines=1)
    rate_add("PT", "IVA 16% (RAA)", 16, july, region="PT-20")
    # The region as the customer typed it: its case and spaces do not matter.
    assert bill("a3@example.org", july, " pt-20") == taxed("16", "IVA 16% (RAA)", (10000, 1600, 11600), lines=1)
    assert bill("ma@example.org", july, "PT-30") == taxed("22", "IVA 22% (RAM)", (10000, 2200, 12200), lines=1)
    assert bill("li@example.org", july, "Lisboa") == taxed("23", "IVA 23%", (10000, 2300, 12300), lines=1)
    # A business in the Azores with a valid VAT number is reverse charged: no regional rate.
    one_year = [NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("100.00"))]
    business = issued(
        "b@example.org", "Empresa Lda.", july, one_year, country="PT", region="PT-20", vat_id="PT501964843"
    )
    reverse_charge = taxed("0", "Reverse charge", (10000, 0, 10000), lines=1, category=TaxCategory.REVERSE_CHARGE)
    assert figures(business) == reverse_charge
    assert business.legal_notes == str(REVERSE_CHARGE_TEXT)
