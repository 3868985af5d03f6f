"""Writes of the services domain: the service lifecycle, one function per transition.

Every transition runs in one transaction and in the same order:
1. lock the account, then the service (DESIGN's lock order: account, invoice, service);
2. check the acting member (when a customer acts) and the transition table `TRANSITIONS`;
3. check the transition's own rule (period ended, reactivation window, product rule);
4. write the new state and one `ServiceEvent`, with reason, actor and figures;
5. ask for provisioning after commit.
A refusal raises a typed error before step 4, so it changes nothing.

Dates that decide money or periods are explicit `as_of` arguments; the event's timestamp
is the clock's, like the audit log's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from sportello.accounts.models import Account, Area, Membership, User
from sportello.catalog.models import (
    CYCLE_MONTHS,
    AddOn,
    ConfigurableOption,
    Cycle,
    Plan,
    PriceVersion,
    Product,
    ProductKind,
)
from sportello.catalog.selectors import addon_price_current, option_price_current, price_current
from sportello.core.effects import after_commit
from sportello.core.money import Money
from sportello.core.time import ensure_aware, utc_now
from sportello.services.errors import (
    CancelNotAllowed,
    IllegalTransition,
    InvalidServiceData,
    NotAllowed,
    OutsideReactivationWindow,
    PeriodNotEnded,
    RenewalRefused,
    ServiceNotFound,
    UsageKeyReused,
)
from sportello.services.models import (
    TRANSITIONS,
    Service,
    ServiceEvent,
    ServiceStatus,
    Transition,
    UsageRecord,
)
from sportello.services.periods import period_after
from sportello.services.proration import Proration, proration_for_change
from sportello.services.provisioning import PROVISIONING_ACTIONS, provisioning_task_record

# Usage quantities keep at most this many decimals (the column's scale).
USAGE_DECIMALS = 6


# --- The steps every transition shares ---------------------------------------------------


def _lock(service: Service) -> Service:
    """Lock the service's account, then the service; return the service as locked (fresh)."""
    Account.objects.select_for_update().filter(pk=service.account_id).values_list("pk", flat=True).get()
    try:
        return Service.objects.locked().get(pk=service.pk)
    except Service.DoesNotExist:
        raise ServiceNotFound() from None


def _check_acting(acting: Membership | None, service: Service) -> None:
    """A customer acts only on their account's services, with the services right and not read-only.
    `acting=None` is staff or the billing run, whose permissions the interface has checked."""
    if acting is None:
        return
    if acting.account_id != service.account_id:
        raise ServiceNotFound()
    if not acting.has_area(Area.SERVICES) or not acting.can_change:
        raise NotAllowed("services_right_required")


def _check(service: Service, transition: str) -> None:
    allowed_from, target = TRANSITIONS[transition]
    if service.status not in allowed_from:
        raise IllegalTransition(transition=transition, from_status=service.status, to_status=target or service.status)


def _record(
    service: Service,
    *,
    transition: str,
    from_status: str,
    by: User | None,
    reason: str = "",
    acting: Membership | None = None,
    data: dict[str, Any] | None = None,
) -> ServiceEvent:
    """Write the transition's event and, if it is one the provider's systems must hear
    about, ask for a provisioning task after commit."""
    details = dict(data or {})
    if acting is not None:
        details["as_customer"] = True
    action = PROVISIONING_ACTIONS.get(transition)
    module = service.plan.product.provisioning_module
    if action is not None:
        details["provisioning"] = {"module": module, "action": action}
    event = ServiceEvent.objects.create(
        account_id=service.account_id,
        service=service,
        transition=transition,
        from_status=from_status,
        to_status=service.status,
        reason=reason,
        actor=by if by is not None and by.pk else None,
        at=utc_now(),
        data=details,
    )
    if action is not None:
        after_commit(provisioning_task_record, service_id=service.pk, event_id=event.pk, module=module, action=action)
    return event


def _save(service: Service, *fields: str) -> None:
    service.save(update_fields=[*fields, "updated_at"])


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _options_priced(
    *, product: Product, chosen: Mapping[str, Any], currency: str, cycle: str, as_of: dt.date
) -> dict[str, dict[str, Any]]:
    """Chosen option quantities priced at the option price versions valid `as_of`, as stored on a service."""
    known = {option.code: option for option in ConfigurableOption.objects.filter(product=product)}
    priced: dict[str, dict[str, Any]] = {}
    for code, quantity in sorted(chosen.items()):
        option = known.get(code)
        if option is None:
            raise InvalidServiceData("options", f"unknown option {code!r}")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidServiceData("options", f"{code}: a whole quantity")
        if quantity < option.min_quantity or (option.max_quantity is not None and quantity > option.max_quantity):
            raise InvalidServiceData("options", f"{code}: between {option.min_quantity} and {option.max_quantity}")
        if quantity == 0:
            continue
        price = option_price_current(option=option, currency=currency, cycle=cycle, as_of=as_of)
        priced[code] = {"quantity": quantity, "unit_price": str(price.unit_price), "price_version": price.pk}
    return priced


def _option_quantities(options: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    return {code: int(option["quantity"]) for code, option in options.items()}


def _addons_priced(
    *, product: Product, codes: Collection[str], currency: str, cycle: str, as_of: dt.date
) -> dict[str, dict[str, Any]]:
    """Add-ons of `product` priced at their versions valid `as_of`, as stored on a service."""
    known = {addon.code: addon for addon in AddOn.objects.filter(product=product)}
    priced: dict[str, dict[str, Any]] = {}
    for code in sorted(set(codes)):
        addon = known.get(code)
        if addon is None:
            raise InvalidServiceData("addons", f"unknown add-on {code!r}")
        price = addon_price_current(addon=addon, currency=currency, cycle=cycle, as_of=as_of)
        priced[code] = {"amount_minor": price.amount_minor, "price_version": price.pk}
    return priced


# --- Creation: the seam for orders -------------------------------------------------------


@transaction.atomic
def service_create(
    *,
    account: Account,
    price_version: PriceVersion,
    as_of: dt.date,
    quantity: int = 1,
    options: Mapping[str, int] | None = None,
    auto_renew: bool = True,
    label: str = "",
    addons: Collection[str] = (),
    by: User | None = None,
) -> Service:
    """A pending service of `price_version`'s plan, in the account's currency; options and
    add-ons are priced at the versions valid `as_of` (the order's date). A paid order activates it."""
    if price_version.currency != account.currency:
        raise InvalidServiceData(
            "currency", f"the account pays in {account.currency}, the price is in {price_version.currency}"
        )
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidServiceData("quantity", "a whole number, one or more")
    plan = price_version.plan
    service = Service.objects.create(
        account=account,
        plan=plan,
        price_version=price_version,
        cycle=price_version.cycle,
        quantity=quantity,
        options=_options_priced(
            product=plan.product,
            chosen=options or {},
            currency=account.currency,
            cycle=price_version.cycle,
            as_of=as_of,
        ),
        addons=_addons_priced(
            product=plan.product, codes=addons, currency=account.currency, cycle=price_version.cycle, as_of=as_of
        ),
        auto_renew=auto_renew,
        label=label.strip()[:200],
    )
    _record(service, transition=Transition.CREATE, from_status="", by=by, data={"price_version": price_version.pk})
    return service


# --- Status transitions ------------------------------------------------------------------


def _start_period(service: Service, start: dt.date) -> None:
    """Make `start` the first day of a new run of periods (activation, reactivation)."""
    service.anchor_day = start.day
    service.current_period_start = start
    if service.cycle == Cycle.ONE_TIME:
        service.current_period_end = None
    else:
        service.current_period_end = period_after(start, service.cycle, anchor_day=start.day)
    service.next_due_date = service.current_period_end


@transaction.atomic
def service_activate(*, service: Service, as_of: dt.date, by: User | None = None, reason: str = "") -> Service:
    """pending -> active: the first period starts on `as_of` (a paid order calls this)."""
    service = _lock(service)
    _check(service, Transition.ACTIVATE)
    from_status = service.status
    service.status = ServiceStatus.ACTIVE
    service.activated_at = utc_now()
    _start_period(service, as_of)
    _save(
        service, "status", "activated_at", "anchor_day", "current_period_start", "current_period_end", "next_due_date"
    )
    _record(
        service,
        transition=Transition.ACTIVATE,
        from_status=from_status,
        by=by,
        reason=reason,
        data={"period_start": _iso(service.current_period_start), "period_end": _iso(service.current_period_end)},
    )
    return service


@transaction.atomic
def service_suspend(*, service: Service, reason: str, by: User | None = None) -> Service:
    """active -> suspended (late payment, abuse): the service stops, its data is kept."""
    service = _lock(service)
    _check(service, Transition.SUSPEND)
    from_status = service.status
    service.status = ServiceStatus.SUSPENDED
    service.suspended_reason = reason
    service.suspended_at = utc_now()
    _save(service, "status", "suspended_reason", "suspended_at")
    _record(service, transition=Transition.SUSPEND, from_status=from_status, by=by, reason=reason)
    return service


@transaction.atomic
def service_unsuspend(*, service: Service, by: User | None = None, reason: str = "") -> Service:
    """suspended -> active."""
    service = _lock(service)
    _check(service, Transition.UNSUSPEND)
    from_status = service.status
    service.status = ServiceStatus.ACTIVE
    service.suspended_reason = ""
    service.suspended_at = None
    _save(service, "status", "suspended_reason", "suspended_at")
    _record(service, transition=Transition.UNSUSPEND, from_status=from_status, by=by, reason=reason)
    return service


@transaction.atomic
def service_terminate(*, service: Service, reason: str, by: User | None = None) -> Service:
    """active or suspended -> terminated: the service and its data are removed at the provider. Final."""
    service = _lock(service)
    _check(service, Transition.TERMINATE)
    from_status = service.status
    service.status = ServiceStatus.TERMINATED
    service.terminated_at = utc_now()
    _save(service, "status", "terminated_at")
    _record(service, transition=Transition.TERMINATE, from_status=from_status, by=by, reason=reason)
    return service


@transaction.atomic
def service_cancel(
    *,
    service: Service,
    reason: str,
    immediately: bool,
    by: User | None = None,
    acting: Membership | None = None,
    stop_linked_renewal: bool = False,
) -> Service:
    """The customer (or staff) gives the service up.

    Immediately: active -> cancelled, now; a customer may do this only if the product
    allows it (`customers_may_cancel_immediately`), staff always. At the end of the
    period: the service stays active with `cancel_at_period_end` set, and
    `service_cancel_apply` cancels it when the period ends; it will not be renewed.

    With `stop_linked_renewal` ("do not renew the linked domain"), the linked domain
    service's automatic renewal is turned off in the same transaction, with its own event.
    """
    service = _lock(service)
    _check_acting(acting, service)
    if stop_linked_renewal and service.linked_service_id is None:
        raise CancelNotAllowed("no_linked_domain")
    from_status = service.status
    if immediately:
        _check(service, Transition.CANCEL)
        if acting is not None and not service.plan.product.customers_may_cancel_immediately:
            raise CancelNotAllowed("immediate_cancellation_not_allowed")
        service.status = ServiceStatus.CANCELLED
        service.cancelled_at = utc_now()
        service.cancel_at_period_end = False
        service.cancellation_reason = reason
        _save(service, "status", "cancelled_at", "cancel_at_period_end", "cancellation_reason")
        _record(service, transition=Transition.CANCEL, from_status=from_status, by=by, reason=reason, acting=acting)
        if stop_linked_renewal:
            _stop_linked_renewal(service, by=by, acting=acting)
        return service
    _check(service, Transition.CANCEL_SCHEDULE)
    if service.current_period_end is None:
        raise CancelNotAllowed("no_period_end")
    if service.cancel_at_period_end:
        raise CancelNotAllowed("already_scheduled")
    service.cancel_at_period_end = True
    service.cancellation_reason = reason
    _save(service, "cancel_at_period_end", "cancellation_reason")
    _record(
        service,
        transition=Transition.CANCEL_SCHEDULE,
        from_status=from_status,
        by=by,
        reason=reason,
        acting=acting,
        data={"effective_on": _iso(service.current_period_end)},
    )
    if stop_linked_renewal:
        _stop_linked_renewal(service, by=by, acting=acting)
    return service


def _stop_linked_renewal(service: Service, *, by: User | None, acting: Membership | None) -> None:
    """Turn off the linked domain's automatic renewal, as part of `service`'s cancellation.
    Both belong to the same account, already locked; the domain is locked next."""
    linked = Service.objects.locked().get(pk=service.linked_service_id, account_id=service.account_id)
    _check(linked, Transition.SET_AUTO_RENEW)
    if not linked.auto_renew:
        return
    linked.auto_renew = False
    _save(linked, "auto_renew")
    _record(
        linked,
        transition=Transition.SET_AUTO_RENEW,
        from_status=linked.status,
        by=by,
        acting=acting,
        reason="linked service cancelled",
        data={"auto_renew": False, "cancelled_service": service.pk},
    )


@transaction.atomic
def service_cancel_pending(*, service: Service, reason: str, by: User | None = None) -> Service:
    """pending -> cancelled: the order that would have created the service was cancelled."""
    service = _lock(service)
    _check(service, Transition.CANCEL_PENDING)
    from_status = service.status
    service.status = ServiceStatus.CANCELLED
    service.cancelled_at = utc_now()
    service.cancellation_reason = reason
    _save(service, "status", "cancelled_at", "cancellation_reason")
    _record(service, transition=Transition.CANCEL_PENDING, from_status=from_status, by=by, reason=reason)
    return service


@transaction.atomic
def service_link_domain(*, service: Service, domain: Service | None, by: User | None = None) -> Service:
    """Link `service` to a domain service of the same account (or unlink it with None)."""
    service = _lock(service)
    _check(service, Transition.LINK_DOMAIN)
    if domain is not None:
        if domain.pk == service.pk or domain.account_id != service.account_id:
            raise InvalidServiceData("linked_service", "another service of the same account")
        if domain.plan.product.kind != ProductKind.DOMAIN:
            raise InvalidServiceData("linked_service", "a domain service")
    if service.linked_service_id == (domain.pk if domain else None):
        return service
    service.linked_service = domain
    _save(service, "linked_service")
    _record(
        service,
        transition=Transition.LINK_DOMAIN,
        from_status=service.status,
        by=by,
        data={"linked_service": domain.pk if domain else None},
    )
    return service


@transaction.atomic
def service_cancel_withdraw(
    *, service: Service, by: User | None = None, acting: Membership | None = None, reason: str = ""
) -> Service:
    """Take back a request to cancel at the end of the period: the service renews as before."""
    service = _lock(service)
    _check_acting(acting, service)
    _check(service, Transition.CANCEL_WITHDRAW)
    if not service.cancel_at_period_end:
        raise CancelNotAllowed("not_scheduled")
    service.cancel_at_period_end = False
    service.cancellation_reason = ""
    _save(service, "cancel_at_period_end", "cancellation_reason")
    _record(
        service, transition=Transition.CANCEL_WITHDRAW, from_status=service.status, by=by, reason=reason, acting=acting
    )
    return service


@transaction.atomic
def service_cancel_apply(*, service: Service, as_of: dt.date, by: User | None = None) -> Service:
    """active (cancellation requested) -> cancelled, once the period has ended (the daily run calls this)."""
    service = _lock(service)
    _check(service, Transition.CANCEL_APPLY)
    if not service.cancel_at_period_end:
        raise CancelNotAllowed("not_scheduled")
    assert service.current_period_end is not None  # scheduling refuses periods without an end
    if as_of < service.current_period_end:
        raise PeriodNotEnded(period_end=service.current_period_end, as_of=as_of)
    from_status = service.status
    service.status = ServiceStatus.CANCELLED
    service.cancelled_at = utc_now()
    service.cancel_at_period_end = False
    service.next_due_date = None
    _save(service, "status", "cancelled_at", "cancel_at_period_end", "next_due_date")
    _record(
        service,
        transition=Transition.CANCEL_APPLY,
        from_status=from_status,
        by=by,
        reason=service.cancellation_reason,
        data={"as_of": as_of.isoformat(), "period_end": _iso(service.current_period_end)},
    )
    return service


@transaction.atomic
def service_expire(*, service: Service, as_of: dt.date, by: User | None = None, reason: str = "") -> Service:
    """active -> expired: the period has ended and was not renewed (the daily run calls this).

    The service is switched off but kept for the product's reactivation window.
    """
    service = _lock(service)
    _check(service, Transition.EXPIRE)
    if service.cancel_at_period_end:
        # The daily run cancels these (service_cancel_apply); expiring them would reopen reactivation.
        raise IllegalTransition(
            transition=Transition.EXPIRE,
            from_status=service.status,
            to_status=ServiceStatus.EXPIRED,
            reason="cancellation_scheduled",
        )
    if service.current_period_end is None or as_of < service.current_period_end:
        raise PeriodNotEnded(period_end=service.current_period_end, as_of=as_of)
    from_status = service.status
    service.status = ServiceStatus.EXPIRED
    service.expired_at = utc_now()
    _save(service, "status", "expired_at")
    _record(
        service,
        transition=Transition.EXPIRE,
        from_status=from_status,
        by=by,
        reason=reason,
        data={"as_of": as_of.isoformat(), "expired_on": _iso(service.current_period_end)},
    )
    return service


def reactivation_last_day(*, service: Service) -> dt.date | None:
    """The last day an expired service may be reactivated: the day it expired (its period
    end) plus the product's reactivation window. None when it has not expired."""
    if service.status != ServiceStatus.EXPIRED or service.current_period_end is None:
        return None
    return service.current_period_end + dt.timedelta(days=service.plan.product.reactivation_window_days)


@transaction.atomic
def service_reactivate(*, service: Service, as_of: dt.date, by: User | None = None, reason: str = "") -> Service:
    """expired -> active, within the reactivation window (a paid reactivation calls this).

    A new run of periods starts on `as_of`: the customer does not pay for the days the
    service was off. A pending cycle change applies now, as at a renewal.
    """
    service = _lock(service)
    _check(service, Transition.REACTIVATE)
    last_day = reactivation_last_day(service=service)
    assert last_day is not None and service.current_period_end is not None  # expired services have ended
    if as_of > last_day:
        raise OutsideReactivationWindow(expired_on=service.current_period_end, last_day=last_day, as_of=as_of)
    from_status = service.status
    expired_on = service.current_period_end
    changed = _apply_pending_cycle(service)
    service.status = ServiceStatus.ACTIVE
    service.expired_at = None
    _start_period(service, as_of)
    _save(
        service,
        "status",
        "expired_at",
        "anchor_day",
        "current_period_start",
        "current_period_end",
        "next_due_date",
        *changed,
    )
    _record(
        service,
        transition=Transition.REACTIVATE,
        from_status=from_status,
        by=by,
        reason=reason,
        data={
            "expired_on": expired_on.isoformat(),
            "period_start": _iso(service.current_period_start),
            "period_end": _iso(service.current_period_end),
            "cycle": service.cycle,
        },
    )
    return service


# --- Contract changes that keep the status -----------------------------------------------


@transaction.atomic
def service_set_auto_renew(
    *, service: Service, enabled: bool, by: User | None = None, acting: Membership | None = None
) -> Service:
    """Turn automatic renewal on or off. Asking for the current setting changes nothing and records nothing."""
    service = _lock(service)
    _check_acting(acting, service)
    _check(service, Transition.SET_AUTO_RENEW)
    if service.auto_renew == enabled:
        return service
    service.auto_renew = enabled
    _save(service, "auto_renew")
    _record(
        service,
        transition=Transition.SET_AUTO_RENEW,
        from_status=service.status,
        by=by,
        acting=acting,
        data={"auto_renew": enabled},
    )
    return service


def _apply_pending_cycle(service: Service) -> list[str]:
    """Move a pending cycle change into force; return the fields changed."""
    if not service.pending_cycle:
        return []
    assert service.pending_price_version is not None  # database constraint
    service.cycle = service.pending_cycle
    service.price_version = service.pending_price_version
    service.options = service.pending_options
    service.addons = service.pending_addons
    service.pending_cycle = ""
    service.pending_price_version = None
    service.pending_options = {}
    service.pending_addons = {}
    return [
        "cycle",
        "price_version",
        "options",
        "addons",
        "pending_cycle",
        "pending_price_version",
        "pending_options",
        "pending_addons",
    ]


@transaction.atomic
def service_change_cycle(
    *, service: Service, cycle: str, as_of: dt.date, by: User | None = None, acting: Membership | None = None
) -> Service:
    """Ask for another billing cycle from the next renewal on, at the prices valid `as_of`
    (the ones the customer is shown). Asking for the current cycle withdraws a pending change."""
    service = _lock(service)
    _check_acting(acting, service)
    _check(service, Transition.CHANGE_CYCLE)
    if cycle not in CYCLE_MONTHS or service.cycle not in CYCLE_MONTHS:
        raise InvalidServiceData("cycle", "only recurring cycles can be changed, to a recurring cycle")
    if cycle == service.cycle:
        if not service.pending_cycle:
            return service
        service.pending_cycle, service.pending_price_version = "", None
        service.pending_options, service.pending_addons = {}, {}
        price: PriceVersion | None = None
    else:
        currency = service.price_version.currency
        price = price_current(plan=service.plan, currency=currency, cycle=cycle, as_of=as_of)
        service.pending_cycle = cycle
        service.pending_price_version = price
        service.pending_options = _options_priced(
            product=service.plan.product,
            chosen=_option_quantities(service.options),
            currency=currency,
            cycle=cycle,
            as_of=as_of,
        )
        service.pending_addons = _addons_priced(
            product=service.plan.product, codes=service.addons, currency=currency, cycle=cycle, as_of=as_of
        )
    _save(service, "pending_cycle", "pending_price_version", "pending_options", "pending_addons")
    _record(
        service,
        transition=Transition.CHANGE_CYCLE,
        from_status=service.status,
        by=by,
        acting=acting,
        data={
            "cycle": cycle,
            "price_version": price.pk if price else None,
            "effective_on": _iso(service.current_period_end),
        },
    )
    return service


@transaction.atomic
def service_renew(*, service: Service, period_start: dt.date, by: User | None = None, reason: str = "") -> Service:
    """Extend the service by one period starting on `period_start`: the seam for invoicing,
    called when the renewal invoice for that period is paid.

    `period_start` must be the current period's end (the next period). Calling again for
    the period already renewed returns the service unchanged, so a payment processed
    twice renews once. A pending cycle change takes effect here.
    """
    service = _lock(service)
    _check(service, Transition.RENEW)
    if service.current_period_end is None:
        raise RenewalRefused("one_time")
    already = ServiceEvent.objects.filter(
        service=service, transition=Transition.RENEW, data__period_start=period_start.isoformat()
    )
    if period_start == service.current_period_start and already.exists():
        return service
    if service.cancel_at_period_end:
        raise RenewalRefused("cancellation_scheduled")
    if period_start != service.current_period_end:
        raise RenewalRefused("period_mismatch", expected=service.current_period_end, given=period_start)
    changed = _apply_pending_cycle(service)
    service.current_period_start = period_start
    service.current_period_end = period_after(period_start, service.cycle, anchor_day=service.anchor_day)
    service.next_due_date = service.current_period_end
    _save(service, "current_period_start", "current_period_end", "next_due_date", *changed)
    _record(
        service,
        transition=Transition.RENEW,
        from_status=service.status,
        by=by,
        reason=reason,
        data={
            "period_start": period_start.isoformat(),
            "period_end": _iso(service.current_period_end),
            "cycle": service.cycle,
            "price_version": service.price_version_id,
        },
    )
    return service


@dataclass(frozen=True, slots=True)
class PlanChange:
    service: Service
    # What the change costs (positive) or gives back (negative) for the rest of the period.
    proration: Proration


def plan_change_proration(*, service: Service, new_price: PriceVersion, as_of: dt.date) -> Proration:
    """The proration of moving `service` to `new_price` on `as_of`, by the product's rule:
    prorated by days when `prorate_upgrades` is on, nothing until renewal otherwise."""
    if service.current_period_start is None or service.current_period_end is None:
        raise InvalidServiceData("plan", "only a running recurring service changes plan")
    old_minor = service.price_version.amount_minor * service.quantity
    new_minor = new_price.amount_minor * service.quantity
    if not service.plan.product.prorate_upgrades:
        old_minor = new_minor
    return proration_for_change(
        old_price_minor=old_minor,
        new_price_minor=new_minor,
        currency=new_price.currency,
        period_start=service.current_period_start,
        period_end=service.current_period_end,
        as_of=as_of,
    )


def _new_plan_price(service: Service, plan: Plan, as_of: dt.date) -> PriceVersion:
    if plan.product_id != service.plan.product_id:
        raise InvalidServiceData("plan", "a plan of the same product")
    if plan.pk == service.plan_id:
        raise InvalidServiceData("plan", "already on this plan")
    if service.cycle not in CYCLE_MONTHS:
        raise InvalidServiceData("plan", "only a running recurring service changes plan")
    return price_current(plan=plan, currency=service.price_version.currency, cycle=service.cycle, as_of=as_of)


@transaction.atomic
def service_change_plan(
    *, service: Service, plan: Plan, as_of: dt.date, by: User | None = None, acting: Membership | None = None
) -> PlanChange:
    """Upgrade or downgrade to another plan of the same product on `as_of`, at its price
    valid then; returns the proration for the orders and billing to charge or credit."""
    service = _lock(service)
    _check_acting(acting, service)
    _check(service, Transition.CHANGE_PLAN)
    new_price = _new_plan_price(service, plan, as_of)
    proration = plan_change_proration(service=service, new_price=new_price, as_of=as_of)
    old_plan_id, old_price_id = service.plan_id, service.price_version_id
    service.plan = plan
    service.price_version = new_price
    changed = ["plan", "price_version"]
    if service.pending_cycle:
        # The pending cycle change now concerns the new plan.
        service.pending_price_version = price_current(
            plan=plan, currency=new_price.currency, cycle=service.pending_cycle, as_of=as_of
        )
        changed.append("pending_price_version")
    _save(service, *changed)
    _record(
        service,
        transition=Transition.CHANGE_PLAN,
        from_status=service.status,
        by=by,
        acting=acting,
        data={
            "as_of": as_of.isoformat(),
            "from_plan": old_plan_id,
            "to_plan": plan.pk,
            "from_price_version": old_price_id,
            "to_price_version": new_price.pk,
            "proration_minor": proration.amount.minor,
            # What a downgrade gives back, for the payments issue to credit to the account.
            "credit_minor": max(0, -proration.amount.minor),
            "currency": proration.amount.currency,
            "days_remaining": proration.days_remaining,
            "days_in_period": proration.days_in_period,
        },
    )
    return PlanChange(service=service, proration=proration)


def plan_change_preview(*, service: Service, plan: Plan, as_of: dt.date) -> Proration:
    """What `service_change_plan` would charge or credit on `as_of`, without changing anything."""
    return plan_change_proration(service=service, new_price=_new_plan_price(service, plan, as_of), as_of=as_of)


def _options_minor(options: Mapping[str, Mapping[str, Any]], currency: str) -> int:
    """One period's charge of the options, each line rounded by itself (as `recurring_charge`)."""
    total = Money.zero(currency)
    for option in options.values():
        total += Money.rounded(Decimal(option["unit_price"]) * int(option["quantity"]), currency)
    return total.minor


def _changed_options(service: Service, chosen: Mapping[str, int], as_of: dt.date) -> dict[str, dict[str, Any]]:
    """The service's options with `chosen` quantities: unchanged ones keep the unit price
    they were sold at, changed or new ones are priced at the versions valid `as_of`."""
    if not chosen:
        raise InvalidServiceData("options", "at least one option")
    wanted = {**_option_quantities(service.options), **chosen}
    changed = {code: quantity for code, quantity in wanted.items() if code in chosen}
    repriced = _options_priced(
        product=service.plan.product,
        chosen=changed,
        currency=service.price_version.currency,
        cycle=service.cycle,
        as_of=as_of,
    )
    kept = {code: dict(option) for code, option in service.options.items() if code not in chosen}
    return dict(sorted({**kept, **repriced}.items()))


def _running_period(service: Service) -> tuple[dt.date, dt.date]:
    if service.cycle not in CYCLE_MONTHS or service.current_period_start is None or service.current_period_end is None:
        raise InvalidServiceData("options", "only a running recurring service changes options or add-ons")
    return service.current_period_start, service.current_period_end


def _proration(service: Service, *, old_minor: int, new_minor: int, as_of: dt.date) -> Proration:
    start, end = _running_period(service)
    if not service.plan.product.prorate_upgrades:
        old_minor = new_minor
    return proration_for_change(
        old_price_minor=old_minor,
        new_price_minor=new_minor,
        currency=service.price_version.currency,
        period_start=start,
        period_end=end,
        as_of=as_of,
    )


def options_change_preview(*, service: Service, options: Mapping[str, int], as_of: dt.date) -> Proration:
    """What `service_change_options` would charge (or credit) on `as_of` for the rest of the period."""
    _running_period(service)
    currency = service.price_version.currency
    new_options = _changed_options(service, options, as_of)
    return _proration(
        service,
        old_minor=_options_minor(service.options, currency),
        new_minor=_options_minor(new_options, currency),
        as_of=as_of,
    )


@transaction.atomic
def service_change_options(
    *,
    service: Service,
    options: Mapping[str, int],
    as_of: dt.date,
    by: User | None = None,
    acting: Membership | None = None,
    reason: str = "",
) -> PlanChange:
    """Change the quantity of configurable options ("Increase space") from `as_of` on.

    Changed options are priced at their versions valid `as_of`; the proration of the
    difference for the rest of the period follows the product's rule, as a plan change.
    """
    service = _lock(service)
    _check_acting(acting, service)
    _check(service, Transition.CHANGE_OPTIONS)
    currency = service.price_version.currency
    new_options = _changed_options(service, options, as_of)
    if new_options == service.options:
        raise InvalidServiceData("options", "no change")
    proration = _proration(
        service,
        old_minor=_options_minor(service.options, currency),
        new_minor=_options_minor(new_options, currency),
        as_of=as_of,
    )
    old_quantities = _option_quantities(service.options)
    service.options = new_options
    changed = ["options"]
    if service.pending_cycle:
        service.pending_options = _options_priced(
            product=service.plan.product,
            chosen=_option_quantities(new_options),
            currency=currency,
            cycle=service.pending_cycle,
            as_of=as_of,
        )
        changed.append("pending_options")
    _save(service, *changed)
    _record(
        service,
        transition=Transition.CHANGE_OPTIONS,
        from_status=service.status,
        by=by,
        reason=reason,
        acting=acting,
        data={
            "as_of": as_of.isoformat(),
            "from": old_quantities,
            "to": _option_quantities(new_options),
            "proration_minor": proration.amount.minor,
            "credit_minor": max(0, -proration.amount.minor),
            "currency": currency,
        },
    )
    return PlanChange(service=service, proration=proration)


def addon_add_preview(*, service: Service, addon: AddOn, as_of: dt.date) -> Proration:
    """What adding `addon` costs on `as_of` for the rest of the period (its setup fee aside)."""
    _running_period(service)
    price = _new_addon_price(service, addon, as_of)
    return _proration(service, old_minor=0, new_minor=price.amount_minor, as_of=as_of)


def _new_addon_price(service: Service, addon: AddOn, as_of: dt.date) -> Any:
    if addon.product_id != service.plan.product_id or not addon.is_active:
        raise InvalidServiceData("addons", "an add-on of the service's product")
    if addon.code in service.addons:
        raise InvalidServiceData("addons", "already added")
    return addon_price_current(addon=addon, currency=service.price_version.currency, cycle=service.cycle, as_of=as_of)


@transaction.atomic
def service_add_addon(
    *,
    service: Service,
    addon: AddOn,
    as_of: dt.date,
    by: User | None = None,
    acting: Membership | None = None,
    reason: str = "",
) -> PlanChange:
    """Add `addon` to a running service from `as_of` on, at its price version valid then;
    returns the proration of its price for the rest of the period."""
    service = _lock(service)
    _check_acting(acting, service)
    _check(service, Transition.ADD_ADDON)
    _running_period(service)
    price = _new_addon_price(service, addon, as_of)
    proration = _proration(service, old_minor=0, new_minor=price.amount_minor, as_of=as_of)
    service.addons = {**service.addons, addon.code: {"amount_minor": price.amount_minor, "price_version": price.pk}}
    changed = ["addons"]
    if service.pending_cycle:
        service.pending_addons = _addons_priced(
            product=service.plan.product,
            codes=service.addons,
            currency=price.currency,
            cycle=service.pending_cycle,
            as_of=as_of,
        )
        changed.append("pending_addons")
    _save(service, *changed)
    _record(
        service,
        transition=Transition.ADD_ADDON,
        from_status=service.status,
        by=by,
        reason=reason,
        acting=acting,
        data={
            "as_of": as_of.isoformat(),
            "addon": addon.code,
            "price_version": price.pk,
            "proration_minor": proration.amount.minor,
            "currency": price.currency,
        },
    )
    return PlanChange(service=service, proration=proration)


# --- Usage ---------------------------------------------------------------------------------


def _usage_quantity(quantity: Decimal) -> Decimal:
    if isinstance(quantity, float):
        raise InvalidServiceData("quantity", "a Decimal or a string, never a float")
    try:
        value = Decimal(quantity)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidServiceData("quantity", "a decimal number") from None
    if not value.is_finite() or value < 0:
        raise InvalidServiceData("quantity", "zero or more")
    if value != value.quantize(Decimal(1).scaleb(-USAGE_DECIMALS)) or value >= Decimal(10) ** 18:
        raise InvalidServiceData("quantity", f"at most eighteen digits and {USAGE_DECIMALS} decimals")
    return value.quantize(Decimal(1).scaleb(-USAGE_DECIMALS))


def usage_record(
    *, service: Service, metric: str, quantity: Decimal, at: dt.datetime, idempotency_key: str
) -> UsageRecord:
    """Record a measurement of `metric` for `service` at `at`.

    Idempotent per (service, idempotency_key): the same record sent again returns the
    first one; the same key with a different metric, quantity or time is refused
    (UsageKeyReused), since one of the two reports is wrong.
    """
    key = idempotency_key.strip()
    if not key or len(key) > 128:
        raise InvalidServiceData("idempotency_key", "between 1 and 128 characters")
    if not metric or len(metric) > 64 or not metric.replace("_", "").replace("-", "").isalnum():
        raise InvalidServiceData("metric", "a metric code such as storage_gb")
    value = _usage_quantity(quantity)
    moment = ensure_aware(at)
    try:
        # Insert, then catch the violation: two reporters racing with one key get one row.
        with transaction.atomic():
            return UsageRecord.objects.create(
                account_id=service.account_id,
                service=service,
                metric=metric,
                quantity=value,
                recorded_at=moment,
                idempotency_key=key,
            )
    except IntegrityError:
        existing = UsageRecord.objects.get(service=service, idempotency_key=key)
        if (existing.metric, existing.quantity, existing.recorded_at) != (metric, value, moment):
            raise UsageKeyReused(key) from None
        return existing
