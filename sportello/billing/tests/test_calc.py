"""The document figures: the one rounding rule, checked on examples and on random documents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportello.billing.calc import FiguresError, LineInput, document_figures
from sportello.core.money import currency_exponent


def line(quantity: str, price: str, rate: str = "21", category: str = "S", discount: int = 0) -> LineInput:
    return LineInput(
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        tax_rate=Decimal(rate),
        tax_category=category,
        discount_minor=discount,
    )


def test_it_taxes_the_sum_of_a_rate_not_each_line() -> None:
    # Per line: 0.21 tax on each 1.00... but 3 x 0.33 x 21% is 0.2079 per rate -> 0.21, not 3 x 0.07.
    figures = document_figures(
        [line("1", "0.33"), line("1", "0.33"), line("1", "0.33")], currency="EUR", prices_include_tax=False
    )
    assert [lf.amount_minor for lf in figures.lines] == [33, 33, 33]
    assert (figures.net_minor, figures.tax_minor, figures.total_minor) == (99, 21, 120)


def test_it_rounds_half_up_per_line() -> None:
    figures = document_figures([line("3", "0.045")], currency="EUR", prices_include_tax=False)
    # 0.135 -> 0.14 (half-up), then 21% of 0.14 = 0.0294 -> 0.03.
    assert (figures.lines[0].amount_minor, figures.tax_minor, figures.total_minor) == (14, 3, 17)


def test_it_bills_the_benchmark_invoice_exactly() -> None:
    figures = document_figures(
        [line("1", "200.00", "19"), line("50", "2.50", "19")], currency="EUR", prices_include_tax=False
    )
    assert (figures.net_minor, figures.tax_minor, figures.total_minor) == (32500, 6175, 38675)


def test_it_extracts_included_tax_and_shares_the_net_exactly() -> None:
    figures = document_figures(
        [line("1", "10.00"), line("1", "10.00"), line("1", "10.00")], currency="EUR", prices_include_tax=True
    )
    # 30.00 gross at 21%: tax = 30 x 21 / 121 = 5.2066 -> 5.21; net 24.79 shared 8.27 + 8.26 + 8.26.
    assert (figures.net_minor, figures.tax_minor, figures.total_minor) == (2479, 521, 3000)
    assert [lf.net_minor for lf in figures.lines] == [827, 826, 826]


def test_it_groups_taxes_by_category_and_rate() -> None:
    figures = document_figures(
        [line("1", "100", "21"), line("1", "50", "10"), line("2", "25", "21"), line("1", "40", "0", "E")],
        currency="EUR",
        prices_include_tax=False,
    )
    assert [(t.category, t.rate, t.taxable_minor, t.tax_minor) for t in figures.taxes] == [
        ("S", Decimal("21.0000"), 15000, 3150),
        ("S", Decimal("10.0000"), 5000, 500),
        ("E", Decimal("0.0000"), 4000, 0),
    ]
    assert figures.total_minor == 24000 + 3650


def test_it_keeps_zero_decimal_currencies_in_whole_units() -> None:
    figures = document_figures([line("3", "333.5", "10")], currency="JPY", prices_include_tax=False)
    # 1000.5 -> 1001 yen; 10% -> 100.1 -> 100.
    assert (figures.net_minor, figures.tax_minor, figures.total_minor) == (1001, 100, 1101)


def test_it_keeps_three_decimal_currencies_to_the_fils() -> None:
    figures = document_figures([line("1", "1.2345", "5")], currency="KWD", prices_include_tax=False)
    # 1.2345 -> 1.235 (half-up); 5% = 0.06175 -> 0.062.
    assert (figures.net_minor, figures.tax_minor, figures.total_minor) == (1235, 62, 1297)


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (line("0", "1"), "quantity_not_positive"),
        (line("-1", "1"), "quantity_not_positive"),
        (line("1", "-1"), "price_negative"),
        (line("1", "1", discount=-1), "discount_negative"),
        (line("1", "1", discount=101), "discount_above_amount"),
        (line("1", "1", rate="100"), "tax_rate_out_of_range"),
    ],
)
def test_it_refuses_lines_that_cannot_be_priced(bad: LineInput, code: str) -> None:
    with pytest.raises(FiguresError) as error:
        document_figures([line("1", "5"), bad], currency="EUR", prices_include_tax=False)
    assert (error.value.code, error.value.position) == (code, 1)


CURRENCIES = st.sampled_from(["JPY", "EUR", "BRL", "KWD", "BHD"])
RATES = st.sampled_from(["0", "4", "5.5", "10", "19", "21", "22", "23", "27"])


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, bool, list[LineInput]]:
    currency = draw(CURRENCIES)
    inclusive = draw(st.booleans())
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        quantity = Decimal(draw(st.integers(1, 5_000_000))).scaleb(-draw(st.integers(0, 6)))
        price = Decimal(draw(st.integers(0, 100_000_000))).scaleb(-draw(st.integers(0, 6)))
        exponent = currency_exponent(currency)
        gross_minor = int((quantity * price).scaleb(exponent).to_integral_value(rounding="ROUND_HALF_UP"))
        discount = draw(st.integers(0, max(gross_minor, 0)))
        lines.append(
            LineInput(
                quantity=quantity,
                unit_price=price,
                tax_rate=Decimal(draw(RATES)),
                tax_category=draw(st.sampled_from(["S", "E", "AE"])),
                discount_minor=discount,
            )
        )
    return currency, inclusive, lines


@settings(max_examples=300, deadline=None)
@given(documents())
def test_total_is_always_lines_plus_taxes(document: tuple[str, bool, list[LineInput]]) -> None:
    currency, inclusive, lines = document
    figures = document_figures(lines, currency=currency, prices_include_tax=inclusive)
    assert figures.total_minor == figures.net_minor + figures.tax_minor
    assert figures.net_minor == sum(lf.net_minor for lf in figures.lines) == sum(t.taxable_minor for t in figures.taxes)
    assert all(lf.net_minor >= 0 and lf.amount_minor >= 0 for lf in figures.lines)
    assert all(t.tax_minor >= 0 for t in figures.taxes)
    if inclusive:
        # Included tax never changes what the customer pays: the total is the lines as entered.
        assert figures.total_minor == sum(lf.amount_minor for lf in figures.lines)
    else:
        assert figures.net_minor == sum(lf.amount_minor for lf in figures.lines)
    for tax in figures.taxes:
        exact = Decimal(tax.taxable_minor) * tax.rate / 100
        # Each rate's tax is within half a minor unit of the exact figure (one rounding only).
        assert abs(Decimal(tax.tax_minor) - exact) <= Decimal("0.5") or inclusive
