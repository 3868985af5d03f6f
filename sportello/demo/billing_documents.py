"""Demo data for billing documents: the seller (with bank details and a PIX key), the EU VAT
rates, for every demo account, in its currency and language, quotes in every status a
quote can rest in, and its refunded invoice (`demo_refunds`).

"Accepted" is not among them: accepting a quote invoices it in the same transaction, so a
quote rests "invoiced" (converted) once accepted. Idempotent: the seller's empty fields are
completed and nothing else, rates load idempotently, and each quote is found by its
account and subject before it is created.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.urls import reverse

from sportello.accounts.models import Account, Membership, Role, User
from sportello.billing.models import DocumentKind, InvoiceLine, InvoiceStatus, Quote, Seller
from sportello.billing.quotes import quote_accept, quote_create, quote_decline, quote_expire, quote_send
from sportello.billing.services import NewLine
from sportello.billing.vat_rates import vat_rates_load
from sportello.core.money import Money
from sportello.payments import testcard
from sportello.payments.models import Gateway, Payment, RefundDestination, TestcardCheckout
from sportello.payments.refunds import payment_refund
from sportello.payments.services import payment_begin, payment_create, payment_refresh

DEMO_SELLER = {
    "name": f"{settings.PROVIDER_NAME} S.L.",
    "address_line1": "Calle de Serrano 41, 3º",
    "postal_code": "28001",
    "city": "Madrid",
    "region": "Madrid",
    "country": "ES",
    "vat_id": "ESB87654323",
    "tax_id": "B87654323",
    "email": "billing@example.com",
    "phone": "+34 910 000 000",
    "website": "https://hosting.example.com",
    "bank_name": "CaixaBank",
    "iban": "ES7921000813610123456789",
    "bic": "CAIXESBBXXX",
    "pix_key": "7d9f0335-8dcc-4054-9bf9-0dbd61d36906",
    "pix_city": "SAO PAULO",
    "footer": "Inscrita en el Registro Mercantil de Madrid, tomo 12345, folio 67, hoja M-123456.",
}


@dataclass(frozen=True)
class DemoQuote:
    # draft, sent, declined, expired, converted
    state: str
    subject: str
    lines: tuple[tuple[str, str, str], ...]  # (description, quantity, unit price)
    sent_days_ago: int = 0
    valid_days: int = 30
    decline_reason: str = ""


def _quotes(language: str, currency: str) -> tuple[DemoQuote, ...]:
    # Prices per currency: EUR, or BRL at about six reais to the euro.
    def price(eur: str) -> str:
        return eur if currency != "BRL" else str((Decimal(eur) * 6).quantize(Decimal(1)))

    words = {
        "es": (
            "Migración de la tienda online",
            "Auditoría de seguridad",
            "Formación WordPress",
            "Segundo servidor de copias",
            "Renovación anual ampliada",
            "Ampliación de buzones",
            "Hemos elegido otro proveedor.",
            ("Migración de sitios", "Horas de consultoría", "Informe y recomendaciones", "Sesión de formación"),
        ),
        "it": (
            "Migrazione del negozio online",
            "Verifica di sicurezza",
            "Formazione WordPress",
            "Secondo server di backup",
            "Rinnovo annuale esteso",
            "Ampliamento caselle di posta",
            "Abbiamo scelto un altro fornitore.",
            ("Migrazione dei siti", "Ore di consulenza", "Rapporto e raccomandazioni", "Sessione di formazione"),
        ),
        "pt-br": (
            "Migração da loja virtual",
            "Auditoria de segurança",
            "Treinamento WordPress",
            "Segundo servidor de backup",
            "Renovação anual ampliada",
            "Ampliação de caixas postais",
            "Escolhemos outro fornecedor.",
            ("Migração dos sites", "Horas de consultoria", "Relatório e recomendações", "Sessão de treinamento"),
        ),
    }[language]
    migration, audit, training, backup, renewal, mailboxes, reason, items = words
    return (
        DemoQuote("sent", migration, ((items[0], "3", price("150.00")), (items[1], "4", price("65.00"))), 6),
        DemoQuote("sent", mailboxes, ((items[1], "2", price("65.00")),), 26),
        DemoQuote("draft", backup, ((items[0], "1", price("240.00")),)),
        DemoQuote("converted", audit, ((items[1], "6", price("70.00")), (items[2], "1", price("180.00"))), 20),
        DemoQuote("declined", training, ((items[3], "2", price("120.00")),), 15, decline_reason=reason),
        DemoQuote("expired", renewal, ((items[0], "1", price("480.00")),), 50),
    )


def demo_seller_and_rates() -> None:
    """The seller (created, or only its empty fields completed: staff's entries stay) and
    the EU VAT rates, before any demo document is issued."""
    seller = Seller.objects.order_by("pk").first()
    if seller is None:
        Seller.objects.create(**DEMO_SELLER)
    else:
        missing = {name: value for name, value in DEMO_SELLER.items() if not getattr(seller, name)}
        if seller.vat_id:  # an identity of its own: never mix in the demo's
            missing.pop("tax_id", None)
        if missing:
            for name, value in missing.items():
                setattr(seller, name, value)
            seller.save()
    vat_rates_load()


def _quote(account: Account, spec: DemoQuote, *, as_of: dt.date) -> None:
    decider = Membership.objects.filter(account=account, role=Role.OWNER).select_related("user").order_by("pk").first()
    sent_on = as_of - dt.timedelta(days=spec.sent_days_ago)
    quote = quote_create(
        account=account,
        subject=spec.subject,
        lines=[
            NewLine(description=description, quantity=Decimal(quantity), unit_price=Decimal(unit_price))
            for description, quantity, unit_price in spec.lines
        ],
        as_of=sent_on,
    )
    if spec.state == "draft":
        return
    quote = quote_send(quote=quote, as_of=sent_on, valid_until=sent_on + dt.timedelta(days=spec.valid_days))
    user = decider.user if decider else None
    if spec.state == "converted":
        # Accepted today: its invoice takes the invoice series' next number after the
        # demo's earlier invoices, so that numbers follow dates.
        quote_accept(quote=quote, as_of=as_of, by=user, acting=decider)
    elif spec.state == "declined":
        quote_decline(quote=quote, reason=spec.decline_reason, by=user, acting=decider)
    elif spec.state == "expired":
        quote_expire(quote=quote, as_of=as_of)


def demo_quotes(*, as_of: dt.date) -> None:
    """Each demo account's quotes (module docstring), oldest first, so that the quote
    series' numbers follow the dates they were sent on."""
    from sportello.demo.data import DEMO_ACCOUNTS

    wanted = []
    for spec in DEMO_ACCOUNTS:
        account = Account.objects.get(name=spec.name)
        wanted += [(account, quote_spec) for quote_spec in _quotes(account.language, account.currency)]
    for account, quote_spec in sorted(wanted, key=lambda pair: -pair[1].sent_days_ago):
        if not Quote.objects.filter(account=account, subject=quote_spec.subject).exists():
            _quote(account, quote_spec, as_of=as_of)


# --- The refunded invoice -------------------------------------------------------------------
#
# Each demo account's "refunded" invoice (`data.DEMO_INVOICES`) is issued with the others, in
# date order; here the customer pays it on the test card processor's page on its `paid` day,
# and staff refund all of it to the card on `as_of` (`payments.refunds.payment_refund`, which
# corrects the paid invoice with a credit note of all of it: refunded). After the payments
# demo, which gives accounts without payments theirs; the credit note is dated `as_of`, the
# latest date of the demo's documents, so that its number follows the others'.

DEMO_REFUND_REASON = "The customer moved the domain's DNS to another provider: refunded in full."


def _card_payment(account: Account, invoice_id: int, *, on: dt.date) -> Payment:
    """The invoice paid by the customer with the test processor's good card on `on`."""
    from sportello.billing.models import Invoice

    invoice = Invoice.objects.get(pk=invoice_id)
    plan = payment_create(
        account=account, invoices=[invoice], method=Gateway.TESTCARD, use_credit=False, by=None, as_of=on
    )
    assert plan.payment is not None
    payment = payment_begin(payment=plan.payment, return_url=reverse("portal:payment", args=[plan.payment.public_id]))
    testcard.checkout_pay(
        checkout=TestcardCheckout.objects.get(token=payment.gateway_reference),
        card=testcard.CardEntered(number=testcard.SUCCESS, exp_month=12, exp_year=on.year + 3),
        today=on,
    )
    return payment_refresh(payment=payment, as_of=on)  # as the result page does when the customer is back


def demo_refunds(created: dict[str, int], *, as_of: dt.date) -> None:
    """Pay and refund each demo account's "refunded" invoice (see above); a second load finds
    the invoice refunded and does nothing."""
    from sportello.demo.data import DEMO_ACCOUNTS, DEMO_DOMAINS, DEMO_INVOICES, STAFF

    created.setdefault("payments", 0)
    created.setdefault("credit_notes", 0)
    staff = User.objects.get(email=STAFF.email)
    for spec in DEMO_INVOICES:
        if spec.state != "refunded" or spec.paid is None:
            continue
        for account_spec in DEMO_ACCOUNTS:
            account = Account.objects.get(name=account_spec.name)
            line = (
                InvoiceLine.objects.select_related("invoice")
                .filter(
                    invoice__account=account,
                    invoice__kind=DocumentKind.INVOICE,
                    position=0,
                    description=spec.description.format(domain=DEMO_DOMAINS[account.name]),
                )
                .first()
            )
            if line is None or line.invoice.status == InvoiceStatus.REFUNDED:
                continue
            payment = _card_payment(account, line.invoice_id, on=as_of + dt.timedelta(days=spec.paid))
            payment_refund(
                payment=payment,
                amount=Money.from_minor(payment.amount_minor, payment.currency),
                destination=RefundDestination.GATEWAY,
                reason=DEMO_REFUND_REASON,
                by=staff,
                as_of=as_of,
                idempotency_key=f"demo-refund-{account.reference}-{spec.key}",
            )
            created["payments"] += 1
            created["credit_notes"] += 1
