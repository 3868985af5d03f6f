"""The payments part of the demo: account credit (offered at payment, not spent on new
invoices automatically), and cards kept by the test card processor (one that works, one
expired that the client area asks to replace). Idempotent.

The invoices to pay come from the billing demo; "Add funds" on the credit page makes more.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sportello.accounts.models import Account
from sportello.core.money import Money
from sportello.payments.models import CreditEntry, PaymentPreference, SavedPaymentMethod, TestcardCard
from sportello.payments.services import credit_adjust, payment_preference_set

NUBECLARA = "Nubeclara Servicios Digitales S.L."
STUDIO_FERRI = "Studio Ferri Consulenza S.r.l."


def _card(account: Account, *, token: str, last4: str, behaviour: str, exp: dt.date, default: bool) -> None:
    card, _ = TestcardCard.objects.get_or_create(
        token=token,
        defaults={
            "brand": "Visa",
            "last4": last4,
            "exp_month": exp.month,
            "exp_year": exp.year,
            "behaviour": behaviour,
        },
    )
    SavedPaymentMethod.objects.get_or_create(
        gateway="testcard",
        token=token,
        defaults={
            "account": account,
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "is_default": default,
        },
    )


def payments_demo_load(*, as_of: dt.date) -> None:
    nubeclara = Account.objects.filter(name=NUBECLARA).first()
    ferri = Account.objects.filter(name=STUDIO_FERRI).first()
    if nubeclara is not None:
        if not PaymentPreference.objects.filter(account=nubeclara).exists():
            # Its credit is offered on the pay page ("use my account credit first") rather than
            # spent on every new invoice, so that the demo's invoices keep their own states.
            payment_preference_set(account=nubeclara, apply_credit=False, autopay=False, by=None)
        if not CreditEntry.objects.filter(account=nubeclara).exists():
            credit_adjust(account=nubeclara, amount=Money(Decimal("25.00"), "EUR"), note="Welcome credit", by=None)
        _card(
            nubeclara,
            token="card_demo_nubeclara",
            last4="4242",
            behaviour="succeeded",
            exp=dt.date(as_of.year + 3, 12, 1),
            default=True,
        )
    if ferri is not None:
        _card(
            ferri,
            token="card_demo_ferri_expired",
            last4="0069",
            behaviour="succeeded",
            exp=dt.date(as_of.year - 1, 1, 1),
            default=True,
        )
