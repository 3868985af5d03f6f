"""The client area's main navigation, shaped by what the acting member may use."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Area, Membership


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str | Promise
    url_name: str
    area: str | None  # None: every member sees it

    @property
    def url(self) -> str:
        return reverse(self.url_name)


NAVIGATION = (
    NavItem("dashboard", _("Dashboard"), "portal:dashboard", None),
    NavItem("billing", _("Billing"), "portal:billing", Area.BILLING),
    NavItem("services", _("Services"), "portal:services", Area.SERVICES),
    NavItem("orders", _("Orders"), "portal:orders", Area.ORDERS),
    NavItem("domains", _("Domains"), "portal:domains", Area.DOMAINS),
    # Everyone may ask for help; the support area decides whose requests they see.
    NavItem("support", _("Support"), "portal:support", None),
    NavItem("account", _("Account"), "portal:account", None),
)


def navigation_for(membership: Membership) -> list[NavItem]:
    return [item for item in NAVIGATION if item.area is None or membership.has_area(item.area)]
