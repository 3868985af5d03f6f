"""The helpdesk: requests (tickets) to the provider's departments, their messages and
attachments; the knowledge base; announcements; files shared with an account.

A request's status moves only through `TRANSITIONS`, each one a function in
`services.py` that locks the row, checks this table, and writes the new status and a
`TicketEvent` in the same transaction.

Requests and files are reached from the client area by a random public id, never by
the primary key, and always through a selector scoped to the acting membership: a
guessed id of another account's request is simply not found.
"""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Area
from sportello.core.models import AppendOnlyModel
from sportello.core.tenancy import AccountOwnedQuerySet

# Lower-case letters and digits without the look-alikes (0/o, 1/l/i): 31^10 ≈ 8·10^14 ids,
# so guessing another request's id is hopeless, and it can be read out on the phone.
PUBLIC_ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
PUBLIC_ID_LENGTH = 10


def new_public_id() -> str:
    return "".join(secrets.choice(PUBLIC_ID_ALPHABET) for _ in range(PUBLIC_ID_LENGTH))


def translated(base: str, translations: dict[str, str] | None, language: str | None = None) -> str:
    """`translations[language]` when there is one, else the English `base`."""
    language = (language or translation.get_language() or "en").lower()
    value = (translations or {}).get(language) or (translations or {}).get(language.split("-")[0])
    return value or base


class Department(models.Model):
    """Where a request goes (Finance, Technical, Sales): configurable by staff, translated."""

    slug = models.SlugField(_("code"), unique=True)
    # The English name; `name_translations` holds the others by language code ("es", "pt-br", "it").
    name = models.CharField(_("name"), max_length=100)
    name_translations = models.JSONField(_("name in other languages"), default=dict, blank=True)
    # Staff who work this department's queue.
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="support_departments", verbose_name=_("staff")
    )
    # Customers may open requests to it; a hidden department only receives requests moved there by staff.
    is_public = models.BooleanField(_("customers can choose it"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return translated(self.name, self.name_translations)


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")
    CUSTOMER_REPLY = "customer_reply", _("Customer reply")
    ON_HOLD = "on_hold", _("On hold")
    CLOSED = "closed", _("Closed")


class TicketPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


# Who the request waits on, for the queue's filter.
WAITING_ON_US = frozenset({TicketStatus.OPEN, TicketStatus.CUSTOMER_REPLY})
WAITING_ON_CUSTOMER = frozenset({TicketStatus.ANSWERED, TicketStatus.ON_HOLD})


class Transition(models.TextChoices):
    """What a ticket event records; one service function per transition."""

    OPEN = "open", _("Opened")
    CUSTOMER_REPLY = "customer_reply", _("Customer replied")
    STAFF_REPLY = "staff_reply", _("Staff replied")
    NOTE = "note", _("Internal note added")
    HOLD = "hold", _("Put on hold")
    CLOSE = "close", _("Closed")
    REOPEN = "reopen", _("Reopened")
    MERGE = "merge", _("Merged into another request")
    ASSIGN = "assign", _("Assigned")


T = TicketStatus
_NOT_CLOSED = frozenset({T.OPEN, T.ANSWERED, T.CUSTOMER_REPLY, T.ON_HOLD})
# The state machine: transition -> (statuses it may start from, status it leads to).
# A target of None keeps the status. A customer reply to a request nobody has answered
# yet keeps it "open" (it is still waiting for its first answer): see ticket_reply.
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    Transition.CUSTOMER_REPLY: (_NOT_CLOSED, T.CUSTOMER_REPLY),
    Transition.STAFF_REPLY: (_NOT_CLOSED, T.ANSWERED),
    Transition.NOTE: (frozenset(T.values), None),
    Transition.HOLD: (frozenset({T.OPEN, T.ANSWERED, T.CUSTOMER_REPLY}), T.ON_HOLD),
    Transition.CLOSE: (_NOT_CLOSED, T.CLOSED),
    Transition.REOPEN: (frozenset({T.CLOSED}), T.OPEN),
    Transition.MERGE: (_NOT_CLOSED, T.CLOSED),
    Transition.ASSIGN: (frozenset(T.values), None),
}


class RelatedKind(models.TextChoices):
    """What a request is about, besides its text. Each kind has its own nullable foreign key
    (`RELATED_FIELDS`). A domain is a service (of a domain product), so SERVICE covers domains."""

    NONE = "", _("Nothing in particular")
    SERVICE = "service", _("A service")
    # An issued invoice or credit note; never a draft, which customers cannot see.
    INVOICE = "invoice", _("An invoice")
    ORDER = "order", _("An order")


# kind -> the foreign key that holds the object of that kind.
RELATED_FIELDS: dict[str, str] = {
    RelatedKind.SERVICE: "related_service",
    RelatedKind.INVOICE: "related_invoice",
    RelatedKind.ORDER: "related_order",
}


def _related_consistent() -> models.Q:
    """The check behind `related_kind`: the kind's own column is set and every other is empty,
    so at most one related object is ever set, and the kind says which."""
    condition = models.Q(related_kind=RelatedKind.NONE, **{f"{f}__isnull": True for f in RELATED_FIELDS.values()})
    for kind, field in RELATED_FIELDS.items():
        others = {f"{other}__isnull": True for other in RELATED_FIELDS.values() if other != field}
        condition |= models.Q(related_kind=kind, **{f"{field}__isnull": False}, **others)
    return condition


class TicketQuerySet(AccountOwnedQuerySet):
    pass


class Ticket(models.Model):
    """A request from a customer's member to a department, and its conversation."""

    # The id in addresses and on pages; random, so that ids cannot be guessed or counted.
    public_id = models.CharField(_("reference"), max_length=16, unique=True, default=new_public_id, editable=False)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="support_tickets", verbose_name=_("account")
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("department")
    )
    # The member who opened it; members without the support right see only their own.
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_tickets",
        verbose_name=_("requester"),
    )
    subject = models.CharField(_("subject"), max_length=200)
    priority = models.CharField(
        _("priority"), max_length=16, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    status = models.CharField(_("status"), max_length=16, choices=TicketStatus.choices, default=TicketStatus.OPEN)
    related_kind = models.CharField(_("about"), max_length=16, choices=RelatedKind.choices, blank=True, default="")
    related_service = models.ForeignKey(
        "services.Service",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="support_tickets",
        verbose_name=_("service"),
    )
    related_invoice = models.ForeignKey(
        "billing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="support_tickets",
        verbose_name=_("invoice"),
    )
    related_order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="support_tickets",
        verbose_name=_("order"),
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_assigned",
        verbose_name=_("assigned to"),
        limit_choices_to={"is_staff": True},
    )
    # Set when staff merged this request into another: its conversation continues there.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged", verbose_name=_("merged into")
    )
    created_at = models.DateTimeField(_("opened"), db_index=True)
    # The last message from anyone (internal notes excepted): the queue sorts by it.
    last_message_at = models.DateTimeField(_("last message"))
    # The first staff reply the customer could read: the first-response time ends there.
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    # When it was last closed; cleared on reopening. The resolution time ends there.
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    objects: ClassVar[TicketQuerySet] = TicketQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = _("support request")
        verbose_name_plural = _("support requests")
        indexes = [
            models.Index(fields=["account", "-last_message_at"]),
            models.Index(fields=["department", "status"]),
        ]
        constraints = [
            models.CheckConstraint(condition=_related_consistent(), name="ticket_at_most_one_related_object"),
            models.CheckConstraint(
                condition=~models.Q(status=TicketStatus.CLOSED) | models.Q(closed_at__isnull=False),
                name="ticket_closed_has_closed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id}: {self.subject}"

    @property
    def related_object(self) -> models.Model | None:
        field = RELATED_FIELDS.get(self.related_kind)
        return getattr(self, field) if field else None

    @property
    def first_response_time(self) -> float | None:
        """Seconds from opening to the first staff reply."""
        if self.first_response_at is None:
            return None
        return (self.first_response_at - self.created_at).total_seconds()

    @property
    def resolution_time(self) -> float | None:
        """Seconds from opening to the (last) closing."""
        if self.closed_at is None:
            return None
        return (self.closed_at - self.created_at).total_seconds()


class Author(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    STAFF = "staff", _("Staff")


class Channel(models.TextChoices):
    WEB = "web", _("Customer area")
    EMAIL = "email", _("Email")
    BACK_OFFICE = "back_office", _("Back office")


class LeftOutReason(models.TextChoices):
    """Why a file sent with an emailed reply was left out of its message."""

    TYPE_REFUSED = "type_refused", _("not a type of file we accept")
    TOO_LARGE = "too_large", _("larger than the size limit")
    TOO_MANY = "too_many", _("more files than one message may carry")
    EMPTY = "empty", _("empty")


class TicketMessage(models.Model):
    """One message of a request's conversation. Internal notes are never shown to customers."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages", verbose_name=_("request"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    # As shown next to the message, kept even if the user is later removed.
    author_name = models.CharField(_("author name"), max_length=150, blank=True)
    author_email = models.EmailField(_("author email"), blank=True)
    author_kind = models.CharField(_("from"), max_length=16, choices=Author.choices)
    # Staff-only note: never in a customer's page, email or count.
    is_internal = models.BooleanField(_("internal note"), default=False)
    # What the author typed (plain text or the Markdown subset), kept as typed.
    body = models.TextField(_("message"))
    # `body` rendered and sanitised once, when it was written (see support.markup).
    body_html = models.TextField(_("message (HTML)"))
    channel = models.CharField(_("sent through"), max_length=16, choices=Channel.choices)
    # Message-ID of the email this message came from: the same email delivered twice adds one message.
    email_message_id = models.CharField(_("email id"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("sent"))
    # Card numbers masked in it before it was stored (for the first message, the request's
    # subject's too): the page tells the customer they were removed (see support.redaction).
    cards_redacted = models.PositiveSmallIntegerField(_("card numbers removed"), default=0)
    # Files of an emailed reply that were not kept: [{"name": ..., "reason": LeftOutReason}].
    files_left_out = models.JSONField(_("files left out"), default=list, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "email_message_id"],
                condition=~models.Q(email_message_id=""),
                name="ticket_message_email_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket.public_id} {self.created_at:%Y-%m-%d %H:%M} {self.author_kind}"

    @property
    def left_out(self) -> list[tuple[str, str]]:
        """The files left out, as (name, why) in the reader's language."""
        return [
            (str(item.get("name", "")), str(LeftOutReason(item.get("reason", LeftOutReason.TYPE_REFUSED)).label))
            for item in self.files_left_out or []
        ]


class StoredFile(models.Model):
    """A file kept under a server-generated name; only its display name comes from the user."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    # The name shown and offered on download, cleaned of paths and control characters.
    filename = models.CharField(_("file name"), max_length=200)
    # Path in the storage, generated by the server: never derived from the uploaded name.
    stored_name = models.CharField(max_length=200, editable=False)
    # The type found from the content's first bytes, not from the name or the browser.
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("added"))

    class Meta:
        abstract = True


class Attachment(StoredFile):
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("request"))
    message = models.ForeignKey(
        TicketMessage, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("message")
    )

    objects: ClassVar[AccountOwnedQuerySet] = AccountOwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class TicketEvent(AppendOnlyModel):
    """One transition of a request: who moved it, from what, to what."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("request"))
    at = models.DateTimeField(_("when"))
    transition = models.CharField(_("what"), max_length=32, choices=Transition.choices)
    from_status = models.CharField(_("from"), max_length=16, choices=TicketStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=16, choices=TicketStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("request event")
        verbose_name_plural = _("request events")

    def __str__(self) -> str:
        return f"{self.ticket.public_id} {self.transition}"


class CannedReply(models.Model):
    """A reply staff insert with one click; for one department, or for all when empty."""

    title = models.CharField(_("title"), max_length=150)
    body = models.TextField(_("text"))
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("department")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self) -> str:
        return self.title


# --- Knowledge base -----------------------------------------------------------------------


class KnowledgeCategory(models.Model):
    slug = models.SlugField(_("code"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_translations = models.JSONField(_("name in other languages"), default=dict, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("knowledge-base category")
        verbose_name_plural = _("knowledge-base categories")

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return translated(self.name, self.name_translations)


class KnowledgeArticle(models.Model):
    """An article; its text lives in one `KnowledgeTranslation` per language, English first."""

    category = models.ForeignKey(
        KnowledgeCategory, on_delete=models.PROTECT, related_name="articles", verbose_name=_("category")
    )
    slug = models.SlugField(_("address"), unique=True)
    # The products it helps with: shown under "Need help with this service?" of their services.
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="+", verbose_name=_("products"))
    is_published = models.BooleanField(_("published"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("knowledge-base article")
        verbose_name_plural = _("knowledge-base articles")

    def __str__(self) -> str:
        return self.slug


class KnowledgeTranslation(models.Model):
    article = models.ForeignKey(
        KnowledgeArticle, on_delete=models.CASCADE, related_name="translations", verbose_name=_("article")
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    title = models.CharField(_("title"), max_length=200)
    # Plain text or the Markdown subset; rendered and sanitised when shown.
    body = models.TextField(_("text"))

    class Meta:
        verbose_name = _("translation")
        verbose_name_plural = _("translations")
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="knowledge_translation_once_per_language")
        ]

    def __str__(self) -> str:
        return f"{self.article.slug} [{self.language}]"


class KnowledgeFeedback(models.Model):
    """One reader's answer to "was this helpful?"; answering again changes it, never adds one."""

    article = models.ForeignKey(KnowledgeArticle, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    helpful = models.BooleanField(_("helpful"))
    answered_at = models.DateTimeField(_("answered"))

    class Meta:
        verbose_name = _("article feedback")
        verbose_name_plural = _("article feedback")
        constraints = [models.UniqueConstraint(fields=["article", "user"], name="knowledge_feedback_once_per_user")]

    def __str__(self) -> str:
        return f"{self.article_id} {self.user_id} {self.helpful}"


# --- Announcements and shared files -------------------------------------------------------


class Announcement(models.Model):
    """News for every customer, shown on the dashboard from `published_at` until `visible_until`."""

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    # {"es": {"title": ..., "body": ...}, "pt-br": {...}, "it": {...}}; English is title/body.
    translations = models.JSONField(_("other languages"), default=dict, blank=True)
    published_at = models.DateTimeField(_("published"))
    visible_until = models.DateTimeField(_("shown until"), null=True, blank=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")

    def __str__(self) -> str:
        return self.title

    def _text(self, key: str, base: str) -> str:
        language = (translation.get_language() or "en").lower()
        return (self.translations or {}).get(language, {}).get(key) or base

    @property
    def display_title(self) -> str:
        return self._text("title", self.title)

    @property
    def display_body(self) -> str:
        return self._text("body", self.body)


class SharedFile(StoredFile):
    """A file staff put in an account's customer area (a contract, a report, an outside document)."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="shared_files", verbose_name=_("account")
    )
    title = models.CharField(_("title"), max_length=200)
    # Members with this area of the client area see and download it.
    area = models.CharField(_("visible to members with"), max_length=16, choices=Area.choices, default=Area.BILLING)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("added by")
    )

    objects: ClassVar[AccountOwnedQuerySet] = AccountOwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("shared file")
        verbose_name_plural = _("shared files")

    def __str__(self) -> str:
        return self.title
