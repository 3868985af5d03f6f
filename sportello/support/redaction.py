"""Card numbers pasted into a request are never stored.

Customers sometimes paste a payment card's number into a subject or a message ("please
charge 4242 4242 4242 4242"). Before a subject or a message is written, every run of 13
to 19 digits — optionally grouped by single spaces or dashes, as cards are printed — that
passes the Luhn check is replaced by a fixed mask and its last four digits:
"•••• •••• •••• 4242". The mask has the same shape whatever the card's length, so it
does not tell the brand either. A run that fails the Luhn check (an order number, a phone
number, a typo) stays as typed: nine in ten random numbers fail it, so what is removed
is almost surely a card number, and what is kept almost surely is not.
"""

from __future__ import annotations

import re

MASK = "•••• •••• •••• "

# 13 to 19 digits, each but the last optionally followed by one space or dash; not part of
# a longer run of digits (also not across a separator).
_CANDIDATE = re.compile(r"(?<!\d)(?<!\d[ -])(?:\d[ -]?){12,18}\d(?![ -]?\d)")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_numbers_redact(text: str) -> tuple[str, int]:
    """`text` with every card number masked (see the module's docstring), and how many were."""
    count = 0

    def mask(found: re.Match[str]) -> str:
        nonlocal count
        digits = re.sub(r"\D", "", found.group(0))
        if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
            return found.group(0)
        count += 1
        return MASK + digits[-4:]

    return _CANDIDATE.sub(mask, text), count
