"""Errors of the billing domain. Each carries a code and the figures a message needs; the
interface translates them. A refused operation has changed nothing."""

from __future__ import annotations

import datetime as dt


class BillingError(Exception):
    """Base of the billing domain's refusals."""

    code = "refused"


class TaxRateMissing(BillingError):
    """No tax rate is configured for a tax class in a country on a date: staff must add one."""

    code = "tax_rate_missing"

    def __init__(self, *, country: str, tax_class: str, on: dt.date) -> None:
        super().__init__(f"no {tax_class!r} tax rate for {country} on {on}")
        self.country = country
        self.tax_class = tax_class
        self.on = on


class IllegalTransition(BillingError):
    code = "illegal_transition"

    def __init__(self, *, transition: str, from_status: str) -> None:
        super().__init__(f"{transition} is not allowed from {from_status}")
        self.transition = transition
        self.from_status = from_status


class InvalidDocument(BillingError):
    """A document or line that cannot be written as asked: `field` names what is wrong."""

    code = "invalid"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class DocumentNotFound(BillingError):
    code = "not_found"


class AmountAboveBalance(BillingError):
    """More money than the invoice still owes; the caller decides where the excess goes."""

    code = "amount_above_balance"

    def __init__(self, *, balance_minor: int, wanted_minor: int, currency: str) -> None:
        super().__init__(f"balance {balance_minor}, wanted {wanted_minor} ({currency})")
        self.balance_minor = balance_minor
        self.wanted_minor = wanted_minor
        self.currency = currency


class CreditAboveInvoice(BillingError):
    """Credit notes may never credit more than the invoice they correct, over all of them."""

    code = "credit_above_invoice"

    def __init__(self, *, creditable_minor: int, wanted_minor: int, currency: str) -> None:
        super().__init__(f"creditable {creditable_minor}, wanted {wanted_minor} ({currency})")
        self.creditable_minor = creditable_minor
        self.wanted_minor = wanted_minor
        self.currency = currency


class CurrencyMismatch(BillingError):
    code = "currency_mismatch"

    def __init__(self, *, expected: str, got: str) -> None:
        super().__init__(f"expected {expected}, got {got}")
        self.expected = expected
        self.got = got


class InvoiceHasPayments(BillingError):
    """An invoice that has received money (payments or account credit) is not cancelled:
    the customer is refunded first (the payments domain), then the invoice is credited."""

    code = "invoice_has_payments"

    def __init__(self, *, received_minor: int, currency: str) -> None:
        super().__init__(f"received {received_minor} ({currency})")
        self.received_minor = received_minor
        self.currency = currency


class QuoteExpired(BillingError):
    """A quote past its validity date is no longer accepted, even before the daily job marks it."""

    code = "quote_expired"

    def __init__(self, *, valid_until: dt.date) -> None:
        super().__init__(f"valid until {valid_until}")
        self.valid_until = valid_until


class NotAllowed(BillingError):
    """The acting member's role does not allow this (e.g. a read-only member accepting a quote)."""

    code = "not_allowed"


class CreditAmountUnreachable(BillingError):
    """No credit note of the invoice's lines and tax rules totals exactly this amount (with
    prices before tax, tax rounding skips some totals): the nearest ones are offered."""

    code = "credit_amount_unreachable"

    def __init__(self, *, lower_minor: int, upper_minor: int, currency: str) -> None:
        super().__init__(f"nearest {lower_minor} or {upper_minor} ({currency})")
        self.lower_minor = lower_minor
        self.upper_minor = upper_minor
        self.currency = currency
