"""Money: an amount in a currency, exact, never a float.

Stored amounts are integer minor units plus an ISO 4217 code; the exponent of each
currency (JPY 0, EUR 2, KWD 3) comes from the ISO 4217 tables shipped by `iso4217`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from iso4217 import Currency


class CurrencyError(ValueError):
    """An unknown or mismatched currency."""


@cache
def currency_exponent(currency: str) -> int:
    """Number of decimal places of `currency`'s minor unit, from ISO 4217."""
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        raise CurrencyError(f"unknown currency {currency!r}") from None
    if exponent is None:  # funds and metals (XAU, XDR...) have no minor unit
        raise CurrencyError(f"{currency} is not a currency that can be invoiced")
    return int(exponent)


def is_currency(code: str) -> bool:
    try:
        currency_exponent(code)
    except CurrencyError:
        return False
    return True


def round_money(amount: Decimal, currency: str) -> Decimal:
    """THE rounding rule of Sportello: half-up to the currency's minor unit.

    Every figure that is stored or shown passes through here exactly once, at the point
    where a document rule says to round: per line for line totals, per tax rate on the
    document for tax (as EU practice); sums of rounded figures are never rounded again.
    Half-up (0.5 away from zero) is what EU tax authorities and customers expect; banker's
    rounding would show 2.5 -> 2 on an invoice and start support requests.
    """
    quantum = Decimal(1).scaleb(-currency_exponent(currency))
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency, always held at the currency's own precision."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float):
            raise TypeError("Money does not take floats; pass a Decimal or a string")
        try:
            amount = Decimal(self.amount)
        except (InvalidOperation, TypeError, ValueError):
            raise ValueError(f"{self.amount!r} is not an amount") from None
        if not amount.is_finite():
            raise ValueError(f"{self.amount!r} is not a finite amount")
        currency = str(self.currency).upper()
        exponent = currency_exponent(currency)
        if amount != amount.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP):
            raise ValueError(f"{amount} has more decimals than {currency} allows; round it first")
        object.__setattr__(self, "amount", amount.quantize(Decimal(1).scaleb(-exponent)))
        object.__setattr__(self, "currency", currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def rounded(cls, amount: Decimal, currency: str) -> Money:
        """Money from an unrounded Decimal, through the one rounding rule."""
        return cls(round_money(Decimal(amount), currency.upper()), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        return cls(Decimal(int(minor)).scaleb(-currency_exponent(currency.upper())), currency)

    @property
    def minor(self) -> int:
        """The amount in integer minor units, as stored."""
        return int(self.amount.scaleb(currency_exponent(self.currency)))

    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._check(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._check(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._check(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._check(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._check(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._check(other).amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    def times(self, factor: Decimal) -> Money:
        """This amount multiplied by `factor`, rounded by the one rule."""
        if isinstance(factor, float):
            raise TypeError("multiply Money by a Decimal, not a float")
        return Money.rounded(self.amount * Decimal(factor), self.currency)

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to `weights` whose sum is exactly this amount.

        Largest-remainder method on minor units: no cent is created or lost.
        """
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError("weights must be non-negative and not all zero")
        total = self.minor
        sign = -1 if total < 0 else 1
        total = abs(total)
        shares = [total * w // sum(weights) for w in weights]
        remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % sum(weights)), i))
        for i in remainders[: total - sum(shares)]:
            shares[i] += 1
        return [Money.from_minor(sign * s, self.currency) for s in shares]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
