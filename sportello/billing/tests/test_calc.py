"""The document figures: the one rounding rule, checked on examples and on random documents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportello.billing.calc import FiguresError, LineInput, document_figures, line_amount_minor, line_before_tax
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


def before_tax(lines: list[LineInput], *, currency: str = "EUR", inclusive: bool = True) -> list[tuple[str, int, int]]:
    figures = document_figures(lines, currency=currency, prices_include_tax=inclusive)
    shown = [
        line_before_tax(
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_minor=line.discount_minor,
            net_minor=lf.net_minor,
            tax_rate=line.tax_rate,
            currency=currency,
            prices_include_tax=inclusive,
        )
        for line, lf in zip(lines, figures.lines, strict=True)
    ]
    return [(str(s.unit_price), s.discount_minor, s.net_minor) for s in shown]


def test_an_inclusive_line_prints_its_unit_price_before_tax() -> None:
    # 2 x 12.10 with 21 % included: 24.20 gross, 4.20 tax, 20.00 net, 10.00 a unit.
    assert before_tax([line("2", "12.10")]) == [("10.00", 0, 2000)]


def test_the_allotted_cents_show_in_the_unit_price_never_in_a_total() -> None:
    # Three lines of 10.00 share a net of 24.79 as 8.27 + 8.26 + 8.26 (the rule's example).
    assert before_tax([line("1", "10.00")] * 3) == [("8.27", 0, 827), ("8.26", 0, 826), ("8.26", 0, 826)]


def test_an_inclusive_discount_prints_before_tax_too() -> None:
    # 12.10 less 1.21 included: 10.89 gross -> 1.89 tax, 9.00 net; discount 1.00, unit 10.00.
    assert before_tax([line("1", "12.10", discount=121)]) == [("10.00", 100, 900)]


def test_a_unit_price_takes_the_decimals_it_needs_to_give_the_net_back() -> None:
    # 3 x 12.10: 36.30 gross, 6.30 tax, 30.00 net: 10.00 a unit. 3 x 11.00: 33.00 gross,
    # 5.73 tax, 27.27 net: 9.09 a unit. 7 x 1.00: 7.00 -> 1.21 tax, 5.79 net = 7 x 0.827142...:
    # 7 x 0.83 = 5.81 misses it, 7 x 0.827 = 5.789 gives 5.79 back.
    assert before_tax([line("3", "12.10")]) == [("10.00", 0, 3000)]
    assert before_tax([line("3", "11.00")]) == [("9.09", 0, 2727)]
    assert before_tax([line("7", "1.00")]) == [("0.827", 0, 579)]


def test_zero_decimal_and_three_decimal_currencies_keep_their_own_decimals() -> None:
    assert before_tax([line("1", "1100", "10")], currency="JPY") == [("1000", 0, 1000)]
    assert before_tax([line("1", "1.050", "5")], currency="KWD") == [("1.000", 0, 1000)]


def test_prices_without_tax_print_as_entered() -> None:
    assert before_tax([line("3", "0.045", discount=2)], inclusive=False) == [("0.045", 2, 12)]


def test_a_fully_discounted_inclusive_line_prints_its_price_and_discount_before_tax() -> None:
    assert before_tax([line("1", "12.10", discount=1210), line("1", "1.00")]) == [
        ("10.00", 1000, 0),
        ("0.83", 0, 83),
    ]


@settings(max_examples=300, deadline=None)
@given(documents())
def test_every_printed_line_reads_quantity_times_unit_price_less_discount_equals_its_net(
    document: tuple[str, bool, list[LineInput]],
) -> None:
    currency, inclusive, lines = document
    figures = document_figures(lines, currency=currency, prices_include_tax=inclusive)
    exponent = currency_exponent(currency)
    for line_input, lf in zip(lines, figures.lines, strict=True):
        shown = line_before_tax(
            quantity=line_input.quantity,
            unit_price=line_input.unit_price,
            discount_minor=line_input.discount_minor,
            net_minor=lf.net_minor,
            tax_rate=line_input.tax_rate,
            currency=currency,
            prices_include_tax=inclusive,
        )
        assert shown.net_minor == lf.net_minor
        assert shown.unit_price >= 0 and 0 <= shown.discount_minor <= line_input.discount_minor
        if inclusive:
            assert -shown.unit_price.as_tuple().exponent >= exponent  # type: ignore[operator]
        assert (
            line_amount_minor(
                quantity=line_input.quantity,
                unit_price=shown.unit_price,
                discount_minor=shown.discount_minor,
                currency=currency,
            )
            == lf.net_minor
        )
        if not inclusive:
            assert (shown.unit_price, shown.discount_minor) == (line_input.unit_price, line_input.discount_minor)
    # The printed nets still add up to each rate's taxable amount and to the document's net.
    assert sum(lf.net_minor for lf in figures.lines) == figures.net_minor
