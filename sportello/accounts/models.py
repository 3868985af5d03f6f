"""Users, customer accounts and the memberships that join them.

A user is a person who can log in; an account is a billing party (a company or a
person) that the provider sells to. A membership gives a user a role in an account, and
the role a set of areas of the client area. One user may belong to several accounts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from sportello.core.models import TimestampedModel


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("users are identified by their email")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in, by email. Customers and staff alike; staff have is_staff."""

    email = models.EmailField(_("email address"), max_length=254, unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    # The language the user chose for pages and emails; empty = the browser's preference.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Bumped each time a password link (first access or reset) is issued; links carry it,
    # so issuing a new link kills every older one.
    password_link_generation = models.PositiveIntegerField(default=0, editable=False)
    is_staff = models.BooleanField(_("staff"), default=False, help_text=_("Can log in to the back office."))
    date_joined = models.DateTimeField(_("date joined"), auto_now_add=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_unique_ci")]
        permissions = [("impersonate_user", _("Can log in as a customer"))]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Emails are compared case-insensitively everywhere; storing them lower-cased
        # makes the unique index and every lookup agree.
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name.split() or [self.email])[0]


class Area(models.TextChoices):
    """The parts of the client area a membership can be given."""

    BILLING = "billing", _("Billing")
    SERVICES = "services", _("Services")
    DOMAINS = "domains", _("Domains")
    SUPPORT = "support", _("Support")
    ORDERS = "orders", _("Orders")
    CONTACTS = "contacts", _("Users and contacts")


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    FINANCE = "finance", _("Finance")
    TECHNICAL = "technical", _("Technical")
    READ_ONLY = "read_only", _("Read-only")
    CUSTOM = "custom", _("Custom")


# The areas each fixed role opens. A custom role lists its own areas on the membership.
ROLE_AREAS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(Area.values),
    Role.FINANCE: frozenset({Area.BILLING, Area.ORDERS, Area.SUPPORT}),
    Role.TECHNICAL: frozenset({Area.SERVICES, Area.DOMAINS, Area.SUPPORT, Area.ORDERS}),
    Role.READ_ONLY: frozenset({Area.BILLING, Area.SERVICES, Area.DOMAINS, Area.SUPPORT}),
}


class AccountKind(models.TextChoices):
    COMPANY = "company", _("Company")
    PERSON = "person", _("Private person")


class AccountStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")


class Account(TimestampedModel):
    """A customer: the party invoices are addressed to."""

    # Short public reference shown to customers and staff, e.g. "C-00042".
    reference = models.CharField(_("customer number"), max_length=20, unique=True)
    kind = models.CharField(_("type"), max_length=16, choices=AccountKind.choices, default=AccountKind.COMPANY)
    name = models.CharField(_("legal name"), max_length=200)
    status = models.CharField(_("status"), max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (line 2)"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region or province"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166 code, e.g. ES, IT, BR."))
    # EU VAT number with its country prefix (ESB12345674, IT01234567897), when registered.
    vat_id = models.CharField(_("VAT number"), max_length=20, blank=True)
    # National tax id: Spanish NIF/CIF, Italian codice fiscale, Brazilian CNPJ or CPF.
    tax_id = models.CharField(_("tax id"), max_length=32, blank=True)
    currency = models.CharField(_("currency"), max_length=3, help_text=_("ISO 4217 code; invoices use it."))
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    # Staff may require every member of this account to use two-factor authentication.
    require_mfa = models.BooleanField(_("require two-factor authentication"), default=False)

    class Meta:
        verbose_name = _("customer account")
        verbose_name_plural = _("customer accounts")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.reference})"

    @property
    def is_active(self) -> bool:
        return self.status == AccountStatus.ACTIVE

    @property
    def address_lines(self) -> list[str]:
        city = " ".join(part for part in (self.postal_code, self.city) if part)
        if self.region:
            city = f"{city} ({self.region})" if city else self.region
        return [line for line in (self.address_line1, self.address_line2, city) if line]


class Membership(TimestampedModel):
    """A user's place in an account: a role, and through it the areas they may use."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user"))
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("account")
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    # Only for the custom role: the areas it opens. Fixed roles take theirs from ROLE_AREAS.
    custom_areas = models.JSONField(_("areas"), default=list, blank=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="membership_unique_user_account")]
        ordering = ["account__name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account.reference} ({self.get_role_display()})"

    @property
    def areas(self) -> frozenset[str]:
        if self.role == Role.CUSTOM:
            return frozenset(a for a in self.custom_areas if a in Area.values)
        return ROLE_AREAS.get(self.role, frozenset())

    @property
    def area_labels(self) -> list[str]:
        return [str(label) for value, label in Area.choices if value in self.areas]

    def has_area(self, area: str) -> bool:
        return area in self.areas

    @property
    def has_area_contacts(self) -> bool:
        """For templates: may manage people, contacts and see the activity log."""
        return self.has_area(Area.CONTACTS)

    @property
    def can_change(self) -> bool:
        """Read-only members see their areas but cannot act in them."""
        return self.role != Role.READ_ONLY

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


class EmailTopic(models.TextChoices):
    """What an email is about; each contact chooses the topics they receive."""

    INVOICES = "invoices", _("Invoices")
    RECEIPTS = "receipts", _("Payment receipts")
    SERVICES = "services", _("Service notices")
    DOMAINS = "domains", _("Domain notices")
    SUPPORT = "support", _("Support")
    MARKETING = "marketing", _("News and offers")


# Topics a new contact receives until they choose otherwise (never marketing: that is opt-in).
DEFAULT_TOPICS = [EmailTopic.INVOICES, EmailTopic.RECEIPTS, EmailTopic.SERVICES, EmailTopic.DOMAINS, EmailTopic.SUPPORT]


class Contact(TimestampedModel):
    """A person of the account who receives emails; with a login (a member) or without."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("account"))
    # Set when the contact is also a member who logs in; their email follows the user's.
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("email address"))
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # The EmailTopic values this contact receives.
    topics = models.JSONField(_("emails received"), default=list, blank=True)
    # Invoices go to this contact; every account has exactly one (see contact services).
    is_billing_default = models.BooleanField(_("default billing contact"), default=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_billing_default", "name", "email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), "account", name="contact_unique_email_per_account"),
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(is_billing_default=True),
                name="contact_one_billing_default_per_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def receives(self, topic: str) -> bool:
        return topic in self.topics

    @property
    def topic_labels(self) -> list[str]:
        return [str(label) for value, label in EmailTopic.choices if value in self.topics]


class Invitation(models.Model):
    """An emailed offer of a membership: single-use, expiring, at most the inviter's rights."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("account")
    )
    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    custom_areas = models.JSONField(_("areas"), default=list, blank=True)
    invited_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+", verbose_name=_("invited by"))
    # SHA-256 of the secret in the emailed link; the secret itself is never stored.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("sent"))
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("accepted by")
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} -> {self.account.reference}"

    @property
    def areas(self) -> frozenset[str]:
        if self.role == Role.CUSTOM:
            return frozenset(a for a in self.custom_areas if a in Area.values)
        return ROLE_AREAS.get(self.role, frozenset())


class UserSession(models.Model):
    """A logged-in browser: what the "where you are logged in" page lists and ends."""

    # The Django session this row describes; deleting the session logs the browser out.
    session_key = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("user"))
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("device"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("logged in"))
    last_seen = models.DateTimeField(_("last seen"))
    # Set when staff logged in as this customer: the staff user behind the session.
    impersonator = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("staff user")
    )

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.user} {self.ip_address}"


# --- API tokens -------------------------------------------------------------------------------


class ApiTokenKind(models.TextChoices):
    # Acts as one membership of one account, never beyond the member's current areas.
    MEMBER = "member", _("Member token")
    # Created by staff for the provider's provisioning systems: reports usage of any service.
    INTEGRATION = "integration", _("Integration token")


class ApiScope(models.TextChoices):
    """What a token may do. A member token's scopes are also bounded, at every request,
    by the areas its membership holds then (SCOPE_AREAS)."""

    READ = "read", _("See the account")
    BILLING = "billing", _("See the account's billing details")
    SERVICES = "services", _("See services and their usage")
    USAGE_WRITE = "usage:write", _("Report usage of services")
    PAYMENTS_WRITE = "payments:write", _("Pay invoices and add funds")


# The areas a membership must hold for each scope; the write scopes also need a member who may change things.
SCOPE_AREAS: dict[str, frozenset[str]] = {
    ApiScope.READ: frozenset(),
    ApiScope.BILLING: frozenset({Area.BILLING}),
    ApiScope.SERVICES: frozenset({Area.SERVICES}),
    ApiScope.USAGE_WRITE: frozenset({Area.SERVICES}),
    ApiScope.PAYMENTS_WRITE: frozenset({Area.BILLING}),
}
WRITE_SCOPES = frozenset({ApiScope.USAGE_WRITE, ApiScope.PAYMENTS_WRITE})


def scopes_allowed_to(membership: Membership) -> frozenset[str]:
    """The scopes `membership` holds now: a token of it never does more than the member could."""
    return frozenset(
        scope
        for scope, areas in SCOPE_AREAS.items()
        if areas <= membership.areas and (scope not in WRITE_SCOPES or membership.can_change)
    )


class ApiToken(models.Model):
    """A secret for the REST API. Only a hash of the secret is stored: the secret is shown
    once, at creation, as `spt_<key_id>_<random>`; `key_id` finds the row, the hash proves it."""

    kind = models.CharField(_("kind"), max_length=16, choices=ApiTokenKind.choices)
    name = models.CharField(_("name"), max_length=100)
    # The public part of the secret, unique: shown in lists so that a token can be recognised.
    key_id = models.CharField(_("key id"), max_length=16, unique=True, editable=False)
    # SHA-256 (hex) of the whole secret; the secret has 256 random bits, so a fast hash is enough.
    secret_hash = models.CharField(max_length=64, editable=False)
    # ApiScope values.
    scopes = models.JSONField(_("scopes"), default=list)
    # Member tokens: the account and the person they act for; the membership joins them, and
    # when it is removed (SET_NULL) the token stops working, even if the person rejoins later.
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("account")
    )
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="api_tokens", editable=False
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"))
    # Empty: no expiry (integration tokens only; member tokens always expire).
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("revoked by")
    )

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=ApiTokenKind.values), name="api_token_kind_known"),
            # A member token always names its account and person; an integration token neither.
            models.CheckConstraint(
                condition=(
                    models.Q(kind=ApiTokenKind.MEMBER, account__isnull=False, user__isnull=False)
                    | models.Q(kind=ApiTokenKind.INTEGRATION, account__isnull=True, user__isnull=True)
                ),
                name="api_token_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix})"

    @property
    def display_prefix(self) -> str:
        """What lists show of the secret: enough to recognise it, nothing to use."""
        return f"spt_{self.key_id}_…"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def scope_labels(self) -> list[str]:
        return [str(label) for value, label in ApiScope.choices if value in self.scopes]
