"""Status badges rank by severity, and every status of the client area has exactly one.

The stylesheet is the one mapping from a badge's class to its colour, grouped by severity;
these tests read it, so that a status added to a model without a badge colour, or one put
in two groups, fails here instead of showing up grey or in two urgencies."""

from __future__ import annotations

import re
from pathlib import Path

from sportello.accounts.models import Account
from sportello.billing.models import InvoiceStatus, QuoteStatus
from sportello.notifications.models import EmailLog
from sportello.orders.models import OrderStatus
from sportello.payments.models import PaymentStatus
from sportello.portal.templatetags.portal_support import BADGES as TICKET_BADGES
from sportello.portal.views.payments import STATUS_BADGES as PAYMENT_BADGES
from sportello.portal.views.quotes import BADGES as QUOTE_BADGES
from sportello.services.models import ServiceStatus
from sportello.support.models import TicketStatus

STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "portal" / "css" / "sportello.css"
SEVERITIES = ("critical", "warning", "info", "success", "neutral")


def severity_groups() -> dict[str, set[str]]:
    css = STYLESHEET.read_text(encoding="utf-8")
    groups: dict[str, set[str]] = {}
    for severity, rule in re.findall(r"/\* severity: (\w+) \*/\s*([^{]+)\{", css):
        groups[severity] = set(re.findall(r"\.badge-([\w-]+)", rule))
    return groups


def badge_classes() -> dict[str, str]:
    """Every badge class the client area can print, with what prints it."""
    classes = {status: f"invoice {status}" for status in InvoiceStatus.values}
    classes["credit_note"] = "credit note"
    classes.update({status: f"service {status}" for status in ServiceStatus.values})
    classes.update({f"order-{status}": f"order {status}" for status in OrderStatus.values})
    classes.update({badge: f"quote {status}" for status, badge in QUOTE_BADGES.items()})
    classes.update({badge: f"payment {status}" for status, badge in PAYMENT_BADGES.items()})
    classes["awaiting"] = "payment awaited"
    classes.update({badge.removeprefix("badge-"): f"request {status}" for status, badge in TICKET_BADGES.items()})
    classes.update({status: f"email {status}" for status, _ in EmailLog._meta.get_field("status").choices})
    classes.update({status: f"account {status}" for status, _ in Account._meta.get_field("status").choices})
    return classes


def test_every_status_has_exactly_one_severity() -> None:
    groups = severity_groups()
    assert set(groups) == set(SEVERITIES)
    missing = {
        badge: origin for badge, origin in badge_classes().items() if not any(badge in g for g in groups.values())
    }
    twice = {badge for badge in set().union(*groups.values()) if sum(badge in g for g in groups.values()) > 1}
    assert (missing, twice) == ({}, set())
    assert set(TICKET_BADGES) == set(TicketStatus.values)
    assert set(QUOTE_BADGES) == set(QuoteStatus.values)
    assert set(PAYMENT_BADGES) == set(PaymentStatus.values)


def test_money_overdue_and_access_lost_rank_above_what_is_awaited() -> None:
    groups = severity_groups()
    assert {"overdue", "collections", "suspended", "failed"} <= groups["critical"]
    assert {"open", "partially_paid", "awaiting", "order-awaiting_payment"} <= groups["warning"]
    assert {"paid", "active", "order-paid"} <= groups["success"]
    assert {"cancelled", "closed", "terminated", "order-cancelled"} <= groups["neutral"]


def test_a_request_that_waits_on_the_customer_is_the_one_marked_for_them() -> None:
    assert (TICKET_BADGES[TicketStatus.ANSWERED], TICKET_BADGES[TicketStatus.CUSTOMER_REPLY]) == (
        "badge-warning",
        "badge-info",
    )


def test_critical_badges_are_solid_and_readable() -> None:
    css = STYLESHEET.read_text(encoding="utf-8")
    rule = re.search(r"/\* severity: critical \*/\s*[^{]+\{([^}]+)\}", css)
    assert rule is not None
    assert "background: var(--color-danger); color: #fff;" in " ".join(rule[1].split())
