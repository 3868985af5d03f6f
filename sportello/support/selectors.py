"""Reads of the helpdesk, always through the acting membership (customers) or for staff.

`tickets_visible_to` is the only way the client area reaches a request: the account's
requests for a member with the support area, their own for the others, so another
account's request (or a colleague's, without the right) is simply not found — 404 on
every URL, with no difference between "does not exist" and "not yours".
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import translation

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice
from sportello.orders.models import Order
from sportello.support.models import (
    WAITING_ON_CUSTOMER,
    WAITING_ON_US,
    Announcement,
    Attachment,
    Department,
    KnowledgeArticle,
    KnowledgeFeedback,
    KnowledgeTranslation,
    SharedFile,
    Ticket,
    TicketMessage,
    TicketStatus,
)
from sportello.support.services import invoices_linkable, member_sees_all, orders_linkable

OPEN_STATUSES = frozenset(set(TicketStatus.values) - {TicketStatus.CLOSED})


def tickets_visible_to(*, membership: Membership) -> QuerySet[Ticket]:
    tickets = Ticket.objects.visible_to(membership)
    if not member_sees_all(membership):
        tickets = tickets.filter(requester_id=membership.user_id)
    return tickets.select_related(
        "department", "requester", "related_service__plan__product", "related_invoice", "related_order"
    ).order_by("-last_message_at", "-id")


def ticket_messages_for_customer(*, ticket: Ticket) -> QuerySet[TicketMessage]:
    """The conversation as the customer sees it: never an internal note."""
    return (
        ticket.messages.filter(is_internal=False)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at", "id")
    )


def attachment_visible_to(*, membership: Membership, public_id: str) -> Attachment | None:
    """An attachment of a request the member sees, on a message they may read; else None."""
    return (
        Attachment.objects.visible_to(membership)
        .filter(
            public_id=public_id,
            ticket__in=tickets_visible_to(membership=membership),
            message__is_internal=False,
        )
        .first()
    )


def departments_for_customers() -> QuerySet[Department]:
    return Department.objects.filter(is_public=True)


def invoices_to_link(*, membership: Membership, limit: int) -> list[Invoice]:
    """What the new-request form offers under "About an invoice": the account's issued
    invoices and credit notes, most recent first, at most `limit`; none for a member
    without the billing area."""
    return list(invoices_linkable(membership).order_by("-issue_date", "-pk")[:limit])


def invoice_to_link(*, membership: Membership, number: str) -> Invoice | None:
    """The document printed with `number` (its fiscal number, or the payment request's) that
    the member may link; None for a draft, another account's, a guess, or without billing."""
    number = number.strip()
    if not number:
        return None
    return invoices_linkable(membership).filter(Q(number=number) | Q(proforma_number=number)).order_by("pk").first()


def orders_to_link(*, membership: Membership, limit: int) -> list[Order]:
    """What the new-request form offers under "About an order": the account's orders, most
    recent first, at most `limit`; none for a member without the orders area."""
    return list(orders_linkable(membership)[:limit])


def order_to_link(*, membership: Membership, number: str) -> Order | None:
    """The order numbered `number` that the member may link; None for another account's,
    a guess, or a member without the orders area."""
    number = number.strip()
    if not number:
        return None
    return orders_linkable(membership).filter(number=number).first()


@dataclass(frozen=True)
class SupportSummary:
    open: int
    # Requests answered by staff that wait for the customer: "awaiting you" on the dashboard.
    awaiting_customer: int
    recent: list[Ticket]


def support_summary(*, membership: Membership, recent: int = 5) -> SupportSummary:
    tickets = tickets_visible_to(membership=membership)
    counts = tickets.aggregate(
        open=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
        awaiting=Count("pk", filter=Q(status=TicketStatus.ANSWERED)),
    )
    return SupportSummary(
        open=counts["open"],
        awaiting_customer=counts["awaiting"],
        recent=list(tickets.filter(status__in=OPEN_STATUSES)[:recent]),
    )


def staff_queue(
    *, department: Department | None = None, status: str = "", priority: str = "", waiting_on: str = ""
) -> QuerySet[Ticket]:
    """The back office's queue, filtered; oldest waiting first is the admin's default order."""
    tickets = Ticket.objects.select_related("account", "department", "assigned_to")
    if department is not None:
        tickets = tickets.filter(department=department)
    if status:
        tickets = tickets.filter(status=status)
    if priority:
        tickets = tickets.filter(priority=priority)
    if waiting_on == "us":
        tickets = tickets.filter(status__in=WAITING_ON_US)
    elif waiting_on == "customer":
        tickets = tickets.filter(status__in=WAITING_ON_CUSTOMER)
    return tickets


# --- Knowledge base -------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleText:
    """An article in the reader's language, or in English when it has no translation."""

    article: KnowledgeArticle
    language: str
    title: str
    body: str

    @property
    def is_fallback(self) -> bool:
        return self.language != _language()


def _language() -> str:
    return (translation.get_language() or "en").lower()


def _texts(articles: QuerySet[KnowledgeArticle]) -> list[ArticleText]:
    language = _language()
    result = []
    for article in articles.prefetch_related("translations"):
        by_language = {t.language: t for t in article.translations.all()}
        chosen = by_language.get(language) or by_language.get("en")
        if chosen is not None:
            result.append(ArticleText(article, chosen.language, chosen.title, chosen.body))
    return result


def published_articles() -> QuerySet[KnowledgeArticle]:
    return KnowledgeArticle.objects.filter(is_published=True).select_related("category")


def search_folded(text: str) -> str:
    """The form a search compares: accents dropped (NFKD, combining marks removed) and
    case folded, so "senha", "Senha" and "sénha" are one word, as are "contraseña" and
    "contrasena"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def articles_in_language(*, category_slug: str = "", query: str = "") -> list[ArticleText]:
    """Published articles in the reader's language (English fallback); `query` matches words
    in the title or text of the reader's language or of English, whatever their accents and
    case. Articles that match in the reader's language come first, then those that match
    only in English.

    The comparison is made on the folded text in Python rather than by the database: SQLite
    has no accent-insensitive LIKE and PostgreSQL's `unaccent` is an extension a hosted
    database may not offer, and a knowledge base is small enough (hundreds of articles) to
    read its texts in two languages per search."""
    articles = published_articles()
    if category_slug:
        articles = articles.filter(category__slug=category_slug)
    ordered = articles.order_by("category__position", "position", "slug")
    words = [search_folded(word) for word in query.split() if len(word) > 1][:8]
    if not words:
        return _texts(ordered)
    language = _language()
    rank: dict[int, int] = {}  # article id -> 0 when it matched in the reader's language, 1 in English only
    texts = KnowledgeTranslation.objects.filter(article__in=articles, language__in={language, "en"})
    for article_id, text_language, title, body in texts.values_list("article_id", "language", "title", "body"):
        folded = search_folded(f"{title}\n{body}")
        if all(word in folded for word in words):
            found_rank = 0 if text_language == language else 1
            rank[article_id] = min(rank.get(article_id, found_rank), found_rank)
    found = _texts(ordered.filter(pk__in=rank))
    return sorted(found, key=lambda text: rank[text.article.pk])  # stable: category order within a rank


def article_in_language(*, slug: str) -> ArticleText | None:
    found = _texts(published_articles().filter(slug=slug))
    return found[0] if found else None


def articles_for_product(*, product_id: int, limit: int = 5) -> list[ArticleText]:
    return _texts(published_articles().filter(products__id=product_id).order_by("position", "slug")[:limit])


@dataclass(frozen=True)
class Helpfulness:
    yes: int
    no: int
    mine: bool | None


def article_helpfulness(*, article: KnowledgeArticle, user_id: int) -> Helpfulness:
    counts = KnowledgeFeedback.objects.filter(article=article).aggregate(
        yes=Count("pk", filter=Q(helpful=True)), no=Count("pk", filter=Q(helpful=False))
    )
    mine = KnowledgeFeedback.objects.filter(article=article, user_id=user_id).values_list("helpful", flat=True).first()
    return Helpfulness(yes=counts["yes"], no=counts["no"], mine=mine)


# --- Announcements and shared files -------------------------------------------------------------


def announcements_current(*, now: dt.datetime, limit: int = 3) -> list[Announcement]:
    return list(
        Announcement.objects.filter(published_at__lte=now)
        .filter(Q(visible_until__isnull=True) | Q(visible_until__gt=now))
        .order_by("-published_at", "-id")[:limit]
    )


def announcements_archived(*, now: dt.datetime) -> QuerySet[Announcement]:
    """Announcements no longer shown on the dashboard (their `visible_until` has passed),
    newest first: the news archive."""
    return Announcement.objects.filter(published_at__lte=now, visible_until__lte=now).order_by("-published_at", "-id")


def shared_files_visible_to(*, membership: Membership) -> QuerySet[SharedFile]:
    """Files shared with the member's account, in the areas the member has."""
    return SharedFile.objects.visible_to(membership).filter(area__in=membership.areas).order_by("-created_at", "-id")
