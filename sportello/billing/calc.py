"""The figures of a document, computed in one place for invoices, credit notes, quotes,
orders and the billing run, so that the cart, the page, the PDF and the export agree.

The rule (DESIGN.md, "Money"), applied through `core.money.round_money` (half-up):
1. Each line: amount = round(quantity x unit price) - discount. Rounded once, per line.
2. Lines are grouped by (tax category, rate). For each group the tax is computed once, on
   the group's sum (EU practice), never per line:
   - prices without tax: taxable = sum of amounts; tax = round(taxable x rate / 100);
   - prices with tax:    gross = sum of amounts;  tax = round(gross x rate / (100 + rate)),
     taxable = gross - tax, and each line's net share of the taxable amount is allotted by
     largest remainder, so the lines' net amounts add up to it exactly.
3. Document: net = sum of the taxable amounts, tax = sum of the taxes, total = net + tax.
   Sums of rounded figures are never rounded again.

What a line prints (art. 226 (8)-(9) of Directive 2006/112/EC: the unit price before tax
and the taxable amount), `line_before_tax`, from the figures above and nothing else:
- prices without tax: the unit price and discount as entered; the line's net is its amount;
- prices with tax: the line's net is its share from rule 2; the discount before tax is
  round(discount x 100 / (100 + rate)); the unit price before tax is (net + that discount)
  / quantity, with the fewest decimals (at least the currency's) for which
  round(quantity x unit price) - discount gives the net back exactly. So each printed line
  reads quantity x unit price - discount = net, and the nets add up to the taxable amount
  of their rate: the allotment's cents show in the unit price (three identical lines of
  10.00 with 21 % tax print 8.27, 8.26 and 8.26), never in a total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from sportello.core.money import Money, currency_exponent, round_money

HUNDRED = Decimal(100)
# Rates are stored with four decimals (7.5000 %); grouping uses the same precision.
RATE_QUANTUM = Decimal("0.0001")


class FiguresError(ValueError):
    """A line that cannot be priced: negative, a discount above its amount, an unknown rate."""

    def __init__(self, code: str, position: int) -> None:
        super().__init__(f"line {position + 1}: {code}")
        self.code = code
        self.position = position


@dataclass(frozen=True, slots=True)
class LineInput:
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    tax_category: str
    discount_minor: int = 0
    tax_name: str = ""
    exemption_text: str = ""


@dataclass(frozen=True, slots=True)
class LineFigures:
    # quantity x unit price - discount, as entered (tax included when the prices are).
    amount_minor: int
    # The line's tax-exclusive share of its rate's taxable amount.
    net_minor: int


@dataclass(frozen=True, slots=True)
class TaxFigures:
    category: str
    rate: Decimal
    name: str
    taxable_minor: int
    tax_minor: int
    exemption_text: str


@dataclass(frozen=True, slots=True)
class DocumentFigures:
    currency: str
    lines: tuple[LineFigures, ...]
    taxes: tuple[TaxFigures, ...]
    net_minor: int
    tax_minor: int
    total_minor: int

    @property
    def net(self) -> Money:
        return Money.from_minor(self.net_minor, self.currency)

    @property
    def tax(self) -> Money:
        return Money.from_minor(self.tax_minor, self.currency)

    @property
    def total(self) -> Money:
        return Money.from_minor(self.total_minor, self.currency)


def line_amount_minor(*, quantity: Decimal, unit_price: Decimal, discount_minor: int, currency: str) -> int:
    """quantity x unit price, rounded half-up to the minor unit, less the discount."""
    exponent = currency_exponent(currency)
    gross = round_money(Decimal(quantity) * Decimal(unit_price), currency)
    return int(gross.scaleb(exponent)) - int(discount_minor)


@dataclass(frozen=True, slots=True)
class LineBeforeTax:
    """A line as it prints: before tax, whichever way its prices were entered."""

    unit_price: Decimal
    discount_minor: int
    net_minor: int


# The most decimals a unit price before tax is shown with: far past the point where the
# largest quantity a line may hold gives its net back exactly.
MAX_UNIT_DECIMALS = 24


def line_before_tax(
    *,
    quantity: Decimal,
    unit_price: Decimal,
    discount_minor: int,
    net_minor: int,
    tax_rate: Decimal,
    currency: str,
    prices_include_tax: bool,
) -> LineBeforeTax:
    """The unit price, discount and net a line prints, by the rule in this module's docstring,
    from its stored figures (`net_minor` is the line's share of its rate's taxable amount)."""
    if not prices_include_tax:
        return LineBeforeTax(unit_price=Decimal(unit_price), discount_minor=int(discount_minor), net_minor=net_minor)
    exponent = currency_exponent(currency)
    rate = Decimal(tax_rate)
    discount = int(discount_minor)
    if discount:
        discount = int(
            round_money(Decimal(discount).scaleb(-exponent) * HUNDRED / (HUNDRED + rate), currency).scaleb(exponent)
        )
    # Enough digits for the largest quantity at the most decimals (the default context has 28).
    with localcontext() as context:
        context.prec = 64
        exact = Decimal(net_minor + discount).scaleb(-exponent) / Decimal(quantity)
        shown = exact
        for decimals in range(max(exponent, 0), MAX_UNIT_DECIMALS + 1):
            shown = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
            back = line_amount_minor(quantity=quantity, unit_price=shown, discount_minor=discount, currency=currency)
            if back == net_minor:
                break
    return LineBeforeTax(unit_price=shown, discount_minor=discount, net_minor=net_minor)


def tax_on_minor(*, base_minor: int, rate: Decimal, currency: str, included: bool) -> int:
    """The tax of one rate on a document: on the net base, or contained in a gross one."""
    exponent = currency_exponent(currency)
    base = Decimal(base_minor).scaleb(-exponent)
    tax = base * rate / (HUNDRED + rate) if included else base * rate / HUNDRED
    return int(round_money(tax, currency).scaleb(exponent))


def document_figures(lines: Sequence[LineInput], *, currency: str, prices_include_tax: bool) -> DocumentFigures:
    """Every figure of a document from its lines, by the rule in this module's docstring."""
    amounts: list[int] = []
    for position, line in enumerate(lines):
        if line.quantity <= 0:
            raise FiguresError("quantity_not_positive", position)
        if line.unit_price < 0:
            raise FiguresError("price_negative", position)
        if line.discount_minor < 0:
            raise FiguresError("discount_negative", position)
        if not (0 <= line.tax_rate < HUNDRED):
            raise FiguresError("tax_rate_out_of_range", position)
        amount = line_amount_minor(
            quantity=line.quantity, unit_price=line.unit_price, discount_minor=line.discount_minor, currency=currency
        )
        if amount < 0:
            raise FiguresError("discount_above_amount", position)
        amounts.append(amount)

    # Groups in first-appearance order, so a document's summary follows its lines.
    groups: dict[tuple[str, Decimal], list[int]] = {}
    for position, line in enumerate(lines):
        groups.setdefault((line.tax_category, Decimal(line.tax_rate).quantize(RATE_QUANTUM)), []).append(position)

    nets = list(amounts)
    taxes: list[TaxFigures] = []
    for (category, rate), positions in groups.items():
        first = lines[positions[0]]
        group_amount = sum(amounts[p] for p in positions)
        tax = tax_on_minor(base_minor=group_amount, rate=rate, currency=currency, included=prices_include_tax)
        taxable = group_amount - tax if prices_include_tax else group_amount
        if prices_include_tax and group_amount:
            shares = Money.from_minor(taxable, currency).allocate([amounts[p] for p in positions])
            for p, share in zip(positions, shares, strict=True):
                nets[p] = share.minor
        elif prices_include_tax:
            for p in positions:
                nets[p] = 0
        taxes.append(
            TaxFigures(
                category=category,
                rate=rate,
                name=first.tax_name,
                taxable_minor=taxable,
                tax_minor=tax,
                exemption_text=first.exemption_text,
            )
        )

    net = sum(t.taxable_minor for t in taxes)
    tax_total = sum(t.tax_minor for t in taxes)
    return DocumentFigures(
        currency=currency,
        lines=tuple(LineFigures(amount_minor=a, net_minor=n) for a, n in zip(amounts, nets, strict=True)),
        taxes=tuple(taxes),
        net_minor=net,
        tax_minor=tax_total,
        total_minor=net + tax_total,
    )
