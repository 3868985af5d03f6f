"""Support pieces shown on client-area pages that are not the support pages: the dashboard's
card (open requests, announcements, shared files) and "Need help with this service?" on a
service page. Template tags, so that those views need not know about support; each reads
only through the support selectors, scoped to the acting membership.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from sportello.core.time import utc_now
from sportello.support.models import Announcement, SharedFile, TicketStatus
from sportello.support.selectors import (
    ArticleText,
    SupportSummary,
    announcements_current,
    articles_for_product,
    shared_files_visible_to,
    support_summary,
)

register = template.Library()

# Seen from the customer: an answer waits for them (warning); a request with support is in
# progress (info); a closed one is over.
BADGES: dict[str, str] = {
    TicketStatus.OPEN: "badge-info",
    TicketStatus.ANSWERED: "badge-warning",
    TicketStatus.CUSTOMER_REPLY: "badge-info",
    TicketStatus.ON_HOLD: "badge-info",
    TicketStatus.CLOSED: "badge-closed",
}


@register.filter
def ticket_badge(status: str) -> str:
    return BADGES.get(status, "badge-info")


@register.filter
def file_size(size: int) -> str:
    from sportello.portal.views.support import size_display

    return size_display(size)


@dataclass(frozen=True)
class DashboardSupport:
    summary: SupportSummary
    announcements: list[Announcement]
    shared_files: list[SharedFile]


@register.simple_tag(takes_context=True)
def support_overview(context: template.Context) -> DashboardSupport | None:
    """{% support_overview as support %}: requests, announcements and shared files for the dashboard."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    if request is None or membership is None:
        return None
    # The dashboard asks twice (its card and its panels): read once per request.
    cached = getattr(request, "_support_overview", None)
    if cached is not None:
        return cached
    request._support_overview = overview = DashboardSupport(
        summary=support_summary(membership=membership),
        announcements=announcements_current(now=utc_now()),
        shared_files=list(shared_files_visible_to(membership=membership)[:5]),
    )
    return overview


@register.simple_tag
def service_help_articles(service: Any) -> list[ArticleText]:
    """{% service_help_articles service as articles %}: knowledge-base articles for its product."""
    return articles_for_product(product_id=service.plan.product_id, limit=3)
