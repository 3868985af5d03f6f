"""Which area of the client area each email topic belongs to.

An email about a topic links to pages of its area (an invoice email to the invoice page),
so a member may choose, and receives, only the topics whose area their role opens.
Contacts without a login open no page and keep the topics they were given.
"""

from __future__ import annotations

from sportello.accounts.models import Area, EmailTopic, Membership

# The area a member needs to receive each topic; None for topics open to everyone.
TOPIC_AREAS: dict[str, str | None] = {
    EmailTopic.INVOICES: Area.BILLING,
    EmailTopic.RECEIPTS: Area.BILLING,
    EmailTopic.SERVICES: Area.SERVICES,
    EmailTopic.DOMAINS: Area.DOMAINS,
    EmailTopic.SUPPORT: Area.SUPPORT,
    EmailTopic.MARKETING: None,
}


def topic_allowed(membership: Membership, topic: str) -> bool:
    """Whether the member's current areas open the pages emails about `topic` lead to."""
    if topic not in TOPIC_AREAS:
        return False
    area = TOPIC_AREAS[topic]
    return area is None or membership.has_area(area)


def topics_allowed(membership: Membership) -> list[str]:
    """The topics the member may choose, in the order the topics are listed."""
    return [topic for topic in EmailTopic.values if topic_allowed(membership, topic)]
