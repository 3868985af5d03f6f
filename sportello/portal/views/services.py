"""My services: the list, the service page, and the actions a customer may take on a service.

Every service is looked up through `services_visible_to(membership=...)`, so another
account's service answers 404 on every URL. What a customer may do is decided by
`service_actions`, which mirrors the rules the services domain enforces and adds the
customer-side ones (Renew only with auto-renew off and inside the renewal window): the
page shows only the actions it allows, and every POST is checked against it again before
the domain service is called, which checks once more, under its lock. A refusal (ours or
the domain's typed error) becomes a translated message and changes nothing.

Dates: `as_of` is today's date in UTC, read from the clock here and nowhere deeper, the
same calendar the daily billing run works in; service periods are stored as such dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sportello.accounts.models import Area, Membership
from sportello.billing.errors import BillingError
from sportello.billing.selectors_portal import SuspensionExplained, suspensions_explained
from sportello.catalog.errors import CatalogError, PriceNotAvailable
from sportello.catalog.models import CYCLE_MONTHS, AddOn, ConfigurableOption, Cycle, Plan, PriceVersion
from sportello.catalog.selectors import (
    addon_price_current,
    option_price_current,
    plan_quotas,
    plans_on_sale,
    price_current,
)
from sportello.core.formatting import date_display, money_display
from sportello.core.money import Money
from sportello.core.time import local_date, utc_now
from sportello.orders.errors import NothingToOrder, OrderAlreadyOpen, OrderNotAllowed, PriceChanged
from sportello.orders.models import Order
from sportello.orders.services import (
    open_order_of,
    order_addon_create,
    order_options_create,
    order_renewal_create,
    order_upgrade_create,
)
from sportello.portal.access import MemberRequest, member_required
from sportello.services.errors import (
    CancelNotAllowed,
    IllegalTransition,
    InvalidServiceData,
    NotAllowed,
    OutsideReactivationWindow,
    PeriodNotEnded,
    RenewalRefused,
    ServicesError,
)
from sportello.services.models import TRANSITIONS, Service, ServiceStatus, Transition
from sportello.services.selectors import (
    QuotaUsage,
    quota_usage,
    recurring_charge,
    service_charge,
    service_events_of,
    service_next_charge,
    services_visible_to,
)
from sportello.services.services import (
    addon_add_preview,
    options_change_preview,
    plan_change_preview,
    reactivation_last_day,
    service_cancel,
    service_cancel_withdraw,
    service_change_cycle,
    service_change_options,
    service_change_plan,
    service_set_auto_renew,
)

# An end date this close (in days) is shown in red, with a text marker (Aruba: 90 days).
EXPIRY_WARNING_DAYS = 90
PAGE_SIZE = 25
# Statuses in which a service runs (or is paused) and has a current period to show.
RUNNING = frozenset({ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED})


def _as_of() -> dt.date:
    return utc_now().date()


# --- What the list and the page say about a service's dates ---------------------------------


@dataclass(frozen=True)
class DueDate:
    """The one date a service's row shows next to its status, and whether it is a warning.

    Kinds: renews (next due date, auto-renew on), expires (auto-renew off), ends
    (cancellation requested), expired, cancelled, terminated, pending, one_time.
    """

    kind: str
    date: dt.date | None = None
    days_left: int | None = None

    @property
    def warning(self) -> bool:
        """An end (not a renewal) within EXPIRY_WARNING_DAYS: shown in red, with `warning_text`."""
        return self.kind in ("expires", "ends") and self.days_left is not None and self.days_left <= EXPIRY_WARNING_DAYS

    @property
    def warning_text(self) -> str:
        """The words that say what the red says, for those who do not see colour."""
        days = self.days_left
        if days is None:
            return ""
        if days < 0:
            return _("Period ended")
        if days == 0:
            return _("Ends today")
        if self.kind == "ends":
            return ngettext("Cancelled in %(days)d day", "Cancelled in %(days)d days", days) % {"days": days}
        return ngettext("Expires in %(days)d day", "Expires in %(days)d days", days) % {"days": days}


def due_date(service: Service, *, as_of: dt.date) -> DueDate:
    zone = service.account.time_zone
    status = service.status
    if status == ServiceStatus.PENDING:
        return DueDate("pending")
    if status in RUNNING:
        end = service.current_period_end
        if end is None:
            return DueDate("one_time")
        days_left = (end - as_of).days
        if service.cancel_at_period_end:
            return DueDate("ends", end, days_left)
        if service.auto_renew:
            return DueDate("renews", service.next_due_date or end, days_left)
        return DueDate("expires", end, days_left)
    if status == ServiceStatus.EXPIRED:
        return DueDate("expired", service.current_period_end)
    moment = service.cancelled_at if status == ServiceStatus.CANCELLED else service.terminated_at
    return DueDate(status, local_date(moment, zone) if moment else None)


def period_last_day(service: Service) -> dt.date | None:
    """The period's last day, as customers count it (the stored end is the next period's first day)."""
    if service.current_period_end is None:
        return None
    return service.current_period_end - dt.timedelta(days=1)


@dataclass(frozen=True)
class ServiceRow:
    service: Service
    due: DueDate
    charge: Money
    last_day: dt.date | None

    @property
    def auto_renew(self) -> bool | None:
        """On or off where it means something (a recurring service that runs, or will); else None."""
        service = self.service
        if service.cycle in CYCLE_MONTHS and service.status in {*RUNNING, ServiceStatus.PENDING}:
            return service.auto_renew
        return None


def _row(service: Service, as_of: dt.date) -> ServiceRow:
    return ServiceRow(
        service=service,
        due=due_date(service, as_of=as_of),
        charge=service_charge(service=service),
        last_day=period_last_day(service),
    )


# --- What the acting member may do right now --------------------------------------------------


@dataclass(frozen=True)
class CycleChoice:
    cycle: str
    label: str
    # One period's charge in that cycle: plan price x quantity plus the options, as the renewal will bill.
    charge: Money
    current: bool


@dataclass(frozen=True)
class PlanChoice:
    plan: Plan
    price: PriceVersion
    charge: Money
    upgrade: bool


class Action:
    RENEW = "renew"
    AUTO_RENEW = "auto_renew"
    CHANGE_CYCLE = "change_cycle"
    CANCEL_END_OF_PERIOD = "cancel_end_of_period"
    CANCEL_IMMEDIATELY = "cancel_immediately"
    CANCEL_WITHDRAW = "cancel_withdraw"
    REACTIVATE = "reactivate"
    CHANGE_PLAN = "change_plan"


@dataclass(frozen=True)
class ServiceActions:
    """The actions allowed now; every other one maps to the translated reason it is not."""

    why_not: Mapping[str, str]
    cycles: list[CycleChoice] = field(default_factory=list)
    plans: list[PlanChoice] = field(default_factory=list)
    # The first day Renew is offered (auto-renew off): the product's invoice lead days before the end.
    renew_opens_on: dt.date | None = None

    def allows(self, action: str) -> bool:
        return action not in self.why_not

    @property
    def renew(self) -> bool:
        return self.allows(Action.RENEW)

    @property
    def auto_renew(self) -> bool:
        return self.allows(Action.AUTO_RENEW)

    @property
    def change_cycle(self) -> bool:
        return self.allows(Action.CHANGE_CYCLE)

    @property
    def cancel_end_of_period(self) -> bool:
        return self.allows(Action.CANCEL_END_OF_PERIOD)

    @property
    def cancel_immediately(self) -> bool:
        return self.allows(Action.CANCEL_IMMEDIATELY)

    @property
    def cancel(self) -> bool:
        return self.cancel_end_of_period or self.cancel_immediately

    @property
    def cancel_withdraw(self) -> bool:
        return self.allows(Action.CANCEL_WITHDRAW)

    @property
    def reactivate(self) -> bool:
        return self.allows(Action.REACTIVATE)

    @property
    def change_plan(self) -> bool:
        return self.allows(Action.CHANGE_PLAN)

    @property
    def any(self) -> bool:
        return len(self.why_not) < len(ALL_ACTIONS)


ALL_ACTIONS = (
    Action.RENEW,
    Action.AUTO_RENEW,
    Action.CHANGE_CYCLE,
    Action.CANCEL_END_OF_PERIOD,
    Action.CANCEL_IMMEDIATELY,
    Action.CANCEL_WITHDRAW,
    Action.REACTIVATE,
    Action.CHANGE_PLAN,
)

# The transition each action leads to, whose table decides the statuses it starts from.
ACTION_TRANSITIONS = {
    Action.RENEW: Transition.RENEW,
    Action.AUTO_RENEW: Transition.SET_AUTO_RENEW,
    Action.CHANGE_CYCLE: Transition.CHANGE_CYCLE,
    Action.CANCEL_END_OF_PERIOD: Transition.CANCEL_SCHEDULE,
    Action.CANCEL_IMMEDIATELY: Transition.CANCEL,
    Action.CANCEL_WITHDRAW: Transition.CANCEL_WITHDRAW,
    Action.REACTIVATE: Transition.REACTIVATE,
    Action.CHANGE_PLAN: Transition.CHANGE_PLAN,
}


def _status_refusal(service: Service) -> str:
    return _("This is not possible while the service is “%(status)s”.") % {"status": service.get_status_display()}


def cycle_choices(*, service: Service, as_of: dt.date) -> list[CycleChoice]:
    """The recurring cycles the service's plan (and each of its options) has a price for
    in the service's currency on `as_of`; the current cycle at the price the service keeps."""
    if service.cycle not in CYCLE_MONTHS:
        return []
    known = {option.code: option for option in ConfigurableOption.objects.filter(product_id=service.plan.product_id)}
    choices = []
    for cycle, label in Cycle.choices:
        if cycle not in CYCLE_MONTHS:
            continue
        if cycle == service.cycle:
            choices.append(CycleChoice(cycle, str(label), service_charge(service=service), current=True))
            continue
        priced = _priced_in_cycle(service, cycle=cycle, options=known, as_of=as_of)
        if priced is None:
            continue
        price, options = priced
        charge = recurring_charge(price_version=price, quantity=service.quantity, options=options)
        choices.append(CycleChoice(cycle, str(label), charge, current=False))
    return choices


def _priced_in_cycle(
    service: Service, *, cycle: str, options: Mapping[str, ConfigurableOption], as_of: dt.date
) -> tuple[PriceVersion, dict[str, dict[str, Any]]] | None:
    """The plan's price and the options' unit prices in `cycle` on `as_of`; None if one is missing."""
    currency = service.price_version.currency
    try:
        price = price_current(plan=service.plan, currency=currency, cycle=cycle, as_of=as_of)
        priced = {}
        for code, chosen in service.options.items():
            option = options.get(code)
            if option is None:
                return None
            unit_price = option_price_current(option=option, currency=currency, cycle=cycle, as_of=as_of).unit_price
            priced[code] = {"quantity": chosen["quantity"], "unit_price": str(unit_price)}
    except PriceNotAvailable:
        return None
    return price, priced


def plan_choices(*, service: Service, as_of: dt.date) -> list[PlanChoice]:
    """The other plans of the service's product on sale, with a price in its currency and cycle on `as_of`."""
    if service.cycle not in CYCLE_MONTHS:
        return []
    choices = []
    for plan in plans_on_sale(product=service.plan.product).exclude(pk=service.plan_id):
        try:
            price = price_current(plan=plan, currency=service.price_version.currency, cycle=service.cycle, as_of=as_of)
        except PriceNotAvailable:
            continue
        if price.amount_minor == service.price_version.amount_minor:
            upgrade = plan.position > service.plan.position
        else:
            upgrade = price.amount_minor > service.price_version.amount_minor
        charge = recurring_charge(price_version=price, quantity=service.quantity, options=service.options)
        choices.append(PlanChoice(plan=plan, price=price, charge=charge, upgrade=upgrade))
    return choices


def service_actions(*, service: Service, membership: Membership, as_of: dt.date) -> ServiceActions:
    """What `membership` may do to `service` on `as_of`, with the reason for each thing it may not.

    The domain's rules (the transition table, the product's cancellation rule, the
    reactivation window, prices to change to) plus the customer's own: a member with the
    services right who is not read-only; Renew only while auto-renew is off, from the
    product's invoice lead days before the period ends.
    """
    why_not: dict[str, str] = {}
    if not membership.has_area(Area.SERVICES) or not membership.can_change:
        refusal = _("Your role lets you see services, but not change them.")
        return ServiceActions(why_not=dict.fromkeys(ALL_ACTIONS, refusal))
    for action, transition in ACTION_TRANSITIONS.items():
        if service.status not in TRANSITIONS[transition][0]:
            why_not[action] = _status_refusal(service)
    product = service.plan.product
    end = service.current_period_end
    one_time = _("This service is paid once: it has no periods to renew or cancel at.")

    # Renew: a customer renews by hand only what will not renew by itself, and only an
    # active service (a suspended one comes back by paying what is overdue, not by buying
    # a further period).
    renew_opens_on = end - dt.timedelta(days=product.invoice_lead_days) if end is not None else None
    if service.status != ServiceStatus.ACTIVE:
        why_not.setdefault(Action.RENEW, _status_refusal(service))
    elif end is None:
        why_not[Action.RENEW] = one_time
    elif service.auto_renew:
        why_not[Action.RENEW] = _("Automatic renewal is on: the service renews by itself.")
    elif service.cancel_at_period_end:
        why_not[Action.RENEW] = _("A cancellation is requested for the end of the period: withdraw it first.")
    elif renew_opens_on is not None and as_of < renew_opens_on:
        why_not[Action.RENEW] = _("Renewal opens on %(date)s.") % {"date": date_display(renew_opens_on)}

    if service.cycle not in CYCLE_MONTHS:
        why_not.setdefault(Action.AUTO_RENEW, one_time)

    cycles = cycle_choices(service=service, as_of=as_of) if Action.CHANGE_CYCLE not in why_not else []
    if Action.CHANGE_CYCLE not in why_not:
        if service.cycle not in CYCLE_MONTHS:
            why_not[Action.CHANGE_CYCLE] = one_time
        elif len(cycles) < 2 and not service.pending_cycle:
            why_not[Action.CHANGE_CYCLE] = _("This plan is sold in no other billing cycle.")

    if Action.CANCEL_END_OF_PERIOD not in why_not:
        if end is None:
            why_not[Action.CANCEL_END_OF_PERIOD] = one_time
        elif service.cancel_at_period_end:
            why_not[Action.CANCEL_END_OF_PERIOD] = _("A cancellation is already requested for the end of the period.")
    if Action.CANCEL_IMMEDIATELY not in why_not and not product.customers_may_cancel_immediately:
        why_not[Action.CANCEL_IMMEDIATELY] = _("This product can only be cancelled at the end of its period.")
    if Action.CANCEL_WITHDRAW not in why_not and not service.cancel_at_period_end:
        why_not[Action.CANCEL_WITHDRAW] = _("No cancellation is requested.")

    if Action.REACTIVATE not in why_not:
        last_day = reactivation_last_day(service=service)
        if last_day is not None and as_of > last_day:
            why_not[Action.REACTIVATE] = _reactivation_closed(expired_on=end, last_day=last_day)

    plans = plan_choices(service=service, as_of=as_of) if Action.CHANGE_PLAN not in why_not else []
    if Action.CHANGE_PLAN not in why_not:
        if end is None:
            why_not[Action.CHANGE_PLAN] = one_time
        elif not plans:
            why_not[Action.CHANGE_PLAN] = _("No other plan of this product is on sale for your billing cycle.")
    return ServiceActions(why_not=why_not, cycles=cycles, plans=plans, renew_opens_on=renew_opens_on)


def _reactivation_closed(*, expired_on: dt.date | None, last_day: dt.date) -> str:
    return _(
        "This service expired on %(expired)s and could be reactivated until %(last_day)s. "
        "That time is over: please order it again."
    ) % {"expired": date_display(expired_on) if expired_on else "—", "last_day": date_display(last_day)}


# --- Refusals: typed errors as translated sentences -------------------------------------------

_CANCEL_REASONS = {
    "immediate_cancellation_not_allowed": gettext_lazy("This product can only be cancelled at the end of its period."),
    "no_period_end": gettext_lazy("This service is paid once: it has no periods to renew or cancel at."),
    "already_scheduled": gettext_lazy("A cancellation is already requested for the end of the period."),
    "not_scheduled": gettext_lazy("No cancellation is requested."),
}
_RENEWAL_REASONS = {
    "one_time": gettext_lazy("This service is paid once: it has no periods to renew or cancel at."),
    "cancellation_scheduled": gettext_lazy("A cancellation is requested for the end of the period: withdraw it first."),
    "period_mismatch": gettext_lazy("This period has already been renewed."),
}


def refusal_message(error: ServicesError | CatalogError) -> str:
    """A translated sentence for a refusal of the services or catalog domain."""
    if isinstance(error, NotAllowed):
        return _("Your role lets you see services, but not change them.")
    if isinstance(error, IllegalTransition):
        return _("This is not possible while the service is “%(status)s”.") % {
            "status": ServiceStatus(error.from_status).label
        }
    if isinstance(error, OutsideReactivationWindow):
        return _reactivation_closed(expired_on=error.expired_on, last_day=error.last_day)
    if isinstance(error, CancelNotAllowed):
        return str(_CANCEL_REASONS.get(error.reason, _("This cancellation is not possible.")))
    if isinstance(error, RenewalRefused):
        return str(_RENEWAL_REASONS.get(error.reason, _("This renewal is not possible.")))
    if isinstance(error, PeriodNotEnded):
        return _("The current period has not ended yet.")
    if isinstance(error, PriceNotAvailable):
        return _("This plan has no price in %(currency)s for that billing cycle.") % {"currency": error.currency}
    if isinstance(error, InvalidServiceData):
        if error.field == "cycle":
            return _("That billing cycle is not available for this service.")
        if error.field == "plan":
            return _("That plan is not available for this service.")
    return _("This could not be done.")


def _refused(request: MemberRequest, service: Service, message: str) -> HttpResponse:
    """A refused action: say why on the service page; nothing was changed."""
    messages.error(request, message)
    return redirect("portal:service-detail", service_id=service.pk)


# --- Forms ------------------------------------------------------------------------------------


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), required=False, choices=[("", gettext_lazy("All")), *ServiceStatus.choices]
    )


class AutoRenewForm(forms.Form):
    # The wanted setting, not "toggle": a form sent twice asks for the same thing twice.
    enabled = forms.ChoiceField(choices=[("on", "on"), ("off", "off")])


class CycleForm(forms.Form):
    cycle = forms.ChoiceField(label=gettext_lazy("Billing cycle from the next renewal"))

    def __init__(self, *args: Any, choices: list[CycleChoice], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "cycle").choices = [
            (choice.cycle, f"{choice.label} · {money_display(choice.charge)}") for choice in choices
        ]


class PlanForm(forms.Form):
    plan = forms.TypedChoiceField(label=gettext_lazy("New plan"), coerce=int)

    def __init__(self, *args: Any, choices: list[PlanChoice], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "plan").choices = [
            (choice.plan.pk, f"{choice.plan.name} · {money_display(choice.charge)}") for choice in choices
        ]


class PlanConfirmForm(forms.Form):
    plan = forms.IntegerField(widget=forms.HiddenInput)
    # The proration the customer was shown, in minor units: confirmed only if it still holds.
    shown_minor = forms.IntegerField(widget=forms.HiddenInput)


class CancelForm(forms.Form):
    WHEN = [
        ("end_of_period", gettext_lazy("At the end of the current period")),
        ("immediately", gettext_lazy("Immediately")),
    ]
    when = forms.ChoiceField(label=gettext_lazy("When"), widget=forms.RadioSelect, choices=WHEN)
    reason = forms.CharField(
        label=gettext_lazy("Why are you cancelling?"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("It helps us improve. Up to 1,000 characters."),
    )

    stop_linked_renewal = forms.BooleanField(
        label=gettext_lazy("Do not renew the linked domain either"),
        required=False,
        help_text=gettext_lazy("Its automatic renewal is turned off: it expires at the end of its own period."),
    )

    def offer(self, offered: list[str]) -> None:
        """Show only the `offered` choices. Call it after validating: every known choice is
        accepted, so that a refused one gets its reason from the rules, not "not a valid choice"."""
        field = _choice_field(self, "when")
        field.choices = [(value, label) for value, label in self.WHEN if value in offered]
        if len(offered) == 1:
            field.initial = offered[0]


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


# --- Pages ------------------------------------------------------------------------------------


def _service(request: MemberRequest, service_id: int) -> Service:
    return get_object_or_404(
        services_visible_to(membership=request.membership).select_related("account"), pk=service_id
    )


@member_required(Area.SERVICES)
@require_safe
def service_list(request: MemberRequest) -> HttpResponse:
    as_of = _as_of()
    form = StatusFilterForm(request.GET)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    services = services_visible_to(membership=request.membership).select_related("account")
    if status:
        services = services.filter(status=status)
    page = Paginator(services, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "status": status,
        "status_label": ServiceStatus(status).label if status else "",
        "page": page,
        "rows": [_row(service, as_of) for service in page],
        "has_services": bool(page.paginator.count) or services_visible_to(membership=request.membership).exists(),
        "warning_days": EXPIRY_WARNING_DAYS,
        "active_nav": "services",
    }
    return render(request, "portal/services/list.html", context)


@dataclass(frozen=True)
class OptionLine:
    name: str
    unit: str
    quantity: int
    # This option's part of one period's charge.
    charge: Money


def _option_lines(service: Service) -> list[OptionLine]:
    known = {option.code: option for option in ConfigurableOption.objects.filter(product_id=service.plan.product_id)}
    currency = service.price_version.currency
    lines = []
    for code, chosen in sorted(service.options.items()):
        option = known.get(code)
        quantity = int(chosen["quantity"])
        lines.append(
            OptionLine(
                name=option.name if option else code,
                unit=option.unit if option else "",
                quantity=quantity,
                charge=Money.rounded(Decimal(chosen["unit_price"]) * quantity, currency),
            )
        )
    return lines


def _suspension(request: MemberRequest, service: Service) -> SuspensionExplained | None:
    if service.status != ServiceStatus.SUSPENDED:
        return None
    account = request.membership.account
    # The account's today, as the billing pages count overdue.
    as_of = local_date(utc_now(), account.time_zone)
    explained = suspensions_explained(membership=request.membership, as_of=as_of, service=service)
    return explained[0] if explained else None


@member_required(Area.SERVICES)
@require_safe
def service_detail(request: MemberRequest, service_id: int) -> HttpResponse:
    as_of = _as_of()
    service = _service(request, service_id)
    actions = service_actions(service=service, membership=request.membership, as_of=as_of)
    currency = service.price_version.currency
    last_day = reactivation_last_day(service=service)
    extras = service_extras(service=service, membership=request.membership, as_of=as_of)
    context = {
        "service": service,
        "row": _row(service, as_of),
        "actions": actions,
        "plan_price": Money.from_minor(service.price_version.amount_minor, currency),
        "next_charge": service_next_charge(service=service) if service.pending_cycle else None,
        "options": _option_lines(service),
        "quotas": quota_usage(service=service) if service.status in RUNNING else [],
        "reactivable_until": last_day,
        "reactivation_open": last_day is not None and as_of <= last_day,
        "reactivation_closed": _reactivation_closed(expired_on=service.current_period_end, last_day=last_day)
        if last_day is not None and as_of > last_day
        else "",
        "cycle_form": CycleForm(choices=actions.cycles, initial={"cycle": service.pending_cycle or service.cycle})
        if actions.change_cycle
        else None,
        "plan_form": PlanForm(choices=actions.plans) if actions.change_plan else None,
        "extras": extras if extras.any else None,
        "open_order": open_order_of(service=service),
        "orders_area": request.membership.has_area(Area.ORDERS),
        "events": service_events_of(service=service),
        "suspension": _suspension(request, service),
        "may_change": request.membership.can_change,
        "warning_days": EXPIRY_WARNING_DAYS,
        "active_nav": "services",
    }
    return render(request, "portal/services/detail.html", context)


# --- Actions ----------------------------------------------------------------------------------


@member_required(Area.SERVICES)
@require_POST
def service_renew_view(request: MemberRequest, service_id: int) -> HttpResponse:
    as_of = _as_of()
    service = _service(request, service_id)
    actions = service_actions(service=service, membership=request.membership, as_of=as_of)
    if not actions.renew:
        return _refused(request, service, actions.why_not[Action.RENEW])
    # Renew places a renewal order for the next period; its payment (order_mark_paid)
    # renews the service, once per period.
    return _ordered(
        request,
        service,
        lambda: order_renewal_create(
            service=service, as_of=as_of, at=utc_now(), by=request.user, acting=request.membership
        ),
    )


@member_required(Area.SERVICES)
@require_POST
def service_auto_renew(request: MemberRequest, service_id: int) -> HttpResponse:
    service = _service(request, service_id)
    actions = service_actions(service=service, membership=request.membership, as_of=_as_of())
    if not actions.auto_renew:
        return _refused(request, service, actions.why_not[Action.AUTO_RENEW])
    form = AutoRenewForm(request.POST)
    if not form.is_valid():
        return _refused(request, service, _("Choose whether the service renews by itself."))
    enabled = form.cleaned_data["enabled"] == "on"
    try:
        service = service_set_auto_renew(service=service, enabled=enabled, by=request.user, acting=request.membership)
    except ServicesError as error:
        return _refused(request, service, refusal_message(error))
    if enabled:
        messages.success(request, _("Automatic renewal is on: the service renews by itself at the end of each period."))
    elif service.current_period_end is not None:
        messages.success(
            request,
            _("Automatic renewal is off: the service expires on %(date)s unless you renew it.")
            % {"date": date_display(service.current_period_end)},
        )
    else:
        messages.success(request, _("Automatic renewal is off."))
    return redirect("portal:service-detail", service_id=service.pk)


@member_required(Area.SERVICES)
@require_POST
def service_cycle(request: MemberRequest, service_id: int) -> HttpResponse:
    as_of = _as_of()
    service = _service(request, service_id)
    actions = service_actions(service=service, membership=request.membership, as_of=as_of)
    if not actions.change_cycle:
        return _refused(request, service, actions.why_not[Action.CHANGE_CYCLE])
    form = CycleForm(request.POST, choices=actions.cycles)
    if not form.is_valid():
        return _refused(request, service, _("That billing cycle is not available for this service."))
    had_pending = bool(service.pending_cycle)
    try:
        service = service_change_cycle(
            service=service, cycle=form.cleaned_data["cycle"], as_of=as_of, by=request.user, acting=request.membership
        )
    except (ServicesError, CatalogError) as error:
        return _refused(request, service, refusal_message(error))
    if service.pending_cycle:
        messages.success(
            request,
            _("From %(date)s the billing cycle is %(cycle)s: %(amount)s per period.")
            % {
                "date": date_display(service.current_period_end) if service.current_period_end else "—",
                "cycle": Cycle(service.pending_cycle).label,
                "amount": money_display(service_next_charge(service=service)),
            },
        )
    elif had_pending:
        messages.success(request, _("The change of billing cycle is withdrawn: the service keeps its cycle."))
    else:
        messages.info(request, _("The service already has this billing cycle: nothing changed."))
    return redirect("portal:service-detail", service_id=service.pk)


@member_required(Area.SERVICES)
@require_http_methods(["GET", "HEAD", "POST"])
def service_cancel_view(request: MemberRequest, service_id: int) -> HttpResponse:
    """The confirmation page of a cancellation: when, and why; the POST is the confirmation."""
    service = _service(request, service_id)
    actions = service_actions(service=service, membership=request.membership, as_of=_as_of())
    offered = [
        when
        for when, allowed in (
            ("end_of_period", actions.cancel_end_of_period),
            ("immediately", actions.cancel_immediately),
        )
        if allowed
    ]
    linked = _linked_domain(service)
    if request.method == "POST":
        if not actions.cancel:
            return _refused(request, service, actions.why_not[Action.CANCEL_END_OF_PERIOD])
        form = CancelForm(request.POST)
        if form.is_valid():
            immediately = form.cleaned_data["when"] == "immediately"
            action = Action.CANCEL_IMMEDIATELY if immediately else Action.CANCEL_END_OF_PERIOD
            if not actions.allows(action):
                return _refused(request, service, actions.why_not[action])
            try:
                service = service_cancel(
                    service=service,
                    reason=form.cleaned_data["reason"],
                    immediately=immediately,
                    by=request.user,
                    acting=request.membership,
                    stop_linked_renewal=bool(form.cleaned_data["stop_linked_renewal"] and linked is not None),
                )
            except ServicesError as error:
                return _refused(request, service, refusal_message(error))
            if immediately:
                messages.success(request, _("The service is cancelled."))
            else:
                assert service.current_period_end is not None  # scheduling needs a period end
                messages.success(
                    request,
                    _("Cancellation requested: the service stays active until %(date)s and is not renewed.")
                    % {"date": date_display(service.current_period_end - dt.timedelta(days=1))},
                )
            return redirect("portal:service-detail", service_id=service.pk)
    else:
        form = CancelForm()
    form.offer(offered)
    context = {
        "service": service,
        "row": _row(service, _as_of()),
        "actions": actions,
        "form": form,
        "linked": linked,
        "active_nav": "services",
    }
    return render(request, "portal/services/cancel.html", context)


def _linked_domain(service: Service) -> Service | None:
    """The linked domain service, when it still renews by itself (else the box says nothing)."""
    linked = service.linked_service
    if linked is None or linked.account_id != service.account_id or not linked.auto_renew:
        return None
    return linked


@member_required(Area.SERVICES)
@require_POST
def service_cancel_withdraw_view(request: MemberRequest, service_id: int) -> HttpResponse:
    service = _service(request, service_id)
    actions = service_actions(service=service, membership=request.membership, as_of=_as_of())
    if not actions.cancel_withdraw:
        return _refused(request, service, actions.why_not[Action.CANCEL_WITHDRAW])
    try:
        service = service_cancel_withdraw(service=service, by=request.user, acting=request.membership)
    except ServicesError as error:
        return _refused(request, service, refusal_message(error))
    messages.success(request, _("The cancellation request is withdrawn: the service continues as before."))
    return redirect("portal:service-detail", service_id=service.pk)


@member_required(Area.SERVICES)
@require_POST
def service_reactivate_view(request: MemberRequest, service_id: int) -> HttpResponse:
    as_of = _as_of()
    service = _service(request, service_id)
    actions = service_actions(service=service, membership=request.membership, as_of=as_of)
    if not actions.reactivate:
        return _refused(request, service, actions.why_not[Action.REACTIVATE])
    # Reactivate places a renewal order for a new period from today; its payment
    # (order_mark_paid) reactivates the service.
    return _ordered(
        request,
        service,
        lambda: order_renewal_create(
            service=service, as_of=as_of, at=utc_now(), by=request.user, acting=request.membership
        ),
    )


@member_required(Area.SERVICES)
@require_http_methods(["GET", "HEAD", "POST"])
def service_plan(request: MemberRequest, service_id: int) -> HttpResponse:
    """Upgrade or downgrade: the proration preview (GET ?plan=), then the confirmation (POST)."""
    as_of = _as_of()
    service = _service(request, service_id)
    actions = service_actions(service=service, membership=request.membership, as_of=as_of)
    if not actions.change_plan:
        return _refused(request, service, actions.why_not[Action.CHANGE_PLAN])
    available = {choice.plan.pk: choice for choice in actions.plans}
    posted = request.method == "POST"
    form: forms.Form = PlanConfirmForm(request.POST) if posted else PlanForm(request.GET, choices=actions.plans)
    if not form.is_valid() or form.cleaned_data["plan"] not in available:
        return _refused(request, service, _("That plan is not available for this service."))
    choice = available[form.cleaned_data["plan"]]
    try:
        proration = plan_change_preview(service=service, plan=choice.plan, as_of=as_of)
    except (ServicesError, CatalogError) as error:
        return _refused(request, service, refusal_message(error))
    changed_meanwhile = posted and form.cleaned_data["shown_minor"] != proration.amount.minor
    if posted and not changed_meanwhile and proration.amount.minor > 0:
        # Something to pay: an upgrade order, carried out when it is paid.
        return _ordered(
            request,
            service,
            lambda: order_upgrade_create(
                service=service,
                plan=choice.plan,
                as_of=as_of,
                at=utc_now(),
                shown_minor=proration.amount.minor,
                by=request.user,
                acting=request.membership,
            ),
        )
    if posted and not changed_meanwhile:
        # Nothing to pay: the change is made at once; a credit is recorded on the service's
        # event (credit_minor) for the payments issue to add to the account's balance.
        try:
            change = service_change_plan(
                service=service, plan=choice.plan, as_of=as_of, by=request.user, acting=request.membership
            )
        except (ServicesError, CatalogError) as error:
            return _refused(request, service, refusal_message(error))
        messages.success(
            request,
            _("The service is now on the %(plan)s plan.") % {"plan": choice.plan.name}
            + " "
            + _proration_sentence(change.proration.amount),
        )
        return redirect("portal:service-detail", service_id=service.pk)
    if changed_meanwhile:
        messages.warning(request, _("The amount changed since it was shown to you: please check it again."))
    context = {
        "service": service,
        "choice": choice,
        "proration": proration,
        "proration_text": _proration_sentence(proration.amount),
        "credit": -proration.amount if proration.amount.minor < 0 else None,
        "current_charge": service_charge(service=service),
        "rows": _quota_comparison(service=service, new_plan=choice.plan),
        "confirm_form": PlanConfirmForm(initial={"plan": choice.plan.pk, "shown_minor": proration.amount.minor}),
        "active_nav": "services",
    }
    return render(request, "portal/services/plan_change.html", context)


def _ordered(request: MemberRequest, service: Service, place: Callable[[], Order]) -> HttpResponse:
    """Place an order for a change of `service` and send the member to it (or say where it is)."""
    try:
        order = place()
    except (ServicesError, CatalogError) as error:
        return _refused(request, service, refusal_message(error))
    except OrderAlreadyOpen as error:
        return _refused(
            request,
            service,
            _("Order %(number)s for this service is still awaiting payment: pay or cancel it first.")
            % {"number": error.number},
        )
    except PriceChanged:
        return _refused(request, service, _("The amount changed since it was shown to you: please check it again."))
    except NothingToOrder:
        return _refused(request, service, _("There is nothing to pay for this change."))
    except OrderNotAllowed:
        return _refused(request, service, _("Your role lets you see services, but not change them."))
    except BillingError:
        return _refused(request, service, _("We cannot compute the tax for your country yet. Please contact us."))
    messages.success(
        request,
        _("Order %(number)s for %(total)s is placed and awaits payment: the change is made once it is paid.")
        % {"number": order.number, "total": money_display(Money.from_minor(order.total_minor, order.currency))},
    )
    if request.membership.has_area(Area.ORDERS):
        return redirect("portal:order-detail", number=order.number)
    return redirect("portal:service-detail", service_id=service.pk)


def _proration_sentence(amount: Money) -> str:
    if amount.minor > 0:
        return _("%(amount)s for the rest of the current period will be invoiced.") % {"amount": money_display(amount)}
    if amount.minor < 0:
        return _("%(amount)s for the rest of the current period will be credited to your account.") % {
            "amount": money_display(-amount)
        }
    return _("Nothing to pay now: the new price applies from the next renewal.")


@dataclass(frozen=True)
class QuotaComparison:
    name: str
    unit: str
    current: Decimal | None
    new: Decimal | None
    # What is used now, when it is more than the new plan allows.
    used_over_new: Decimal | None


def _quota_comparison(*, service: Service, new_plan: Plan) -> list[QuotaComparison]:
    usage: dict[str, QuotaUsage] = {quota.metric: quota for quota in quota_usage(service=service)}
    current, new = plan_quotas(plan=service.plan), plan_quotas(plan=new_plan)
    rows = []
    for metric in sorted(set(current) | set(new)):
        used = usage[metric].used if metric in usage else None
        limit = new.get(metric)
        rows.append(
            QuotaComparison(
                name=usage[metric].name if metric in usage else metric,
                unit=usage[metric].unit if metric in usage else "",
                current=current.get(metric),
                new=limit,
                used_over_new=used if used is not None and limit is not None and used > limit else None,
            )
        )
    return rows


urlpatterns: list[URLPattern] = [
    path("services/", service_list, name="services"),
    path("services/<int:service_id>/", service_detail, name="service-detail"),
    path("services/<int:service_id>/renew/", service_renew_view, name="service-renew"),
    path("services/<int:service_id>/auto-renew/", service_auto_renew, name="service-auto-renew"),
    path("services/<int:service_id>/billing-cycle/", service_cycle, name="service-cycle"),
    path("services/<int:service_id>/cancel/", service_cancel_view, name="service-cancel"),
    path("services/<int:service_id>/cancel/withdraw/", service_cancel_withdraw_view, name="service-cancel-withdraw"),
    path("services/<int:service_id>/reactivate/", service_reactivate_view, name="service-reactivate"),
    path("services/<int:service_id>/plan/", service_plan, name="service-plan"),
]


# --- More space and add-ons on a running service ------------------------------------------------


@dataclass(frozen=True)
class Extras:
    """The options whose quantity may change ("Increase space") and the add-ons that may be added now."""

    options: list[ConfigurableOption]
    addons: list[AddOn]

    @property
    def any(self) -> bool:
        return bool(self.options or self.addons)


def service_extras(*, service: Service, membership: Membership, as_of: dt.date) -> Extras:
    """Options and add-ons of the service's product sold in its currency and cycle on `as_of`,
    for a member who may change services, on an active recurring service."""
    if (
        not membership.has_area(Area.SERVICES)
        or not membership.can_change
        or service.status != ServiceStatus.ACTIVE
        or service.cycle not in CYCLE_MONTHS
        or service.current_period_end is None
    ):
        return Extras([], [])
    currency = service.price_version.currency
    options = []
    for option in ConfigurableOption.objects.filter(product_id=service.plan.product_id, is_active=True):
        try:
            option_price_current(option=option, currency=currency, cycle=service.cycle, as_of=as_of)
        except PriceNotAvailable:
            continue
        options.append(option)
    addons = []
    for addon in AddOn.objects.filter(product_id=service.plan.product_id, is_active=True).exclude(
        code__in=list(service.addons)
    ):
        try:
            addon_price_current(addon=addon, currency=currency, cycle=service.cycle, as_of=as_of)
        except PriceNotAvailable:
            continue
        addons.append(addon)
    return Extras(options, addons)


class ExtraForm(forms.Form):
    option = forms.CharField(required=False, max_length=50)
    quantity = forms.IntegerField(required=False, min_value=0, max_value=100_000)
    addon = forms.CharField(required=False, max_length=50)
    # The amount the customer was shown, in minor units: confirmed only if it still holds.
    shown_minor = forms.IntegerField(required=False, widget=forms.HiddenInput)


@member_required(Area.SERVICES)
@require_http_methods(["GET", "HEAD", "POST"])
def service_extra(request: MemberRequest, service_id: int) -> HttpResponse:
    """More of an option, or an add-on: what it costs for the rest of the period (GET), then
    the confirmation (POST): an add-on order when there is something to pay, else at once."""
    as_of = _as_of()
    service = _service(request, service_id)
    extras = service_extras(service=service, membership=request.membership, as_of=as_of)
    posted = request.method == "POST"
    form = ExtraForm(request.POST if posted else request.GET)
    if not extras.any:
        if not request.membership.can_change or not request.membership.has_area(Area.SERVICES):
            return _refused(request, service, _("Your role lets you see services, but not change them."))
        return _refused(request, service, _status_refusal(service))
    if not form.is_valid():
        return _refused(request, service, _("Choose a whole quantity from 0 to 100,000."))
    data = form.cleaned_data
    option = next((o for o in extras.options if o.code == data["option"]), None)
    addon = next((a for a in extras.addons if a.code == data["addon"]), None)
    current = 0
    try:
        if option is not None:
            quantity = data["quantity"]
            if quantity is None:
                return _refused(request, service, _("Choose a whole quantity from 0 to 100,000."))
            current = int(service.options.get(option.code, {}).get("quantity", 0))
            if quantity == current:
                return _refused(request, service, _("That is the quantity the service has already."))
            proration = options_change_preview(service=service, options={option.code: quantity}, as_of=as_of)
            cost = proration.amount
            title = _("%(option)s: from %(old)s to %(new)s") % {"option": option.name, "old": current, "new": quantity}
        elif addon is not None:
            proration = addon_add_preview(service=service, addon=addon, as_of=as_of)
            setup = addon_price_current(
                addon=addon, currency=service.price_version.currency, cycle=service.cycle, as_of=as_of
            ).setup_fee_minor
            cost = proration.amount + Money.from_minor(setup, proration.amount.currency)
            title = _("Add %(addon)s") % {"addon": addon.name}
        else:
            return _refused(request, service, _("That option or add-on is not available for this service."))
    except (ServicesError, CatalogError) as error:
        if isinstance(error, InvalidServiceData) and error.field == "options":
            return _refused(request, service, _("That quantity is not available for this option."))
        return _refused(request, service, refusal_message(error))
    changed_meanwhile = posted and data["shown_minor"] != cost.minor
    if posted and not changed_meanwhile:
        if cost.minor > 0 and addon is not None:
            return _ordered(
                request,
                service,
                lambda: order_addon_create(
                    service=service,
                    addon=addon,
                    as_of=as_of,
                    at=utc_now(),
                    shown_minor=cost.minor,
                    by=request.user,
                    acting=request.membership,
                ),
            )
        if cost.minor > 0 and option is not None:
            return _ordered(
                request,
                service,
                lambda: order_options_create(
                    service=service,
                    option=option,
                    quantity=int(data["quantity"]),
                    as_of=as_of,
                    at=utc_now(),
                    shown_minor=cost.minor,
                    by=request.user,
                    acting=request.membership,
                ),
            )
        if option is not None:
            # Fewer units, or nothing to pay: at once; a credit is recorded on the event (credit_minor).
            try:
                change = service_change_options(
                    service=service,
                    options={option.code: int(data["quantity"])},
                    as_of=as_of,
                    by=request.user,
                    acting=request.membership,
                )
            except (ServicesError, CatalogError) as error:
                return _refused(request, service, refusal_message(error))
            messages.success(
                request,
                _("%(option)s is now %(quantity)s.") % {"option": option.name, "quantity": data["quantity"]}
                + " "
                + _proration_sentence(change.proration.amount),
            )
            return redirect("portal:service-detail", service_id=service.pk)
        return _refused(request, service, _("There is nothing to pay for this change."))
    if changed_meanwhile:
        messages.warning(request, _("The amount changed since it was shown to you: please check it again."))
    context = {
        "service": service,
        "title": title,
        "option": option,
        "addon": addon,
        "quantity": data["quantity"],
        "current": current,
        "proration": proration,
        "cost": cost,
        "credit": -cost if cost.minor < 0 else None,
        "confirm_form": ExtraForm(
            initial={
                "option": option.code if option else "",
                "quantity": data["quantity"],
                "addon": addon.code if addon else "",
                "shown_minor": cost.minor,
            }
        ),
        "active_nav": "services",
    }
    return render(request, "portal/services/extra.html", context)


urlpatterns.append(path("services/<int:service_id>/extras/", service_extra, name="service-extra"))
