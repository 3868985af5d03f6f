"""Helpdesk fixtures: departments, a fixed clock, small files of each kind, and the
services and invoices a request can be about."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest

from sportello.accounts.models import Account, Membership, Role, User
from sportello.accounts.services import membership_add
from sportello.billing.models import DocumentKind, Invoice, TaxCategory
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.billing.taxes import TaxDecision
from sportello.billing.tests import conftest as billing_fixtures
from sportello.support.models import Department, Ticket
from sportello.support.services import Upload, ticket_open

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
# A GIF header with a script behind it: an image to a sniffer that stops early, a page to a browser.
POLYGLOT = b"GIF89a/*\x00\x00*/=1;<script>alert(document.domain)</script>"
EXE = b"MZ\x90\x00\x03" + b"\x00" * 64
XSS = "<script>alert(1)</script> <svg onload=alert(2)> {{7*7}}"


def upload(content: bytes, name: str) -> Upload:
    return Upload(file=io.BytesIO(content), name=name)


@pytest.fixture
def finance(db: None) -> Department:
    return Department.objects.create(
        slug="finance", name="Finance", name_translations={"es": "Facturación", "it": "Amministrazione"}
    )


@pytest.fixture
def technical(db: None) -> Department:
    return Department.objects.create(slug="technical", name="Technical support", position=1)


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("agent@provider.example", "x", full_name="Paula Agent", is_staff=True)


@pytest.fixture
def colleague(alice: Membership) -> Membership:
    """A member of alice's account without the support area (billing only)."""
    user = User.objects.create_user("carlos@example.org", "x", full_name="Carlos")
    return membership_add(account=alice.account, user=user, role=Role.CUSTOM, custom_areas=["billing"])


@pytest.fixture
def alice_ticket(alice: Membership, finance: Department) -> Ticket:
    return ticket_open(
        membership=alice,
        department=finance,
        subject="Invoice 2026-0042 charged twice",
        body="Please refund **one** of the two charges.",
        uploads=[upload(PDF, "statement.pdf")],
        now=NOW,
    )


@pytest.fixture
def support_settings(settings: Any) -> Any:
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 2048
    settings.SUPPORT_ATTACHMENT_MAX_COUNT = 2
    settings.SUPPORT_REOPEN_DAYS = 7
    settings.SUPPORT_REPLY_ADDRESS = "support@provider.example"
    settings.SUPPORT_INBOUND_SECRET = "inbound-secret-for-tests"
    return settings


@pytest.fixture
def hosting(db: None) -> Any:
    from sportello.catalog.tests.factories import hosting_catalog

    return hosting_catalog()


@pytest.fixture
def alice_service(alice: Membership, hosting: Any) -> Any:
    from sportello.services.tests.conftest import service_in

    return service_in(alice.account, hosting.prices[("basic", "EUR", "monthly")], "active", label="www.alice.example")


@pytest.fixture
def bob_service(bob: Membership, hosting: Any) -> Any:
    from sportello.services.tests.conftest import service_in

    return service_in(bob.account, hosting.prices[("basic", "BRL", "monthly")], "active", label="www.bob.example")


# --- Invoices (the billing fixtures' seller in Spain, 21 % VAT for alice) -------------------------

# The billing tests' seller and tax rates, as fixtures of this directory too.
seller = billing_fixtures.seller
tax_rates = billing_fixtures.tax_rates
billing_setup = billing_fixtures.billing_setup

INVOICE_DAY = dt.date(2026, 2, 2)


def issued_invoice(account: Account, price: str, *, on: dt.date = INVOICE_DAY) -> Invoice:
    line = NewLine(description=f"Web hosting {price}", quantity=Decimal(1), unit_price=Decimal(price))
    draft = invoice_create(account=account, lines=[line], as_of=on)
    return invoice_issue(invoice=draft, as_of=on, due_date=on + dt.timedelta(days=14))


@pytest.fixture
def alice_invoice(alice: Membership, billing_setup: None) -> Invoice:
    """INV-2026-00001, €121.00 (100.00 + 21 % VAT), unpaid."""
    return issued_invoice(alice.account, "100.00")


@pytest.fixture
def alice_credit_note(alice: Membership, alice_invoice: Invoice) -> Invoice:
    """CN-2026-00001, €24.20, correcting alice's invoice."""
    note = invoice_create(
        account=alice.account,
        kind=DocumentKind.CREDIT_NOTE,
        corrects=alice_invoice,
        lines=[
            NewLine(
                description="Credit for downtime",
                quantity=Decimal(1),
                unit_price=Decimal("20.00"),
                tax=TaxDecision(Decimal(21), TaxCategory.STANDARD, "IVA 21%", False, ""),
                corrects_line_id=alice_invoice.lines.get().pk,
            )
        ],
        as_of=INVOICE_DAY + dt.timedelta(days=3),
    )
    return invoice_issue(invoice=note, as_of=INVOICE_DAY + dt.timedelta(days=3))


@pytest.fixture
def alice_draft(alice: Membership, billing_setup: None) -> Invoice:
    """A draft of alice's: the provider's business, never the customer's."""
    line = NewLine(description="Not yet issued", quantity=Decimal(1), unit_price=Decimal("999.00"))
    return invoice_create(account=alice.account, lines=[line], as_of=INVOICE_DAY)


@pytest.fixture
def bob_invoice(bob: Membership, billing_setup: None) -> Invoice:
    return issued_invoice(bob.account, "300.00")


@pytest.fixture
def alice_technician(alice: Membership) -> Membership:
    """A member of alice's account with the support area but without billing."""
    user = User.objects.create_user("tomas@example.org", "x", full_name="Tomás")
    return membership_add(account=alice.account, user=user, role=Role.TECHNICAL)


# --- Orders (placed through the cart, as a member would; priced with the billing fixtures' rates) --


def placed_order(membership: Membership, catalog: Any, *, label: str) -> Any:
    """`membership`'s order of one Basic monthly hosting named `label`, awaiting payment."""
    from sportello.orders.models import Cart
    from sportello.orders.services import cart_quote, order_place
    from sportello.orders.tests.conftest import AS_OF, AT, fill_cart

    extras = {} if membership.account.currency == "EUR" else {"options": {}, "addons": []}
    fill_cart(membership, catalog, label=label, **extras)
    cart = Cart.objects.get(account=membership.account, user=membership.user)
    quote = cart_quote(cart=cart, account=membership.account, as_of=AS_OF)
    return order_place(
        acting=membership, as_of=AS_OF, at=AT, shown_total_minor=quote.total_minor, shown_currency=quote.currency
    )


@pytest.fixture
def alice_order(alice: Membership, hosting: Any, billing_setup: None) -> Any:
    return placed_order(alice, hosting, label="shop.alice.example")


@pytest.fixture
def bob_order(bob: Membership, hosting: Any, billing_setup: None) -> Any:
    return placed_order(bob, hosting, label="shop.bob.example")
