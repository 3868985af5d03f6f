"""Demo data: a provider's realistic customers, created through the domain services.

Idempotent: a second load finds what the first created and adds only what is missing,
so `sportello demo` can run every time and tests can use the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from sportello.core.time import utc_now

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
def demo_load() -> dict[str, int]:
    """Create the demo provider's customers, people and staff login; return what was created."""
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
