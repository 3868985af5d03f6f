"""Writes of the accounts domain: one function, one transaction."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction

from sportello.accounts.errors import AlreadyMember, InvalidAccountData
from sportello.accounts.models import Account, AccountKind, Area, Membership, Role, User
from sportello.core.money import is_currency
from sportello.core.services import audit_record
from sportello.core.time import is_time_zone

_LANGUAGES = {code for code, _ in settings.LANGUAGES}


def _validate_account_fields(*, country: str, currency: str, language: str, time_zone: str) -> None:
    if len(country) != 2 or not country.isalpha() or not country.isupper():
        raise InvalidAccountData("country", "an ISO 3166 alpha-2 code such as ES")
    if not is_currency(currency):
        raise InvalidAccountData("currency", "an ISO 4217 currency code such as EUR")
    if language not in _LANGUAGES:
        raise InvalidAccountData("language", f"one of {', '.join(sorted(_LANGUAGES))}")
    if not is_time_zone(time_zone):
        raise InvalidAccountData("time_zone", "an IANA time zone such as Europe/Madrid")


@transaction.atomic
def account_create(
    *,
    name: str,
    country: str,
    currency: str,
    language: str = "en",
    time_zone: str = "UTC",
    kind: str = AccountKind.COMPANY,
    address_line1: str = "",
    address_line2: str = "",
    postal_code: str = "",
    city: str = "",
    region: str = "",
    vat_id: str = "",
    tax_id: str = "",
    billing_email: str = "",
    by: User | None = None,
) -> Account:
    """Create a customer account; its customer number is C- and its id, five digits at least."""
    name = name.strip()
    if not name:
        raise InvalidAccountData("name", "required")
    country, currency = country.strip().upper(), currency.strip().upper()
    _validate_account_fields(country=country, currency=currency, language=language, time_zone=time_zone)
    account = Account.objects.create(
        # A unique stand-in until the id is known, replaced in this same transaction.
        reference=f"new-{secrets.token_hex(8)}",
        kind=kind,
        name=name,
        country=country,
        currency=currency,
        language=language,
        time_zone=time_zone,
        address_line1=address_line1,
        address_line2=address_line2,
        postal_code=postal_code,
        city=city,
        region=region,
        vat_id=vat_id,
        tax_id=tax_id,
        billing_email=billing_email,
    )
    account.reference = f"C-{account.pk:05d}"
    account.save(update_fields=["reference"])
    audit_record(action="account.created", actor=by, account=account, target=account)
    return account


@transaction.atomic
def membership_add(
    *,
    account: Account,
    user: User,
    role: str,
    custom_areas: Iterable[str] = (),
    by: User | None = None,
) -> Membership:
    """Give `user` a role in `account`."""
    if role not in Role.values:
        raise InvalidAccountData("role", f"one of {', '.join(Role.values)}")
    areas = sorted(set(custom_areas)) if role == Role.CUSTOM else []
    if any(area not in Area.values for area in areas):
        raise InvalidAccountData("custom_areas", f"areas among {', '.join(Area.values)}")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(account=account, user=user, role=role, custom_areas=areas)
    except IntegrityError:
        raise AlreadyMember(f"{user.email} is already a member of {account.reference}") from None
    audit_record(
        action="membership.added", actor=by, account=account, target=membership, data={"user": user.email, "role": role}
    )
    return membership


@transaction.atomic
def user_set_language(*, user: User, language: str) -> User:
    if language and language not in _LANGUAGES:
        raise InvalidAccountData("language", f"one of {', '.join(sorted(_LANGUAGES))}")
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language
    return user
