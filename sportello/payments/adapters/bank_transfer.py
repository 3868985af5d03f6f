"""Bank transfer: the customer is shown the seller's IBAN and BIC and a payment reference of
its own; the money is known to have arrived when staff register it, by hand or by importing
the bank statement, where lines are matched on that reference and the amount.

The reference is an ISO 11649 structured creditor reference ("RF" + two check digits + up to
21 characters): banks across SEPA carry it unchanged and its check digits catch a mistyped
reference before it reaches us (https://www.iso.org/standard/50649.html).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.conf import settings
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from sportello.billing.selectors import seller_current
from sportello.payments.adapters.base import Gateway, GatewayOutcome, PaymentRequest, StartedPayment
from sportello.payments.errors import GatewayError

REFERENCE_DIGITS = 12
# An RF reference anywhere in a statement line's free text (with or without spaces).
REFERENCE_PATTERN = re.compile(r"RF\s?\d\d(?:\s?[0-9A-Z]){1,21}", re.IGNORECASE)


def rf_reference(body: str) -> str:
    """The RF reference of `body`: check digits over body + "RF" so that mod 97 gives 1."""
    body = body.upper()
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


def rf_reference_new() -> str:
    """A fresh random reference (12 digits: guessing one that is in use is hopeless, and the
    unique constraint on payments refuses the rare collision)."""
    return rf_reference(f"{secrets.randbelow(10**REFERENCE_DIGITS):0{REFERENCE_DIGITS}d}")


def rf_references_in(text: str) -> list[str]:
    """The valid RF references written in `text` (spaces removed), in order."""
    found = []
    for match in REFERENCE_PATTERN.finditer(text or ""):
        candidate = re.sub(r"\s", "", match.group(0)).upper()
        # The pattern may have swallowed words after the reference: try the longest valid prefix.
        for end in range(len(candidate), 4, -1):
            if iso11649.is_valid(candidate[:end]):
                found.append(candidate[:end])
                break
    return found


def rf_display(reference: str) -> str:
    """In groups of four, as printed on paper and typed into a bank's form."""
    return str(iso11649.format(reference))


class BankTransferGateway(Gateway):
    code = "bank_transfer"
    label = _("Bank transfer")
    # What `clearing_time` says when nothing is configured; the setting decides.
    clearing = _("A few business days after you send it")
    redirects = False

    def available(self, *, currency: str) -> bool:
        return bool(settings.PAYMENTS_BANK_TRANSFER_ENABLED and seller_current().iban)

    def clearing_time(self) -> str:
        """From PAYMENTS_BANK_TRANSFER_CLEARING_DAYS, the figure the waiting page gives too."""
        days = int(settings.PAYMENTS_BANK_TRANSFER_CLEARING_DAYS)
        if days == 0:
            return gettext("The same business day you send it")
        return ngettext(
            "Within %(days)d business day after you send it", "Within %(days)d business days after you send it", days
        ) % {"days": days}

    def start(self, request: PaymentRequest) -> StartedPayment:
        seller = seller_current()
        if not seller.iban:
            raise GatewayError(reason="no_bank_account", retryable=False)
        reference = rf_reference_new()
        instructions: dict[str, Any] = {
            "beneficiary": seller.name,
            "iban": seller.iban,
            "bic": seller.bic,
            "bank_name": seller.bank_name,
            "reference": reference,
            "amount": str(request.amount.amount),
            "currency": request.amount.currency,
            "clearing_days": settings.PAYMENTS_BANK_TRANSFER_CLEARING_DAYS,
            "documents": list(request.documents),
        }
        return StartedPayment(
            gateway_reference=reference, instructions=instructions, method_label=self.label_in(request.language)
        )

    def confirm(self, *, gateway_reference: str) -> GatewayOutcome:
        # Nobody to ask: the money shows up on the bank statement.
        return GatewayOutcome(kind="pending", gateway_reference=gateway_reference)
