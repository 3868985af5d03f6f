"""What the API takes and gives. Decimal figures travel as strings (never JSON numbers,
which clients read as binary floats); times are ISO 8601 with their offset."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema
from pydantic import AwareDatetime, field_validator

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
