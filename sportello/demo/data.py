"""Demo data: a provider's realistic customers, created through the domain services.

Idempotent: a second load finds what the first created and adds only what is missing,
so `sportello demo` can run every time and tests can use the same data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from sportello.accounts.models import Account, Contact, Invitation, Membership, Role, User
from sportello.accounts.services import (
    account_create,
    contact_create,
    invitation_create,
    membership_add,
    user_create,
)
from sportello.catalog.models import (
    CYCLE_MONTHS,
    AddOn,
    AddOnPriceVersion,
    ConfigurableOption,
    Cycle,
    MetricAggregation,
    OptionPriceVersion,
    Plan,
    PriceVersion,
    Product,
    ProductCategory,
    UsageMetric,
)
from sportello.catalog.services import addon_price_create, option_price_create, plan_create, price_create
from sportello.core.time import today_utc, utc_now
from sportello.demo.support_data import support_demo_load
from sportello.payments.demo import payments_demo_load
from sportello.services.models import Service
from sportello.services.periods import add_months
from sportello.services.services import (
    service_activate,
    service_cancel,
    service_change_cycle,
    service_create,
    service_expire,
    service_suspend,
    service_terminate,
    usage_record,
)

DEMO_PASSWORD = "sportello-demo"


class DemoRefused(Exception):
    """Demo users (with a published password) may not be created on this installation."""


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    language: str
    role: str
    custom_areas: tuple[str, ...] = ()
    # Created by the provider without a password: logs in through "first access".
    awaiting_first_access: bool = False


@dataclass(frozen=True)
class DemoAccount:
    name: str
    fields: dict[str, Any]
    people: tuple[DemoPerson, ...]


DEMO_ACCOUNTS = (
    DemoAccount(
        name="Nubeclara Servicios Digitales S.L.",
        fields={
            "country": "ES",
            "currency": "EUR",
            "language": "es",
            "time_zone": "Europe/Madrid",
            "address_line1": "Calle de Alcalá 123, 4º B",
            "postal_code": "28009",
            "city": "Madrid",
            "region": "Madrid",
            "vat_id": "ESB12345674",
            "tax_id": "B12345674",
            "billing_email": "facturas@nubeclara.example.com",
        },
        people=(
            DemoPerson("ana@example.com", "Ana García López", "es", Role.OWNER),
            DemoPerson("lucia@example.com", "Lucía Fernández", "es", Role.FINANCE),
            DemoPerson("diego@example.com", "Diego Martín", "es", Role.TECHNICAL),
            DemoPerson("sofia@example.com", "Sofía Navarro", "es", Role.READ_ONLY, awaiting_first_access=True),
        ),
    ),
    DemoAccount(
        name="Studio Ferri Consulenza S.r.l.",
        fields={
            "country": "IT",
            "currency": "EUR",
            "language": "it",
            "time_zone": "Europe/Rome",
            "address_line1": "Via Roma 42",
            "postal_code": "20121",
            "city": "Milano",
            "region": "MI",
            "vat_id": "IT12345670892",
            "tax_id": "12345670892",
            "billing_email": "amministrazione@studioferri.example.com",
        },
        people=(
            DemoPerson("chiara@example.com", "Chiara Ferri", "it", Role.OWNER),
            DemoPerson("marco@example.com", "Marco Bianchi", "it", Role.FINANCE),
            DemoPerson("giulia@example.com", "Giulia Romano", "it", Role.READ_ONLY),
            DemoPerson("ana@example.com", "Ana García López", "es", Role.TECHNICAL),
        ),
    ),
    DemoAccount(
        name="Bruno Tecnologia Ltda.",
        fields={
            "country": "BR",
            "currency": "BRL",
            "language": "pt-br",
            "time_zone": "America/Sao_Paulo",
            "address_line1": "Avenida Paulista, 1000, conj. 52",
            "postal_code": "01310-100",
            "city": "São Paulo",
            "region": "SP",
            "tax_id": "11.222.333/0001-81",
            "billing_email": "financeiro@brunotec.example.com",
        },
        people=(
            DemoPerson("bruno@example.com", "Bruno Souza", "pt-br", Role.OWNER),
            DemoPerson("camila@example.com", "Camila Oliveira", "pt-br", Role.TECHNICAL),
            DemoPerson("rafael@example.com", "Rafael Lima", "pt-br", Role.CUSTOM, ("billing", "support")),
        ),
    ),
)

STAFF = DemoPerson("admin@example.com", "Sportello Admin", "en", "")

# The logins printed by `sportello demo` and listed in the README.
DEMO_LOGINS = (
    ("ana@example.com", "Nubeclara Servicios Digitales S.L. (owner) and Studio Ferri (technical)"),
    ("bruno@example.com", "Bruno Tecnologia Ltda. (owner)"),
    ("chiara@example.com", "Studio Ferri Consulenza S.r.l. (owner)"),
    ("admin@example.com", "staff: back office at /staff/"),
    ("sofia@example.com", "no password yet: try 'First access' on the login page"),
)


def demo_allowed() -> bool:
    return bool(settings.DEBUG or settings.SPORTELLO_DEMO)


def _person(person: DemoPerson, *, staff: bool = False) -> User:
    user = User.objects.filter(email=person.email).first()
    if user is None and person.awaiting_first_access:
        user = user_create(email=person.email, full_name=person.full_name, language=person.language)
    if user is None:
        user = User.objects.create_user(
            person.email,
            DEMO_PASSWORD,
            full_name=person.full_name,
            language=person.language,
            is_staff=staff,
            is_superuser=staff,
        )
    return user


@transaction.atomic
def demo_load(*, as_of: dt.date | None = None) -> dict[str, int]:
    """Create the demo provider's customers, people and staff login; return what was created.

    `as_of` is the day the demo's services are dated from (today by default, so that the
    demo looks current); tests pass a fixed one.
    """
    if not demo_allowed():
        raise DemoRefused("demo data has a published password: set SPORTELLO_DEMO=true (or DEBUG=true) to load it")
    created = {"accounts": 0, "users": 0, "memberships": 0}
    users_before = User.objects.count()
    _person(STAFF, staff=True)
    for spec in DEMO_ACCOUNTS:
        account = Account.objects.filter(name=spec.name).first()
        if account is None:
            account = account_create(name=spec.name, **spec.fields)
            created["accounts"] += 1
        for person in spec.people:
            user = _person(person)
            if not Membership.objects.filter(account=account, user=user).exists():
                membership_add(account=account, user=user, role=person.role, custom_areas=person.custom_areas)
                created["memberships"] += 1
    created["users"] = User.objects.count() - users_before
    _extras(created)
    _services(created, as_of=as_of or today_utc())
    from sportello.demo.billing_documents import demo_quotes, demo_refunds, demo_seller_and_rates

    demo_seller_and_rates()
    _invoices(created, as_of=as_of or today_utc())
    _orders(created, as_of=as_of or today_utc())
    support_demo_load(created, as_of=as_of or today_utc(), staff=User.objects.get(email=STAFF.email))
    created.update(payments_demo_load(as_of=as_of or today_utc()))
    demo_refunds(created, as_of=as_of or today_utc())
    demo_quotes(as_of=as_of or today_utc())
    return created


# Contacts without a login, and colleagues invited but not yet arrived.
DEMO_CONTACTS = (
    ("Nubeclara Servicios Digitales S.L.", "Gestoría Ruiz (contabilidad)", "gestoria@example.com", ["invoices"]),
    ("Bruno Tecnologia Ltda.", "Contabilidade Externa", "contabil@example.com", ["invoices", "receipts"]),
)
DEMO_INVITATIONS = (
    ("Nubeclara Servicios Digitales S.L.", "ana@example.com", "pablo@example.com", Role.TECHNICAL),
    ("Studio Ferri Consulenza S.r.l.", "chiara@example.com", "luca@example.com", Role.FINANCE),
)


def _extras(created: dict[str, int]) -> None:
    created.setdefault("contacts", 0)
    created.setdefault("invitations", 0)
    for account_name, name, email, topics in DEMO_CONTACTS:
        account = Account.objects.get(name=account_name)
        if not Contact.objects.filter(account=account, email=email).exists():
            contact_create(account=account, name=name, email=email, topics=topics, acting=None, by=None)
            created["contacts"] += 1
    for account_name, inviter, email, role in DEMO_INVITATIONS:
        membership = Membership.objects.get(account__name=account_name, user__email=inviter)
        if not Invitation.objects.filter(account=membership.account, email=email).exists():
            invitation_create(acting=membership, email=email, role=role, now=utc_now())
            created["invitations"] += 1


# --- The catalog and the customers' services --------------------------------------------------
#
# Two products with plans priced in EUR and BRL, an option and an add-on, and services in
# every state of the lifecycle across the three customers, dated from `as_of`. Created
# through the catalog and services domain functions (products, options and add-ons are
# plain configuration, created as staff would in the back office).

# Every demo price is valid from here on, long before any date the demo uses.
DEMO_PRICES_FROM = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)

DEMO_METRICS = (
    ("storage_gb", "Storage", "GB", MetricAggregation.LAST),
    ("traffic_gb", "Traffic", "GB", MetricAggregation.SUM),
    ("sites", "Websites", "", MetricAggregation.LAST),
)


@dataclass(frozen=True)
class DemoPlan:
    code: str
    name: str
    quotas: dict[str, int]
    # (currency, cycle) -> amount in minor units
    prices: dict[tuple[str, str], int]


@dataclass(frozen=True)
class DemoProduct:
    slug: str
    name: str
    description: str
    # Lifecycle rules (Product fields).
    rules: dict[str, Any]
    plans: tuple[DemoPlan, ...]
    # (code, name, unit, {(currency, cycle): unit price})
    options: tuple[tuple[str, str, str, dict[tuple[str, str], str]], ...] = ()
    # (code, name, {(currency, cycle): amount in minor units})
    addons: tuple[tuple[str, str, dict[tuple[str, str], int]], ...] = ()


M, Q, A = Cycle.MONTHLY, Cycle.QUARTERLY, Cycle.ANNUAL
DEMO_PRODUCTS = (
    DemoProduct(
        slug="web-hosting",
        name="Web Hosting",
        description="Linux hosting with email, SSL certificates and daily snapshots.",
        # A renewal notice 30 days ahead; Aruba's 60 days to reactivate after expiry.
        rules={"invoice_lead_days": 30, "reactivation_window_days": 60, "customers_may_cancel_immediately": False},
        plans=(
            DemoPlan(
                "basic",
                "Basic",
                {"storage_gb": 10, "traffic_gb": 100},
                {("EUR", M): 599, ("EUR", A): 5990, ("BRL", M): 2990, ("BRL", A): 29900},
            ),
            DemoPlan(
                "pro",
                "Pro",
                {"storage_gb": 50, "traffic_gb": 500},
                {("EUR", M): 1299, ("EUR", A): 12990, ("BRL", M): 6990, ("BRL", A): 69900},
            ),
        ),
        options=(
            (
                "mailboxes",
                "Extra mailboxes",
                "mailboxes",
                {("EUR", M): "1.00", ("EUR", A): "10.00", ("BRL", M): "5.00", ("BRL", A): "50.00"},
            ),
        ),
        addons=(("backups", "Backup add-on", {("EUR", M): 200, ("EUR", A): 2000, ("BRL", M): 990, ("BRL", A): 9900}),),
    ),
    DemoProduct(
        slug="managed-wordpress",
        name="Managed WordPress",
        description="WordPress kept up to date for you, with staging and malware scanning.",
        rules={"invoice_lead_days": 14, "reactivation_window_days": 30, "customers_may_cancel_immediately": True},
        plans=(
            DemoPlan(
                "starter",
                "Starter",
                {"storage_gb": 20, "sites": 1},
                {
                    ("EUR", M): 1500,
                    ("EUR", Q): 4200,
                    ("EUR", A): 15000,
                    ("BRL", M): 7500,
                    ("BRL", Q): 21000,
                    ("BRL", A): 75000,
                },
            ),
            DemoPlan(
                "business",
                "Business",
                {"storage_gb": 100, "sites": 5},
                {
                    ("EUR", M): 3900,
                    ("EUR", Q): 11100,
                    ("EUR", A): 39000,
                    ("BRL", M): 19500,
                    ("BRL", Q): 55500,
                    ("BRL", A): 195000,
                },
            ),
        ),
    ),
)


@dataclass(frozen=True)
class DemoService:
    account: str
    # Identifies the service in the demo: a second load finds it by (account, label).
    label: str
    product: str
    plan: str
    cycle: str
    # active, expiring (auto-renew off, ends in 30 days), cancel_scheduled, cycle_change,
    # suspended (by staff), suspended_unpaid (its renewal unpaid: see `_renewal_unpaid`),
    # expired_recent (inside the reactivation window), expired_old (outside it),
    # cancelled, terminated, pending.
    state: str
    # Days from `as_of` to the end of the current period (negative: it ended that long ago).
    ends_in: int = 0
    options: dict[str, int] = field(default_factory=dict)
    # metric -> readings as (days before as_of, quantity)
    usage: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)


NUBECLARA, FERRI, BRUNO = (spec.name for spec in DEMO_ACCOUNTS)
DEMO_SERVICES = (
    DemoService(
        NUBECLARA,
        "nubeclara.example.com",
        "web-hosting",
        "pro",
        A,
        "active",
        ends_in=165,
        options={"mailboxes": 5},
        usage={"storage_gb": ((3, "29.8"), (1, "31.5")), "traffic_gb": ((10, "120.4"), (2, "64.1"))},
    ),
    DemoService(NUBECLARA, "tienda.nubeclara.example.com", "web-hosting", "basic", A, "expiring", ends_in=30),
    # The usage-heavy one: 8.5 of 10 GB of storage, 85 %.
    DemoService(
        NUBECLARA,
        "fotos.nubeclara.example.com",
        "web-hosting",
        "basic",
        M,
        "active",
        ends_in=20,
        usage={"storage_gb": ((6, "7.9"), (1, "8.5")), "traffic_gb": ((4, "23.0"), (2, "18.6"))},
    ),
    # Its renewal, due ten days ago, is unpaid: the billing run suspended it after the grace days.
    DemoService(
        NUBECLARA, "intranet.nubeclara.example.com", "web-hosting", "basic", M, "suspended_unpaid", ends_in=-10
    ),
    DemoService(NUBECLARA, "blog.nubeclara.example.com", "web-hosting", "basic", M, "expired_recent", ends_in=-20),
    DemoService(NUBECLARA, "antiguo.nubeclara.example.com", "web-hosting", "basic", M, "expired_old", ends_in=-90),
    DemoService(
        NUBECLARA, "campanas.nubeclara.example.com", "managed-wordpress", "starter", M, "cancel_scheduled", ends_in=12
    ),
    DemoService(NUBECLARA, "promo.nubeclara.example.com", "managed-wordpress", "starter", M, "cancelled", ends_in=18),
    DemoService(NUBECLARA, "pruebas.nubeclara.example.com", "web-hosting", "basic", M, "terminated", ends_in=-5),
    DemoService(NUBECLARA, "staging.nubeclara.example.com", "managed-wordpress", "starter", M, "pending"),
    DemoService(
        FERRI,
        "studioferri.example.com",
        "managed-wordpress",
        "business",
        M,
        "cycle_change",
        ends_in=17,
        usage={"storage_gb": ((2, "41.2"),), "sites": ((2, "3"),)},
    ),
    DemoService(FERRI, "clienti.studioferri.example.com", "managed-wordpress", "starter", Q, "suspended", ends_in=25),
    DemoService(FERRI, "archivio.studioferri.example.com", "web-hosting", "basic", A, "cancelled", ends_in=200),
    DemoService(FERRI, "vecchio.studioferri.example.com", "web-hosting", "pro", M, "terminated", ends_in=-12),
    DemoService(
        BRUNO,
        "brunotec.example.com",
        "web-hosting",
        "pro",
        M,
        "active",
        ends_in=9,
        usage={"storage_gb": ((1, "12.25"),), "traffic_gb": ((5, "210.0"),)},
    ),
    DemoService(BRUNO, "loja.brunotec.example.com", "managed-wordpress", "business", M, "active", ends_in=22),
    DemoService(BRUNO, "teste.brunotec.example.com", "web-hosting", "basic", M, "expired_recent", ends_in=-10),
    DemoService(BRUNO, "legado.brunotec.example.com", "web-hosting", "basic", M, "cancelled", ends_in=14),
    DemoService(BRUNO, "novo.brunotec.example.com", "web-hosting", "pro", A, "pending"),
)


def _catalog(created: dict[str, int]) -> None:
    category, _new = ProductCategory.objects.get_or_create(slug="hosting", defaults={"name": "Hosting"})
    for code, name, unit, aggregation in DEMO_METRICS:
        UsageMetric.objects.get_or_create(code=code, defaults={"name": name, "unit": unit, "aggregation": aggregation})
    for spec in DEMO_PRODUCTS:
        product = Product.objects.filter(slug=spec.slug).first()
        if product is None:
            product = Product.objects.create(
                category=category, slug=spec.slug, name=spec.name, description=spec.description, **spec.rules
            )
            created["products"] += 1
        for position, plan_spec in enumerate(spec.plans, start=1):
            plan = Plan.objects.filter(product=product, code=plan_spec.code).first()
            if plan is None:
                plan = plan_create(
                    product=product,
                    name=plan_spec.name,
                    code=plan_spec.code,
                    quotas=plan_spec.quotas,
                    position=position,
                )
            for (currency, cycle), amount in plan_spec.prices.items():
                if not PriceVersion.objects.filter(plan=plan, currency=currency, cycle=cycle).exists():
                    price_create(
                        plan=plan, currency=currency, cycle=cycle, amount_minor=amount, valid_from=DEMO_PRICES_FROM
                    )
        for code, name, unit, unit_prices in spec.options:
            option, _new = ConfigurableOption.objects.get_or_create(
                product=product, code=code, defaults={"name": name, "unit": unit, "max_quantity": 100}
            )
            for (currency, cycle), unit_price in unit_prices.items():
                if not OptionPriceVersion.objects.filter(option=option, currency=currency, cycle=cycle).exists():
                    option_price_create(
                        option=option,
                        currency=currency,
                        cycle=cycle,
                        unit_price=Decimal(unit_price),
                        valid_from=DEMO_PRICES_FROM,
                    )
        for code, name, amounts in spec.addons:
            addon, _new = AddOn.objects.get_or_create(product=product, code=code, defaults={"name": name})
            for (currency, cycle), amount in amounts.items():
                if not AddOnPriceVersion.objects.filter(addon=addon, currency=currency, cycle=cycle).exists():
                    addon_price_create(
                        addon=addon, currency=currency, cycle=cycle, amount_minor=amount, valid_from=DEMO_PRICES_FROM
                    )


# The reason staff gave for the suspension they made themselves.
DEMO_STAFF_SUSPENSION_REASON = "Malware found on the site: suspended until it is cleaned."


def _service(spec: DemoService, *, as_of: dt.date) -> Service:
    """Create `spec`'s service and walk it, through the lifecycle's transitions, to its state.

    Its first period is placed so that it ends `ends_in` days from `as_of`.
    """
    account = Account.objects.get(name=spec.account)
    plan = Plan.objects.get(product__slug=spec.product, code=spec.plan)
    price = PriceVersion.objects.filter(plan=plan, currency=account.currency, cycle=spec.cycle).latest("valid_from")
    months = CYCLE_MONTHS[spec.cycle]
    end = as_of + dt.timedelta(days=spec.ends_in)
    start = add_months(end, -months)
    auto_renew = spec.state not in ("expiring", "expired_recent", "expired_old")
    service = service_create(
        account=account, price_version=price, as_of=start, options=spec.options, auto_renew=auto_renew, label=spec.label
    )
    if spec.state == "pending":
        return service
    service = service_activate(service=service, as_of=start, reason="demo")
    if spec.state == "cancel_scheduled":
        service = service_cancel(service=service, reason="Moving this site to the main hosting.", immediately=False)
    elif spec.state == "cycle_change":
        service = service_change_cycle(service=service, cycle=A, as_of=as_of)
    elif spec.state == "suspended":
        service = service_suspend(service=service, reason=DEMO_STAFF_SUSPENSION_REASON)
    elif spec.state in ("expired_recent", "expired_old"):
        service = service_expire(service=service, as_of=service.current_period_end or end)
    elif spec.state == "cancelled":
        service = service_cancel(service=service, reason="No longer needed.", immediately=True)
    elif spec.state == "terminated":
        service = service_suspend(service=service, reason="Renewal invoice unpaid")
        service = service_terminate(service=service, reason="Unpaid after the grace period")
    return service


def _services(created: dict[str, int], *, as_of: dt.date) -> None:
    created.setdefault("products", 0)
    created.setdefault("services", 0)
    created.setdefault("usage_records", 0)
    _catalog(created)
    for spec in DEMO_SERVICES:
        if Service.objects.filter(account__name=spec.account, label=spec.label).exists():
            continue
        service = _service(spec, as_of=as_of)
        created["services"] += 1
        for metric, readings in spec.usage.items():
            for index, (days_ago, quantity) in enumerate(readings):
                moment = dt.datetime.combine(as_of - dt.timedelta(days=days_ago), dt.time(12), tzinfo=dt.UTC)
                usage_record(
                    service=service,
                    metric=metric,
                    quantity=Decimal(quantity),
                    at=moment,
                    idempotency_key=f"demo:{spec.label}:{metric}:{index}",
                )
                created["usage_records"] += 1


# --- Invoices and credit notes ------------------------------------------------------------------
#
# For each customer, in its currency and language, invoices in every state a customer meets:
# paid (by card or transfer), fully credited by a credit note, overdue (unpaid past its due
# date), partially paid, open, cancelled (by staff: a full credit note), in collections (sent
# by staff long after its due date), and one paid by card and refunded (`billing_documents.
# demo_refunds`, after the payments demo); a partial credit note on a paid invoice too.
# Created through billing.services (credit notes and cancellations through
# billing.credit_notes, which settle and close them as staff's would be) with dates counted
# from `as_of`, issued in date order across customers so that numbers follow dates, as EU
# numbering rules expect. A second load finds each invoice by its first line's description
# (date-free), each credit note by the invoice it corrects, and adds only what is missing.


@dataclass(frozen=True)
class DemoInvoice:
    key: str
    # "{domain}" is the customer's main domain; unique per customer (the idempotency key).
    description: str
    # currency -> unit price
    prices: dict[str, str]
    issued: int  # days from as_of (negative: in the past)
    due: int
    # paid, credited, overdue (marked so as the daily run does), partially_paid, open,
    # cancelled (by a DemoCreditNote that cancels it), collections (sent on day `paid`),
    # refunded (paid by card on day `paid`), draft (not issued: staff's to check and issue)
    state: str
    quantity: str = "1"
    paid: int | None = None  # day the payment was received
    # Months of service billed from the issue date; 0: a one-off charge without a period.
    months: int = 0
    extra_line: tuple[str, dict[str, str]] | None = None


@dataclass(frozen=True)
class DemoCreditNote:
    key: str
    corrects: str
    # The reason printed on the note ("{domain}" as above).
    reason: str
    # Positions of the corrected invoice's lines credited in full; empty: every line.
    lines: tuple[int, ...]
    issued: int
    # Staff cancel the invoice (`invoice_cancel`: a credit note of all of it) rather than
    # issue a credit note of `lines`.
    cancels: bool = False


DEMO_DOMAINS = {NUBECLARA: "nubeclara.example.com", FERRI: "studioferri.example.com", BRUNO: "brunotec.example.com"}
# How each customer pays, as a payment method is shown to them.
DEMO_PAYMENT_METHODS = {
    NUBECLARA: ("Tarjeta •••• 4242", "Transferencia bancaria"),
    FERRI: ("Carta •••• 4444", "Bonifico bancario"),
    BRUNO: ("Cartão •••• 1881", "PIX"),
}
DEMO_INVOICES = (
    DemoInvoice(
        "domain", "Domain renewal {domain} (1 year)", {"EUR": "12.00", "BRL": "60.00"}, -95, -81, "paid", paid=-85
    ),
    DemoInvoice(
        "hosting",
        "Web Hosting Basic, monthly — {domain}",
        {"EUR": "5.99", "BRL": "29.90"},
        -64,
        -50,
        "paid",
        paid=-52,
        months=1,
        extra_line=("Backup add-on, monthly — {domain}", {"EUR": "2.00", "BRL": "9.90"}),
    ),
    DemoInvoice("ssl", "SSL certificate, 1 year — {domain}", {"EUR": "49.00", "BRL": "245.00"}, -60, -46, "credited"),
    DemoInvoice(
        "wordpress",
        "Managed WordPress Starter, monthly — {domain}",
        {"EUR": "15.00", "BRL": "75.00"},
        -40,
        -26,
        "overdue",
        months=1,
    ),
    DemoInvoice(
        "pro",
        "Web Hosting Pro, quarterly — {domain}",
        {"EUR": "38.97", "BRL": "209.70"},
        -10,
        4,
        "partially_paid",
        paid=-3,
        months=3,
    ),
    DemoInvoice(
        "mailboxes",
        "Extra mailboxes — {domain}",
        {"EUR": "1.00", "BRL": "5.00"},
        -2,
        12,
        "open",
        quantity="5",
        months=1,
    ),
    # Unpaid for two months: staff sent it to collections twenty days ago.
    DemoInvoice(
        "dedicated-ip",
        "Dedicated IP address, 6 months — {domain}",
        {"EUR": "36.00", "BRL": "180.00"},
        -80,
        -66,
        "collections",
        paid=-20,
        months=6,
    ),
    # Paid by card two days after it was issued, refunded in full to the card today.
    DemoInvoice(
        "dns",
        "Premium DNS, 1 year — {domain}",
        {"EUR": "24.00", "BRL": "120.00"},
        -48,
        -34,
        "refunded",
        paid=-46,
        months=12,
    ),
    # Ordered by mistake: cancelled by staff two days after it was issued.
    DemoInvoice(
        "migration",
        "Email migration service — {domain}",
        {"EUR": "30.00", "BRL": "150.00"},
        -35,
        -21,
        "cancelled",
    ),
    # Entered by staff today, not issued yet: the back office shows it, customers never do.
    DemoInvoice(
        "maintenance",
        "Website maintenance plan, 1 year — {domain}",
        {"EUR": "120.00", "BRL": "600.00"},
        0,
        0,
        "draft",
        months=12,
    ),
)
# The reason staff gave for sending the "collections" invoice to collections.
DEMO_COLLECTIONS_REASON = "Still unpaid 46 days after its due date: handed to the collection agency."
DEMO_CREDIT_NOTES = (
    # The whole invoice, before it was paid: the note settles it.
    DemoCreditNote("ssl-cancel", "ssl", "Cancelled: SSL certificate, 1 year — {domain}", (), -58),
    # The backup add-on of a paid invoice: owed back to the customer.
    DemoCreditNote("hosting-credit", "hosting", "Service credit for downtime: backups — {domain}", (1,), -30),
    # Cancelled before it was paid: the credit note of all of it settles it.
    DemoCreditNote("migration-cancel", "migration", "Ordered by mistake — {domain}", (), -33, cancels=True),
)


def _billing_setup(as_of: dt.date) -> None:
    """The seller's details and the one tax rate the demo's invoices need: Spanish VAT for the
    Spanish customer (the Italian one has a valid VAT number: reverse charge; the Brazilian
    one is outside the EU). Only what is missing is created."""
    from sportello.billing.models import Seller, TaxCategory, TaxRate
    from sportello.billing.taxes import tax_rate_on

    if not Seller.objects.exists():
        Seller.objects.create(
            name=settings.PROVIDER_NAME,
            address_line1="Calle de Serrano 41",
            postal_code="28001",
            city="Madrid",
            country="ES",
            vat_id="ESB87654321",
            email="billing@example.com",
            iban="ES9121000418450200051332",
            bic="CAIXESBBXXX",
        )
    if tax_rate_on(country="ES", tax_class="standard", on=as_of - dt.timedelta(days=365)) is None:
        TaxRate.objects.get_or_create(
            country="ES",
            region="",
            tax_class="standard",
            valid_from=dt.date(2012, 9, 1),
            defaults={"name": "IVA 21%", "rate": Decimal("21"), "category": TaxCategory.STANDARD},
        )


def _invoices(created: dict[str, int], *, as_of: dt.date) -> None:
    from sportello.billing.credit_notes import CreditLine, credit_note_create, invoice_cancel
    from sportello.billing.dunning import invoice_mark_overdue
    from sportello.billing.models import DocumentKind, Invoice, InvoiceLine, SettlementKind
    from sportello.billing.services import (
        NewLine,
        invoice_create,
        invoice_issue,
        invoice_send_to_collections,
        invoice_settle,
    )
    from sportello.core.money import Money

    created.setdefault("invoices", 0)
    created.setdefault("credit_notes", 0)
    _billing_setup(as_of)
    staff = User.objects.get(email=STAFF.email)

    def day(offset: int) -> dt.date:
        return as_of + dt.timedelta(days=offset)

    def existing(account: Account, description: str) -> Invoice | None:
        line = InvoiceLine.objects.filter(
            invoice__account=account, invoice__kind=DocumentKind.INVOICE, position=0, description=description
        ).first()
        return line.invoice if line else None

    # Every document of every customer, issued in date order so that numbers follow dates.
    steps: list[tuple[int, int, Account, DemoInvoice | DemoCreditNote | Service]] = []
    for order, account in enumerate(Account.objects.filter(name__in=DEMO_DOMAINS).order_by("pk")):
        for document in (*DEMO_INVOICES, *DEMO_CREDIT_NOTES):
            steps.append((document.issued, order, account, document))
        for unpaid in DEMO_SERVICES:
            if unpaid.account == account.name and unpaid.state == "suspended_unpaid":
                service = Service.objects.get(account=account, label=unpaid.label)
                steps.append((unpaid.ends_in - RENEWAL_LEAD_DAYS, order, account, service))
    for _issued, _order, account, spec in sorted(steps, key=lambda step: (step[0], step[1])):
        domain = DEMO_DOMAINS[account.name]
        currency = account.currency
        if isinstance(spec, Service):
            created["invoices"] += _renewal_unpaid(spec, as_of=as_of)
            continue
        if isinstance(spec, DemoCreditNote):
            corrected_spec = next(item for item in DEMO_INVOICES if item.key == spec.corrects)
            corrected = existing(account, corrected_spec.description.format(domain=domain))
            assert corrected is not None, f"{spec.key} corrects an invoice issued before it"
            # One demo note per invoice at most: found again as "the note correcting it".
            if Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE, corrects=corrected).exists():
                continue
            if spec.cancels:
                reason = spec.reason.format(domain=domain)
                invoice_cancel(invoice=corrected, reason=reason, as_of=day(spec.issued), by=staff)
                created["credit_notes"] += 1
                continue
            # Through the credit-note service: it copies the corrected lines and their tax,
            # settles what the invoice still owed and marks the note itself settled.
            line_ids = list(corrected.lines.order_by("position", "pk").values_list("pk", flat=True))
            credit_note_create(
                invoice=corrected,
                lines=[CreditLine(line_id=line_ids[position]) for position in spec.lines] or None,
                reason=spec.reason.format(domain=domain),
                as_of=day(spec.issued),
            )
            created["credit_notes"] += 1
            continue
        description = spec.description.format(domain=domain)
        if existing(account, description) is not None:
            continue
        start = day(spec.issued)
        period_end = add_months(start, spec.months) if spec.months else None
        lines = [
            NewLine(
                description=description,
                quantity=Decimal(spec.quantity),
                unit_price=Decimal(spec.prices[currency]),
                period_start=start if spec.months else None,
                period_end=period_end,
            )
        ]
        if spec.extra_line:
            text, prices = spec.extra_line
            lines.append(
                NewLine(
                    description=text.format(domain=domain),
                    quantity=Decimal(1),
                    unit_price=Decimal(prices[currency]),
                    period_start=start,
                    period_end=period_end,
                )
            )
        invoice = invoice_create(account=account, lines=lines, as_of=start, by=staff)
        created["invoices"] += 1
        if spec.state == "draft":
            continue  # its due date comes from the day staff issue it
        invoice = invoice_issue(invoice=invoice, as_of=start, due_date=day(spec.due))
        card, transfer = DEMO_PAYMENT_METHODS[account.name]
        if spec.state == "paid" and spec.paid is not None:
            invoice_settle(
                invoice=invoice,
                amount=Money.from_minor(invoice.total_minor, currency),
                kind=SettlementKind.PAYMENT,
                reference=f"demo-{account.reference}-{spec.key}",
                settled_on=day(spec.paid),
                method=card if spec.key == "domain" else transfer,
            )
        elif spec.state == "partially_paid" and spec.paid is not None:
            half = Money.from_minor(invoice.total_minor, currency).allocate([1, 1])[0]
            invoice_settle(
                invoice=invoice,
                amount=half,
                kind=SettlementKind.PAYMENT,
                reference=f"demo-{account.reference}-{spec.key}",
                settled_on=day(spec.paid),
                method=transfer,
            )
        elif spec.state == "overdue":
            invoice_mark_overdue(invoice=invoice, as_of=as_of)
        elif spec.state == "collections" and spec.paid is not None:
            invoice_send_to_collections(invoice=invoice, reason=DEMO_COLLECTIONS_REASON, as_of=day(spec.paid), by=staff)


# The web hosting's invoice lead days (DEMO_PRODUCTS): its renewals are issued this long ahead.
RENEWAL_LEAD_DAYS = 30


def _renewal_unpaid(service: Service, *, as_of: dt.date) -> int:
    """The renewal of `service`'s next period, issued RENEWAL_LEAD_DAYS before it and due on its
    first day, unpaid: overdue, and the service suspended for it after its product's grace days,
    as the daily billing run does (`billing.dunning`). Paying it renews the service and lifts
    the suspension. 1 if the invoice was created, 0 if it was there already."""
    from sportello.billing.dunning import invoice_mark_overdue, service_suspend_unpaid, suspension_date
    from sportello.billing.models import BilledPeriod, InvoiceSource, LineKind
    from sportello.billing.services import NewLine, invoice_create, invoice_issue
    from sportello.services.selectors import service_charge

    start = service.current_period_end
    if start is None or BilledPeriod.objects.filter(service=service, period_start=start).exists():
        return 0
    end = add_months(start, CYCLE_MONTHS[service.cycle])
    product = service.plan.product
    with transaction.atomic():
        issued = start - dt.timedelta(days=RENEWAL_LEAD_DAYS)
        line = NewLine(
            description=f"{product.name} {service.plan.name}, {service.get_cycle_display().lower()} — {service.label}",
            quantity=Decimal(1),
            unit_price=service_charge(service=service).amount,
            kind=LineKind.PLAN,
            period_start=start,
            period_end=end,
            service_id=service.pk,
        )
        draft = invoice_create(
            account=service.account,
            lines=[line],
            as_of=issued,
            source=InvoiceSource.RENEWAL,
            currency=service.price_version.currency,
        )
        invoice = invoice_issue(invoice=draft, as_of=issued, due_date=start)
        BilledPeriod.objects.create(service=service, period_start=start, period_end=end, invoice=invoice)
        invoice_mark_overdue(invoice=invoice, as_of=as_of)
        service_suspend_unpaid(
            service=service,
            invoice=invoice,
            as_of=suspension_date(due_date=start, grace_days=product.grace_days_before_suspension),
        )
    return 1


# --- Orders and a promo code ------------------------------------------------------------------
#
# WELCOME10 (10 % off the first period, once per customer) and one order in each status a
# customer meets first: awaiting payment (Nubeclara, with the code), active (Studio Ferri,
# paid), cancelled (Bruno). Placed through the cart and orders services, as a member would;
# each is found again by the label of the service it orders.

DEMO_PROMO = "WELCOME10"


@dataclass(frozen=True)
class DemoOrder:
    account: str
    member: str
    label: str
    product: str
    plan: str
    cycle: str
    # awaiting_payment, active or cancelled
    state: str
    options: dict[str, int] = field(default_factory=dict)
    addons: tuple[str, ...] = ()
    promo: str = ""


DEMO_ORDERS = (
    DemoOrder(
        NUBECLARA,
        "ana@example.com",
        "nuevo.nubeclara.example.com",
        "web-hosting",
        "basic",
        M,
        "awaiting_payment",
        options={"mailboxes": 2},
        addons=("backups",),
        promo=DEMO_PROMO,
    ),
    DemoOrder(FERRI, "chiara@example.com", "shop.studioferri.example.com", "managed-wordpress", "starter", Q, "active"),
    DemoOrder(BRUNO, "bruno@example.com", "extra.brunotec.example.com", "web-hosting", "basic", M, "cancelled"),
)


def _orders(created: dict[str, int], *, as_of: dt.date) -> None:
    from sportello.billing.models import SettlementKind
    from sportello.billing.services import invoice_settle
    from sportello.core.money import Money
    from sportello.orders.models import Cart, PromoCode, PromoKind
    from sportello.orders.services import (
        cart_add,
        cart_promo_apply,
        cart_quote,
        order_cancel,
        order_place,
    )

    created.setdefault("orders", 0)
    created.setdefault("promo_codes", 0)
    _billing_setup(as_of)  # the seller and its Spanish VAT, which orders of Spanish customers bear
    if not PromoCode.objects.filter(code__iexact=DEMO_PROMO).exists():
        PromoCode.objects.create(
            code=DEMO_PROMO,
            description="10 % off the first period of a new service",
            kind=PromoKind.PERCENT,
            percent=Decimal(10),
            max_per_account=1,
        )
        created["promo_codes"] += 1
    at = dt.datetime.combine(as_of, dt.time(9), tzinfo=dt.UTC)
    for spec in DEMO_ORDERS:
        if Service.objects.filter(account__name=spec.account, label=spec.label).exists():
            continue
        member = Membership.objects.select_related("account", "user").get(
            account__name=spec.account, user__email=spec.member
        )
        plan = Plan.objects.get(product__slug=spec.product, code=spec.plan)
        cart_add(
            acting=member,
            plan=plan,
            cycle=spec.cycle,
            quantity=1,
            options=spec.options,
            addons=list(spec.addons),
            label=spec.label,
            as_of=as_of,
        )
        if spec.promo:
            cart_promo_apply(acting=member, code=spec.promo, as_of=as_of, at=at)
        cart = Cart.objects.get(account=member.account, user=member.user)
        total = cart_quote(cart=cart, account=member.account, as_of=as_of).total_minor
        order = order_place(
            acting=member,
            as_of=as_of,
            at=at,
            shown_total_minor=total,
            shown_currency=member.account.currency,
            by=member.user,
        )
        if spec.state == "active":
            # Paid by card: settling the order's invoice carries the order out.
            assert order.invoice is not None
            invoice_settle(
                invoice=order.invoice,
                amount=Money.from_minor(order.invoice.total_minor, order.currency),
                kind=SettlementKind.PAYMENT,
                reference=f"demo-{order.number}",
                settled_on=as_of,
                method=DEMO_PAYMENT_METHODS[spec.account][0],  # by card, as the customer's language says it
            )
        elif spec.state == "cancelled":
            order_cancel(order=order, by=member.user, acting=member, reason="Ordered by mistake.")
        created["orders"] += 1
