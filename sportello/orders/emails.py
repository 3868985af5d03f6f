"""The emails of an order: placed (awaiting payment, with the link to pay it) and paid
(confirmed: carried out, or being finished).

- To: the member who placed it (when they still belong to the account) and the account's
  contacts who receive invoices (the billing topic), each once, in their own language.
- When: after the transaction that placed, released or paid the order commits
  (`core.effects.after_commit`): a rolled-back order sends nothing. Each transition
  happens once (`order_mark_paid` acts once however often it is called), so does its email.
- An order held for review sends nothing until staff release it: then it awaits payment
  and the "placed" email goes. A free order (nothing to pay) is paid at once: it gets only
  the confirmation.
- Figures are the order page's: its lines' amounts and the order's total, formatted by
  `money_display` in the recipient's language.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation

from sportello.accounts.models import Account, EmailTopic, Membership, User
from sportello.core.effects import after_commit
from sportello.core.formatting import money_display
from sportello.core.money import Money
from sportello.notifications.models import EmailKind
from sportello.notifications.services import contacts_receiving, email_send
from sportello.orders.models import Order, OrderStatus

PLACED = "placed"
PAID = "paid"
TEMPLATES = {PLACED: "order_placed", PAID: "order_paid"}


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    language: str
    user: User | None


def order_recipients(order: Order) -> list[Recipient]:
    """The member who placed `order` first, then the invoice contacts; each address once."""
    account = order.account
    recipients: list[Recipient] = []
    placed_by = order.placed_by
    if placed_by is not None and Membership.objects.filter(account=account, user=placed_by).exists():
        language = placed_by.language or account.language
        recipients.append(Recipient(placed_by.get_short_name(), placed_by.email, language, placed_by))
    for contact in contacts_receiving(account=account, topic=EmailTopic.INVOICES):
        language = (contact.user.language if contact.user and contact.user.language else "") or account.language
        recipients.append(Recipient(contact.name, contact.email, language, contact.user))
    seen: set[str] = set()
    unique = []
    for recipient in recipients:
        if recipient.email.lower() not in seen:
            seen.add(recipient.email.lower())
            unique.append(recipient)
    return unique


def order_email_context(order: Order, *, name: str, language: str) -> dict[str, object]:
    def money(minor: int) -> str:
        return money_display(Money.from_minor(minor, order.currency), language)

    invoice = order.invoice
    pay_link = ""
    if order.status == OrderStatus.AWAITING_PAYMENT and invoice is not None and invoice.display_number:
        pay_link = f"{settings.SITE_URL}{reverse('portal:invoice-pay', args=[invoice.display_number])}"
    return {
        "name": name,
        "account_name": order.account.name,
        "number": order.number,
        "lines": [
            {
                "description": line.description,
                "amount": money(line.amount_minor),
                "setup_fee": money(line.setup_fee_minor) if line.setup_fee_minor else "",
            }
            for line in order.lines.order_by("position")
        ],
        "discount": money(order.discount_minor) if order.discount_minor else "",
        "tax": money(order.tax_minor),
        "total": money(order.total_minor),
        "invoice_number": invoice.display_number if invoice is not None else "",
        "active": order.status == OrderStatus.ACTIVE,
        "link": f"{settings.SITE_URL}{reverse('portal:order-detail', args=[order.number])}",
        "pay_link": pay_link,
    }


def order_email_send(*, order_id: int, event: str) -> int:
    """Email `event` (PLACED or PAID) of the order to its recipients; return how many."""
    order = Order.objects.select_related("account", "placed_by", "invoice").get(pk=order_id)
    account: Account = order.account
    recipients = order_recipients(order)
    with transaction.atomic():
        for recipient in recipients:
            with translation.override(recipient.language):
                context = order_email_context(order, name=recipient.name, language=recipient.language)
            email_send(
                template=TEMPLATES[event],
                kind=EmailKind.ORDER,
                to_email=recipient.email,
                language=recipient.language,
                account=account,
                recipient=recipient.user,
                context=context,
            )
    return len(recipients)


def order_email_after_commit(order: Order, event: str) -> None:
    """Send `event`'s email once the current transaction commits (nothing if it rolls back)."""
    after_commit(order_email_send, order_id=order.pk, event=event)
