"""Services figures for client-area pages that are not the services pages (the dashboard card).

A template tag rather than a view's context so that the dashboard shows them without its
view knowing about services: the tag reads only through the services selector, scoped to
the acting membership, and only for a member with the services right.
"""

from __future__ import annotations

from django import template

from sportello.accounts.models import Area
from sportello.billing.selectors_portal import SuspensionExplained, suspensions_explained
from sportello.core.time import local_date, utc_now
from sportello.services.selectors import ServicesSummary, services_summary

register = template.Library()

# "Expiring soon" on the dashboard: an end within this many days.
DASHBOARD_EXPIRY_DAYS = 30


@register.simple_tag(takes_context=True)
def services_overview(context: template.Context) -> ServicesSummary | None:
    """{% services_overview as summary %}: active services and those expiring within 30 days."""
    membership = getattr(context.get("request"), "membership", None)
    if membership is None or not membership.has_area(Area.SERVICES):
        return None
    return services_summary(membership=membership, as_of=utc_now().date(), within_days=DASHBOARD_EXPIRY_DAYS)


@register.simple_tag(takes_context=True)
def suspended_services(context: template.Context) -> list[SuspensionExplained]:
    """{% suspended_services as suspensions %}: the account's suspended services, each with why,
    what happens next and how to bring it back (empty without the services right)."""
    membership = getattr(context.get("request"), "membership", None)
    if membership is None or not membership.has_area(Area.SERVICES):
        return []
    # The account's today, as the billing figures count overdue.
    as_of = local_date(utc_now(), membership.account.time_zone)
    return suspensions_explained(membership=membership, as_of=as_of)
