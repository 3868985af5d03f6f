"""The payments part of the demo: account credit (offered at payment, not spent on new
invoices automatically), cards kept by the test card processor (ones that work, one expired
that the client area asks to replace), and for each customer, in its currency, a payment by
every method: funds added by card, by a bank transfer that staff registered and (BRL) by a
PIX that staff confirmed, an invoice
paid from the credit, and a bank transfer for the open invoice still awaiting registration.
Everything goes through the payments services, as customers and staff would. Idempotent: a
customer that already has payments gets none again.

The invoices to pay come from the billing demo; "Add funds" on the credit page makes more.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import reverse

from sportello.accounts.models import Account, User
from sportello.billing.models import DocumentKind, Invoice, InvoiceLine
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.core.money import Money
from sportello.payments import testcard
from sportello.payments.adapters.pix import PixGateway
from sportello.payments.models import (
    CreditEntry,
    Gateway,
    Payment,
    PaymentPreference,
    SavedPaymentMethod,
    TestcardCard,
    TestcardCheckout,
)
from sportello.payments.services import (
    CREDIT,
    credit_adjust,
    funds_invoice_create,
    payment_begin,
    payment_create,
    payment_preference_set,
    payment_refresh,
    pix_register,
    transfer_register,
)

NUBECLARA = "Nubeclara Servicios Digitales S.L."
STUDIO_FERRI = "Studio Ferri Consulenza S.r.l."
BRUNO = "Bruno Tecnologia Ltda."
STAFF = "admin@example.com"

# Per currency: funds added by card, funds added by bank transfer, the price of the invoice
# paid from credit.
AMOUNTS = {
    "EUR": (Decimal("50.00"), Decimal("100.00"), Decimal("9.00")),
    "BRL": (Decimal("250.00"), Decimal("500.00"), Decimal("45.00")),
}
# Funds added by PIX, where the currency has it (BRL).
PIX_FUNDS = Decimal("150.00")
# The first line of the invoice paid from the account's credit: found again by it.
CREDIT_PAID = "Domain privacy protection, 1 year — {domain}"
DOMAINS = {NUBECLARA: "nubeclara.example.com", STUDIO_FERRI: "studioferri.example.com", BRUNO: "brunotec.example.com"}
# The billing demo's open invoice, which a bank transfer not yet received is for.
TRANSFER_AWAITED = "Extra mailboxes — {domain}"


def _card(
    account: Account,
    *,
    token: str,
    last4: str,
    behaviour: str,
    exp: dt.date,
    default: bool,
    brand: str = "Visa",
) -> None:
    card, _ = TestcardCard.objects.get_or_create(
        token=token,
        defaults={
            "brand": brand,
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


def _begin(payment: Payment | None) -> Payment:
    assert payment is not None
    return payment_begin(payment=payment, return_url=reverse("portal:payment", args=[payment.public_id]))


def _payments(account: Account, *, as_of: dt.date, staff: User | None) -> None:
    """A payment by every method, in the account's currency (see the module's docstring)."""
    by_card, by_transfer, credit_paid = AMOUNTS.get(account.currency, AMOUNTS["EUR"])
    currency = account.currency
    # Funds added by card, on the test processor's page, with its good test card.
    funds = funds_invoice_create(account=account, amount=Money(by_card, currency), as_of=as_of, by=None)
    payment = _begin(
        payment_create(
            account=account, invoices=[funds], method=Gateway.TESTCARD, use_credit=False, by=None, as_of=as_of
        ).payment
    )
    checkout = TestcardCheckout.objects.get(token=payment.gateway_reference)
    testcard.checkout_pay(
        checkout=checkout,
        card=testcard.CardEntered(number=testcard.SUCCESS, exp_month=12, exp_year=as_of.year + 3),
        today=as_of,
    )
    payment_refresh(payment=payment, as_of=as_of)  # as the result page does when the customer is back
    # Funds added by a bank transfer that staff registered when it arrived.
    funds = funds_invoice_create(account=account, amount=Money(by_transfer, currency), as_of=as_of, by=None)
    payment = _begin(
        payment_create(
            account=account, invoices=[funds], method=Gateway.BANK_TRANSFER, use_credit=False, by=None, as_of=as_of
        ).payment
    )
    transfer_register(payment=payment, amount=Money(by_transfer, currency), received_on=as_of, by=staff)
    if PixGateway().available(currency=currency):
        # Funds added by PIX (BRL), confirmed by staff from the PSP's statement.
        funds = funds_invoice_create(account=account, amount=Money(PIX_FUNDS, currency), as_of=as_of, by=None)
        payment = _begin(
            payment_create(
                account=account, invoices=[funds], method=Gateway.PIX, use_credit=False, by=None, as_of=as_of
            ).payment
        )
        pix_register(
            payment=payment,
            end_to_end_id=f"E00000000{as_of:%Y%m%d}1200DEMO{account.pk:07d}",
            amount=Money(PIX_FUNDS, currency),
            received_on=as_of,
            by=staff,
        )
    # An invoice paid from the credit those added.
    draft = invoice_create(
        account=account,
        lines=[
            NewLine(
                description=CREDIT_PAID.format(domain=DOMAINS[account.name]),
                quantity=Decimal(1),
                unit_price=credit_paid,
            )
        ],
        as_of=as_of,
    )
    invoice = invoice_issue(invoice=draft, as_of=as_of)
    payment_create(account=account, invoices=[invoice], method=CREDIT, use_credit=False, by=None, as_of=as_of)
    # A bank transfer for the open invoice, sent by the customer and not received yet.
    line = InvoiceLine.objects.filter(
        invoice__account=account,
        invoice__kind=DocumentKind.INVOICE,
        position=0,
        description=TRANSFER_AWAITED.format(domain=DOMAINS[account.name]),
    ).first()
    if line is not None:
        awaited: Invoice = line.invoice
        _begin(
            payment_create(
                account=account,
                invoices=[awaited],
                method=Gateway.BANK_TRANSFER,
                use_credit=False,
                by=None,
                as_of=as_of,
            ).payment
        )


def payments_demo_load(*, as_of: dt.date) -> dict[str, int]:
    """Load the payments demo; return how many payments and saved cards it created."""
    payments_before = Payment.objects.count()
    cards_before = SavedPaymentMethod.objects.count()
    nubeclara = Account.objects.filter(name=NUBECLARA).first()
    ferri = Account.objects.filter(name=STUDIO_FERRI).first()
    bruno = Account.objects.filter(name=BRUNO).first()
    staff = User.objects.filter(email=STAFF).first()
    for account in (nubeclara, ferri, bruno):
        if account is not None and not PaymentPreference.objects.filter(account=account).exists():
            # Credit is offered on the pay page ("use my account credit first") rather than spent
            # on every new invoice, so that the demo's invoices and orders keep their own states.
            payment_preference_set(account=account, apply_credit=False, autopay=False, by=None)
    if nubeclara is not None:
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
    if bruno is not None:
        _card(
            bruno,
            token="card_demo_bruno",
            last4="4444",
            behaviour="succeeded",
            exp=dt.date(as_of.year + 2, 6, 1),
            default=True,
            brand="Mastercard",
        )
    for account in (nubeclara, ferri, bruno):
        if account is not None and not Payment.objects.filter(account=account).exists():
            _payments(account, as_of=as_of, staff=staff)
    return {
        "payments": Payment.objects.count() - payments_before,
        "saved_cards": SavedPaymentMethod.objects.count() - cards_before,
    }
