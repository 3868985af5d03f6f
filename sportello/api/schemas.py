"""What the API takes and gives. Decimal figures travel as strings (never JSON numbers,
which clients read as binary floats); times are ISO 8601 with their offset."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AwareDatetime, ConfigDict, field_validator

# A usage quantity: up to eighteen digits and six decimals, never negative, never "NaN".
QUANTITY_PATTERN = r"^[0-9]{1,18}(\.[0-9]{1,6})?$"
# A decimal figure the API gives out.
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
METRIC_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Visible ASCII only, as HTTP header values must be.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"


def decimal_text(value: Decimal) -> str:
    """A decimal as plain digits, without trailing zeros or exponent: 12.500000 -> "12.5"."""
    return format(value.normalize(), "f")


class TokenOut(Schema):
    name: str
    kind: str = Field(description="member or integration")
    key_id: str = Field(description="The public part of the token, as lists show it: spt_<key_id>_…")
    scopes: list[str] = Field(description="What the token may do now (bounded by its member's current rights).")
    expires_at: dt.datetime | None


class AccountOut(Schema):
    reference: str
    name: str
    status: str
    currency: str
    language: str
    time_zone: str


class BillingDetailsOut(Schema):
    legal_name: str
    kind: str
    address_lines: list[str]
    country: str
    vat_id: str
    tax_id: str
    currency: str


class MeOut(Schema):
    token: TokenOut
    # Member tokens: the account they act for, the person and their role; null for integration tokens.
    account: AccountOut | None
    user: str | None
    role: str | None
    # With the billing scope only.
    billing: BillingDetailsOut | None


class MoneyOut(Schema):
    amount: str = Field(pattern=DECIMAL_PATTERN, examples=["19.90"])
    currency: str = Field(examples=["EUR"])


class PlanOut(Schema):
    code: str
    name: str
    product: str


class ServiceOut(Schema):
    id: int
    label: str
    status: str
    plan: PlanOut
    cycle: str
    quantity: int
    auto_renew: bool
    cancel_at_period_end: bool
    current_period_start: dt.date | None
    current_period_end: dt.date | None = Field(description="Exclusive: the first day of the next period.")
    next_due_date: dt.date | None
    price: MoneyOut = Field(description="What the current period costs.")
    created_at: dt.datetime


class ServicesPageOut(Schema):
    items: list[ServiceOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class UsageIn(Schema):
    metric: str = Field(pattern=METRIC_PATTERN, examples=["traffic_gb"])
    quantity: str = Field(
        pattern=QUANTITY_PATTERN,
        examples=["12.5"],
        description="A decimal string: zero or more, at most 18 digits and 6 decimals.",
    )
    recorded_at: AwareDatetime = Field(description="When the usage happened, with its UTC offset.")

    @field_validator("recorded_at")
    @classmethod
    def _in_utc(cls, value: dt.datetime) -> dt.datetime:
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("a time between the years 1 and 9999 in UTC") from None


class UsageRecordOut(Schema):
    id: int
    service_id: int
    metric: str
    quantity: str = Field(pattern=DECIMAL_PATTERN)
    recorded_at: dt.datetime
    idempotency_key: str


class QuotaOut(Schema):
    metric: str
    name: str
    unit: str
    used: str = Field(pattern=DECIMAL_PATTERN)
    limit: str = Field(pattern=DECIMAL_PATTERN)
    percent: str | None = Field(
        pattern=DECIMAL_PATTERN, description="used / limit × 100, one decimal; null for a zero limit."
    )
    near_limit: bool
    over_limit: bool


class ServiceUsageOut(Schema):
    service_id: int
    period_start: dt.date | None
    period_end: dt.date | None
    quotas: list[QuotaOut]


# --- Invoices, payments and account credit ------------------------------------------------------

# An amount of money a client sends: digits with up to three decimals (the currency decides
# how many it may really have: EUR two, JPY none), never negative, never a JSON number.
AMOUNT_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,3})?$"
GATEWAY_PATTERN = r"^[a-z_]{1,32}$"


class InvoiceLineOut(Schema):
    description: str
    quantity: str = Field(pattern=DECIMAL_PATTERN)
    unit_price: str = Field(pattern=DECIMAL_PATTERN, description="Before discount and tax, in the invoice's currency.")
    discount: MoneyOut
    net: MoneyOut
    tax_rate: str = Field(pattern=DECIMAL_PATTERN, examples=["21"])
    period_start: dt.date | None
    period_end: dt.date | None = Field(description="Exclusive: the first day after the period billed.")


class InvoiceTaxOut(Schema):
    name: str
    rate: str = Field(pattern=DECIMAL_PATTERN)
    taxable: MoneyOut
    tax: MoneyOut
    exemption_text: str


class InvoiceSettlementOut(Schema):
    kind: str = Field(description="payment, credit (account credit) or credit_note")
    amount: MoneyOut
    settled_on: dt.date
    method: str


class InvoiceOut(Schema):
    id: int
    number: str = Field(description="The fiscal number, or the payment request's until it has one.")
    kind: str = Field(description="invoice or credit_note")
    status: str
    source: str = Field(description="What made it: renewal, order, funds (adding credit), manual...")
    currency: str
    issue_date: dt.date | None
    due_date: dt.date | None
    paid_date: dt.date | None
    net: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    balance: MoneyOut = Field(description="What is still owed (0 once paid, cancelled or for a credit note).")
    created_at: dt.datetime


class InvoiceDetailOut(InvoiceOut):
    lines: list[InvoiceLineOut]
    taxes: list[InvoiceTaxOut]
    settlements: list[InvoiceSettlementOut] = Field(description="What paid it so far.")


class InvoicesPageOut(Schema):
    items: list[InvoiceOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class PaymentInvoiceOut(Schema):
    id: int
    number: str
    planned: MoneyOut = Field(description="What the invoice owed when the payment started.")


class PaymentOut(Schema):
    id: str = Field(description="The payment's public id (a UUID).")
    gateway: str
    status: str = Field(description="initiated, requires_action, succeeded, failed or refunded")
    amount: MoneyOut
    method: str = Field(description="As the customer sees it: “Visa •••• 4242”, “Bank transfer”.")
    invoices: list[PaymentInvoiceOut]
    next_url: str | None = Field(description="Where the customer pays (a card processor's page); null when none.")
    instructions: dict[str, Any] = Field(
        description="What the customer must do to pay, for methods without a page (bank transfer: beneficiary, "
        "iban, bic, reference, amount, currency, clearing_days); empty otherwise."
    )
    failure_code: str | None
    started_on: dt.date
    created_at: dt.datetime


class PaymentsPageOut(Schema):
    items: list[PaymentOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class CreditEntryOut(Schema):
    id: int
    kind: str = Field(description="funds, overpayment, refund, applied (spent on an invoice) or adjustment")
    amount: MoneyOut = Field(description="Signed: positive adds to the credit, negative spends it.")
    invoice_id: int | None
    invoice_number: str | None
    note: str
    at: dt.datetime


class CreditOut(Schema):
    balances: list[MoneyOut] = Field(description="The credit in each currency, the account's own first.")
    entries: list[CreditEntryOut] = Field(description="The ledger, newest first; the balances are its sums.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for more entries; null on the last page.")


class AmountIn(Schema):
    # Unknown fields refuse the request, as for PaymentIn: nothing unexpected reaches a write.
    model_config = ConfigDict(extra="forbid")

    amount: str = Field(
        pattern=AMOUNT_PATTERN,
        examples=["25.00"],
        description="A decimal string, with no more decimals than the currency has.",
    )


class CreditPaymentOut(Schema):
    entry: CreditEntryOut
    invoice: InvoiceOut
    balance: MoneyOut = Field(description="The credit left in the invoice's currency.")


class PaymentIn(Schema):
    # Card data never comes this way (PCI DSS SAQ-A: the card goes to the gateway's page only):
    # a field this schema does not name, such as a card number, refuses the request unread.
    model_config = ConfigDict(extra="forbid")

    invoice_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        min_length=1, max_length=100, description="The invoices to pay together, all in one currency."
    )
    gateway: str = Field(pattern=GATEWAY_PATTERN, examples=["testcard", "bank_transfer"])
