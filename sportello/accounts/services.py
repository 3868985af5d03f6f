"""Writes of the accounts domain: one function, one transaction.

Rules about who may grant what (`_check_can_grant`):
- only a member holding the contacts right manages people;
- nobody changes their own membership (no self-promotion);
- the areas granted are a subset of the granter's own areas, and only an owner grants
  the owner role or changes an owner;
- an account always keeps at least one owner and exactly one default billing contact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.urls import reverse

from sportello.accounts.errors import (
    AlreadyMember,
    ApiTokenInvalid,
    BillingContactRequired,
    InvalidAccountData,
    InvitationInvalid,
    LastOwner,
    NotAllowed,
)
from sportello.accounts.models import (
    DEFAULT_TOPICS,
    ROLE_AREAS,
    Account,
    AccountKind,
    AccountStatus,
    ApiScope,
    ApiToken,
    ApiTokenKind,
    Area,
    Contact,
    EmailTopic,
    Invitation,
    Membership,
    Role,
    User,
    UserSession,
    scopes_allowed_to,
)
from sportello.accounts.taxids import TaxIdError, clean_tax_id, clean_vat_id
from sportello.accounts.tokens import password_link_tokens
from sportello.core.money import is_currency
from sportello.core.services import audit_record
from sportello.core.time import ensure_aware, is_time_zone

_LANGUAGES = {code for code, _ in settings.LANGUAGES}
INVITATION_DAYS = 7

# Account fields a member with the contacts right may edit in the client area. Legal
# identity (name, tax ids, country, currency) stays with staff: it is printed on invoices.
MEMBER_EDITABLE_FIELDS = ("address_line1", "address_line2", "postal_code", "city", "region", "language", "time_zone")
STAFF_EDITABLE_FIELDS = (
    "kind",
    "name",
    "country",
    "currency",
    "vat_id",
    "tax_id",
    "require_mfa",
    *MEMBER_EDITABLE_FIELDS,
)


# --- Audit of what happens to a person ---------------------------------------------------


def audit_user(
    *,
    action: str,
    user: User,
    actor: User | None,
    ip_address: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Record an event about a person once for each account they belong to, so that each
    account's members with the contacts right see it (a login, a failed login, a password
    change); a person of no account gets one row without account, for staff."""
    details = {"user": user.email, **(data or {})}
    accounts: list[Account | None] = list(Account.objects.filter(memberships__user=user).order_by("pk"))
    for account in accounts or [None]:
        audit_record(action=action, actor=actor, account=account, target=user, ip_address=ip_address, data=details)


# --- Accounts ---------------------------------------------------------------------------


def account_fields_clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated, normalised account fields (tax ids checked); raises InvalidAccountData."""
    cleaned = dict(fields)
    for key in ("name", "address_line1", "address_line2", "postal_code", "city", "region"):
        if key in cleaned:
            cleaned[key] = str(cleaned[key]).strip()
            # PostgreSQL refuses an over-long value with an error, SQLite keeps it: refuse
            # it here, the same on both, as bad input rather than a server error.
            limit = getattr(Account._meta.get_field(key), "max_length", None)
            if limit is not None and len(cleaned[key]) > limit:
                raise InvalidAccountData(key, "too_long")
    if "name" in cleaned and not cleaned["name"]:
        raise InvalidAccountData("name", "required")
    country = str(cleaned.get("country", "")).strip().upper()
    if "country" in cleaned:
        if len(country) != 2 or not country.isalpha():
            raise InvalidAccountData("country", "an ISO 3166 alpha-2 code such as ES")
        cleaned["country"] = country
    if "currency" in cleaned:
        cleaned["currency"] = str(cleaned["currency"]).strip().upper()
        if not is_currency(cleaned["currency"]):
            raise InvalidAccountData("currency", "an ISO 4217 currency code such as EUR")
    if "language" in cleaned and cleaned["language"] not in _LANGUAGES:
        raise InvalidAccountData("language", f"one of {', '.join(sorted(_LANGUAGES))}")
    if "time_zone" in cleaned and not is_time_zone(cleaned["time_zone"]):
        raise InvalidAccountData("time_zone", "an IANA time zone such as Europe/Madrid")
    if "kind" in cleaned and cleaned["kind"] not in AccountKind.values:
        raise InvalidAccountData("kind", "company or person")
    try:
        if "vat_id" in cleaned:
            cleaned["vat_id"] = clean_vat_id(str(cleaned["vat_id"]))
        if "tax_id" in cleaned:
            cleaned["tax_id"] = clean_tax_id(str(cleaned["tax_id"]), country=country or cleaned.get("_country", ""))
    except TaxIdError as exc:
        raise InvalidAccountData(exc.field, exc.reason) from None
    cleaned.pop("_country", None)
    return cleaned


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
    require_mfa: bool = False,
    billing_contact_name: str = "",
    billing_email: str = "",
    by: User | None = None,
) -> Account:
    """Create a customer account (customer number C- and its id, five digits at least).

    With `billing_email`, a contact of that address becomes the default billing contact;
    otherwise the first owner added becomes it.
    """
    fields = account_fields_clean(
        {
            "name": name,
            "country": country,
            "currency": currency,
            "language": language,
            "time_zone": time_zone,
            "kind": kind,
            "address_line1": address_line1,
            "address_line2": address_line2,
            "postal_code": postal_code,
            "city": city,
            "region": region,
            "vat_id": vat_id,
            "tax_id": tax_id,
        }
    )
    # A unique stand-in until the id is known, replaced in this same transaction.
    account = Account.objects.create(reference=f"new-{secrets.token_hex(8)}", require_mfa=require_mfa, **fields)
    account.reference = f"C-{account.pk:05d}"
    account.save(update_fields=["reference"])
    if billing_email:
        Contact.objects.create(
            account=account,
            name=billing_contact_name.strip() or account.name,
            email=billing_email.strip().lower(),
            topics=[EmailTopic.INVOICES, EmailTopic.RECEIPTS],
            is_billing_default=True,
        )
    audit_record(action="account.created", actor=by, account=account, target=account)
    return account


@transaction.atomic
def account_update(*, account: Account, by: User, fields: dict[str, Any], acting: Membership | None = None) -> Account:
    """Change an account's details: members (with the contacts right) their address and
    preferences; staff (acting=None) everything. Issued documents keep what they printed."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    allowed: tuple[str, ...] = STAFF_EDITABLE_FIELDS
    if acting is not None:
        if acting.account_id != account.pk or not acting.has_area(Area.CONTACTS) or not acting.can_change:
            raise NotAllowed("contacts_right_required")
        allowed = MEMBER_EDITABLE_FIELDS
    unknown = set(fields) - set(allowed)
    if unknown:
        raise NotAllowed(f"fields_not_editable:{','.join(sorted(unknown))}")
    cleaned = account_fields_clean({**fields, "_country": fields.get("country", account.country)})
    changed = sorted(key for key, value in cleaned.items() if getattr(account, key) != value)
    for key in changed:
        setattr(account, key, cleaned[key])
    if changed:
        account.save(update_fields=[*changed, "updated_at"])
        audit_record(action="account.updated", actor=by, account=account, target=account, data={"fields": changed})
    return account


def _end_sessions(users: Iterable[User]) -> int:
    """Log every browser of these users out, at once.

    Every authenticated session has a UserSession row (written at login, or on the first
    request of a session that predates it), so deleting the sessions those rows name
    ends them all.
    """
    return _delete_sessions(UserSession.objects.filter(user__in=list(users)))


def _delete_sessions(rows: QuerySet[UserSession]) -> int:
    """End the browsers behind these rows: their Django sessions and the rows go together."""
    keys = list(rows.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(session_key__in=keys).delete()
    return len(keys)


@transaction.atomic
def account_suspend(*, account: Account, by: User, reason: str = "") -> Account:
    """Block the customer's access: every member's sessions end; the account is hidden from them."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.status != AccountStatus.ACTIVE:
        raise NotAllowed("account_not_active")
    account.status = AccountStatus.SUSPENDED
    account.save(update_fields=["status", "updated_at"])
    members = [m.user for m in account.memberships.select_related("user")]
    ended = _end_sessions(members)
    audit_record(
        action="account.suspended",
        actor=by,
        account=account,
        target=account,
        data={"reason": reason, "sessions": ended},
    )
    return account


@transaction.atomic
def account_reactivate(*, account: Account, by: User) -> Account:
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.status != AccountStatus.SUSPENDED:
        raise NotAllowed("account_not_suspended")
    account.status = AccountStatus.ACTIVE
    account.save(update_fields=["status", "updated_at"])
    audit_record(action="account.reactivated", actor=by, account=account, target=account)
    return account


# --- Users ------------------------------------------------------------------------------


@transaction.atomic
def user_create(*, email: str, full_name: str = "", language: str = "", by: User | None = None) -> User:
    """A person who will log in, created by staff or by an accepted invitation.

    They have no usable password until their first access (or the invitation) sets one.
    """
    email = email.strip().lower()
    if language and language not in _LANGUAGES:
        raise InvalidAccountData("language", f"one of {', '.join(sorted(_LANGUAGES))}")
    if User.objects.filter(email=email).exists():
        raise InvalidAccountData("email", "taken")
    user = User.objects.create_user(email, None, full_name=full_name.strip(), language=language)
    audit_record(action="user.created", actor=by, target=user, data={"email": email})
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> User:
    if language and language not in _LANGUAGES:
        raise InvalidAccountData("language", f"one of {', '.join(sorted(_LANGUAGES))}")
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language
    return user


@transaction.atomic
def user_update_profile(*, user: User, full_name: str, language: str) -> User:
    user_set_language(user=user, language=language)
    User.objects.filter(pk=user.pk).update(full_name=full_name.strip()[:150])
    Contact.objects.filter(user=user).update(name=full_name.strip()[:150] or user.email)
    user.full_name = full_name.strip()[:150]
    return user


@transaction.atomic
def user_disable(*, user: User, by: User) -> User:
    """Disable a login: every session ends now and no login succeeds until re-enabled."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    ended = _end_sessions([user])
    audit_user(action="user.disabled", actor=by, user=user, data={"sessions": ended})
    return user


@transaction.atomic
def user_enable(*, user: User, by: User) -> User:
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.is_active = True
    audit_user(action="user.enabled", actor=by, user=user)
    return user


def password_link_path(*, url_name: str, user: User) -> str:
    """A fresh single-use link path for `user` (first access or reset); older links die."""
    from allauth.account.utils import user_pk_to_url_str

    token = password_link_tokens.make_token(user)
    return reverse(url_name, kwargs={"uidb36": user_pk_to_url_str(user), "key": token})


def password_link_user(*, uidb36: str, key: str) -> User | None:
    """The user a link belongs to, if the link is still good."""
    from allauth.account.utils import url_str_to_user_pk

    try:
        pk = url_str_to_user_pk(uidb36)
    except (ValueError, TypeError, OverflowError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not password_link_tokens.check_token(user, key):
        return None
    return user


# --- Memberships ------------------------------------------------------------------------


def _areas_for(role: str, custom_areas: Iterable[str]) -> tuple[frozenset[str], list[str]]:
    if role not in Role.values:
        raise InvalidAccountData("role", f"one of {', '.join(Role.values)}")
    if role != Role.CUSTOM:
        return ROLE_AREAS[role], []
    areas = sorted(set(custom_areas))
    if any(area not in Area.values for area in areas):
        raise InvalidAccountData("custom_areas", f"areas among {', '.join(Area.values)}")
    if not areas:
        raise InvalidAccountData("custom_areas", "at least one area")
    return frozenset(areas), areas


def _check_can_grant(acting: Membership, role: str, areas: frozenset[str]) -> None:
    if not acting.has_area(Area.CONTACTS) or not acting.can_change:
        raise NotAllowed("contacts_right_required")
    if role == Role.OWNER and not acting.is_owner:
        raise NotAllowed("only_owner_grants_owner")
    if not areas <= acting.areas:
        raise NotAllowed("cannot_grant_more_than_own")


def contact_for_member(*, account: Account, user: User) -> Contact:
    """The contact row of a member, created on first need with the default topics."""
    contact = Contact.objects.filter(account=account, user=user).first()
    if contact is None:
        contact = (
            Contact.objects.filter(account=account, user__isnull=True)
            .annotate(lower_email=Lower("email"))
            .filter(lower_email=user.email.lower())
            .first()
        )
        if contact is not None:
            contact.user = user
            contact.save(update_fields=["user", "updated_at"])
    if contact is None:
        from sportello.notifications.topics import topic_allowed

        member = Membership.objects.filter(account=account, user=user).first()
        contact = Contact.objects.create(
            account=account,
            user=user,
            name=user.full_name or user.email,
            email=user.email,
            topics=[topic for topic in DEFAULT_TOPICS if member is None or topic_allowed(member, topic)],
            is_billing_default=not Contact.objects.filter(account=account, is_billing_default=True).exists(),
        )
    return contact


@transaction.atomic
def membership_add(
    *,
    account: Account,
    user: User,
    role: str,
    custom_areas: Iterable[str] = (),
    by: User | None = None,
    acting: Membership | None = None,
) -> Membership:
    """Give `user` a role in `account`. `acting` is the member granting it (None for staff)."""
    areas, stored = _areas_for(role, custom_areas)
    if acting is not None:
        # _check_can_grant only compares rights: a member of another account holding
        # the same rights must not add people here.
        if acting.account_id != account.pk:
            raise NotAllowed("other_account")
        _check_can_grant(acting, role, areas)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(account=account, user=user, role=role, custom_areas=stored)
    except IntegrityError:
        raise AlreadyMember(f"{user.email} is already a member of {account.reference}") from None
    contact_for_member(account=account, user=user)
    audit_record(
        action="membership.added",
        actor=by,
        account=account,
        target=membership,
        data={"user": user.email, "role": role, "areas": sorted(areas)},
    )
    return membership


def _owners_left(account_id: int, excluding: int) -> int:
    return Membership.objects.filter(account_id=account_id, role=Role.OWNER).exclude(pk=excluding).count()


@transaction.atomic
def membership_change(
    *, membership: Membership, role: str, custom_areas: Iterable[str] = (), acting: Membership | None, by: User
) -> Membership:
    """Change a member's role; `acting` None means staff."""
    Account.objects.select_for_update().get(pk=membership.account_id)  # lock order: account first
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    areas, stored = _areas_for(role, custom_areas)
    if acting is not None:
        if acting.account_id != membership.account_id:
            raise NotAllowed("other_account")
        if acting.pk == membership.pk:
            raise NotAllowed("cannot_change_self")
        if membership.is_owner and not acting.is_owner:
            raise NotAllowed("only_owner_changes_owner")
        _check_can_grant(acting, role, areas)
    if membership.is_owner and role != Role.OWNER and _owners_left(membership.account_id, membership.pk) == 0:
        raise LastOwner("an account keeps at least one owner")
    before = membership.role
    membership.role = role
    membership.custom_areas = stored
    membership.save(update_fields=["role", "custom_areas", "updated_at"])
    audit_record(
        action="membership.changed",
        actor=by,
        account=membership.account,
        target=membership,
        data={"user": membership.user.email, "from": before, "to": role, "areas": sorted(areas)},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, acting: Membership | None, by: User) -> None:
    """Remove a member's access (their login stays; their contact row goes)."""
    Account.objects.select_for_update().get(pk=membership.account_id)
    membership = Membership.objects.select_for_update().select_related("user", "account").get(pk=membership.pk)
    if acting is not None:
        if acting.account_id != membership.account_id:
            raise NotAllowed("other_account")
        if acting.pk != membership.pk:
            if not acting.has_area(Area.CONTACTS) or not acting.can_change:
                raise NotAllowed("contacts_right_required")
            if membership.is_owner and not acting.is_owner:
                raise NotAllowed("only_owner_changes_owner")
    if membership.is_owner and _owners_left(membership.account_id, membership.pk) == 0:
        raise LastOwner("an account keeps at least one owner")
    contact = Contact.objects.filter(account_id=membership.account_id, user_id=membership.user_id).first()
    if contact is not None and contact.is_billing_default:
        raise BillingContactRequired("choose another default billing contact first")
    if contact is not None:
        contact.delete()
    membership.delete()
    audit_record(
        action="membership.removed",
        actor=by,
        account=membership.account,
        target=membership.account,
        data={"user": membership.user.email, "role": membership.role},
    )


# --- Invitations ------------------------------------------------------------------------


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def invitation_create(
    *, acting: Membership, email: str, role: str, custom_areas: Iterable[str] = (), now: dt.datetime
) -> tuple[Invitation, str]:
    """Invite `email` with at most the acting member's rights; returns the invitation and
    the secret for the link (only its hash is stored). The email is sent after commit."""
    email = email.strip().lower()
    areas, stored = _areas_for(role, custom_areas)
    _check_can_grant(acting, role, areas)
    if Membership.objects.filter(account_id=acting.account_id, user__email=email).exists():
        raise AlreadyMember(f"{email} is already a member")
    secret = secrets.token_urlsafe(32)
    now = ensure_aware(now)
    invitation = Invitation.objects.create(
        account_id=acting.account_id,
        email=email,
        role=role,
        custom_areas=stored,
        invited_by=acting.user,
        token_hash=_hash(secret),
        created_at=now,
        expires_at=now + dt.timedelta(days=INVITATION_DAYS),
    )
    audit_record(
        action="invitation.sent",
        actor=acting.user,
        account=acting.account,
        target=invitation,
        data={"email": email, "role": role, "areas": sorted(areas)},
    )
    from sportello.notifications.models import EmailKind
    from sportello.notifications.services import email_send

    existing = User.objects.filter(email=email).first()
    email_send(
        template="invitation",
        kind=EmailKind.INVITATION,
        to_email=email,
        language=(existing.language if existing and existing.language else acting.account.language),
        account=acting.account,
        recipient=existing,
        context={
            "inviter": acting.user.get_full_name(),
            "account_name": acting.account.name,
            "role": invitation.get_role_display(),
            "link": f"{settings.SITE_URL}{reverse('invitation-accept', args=[secret])}",
            "days": INVITATION_DAYS,
        },
    )
    return invitation, secret


def invitation_find(*, secret: str, now: dt.datetime) -> Invitation:
    """The pending invitation behind a link, or InvitationInvalid."""
    invitation = Invitation.objects.select_related("account", "invited_by").filter(token_hash=_hash(secret)).first()
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= ensure_aware(now)
        or invitation.account.status != AccountStatus.ACTIVE
    ):
        raise InvitationInvalid("this invitation can no longer be used")
    # An invitation is a grant made later: it dies when the inviter has left the account or
    # no longer holds what it grants (a member can never grant what it does not hold).
    inviter = Membership.objects.filter(account_id=invitation.account_id, user_id=invitation.invited_by_id).first()
    try:
        if inviter is None:
            raise NotAllowed("inviter_not_member")
        _check_can_grant(inviter, invitation.role, invitation.areas)
    except NotAllowed:
        raise InvitationInvalid("this invitation can no longer be used") from None
    return invitation


@transaction.atomic
def invitation_accept(*, secret: str, user: User, now: dt.datetime) -> Membership:
    """Turn an invitation into a membership of `user`, whose email must be the invited one."""
    invitation = invitation_find(secret=secret, now=now)
    if user.email.lower() != invitation.email.lower():
        raise InvitationInvalid("this invitation was sent to another email address")
    # Single use under concurrency: only one request flips accepted_at from empty.
    claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        accepted_at=ensure_aware(now), accepted_by=user
    )
    if not claimed:
        raise InvitationInvalid("this invitation can no longer be used")
    return membership_add(
        account=invitation.account,
        user=user,
        role=invitation.role,
        custom_areas=invitation.custom_areas,
        by=invitation.invited_by,
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, acting: Membership, now: dt.datetime) -> None:
    if acting.account_id != invitation.account_id or not acting.has_area(Area.CONTACTS) or not acting.can_change:
        raise NotAllowed("contacts_right_required")
    revoked = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=ensure_aware(now)
    )
    if revoked:
        audit_record(
            action="invitation.revoked",
            actor=acting.user,
            account=acting.account,
            target=invitation,
            data={"email": invitation.email},
        )


# --- Contacts ---------------------------------------------------------------------------


def _clean_topics(topics: Iterable[str], contact: Contact | None = None) -> list[str]:
    """The chosen topics, sorted; a member's contact may only take the topics their areas allow."""
    from sportello.notifications.topics import topic_allowed

    chosen = sorted(set(topics))
    if any(topic not in EmailTopic.values for topic in chosen):
        raise InvalidAccountData("topics", f"among {', '.join(EmailTopic.values)}")
    if contact is not None and contact.user_id is not None:
        member = Membership.objects.filter(account_id=contact.account_id, user_id=contact.user_id).first()
        if member is not None and not all(topic_allowed(member, topic) for topic in chosen):
            raise InvalidAccountData("topics", "outside_areas")
    return chosen


def _check_contact_right(acting: Membership | None, account_id: int, contact: Contact | None = None) -> None:
    if acting is None:
        return
    if acting.account_id != account_id:
        raise NotAllowed("other_account")
    own = contact is not None and contact.user_id == acting.user_id
    if not own and (not acting.has_area(Area.CONTACTS) or not acting.can_change):
        raise NotAllowed("contacts_right_required")


@transaction.atomic
def contact_create(
    *,
    account: Account,
    name: str,
    email: str,
    phone: str = "",
    topics: Iterable[str],
    acting: Membership | None,
    by: User | None,
) -> Contact:
    """A contact without a login, who receives the chosen emails."""
    _check_contact_right(acting, account.pk)
    name, email = name.strip(), email.strip().lower()
    if not name:
        raise InvalidAccountData("name", "required")
    try:
        with transaction.atomic():
            contact = Contact.objects.create(
                account=account, name=name[:150], email=email, phone=phone.strip()[:32], topics=_clean_topics(topics)
            )
    except IntegrityError:
        raise InvalidAccountData("email", "taken") from None
    audit_record(action="contact.added", actor=by, account=account, target=contact, data={"email": email})
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    topics: Iterable[str],
    name: str | None = None,
    phone: str | None = None,
    acting: Membership | None,
    by: User,
) -> Contact:
    """Change what a contact receives (a member may always change their own)."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    _check_contact_right(acting, contact.account_id, contact)
    contact.topics = _clean_topics(topics, contact)
    fields = ["topics", "updated_at"]
    if name is not None and contact.user_id is None:
        if not name.strip():
            raise InvalidAccountData("name", "required")
        contact.name = name.strip()[:150]
        fields.append("name")
    if phone is not None:
        contact.phone = phone.strip()[:32]
        fields.append("phone")
    contact.save(update_fields=fields)
    audit_record(
        action="contact.changed",
        actor=by,
        account=contact.account,
        target=contact,
        data={"email": contact.email, "topics": contact.topics},
    )
    return contact


@transaction.atomic
def contact_set_billing_default(*, contact: Contact, acting: Membership | None, by: User) -> Contact:
    """Make `contact` the one that receives invoices (and always receives them)."""
    Account.objects.select_for_update().get(pk=contact.account_id)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    _check_contact_right(acting, contact.account_id)
    if acting is not None and not acting.has_area(Area.BILLING):
        raise NotAllowed("billing_right_required")
    Contact.objects.filter(account_id=contact.account_id, is_billing_default=True).exclude(pk=contact.pk).update(
        is_billing_default=False
    )
    contact.is_billing_default = True
    if EmailTopic.INVOICES not in contact.topics:
        contact.topics = sorted({*contact.topics, EmailTopic.INVOICES})
    contact.save(update_fields=["is_billing_default", "topics", "updated_at"])
    audit_record(
        action="contact.billing_default",
        actor=by,
        account=contact.account,
        target=contact,
        data={"email": contact.email},
    )
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact, acting: Membership | None, by: User) -> None:
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    _check_contact_right(acting, contact.account_id)
    if contact.user_id is not None:
        raise NotAllowed("remove_the_member_instead")
    if contact.is_billing_default:
        raise BillingContactRequired("choose another default billing contact first")
    contact.delete()
    audit_record(action="contact.removed", actor=by, account=contact.account, data={"email": contact.email})


# --- Sessions ---------------------------------------------------------------------------


def user_session_record(
    *,
    user: User,
    session_key: str,
    ip_address: str | None,
    user_agent: str,
    now: dt.datetime,
    impersonator: User | None = None,
) -> UserSession:
    now = ensure_aware(now)
    session, _ = UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "ip_address": ip_address,
            "user_agent": user_agent[:300],
            "created_at": now,
            "last_seen": now,
            "impersonator": impersonator,
        },
    )
    return session


def user_session_touch(*, session_key: str, ip_address: str | None, now: dt.datetime) -> bool:
    """Note that the session was just used; False when it has no row (to be recorded)."""
    touched = UserSession.objects.filter(session_key=session_key).update(
        last_seen=ensure_aware(now), ip_address=ip_address
    )
    return touched > 0


@transaction.atomic
def user_session_rotated(*, old_key: str, new_key: str | None, user: User | None) -> None:
    """Follow a session whose id changed within a request.

    Login and a password change rotate the id of the same browser's session (the row
    moves to the new id and keeps its login time); logout, an expired session, or a
    login as someone else leave the old id dead (its row goes). A row already recorded
    under the new id (the adapter records each login) wins over the old one.
    """
    if new_key and user is not None and not UserSession.objects.filter(session_key=new_key).exists():
        UserSession.objects.filter(session_key=old_key, user=user).update(session_key=new_key)
    UserSession.objects.filter(session_key=old_key).delete()


@transaction.atomic
def user_session_end(*, user: User, session_id: int, by: User, ip_address: str | None = None) -> bool:
    """End one of `user`'s own sessions; another user's session is not found."""
    if not _delete_sessions(UserSession.objects.filter(pk=session_id, user=user)):
        return False
    audit_record(action="session.ended", actor=by, target=user, ip_address=ip_address, data={"sessions": 1})
    return True


@transaction.atomic
def user_sessions_end_others(*, user: User, keep_session_key: str, by: User, ip_address: str | None = None) -> int:
    ended = _delete_sessions(UserSession.objects.filter(user=user).exclude(session_key=keep_session_key))
    audit_record(action="session.ended", actor=by, target=user, ip_address=ip_address, data={"sessions": ended})
    return ended


# --- First access and password links ----------------------------------------------------------


def first_access_request(*, email: str, ip_address: str | None) -> bool:
    """Email a set-your-password link to a person the provider has on file.

    Returns whether an email was sent, for the audit log only: the interface answers the
    same either way, so nobody learns which emails are on file.
    """
    user = (
        User.objects.filter(email=email.strip().lower(), is_active=True)
        .filter(memberships__account__status=AccountStatus.ACTIVE)
        .distinct()
        .first()
    )
    if user is None:
        return False
    from sportello.notifications.models import EmailKind
    from sportello.notifications.services import email_send

    with transaction.atomic():
        link = f"{settings.SITE_URL}{password_link_path(url_name='first-access-set-password', user=user)}"
        membership = user.memberships.select_related("account").order_by("account__name").first()
        language = user.language or (membership.account.language if membership else settings.LANGUAGE_CODE)
        email_send(
            template="first_access",
            kind=EmailKind.FIRST_ACCESS,
            to_email=user.email,
            language=language,
            recipient=user,
            context={"name": user.get_short_name(), "link": link, "minutes": settings.PASSWORD_RESET_TIMEOUT // 60},
        )
        audit_user(action="user.first_access_requested", actor=user, user=user, ip_address=ip_address)
    return True


@transaction.atomic
def user_set_password_from_link(*, user: User, password: str, ip_address: str | None) -> User:
    """Set the password chosen through a first-access or reset link, and confirm the email:
    whoever opened the link reads that mailbox. The link dies with the old password hash."""
    from allauth.account.models import EmailAddress

    user = User.objects.select_for_update().get(pk=user.pk)
    first = not user.has_usable_password()
    user.set_password(password)
    user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
    audit_user(
        action="user.first_access" if first else "user.password_changed", actor=user, user=user, ip_address=ip_address
    )
    return user


# --- Staff acting as a customer ------------------------------------------------------------------

IMPERSONATION_MINUTES = 30


class ImpersonationRefused(NotAllowed):
    pass


def impersonation_check(*, staff: User, target: User) -> None:
    """Staff may act as a customer's user, never as another staff user nor as themselves."""
    if not staff.is_staff or not staff.has_perm("accounts.impersonate_user"):
        raise ImpersonationRefused("permission_required")
    if target.is_staff or target.is_superuser or target.pk == staff.pk:
        raise ImpersonationRefused("not_a_customer")
    if not target.is_active:
        raise ImpersonationRefused("user_disabled")
    if not target.memberships.filter(account__status=AccountStatus.ACTIVE).exists():
        raise ImpersonationRefused("no_active_account")


def impersonation_record(*, staff: User, target: User, ip_address: str | None, started: bool) -> None:
    accounts = list(target.memberships.values_list("account_id", flat=True))
    for account in Account.objects.filter(pk__in=accounts):
        audit_record(
            action="user.impersonation_started" if started else "user.impersonation_ended",
            actor=staff,
            account=account,
            target=target,
            ip_address=ip_address,
            data={"user": target.email, "staff": staff.email},
        )


# --- API tokens ------------------------------------------------------------------------------
#
# A secret reads `spt_<key_id>_<random>`: the prefix lets secret scanners recognise it, the
# key id (public, unique) finds the row, and the SHA-256 of the whole secret, compared in
# constant time, proves it. The secret itself is returned once, by the function that
# creates it, and stored nowhere.

API_TOKEN_PREFIX = "spt_"
# Member tokens expire within a year at most; integration tokens may have no expiry.
MEMBER_TOKEN_MAX_DAYS = 366
# Using a token writes "last used" at most this often, not on every request.
TOKEN_LAST_USED_EVERY = dt.timedelta(minutes=1)
_TOKEN_SHAPE = re.compile(r"spt_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
# Compared against when the key id is unknown, so that unknown and wrong secrets take as long.
_NO_TOKEN_HASH = "0" * 64


def _api_token_new_secret() -> tuple[str, str]:
    key_id = secrets.token_hex(6)
    return key_id, f"{API_TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def _api_token_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidAccountData("name", "required")
    if len(cleaned) > ApiToken._meta.get_field("name").max_length:  # type: ignore[operator]
        raise InvalidAccountData("name", "too_long")
    return cleaned


def _api_token_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted(set(scopes))
    if not chosen:
        raise InvalidAccountData("scopes", "at least one scope")
    if any(scope not in ApiScope.values for scope in chosen):
        raise InvalidAccountData("scopes", f"among {', '.join(ApiScope.values)}")
    return chosen


def _api_token_expiry(expires_at: dt.datetime | None, *, now: dt.datetime, required: bool) -> dt.datetime | None:
    if expires_at is None:
        if required:
            raise InvalidAccountData("expires_at", "required")
        return None
    expires_at = ensure_aware(expires_at)
    if expires_at <= now:
        raise InvalidAccountData("expires_at", "in the future")
    if required and expires_at > now + dt.timedelta(days=MEMBER_TOKEN_MAX_DAYS):
        raise InvalidAccountData("expires_at", f"within {MEMBER_TOKEN_MAX_DAYS} days")
    return expires_at


def _api_token_audit(token: ApiToken, *, action: str, actor: User, ip_address: str | None) -> None:
    audit_record(
        action=action,
        actor=actor,
        account=token.account,
        target=token,
        ip_address=ip_address,
        data={
            "name": token.name,
            "kind": token.kind,
            "key_id": token.key_id,
            "scopes": token.scopes,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            **({"user": token.user.email} if token.user is not None else {}),
        },
    )


@transaction.atomic
def api_token_create_member(
    *,
    acting: Membership,
    name: str,
    scopes: Iterable[str],
    expires_at: dt.datetime,
    now: dt.datetime,
    ip_address: str | None = None,
) -> tuple[ApiToken, str]:
    """A token that acts as `acting` through the API; returns it and its secret (shown once).

    It may carry only the scopes the member holds now (a member never grants what it does
    not hold), and at every request it loses any scope the member has lost since.
    """
    now = ensure_aware(now)
    membership = Membership.objects.select_related("account", "user").get(pk=acting.pk)
    if membership.account.status != AccountStatus.ACTIVE or not membership.user.is_active:
        raise NotAllowed("account_not_active")
    cleaned_name = _api_token_name(name)
    chosen = _api_token_scopes(scopes)
    if not set(chosen) <= scopes_allowed_to(membership):
        raise NotAllowed("cannot_grant_more_than_own")
    expiry = _api_token_expiry(expires_at, now=now, required=True)
    key_id, secret = _api_token_new_secret()
    token = ApiToken.objects.create(
        kind=ApiTokenKind.MEMBER,
        name=cleaned_name,
        key_id=key_id,
        secret_hash=_hash(secret),
        scopes=chosen,
        account=membership.account,
        user=membership.user,
        membership=membership,
        created_by=membership.user,
        created_at=now,
        expires_at=expiry,
    )
    _api_token_audit(token, action="api_token.created", actor=membership.user, ip_address=ip_address)
    return token, secret


@transaction.atomic
def api_token_create_integration(
    *, name: str, expires_at: dt.datetime | None, by: User, now: dt.datetime, ip_address: str | None = None
) -> tuple[ApiToken, str]:
    """A token for the provider's provisioning systems: it reports usage of any service
    (scope usage:write only). Staff create it; the back office has checked the permission."""
    now = ensure_aware(now)
    if not by.is_staff or not by.is_active:
        raise NotAllowed("staff_only")
    token_name = _api_token_name(name)
    expiry = _api_token_expiry(expires_at, now=now, required=False)
    key_id, secret = _api_token_new_secret()
    token = ApiToken.objects.create(
        kind=ApiTokenKind.INTEGRATION,
        name=token_name,
        key_id=key_id,
        secret_hash=_hash(secret),
        scopes=[ApiScope.USAGE_WRITE.value],
        created_by=by,
        created_at=now,
        expires_at=expiry,
    )
    _api_token_audit(token, action="api_token.created", actor=by, ip_address=ip_address)
    return token, secret


@transaction.atomic
def api_token_revoke(
    *, token: ApiToken, by: User, acting: Membership | None, now: dt.datetime, ip_address: str | None = None
) -> bool:
    """Revoke a token now; False if it already was. A member revokes only their own tokens
    of the account they act for (`acting`); staff (acting=None) revoke any."""
    if acting is not None and (token.kind != ApiTokenKind.MEMBER or token.membership_id != acting.pk):
        raise NotAllowed("not_your_token")
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=ensure_aware(now), revoked_by=by
    )
    if revoked:
        token.refresh_from_db()
        _api_token_audit(token, action="api_token.revoked", actor=by, ip_address=ip_address)
    return bool(revoked)


def api_token_scopes(*, token: ApiToken) -> frozenset[str]:
    """What the token may do now: its scopes, bounded by what its member holds at this moment."""
    scopes = frozenset(token.scopes)
    if token.kind == ApiTokenKind.INTEGRATION:
        return scopes & {ApiScope.USAGE_WRITE}
    if token.membership is None:
        return frozenset()
    return scopes & scopes_allowed_to(token.membership)


def api_token_authenticate(*, secret: str, now: dt.datetime, ip_address: str | None = None) -> ApiToken:
    """The live token behind `secret`, or ApiTokenInvalid.

    Checked on every request, from the database, so that revoking the token, suspending or
    closing the account, disabling the login or removing the membership stops it at once.
    """
    now = ensure_aware(now)
    shape = _TOKEN_SHAPE.fullmatch(secret)
    token = None
    if shape is not None:
        token = (
            ApiToken.objects.select_related("account", "user", "membership__account", "membership__user")
            .filter(key_id=shape.group(1))
            .first()
        )
    proven = hmac.compare_digest(_hash(secret), token.secret_hash if token is not None else _NO_TOKEN_HASH)
    if token is None or not proven:
        raise ApiTokenInvalid("unknown")
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        raise ApiTokenInvalid("revoked_or_expired")
    if token.kind == ApiTokenKind.MEMBER:
        membership = token.membership
        if (
            membership is None
            or membership.account_id != token.account_id
            or membership.user_id != token.user_id
            or membership.account.status != AccountStatus.ACTIVE
            or not membership.user.is_active
        ):
            raise ApiTokenInvalid("member_cannot_act")
    ApiToken.objects.filter(pk=token.pk).filter(
        models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lt=now - TOKEN_LAST_USED_EVERY)
    ).update(last_used_at=now, last_used_ip=ip_address)
    return token
