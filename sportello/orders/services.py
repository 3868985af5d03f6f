"""Writes of the orders domain: the cart, placing orders, and one function per order transition.

Every transition runs in one transaction and in the same order:
1. lock the account, then the promo code (when one is redeemed), then the order, then
   services (DESIGN's lock order: account, document, service);
2. check the acting member (when a customer acts) and the transition table `TRANSITIONS`;
3. write the new state and one `OrderEvent`, with reason, actor and figures.
A refusal raises a typed error before step 3, so it changes nothing.

`order_mark_paid` is the seam the invoicing and payments issues call when an order's
invoice is paid: it carries out what the order is for, line by line, through the
services domain's transitions.

An order that comes to await payment, and an order paid, are emailed to the member who
placed it and the billing contacts after commit (`orders.emails`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from django.db import IntegrityError, transaction

from sportello.accounts.models import Account, Area, Membership, User
from sportello.catalog.errors import CatalogError
from sportello.catalog.models import AddOn, ConfigurableOption, Plan
from sportello.catalog.selectors import addon_price_current
from sportello.core.counters import counter_take
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.orders.emails import PAID, PLACED, order_email_after_commit
from sportello.orders.errors import (
    CartEmpty,
    CartItemNotFound,
    IllegalOrderTransition,
    NothingToOrder,
    OrderAlreadyOpen,
    OrderNotAllowed,
    OrderNotFound,
    PriceChanged,
    PromoRefused,
)
from sportello.orders.invoicing import order_invoice_cancel, order_invoice_issue
from sportello.orders.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    Cart,
    CartItem,
    LineAction,
    LineKind,
    Order,
    OrderCounter,
    OrderEvent,
    OrderLine,
    OrderStatus,
    OrderTransition,
    OrderType,
    PromoCode,
    PromoRedemption,
)
from sportello.orders.pricing import (
    PricedLine,
    Quote,
    clean_choice,
    lines_for_new,
    lines_for_period,
    promo_discounts,
    quote_finish,
)
from sportello.orders.rules import review_threshold
from sportello.services.errors import (
    IllegalTransition,
    InvalidServiceData,
    OutsideReactivationWindow,
    RenewalRefused,
    ServicesError,
)
from sportello.services.models import TRANSITIONS as SERVICE_TRANSITIONS
from sportello.services.models import Service, ServiceStatus, Transition
from sportello.services.periods import period_after
from sportello.services.proration import Proration
from sportello.services.services import (
    addon_add_preview,
    options_change_preview,
    plan_change_preview,
    reactivation_last_day,
    service_activate,
    service_add_addon,
    service_cancel_pending,
    service_change_options,
    service_change_plan,
    service_create,
    service_reactivate,
    service_renew,
)

# --- Who acts --------------------------------------------------------------------------------


def _check_member(acting: Membership, area: str = Area.ORDERS) -> None:
    if not acting.has_area(area) or not acting.can_change:
        raise OrderNotAllowed(f"{area}_right_required")


def _lock_account(account_id: int) -> None:
    Account.objects.select_for_update().filter(pk=account_id).values_list("pk", flat=True).get()


# --- The cart ----------------------------------------------------------------------------------


def cart_for(*, acting: Membership) -> Cart:
    """The acting member's cart in their account, created the first time."""
    try:
        with transaction.atomic():
            cart, _created = Cart.objects.get_or_create(account_id=acting.account_id, user_id=acting.user_id)
    except IntegrityError:  # two first requests at once: the other one created it
        cart = Cart.objects.get(account_id=acting.account_id, user_id=acting.user_id)
    return cart


@transaction.atomic
def cart_add(
    *,
    acting: Membership,
    plan: Plan,
    cycle: object,
    quantity: object,
    options: Mapping[str, object],
    addons: Collection[object],
    label: object,
    as_of: dt.date,
) -> CartItem:
    """Put a validated choice in the cart (InvalidCartItem when the catalog does not offer it)."""
    _check_member(acting)
    account = acting.account
    choice = clean_choice(
        plan=plan,
        cycle=cycle,
        quantity=quantity,
        options=options,
        addons=addons,
        label=label,
        currency=account.currency,
        as_of=as_of,
    )
    cart = cart_for(acting=acting)
    return CartItem.objects.create(
        cart=cart,
        plan=choice.plan,
        cycle=choice.cycle,
        quantity=choice.quantity,
        options=choice.options,
        addons=choice.addons,
        label=choice.label,
    )


@transaction.atomic
def cart_remove(*, acting: Membership, item_id: int) -> None:
    _check_member(acting)
    deleted, _ = CartItem.objects.filter(
        pk=item_id, cart__account_id=acting.account_id, cart__user_id=acting.user_id
    ).delete()
    if not deleted:
        raise CartItemNotFound()


def promo_find(*, code: str) -> PromoCode:
    """The promo code typed, compared case-insensitively; PromoRefused("unknown") if none."""
    text = " ".join(str(code).split())
    promo = PromoCode.objects.filter(code__iexact=text).first() if 0 < len(text) <= 40 else None
    if promo is None or not promo.is_active:
        raise PromoRefused("unknown")
    return promo


def promo_redemptions_counted(*, promo: PromoCode, account: Account | None = None) -> int:
    """Uses that count against the code's limits: those of orders that were not cancelled."""
    uses = PromoRedemption.objects.filter(promo=promo).exclude(order__status=OrderStatus.CANCELLED)
    if account is not None:
        uses = uses.filter(account=account)
    return uses.count()


def promo_check(*, promo: PromoCode, account: Account, at: dt.datetime) -> None:
    """Refuse a code that is inactive, not yet or no longer valid at `at`, or used up.
    Limits are exact only under the promo's lock (`order_place` takes it)."""
    if not promo.is_active:
        raise PromoRefused("unknown")
    if promo.valid_from is not None and at < promo.valid_from:
        raise PromoRefused("not_started")
    if promo.valid_until is not None and at >= promo.valid_until:
        raise PromoRefused("expired")
    if promo.max_redemptions is not None and promo_redemptions_counted(promo=promo) >= promo.max_redemptions:
        raise PromoRefused("used_up")
    if (
        promo.max_per_account is not None
        and promo_redemptions_counted(promo=promo, account=account) >= promo.max_per_account
    ):
        raise PromoRefused("used_up_for_account")


def cart_quote(*, cart: Cart, account: Account, as_of: dt.date, promo: PromoCode | None = None) -> Quote:
    """The cart priced on `as_of` in the account's currency, with its promo code (if it
    still applies). InvalidCartItem if an item is no longer offered as chosen."""
    lines: list[PricedLine] = []
    for group, item in enumerate(cart.items.select_related("plan__product").order_by("created_at", "id"), start=1):
        choice = clean_choice(
            plan=item.plan,
            cycle=item.cycle,
            quantity=item.quantity,
            options=item.options,
            addons=item.addons,
            label=item.label,
            currency=account.currency,
            as_of=as_of,
        )
        lines += lines_for_new(choice=choice, currency=account.currency, as_of=as_of, group=group)
    promo = promo if promo is not None else cart.promo
    if promo is not None and lines:
        lines = promo_discounts(promo=promo, lines=lines, currency=account.currency)
    return quote_finish(account=account, lines=lines, as_of=as_of, promo=promo)


@transaction.atomic
def cart_promo_apply(*, acting: Membership, code: str, as_of: dt.date, at: dt.datetime) -> PromoCode:
    """Attach a promo code to the cart, if it is valid now and applies to something in it."""
    _check_member(acting)
    cart = cart_for(acting=acting)
    promo = promo_find(code=code)
    promo_check(promo=promo, account=acting.account, at=at)
    if not cart.items.exists():
        raise CartEmpty()
    cart_quote(cart=cart, account=acting.account, as_of=as_of, promo=promo)  # PromoRefused if it applies to nothing
    cart.promo = promo
    cart.save(update_fields=["promo", "updated_at"])
    return promo


@transaction.atomic
def cart_promo_remove(*, acting: Membership) -> None:
    _check_member(acting)
    Cart.objects.filter(account_id=acting.account_id, user_id=acting.user_id).update(promo=None, updated_at=utc_now())


# --- Order numbers and the shared writing steps -----------------------------------------------


def _next_number(year: int) -> str:
    """O-<year>-<six digits>: the year's counter row, locked, moved on (`core.counters`);
    unique and never reused, taken in the transaction that writes the order."""
    number = counter_take(OrderCounter, key={"year": year}, field="last_number")
    return f"O-{year}-{number:06d}"


def _event(
    order: Order,
    *,
    transition: str,
    from_status: str,
    by: User | None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    return OrderEvent.objects.create(
        account_id=order.account_id,
        order=order,
        transition=transition,
        from_status=from_status,
        to_status=order.status,
        reason=reason,
        actor=by if by is not None and by.pk else None,
        at=utc_now(),
        data=data or {},
    )


def _write_order(
    *,
    account: Account,
    order_type: str,
    status: str,
    quote: Quote,
    as_of: dt.date,
    at: dt.datetime,
    by: User | None,
    services: Mapping[int, Service],
    review_reason: str = "",
) -> Order:
    order = Order.objects.create(
        number=_next_number(as_of.year),
        account=account,
        placed_by=by if by is not None and by.pk else None,
        type=order_type,
        status=status,
        as_of=as_of,
        placed_at=at,
        currency=quote.currency,
        subtotal_minor=quote.subtotal_minor,
        setup_minor=quote.setup_minor,
        discount_minor=quote.discount_minor,
        net_minor=quote.net_minor,
        tax_minor=quote.tax_minor,
        total_minor=quote.total_minor,
        promo=quote.promo,
        review_reason=review_reason,
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                position=position,
                kind=line.kind,
                action=line.action,
                description=line.description[:300],
                service=services.get(line.group),
                plan=line.plan,
                price_version=line.price_version,
                addon=line.addon,
                addon_price_version=line.addon_price_version,
                option=line.option,
                option_price_version=line.option_price_version,
                cycle=line.cycle,
                quantity=line.quantity,
                months=line.months,
                period_start=line.period_start,
                period_end=line.period_end,
                unit_price=line.unit_price,
                amount_minor=line.amount_minor,
                setup_fee_minor=line.setup_fee_minor,
                discount_minor=line.discount_minor,
                net_minor=line.net_minor,
                tax_rate=line.tax.rate if line.tax else 0,
                tax_category=line.tax.category if line.tax else "",
                tax_exemption=line.tax.exemption_text[:300] if line.tax else "",
                reverse_charge=line.tax.reverse_charge if line.tax else False,
                tax_minor=line.tax_minor,
                total_minor=line.total_minor,
                data=dict(line.data),
            )
            for position, line in enumerate(quote.lines, start=1)
        ]
    )
    _event(
        order,
        transition=OrderTransition.PLACE,
        from_status="",
        by=by,
        reason=review_reason,
        data={"total_minor": order.total_minor, "currency": order.currency, "type": order_type},
    )
    if order.status == OrderStatus.AWAITING_PAYMENT:
        order_invoice_issue(order=order, by=by)
        order.refresh_from_db()
        # Nothing to pay (a free order) makes it paid at once: then only the confirmation goes.
        if order.status == OrderStatus.AWAITING_PAYMENT:
            order_email_after_commit(order, PLACED)
    return order


def _first_status(account: Account, total: Money) -> tuple[str, str]:
    """Awaiting payment, or under review by the configured rule: an account's first order
    (none paid before) above the threshold set for its currency (ORDERS_REVIEW_FIRST_ORDER_OVER)."""
    threshold = review_threshold(total.currency)
    if threshold is None or total <= threshold:
        return OrderStatus.AWAITING_PAYMENT, ""
    paid_before = Order.objects.of_account(account).filter(status__in=[OrderStatus.PAID, OrderStatus.ACTIVE]).exists()
    if paid_before:
        return OrderStatus.AWAITING_PAYMENT, ""
    return OrderStatus.FRAUD_REVIEW, f"first order over {threshold}"


# --- Placing the cart ---------------------------------------------------------------------------


@transaction.atomic
def order_place(
    *,
    acting: Membership,
    as_of: dt.date,
    at: dt.datetime,
    shown_total_minor: int | None,
    shown_currency: str,
    by: User | None = None,
) -> Order:
    """Turn the acting member's cart into a new order, priced again on `as_of`.

    The total the customer confirmed (`shown_total_minor`, `shown_currency`) must be the
    total computed now, else PriceChanged and nothing happens. The order's services are
    created pending (a paid order activates them); the promo code is redeemed under its
    lock, so concurrent orders never exceed its limits; the cart is emptied.
    """
    _check_member(acting)
    _lock_account(acting.account_id)
    account = Account.objects.get(pk=acting.account_id)
    cart = Cart.objects.select_for_update().filter(account=account, user_id=acting.user_id).first()
    if cart is None or not cart.items.exists():
        raise CartEmpty()
    promo = None
    if cart.promo_id is not None:
        # The code's row is the lock its redemptions are counted under: two orders redeeming
        # its last use queue here, and the second counts the first.
        promo = PromoCode.objects.select_for_update().get(pk=cart.promo_id)
        promo_check(promo=promo, account=account, at=at)
    quote = cart_quote(cart=cart, account=account, as_of=as_of, promo=promo)
    if shown_currency != quote.currency or shown_total_minor != quote.total_minor:
        raise PriceChanged(
            shown_minor=shown_total_minor,
            computed_minor=quote.total_minor,
            shown_currency=str(shown_currency)[:3],
            currency=quote.currency,
        )
    status, review_reason = _first_status(account, quote.total)
    services: dict[int, Service] = {}
    for item_group, item in enumerate(cart.items.order_by("created_at", "id"), start=1):
        plan_line = next(line for line in quote.lines if line.group == item_group and line.kind == LineKind.PLAN)
        assert plan_line.price_version is not None
        services[item_group] = service_create(
            account=account,
            price_version=plan_line.price_version,
            as_of=as_of,
            quantity=item.quantity,
            options=item.options,
            addons=item.addons,
            label=item.label,
            by=by,
        )
    order = _write_order(
        account=account,
        order_type=OrderType.NEW,
        status=status,
        quote=quote,
        as_of=as_of,
        at=at,
        by=by,
        services=services,
        review_reason=review_reason,
    )
    if promo is not None:
        PromoRedemption.objects.create(
            promo=promo,
            account=account,
            order=order,
            amount_minor=order.discount_minor,
            currency=order.currency,
            redeemed_at=at,
        )
    cart.items.all().delete()
    cart.promo = None
    cart.save(update_fields=["promo", "updated_at"])
    return order


# --- Orders on an existing service (renew, reactivate, upgrade, more space, add-ons) -------------


def _lock_service_for_order(service: Service, acting: Membership | None) -> Service:
    """Lock the account, then the service; refuse another account's service and a second open order."""
    _lock_account(service.account_id)
    if acting is not None:
        if acting.account_id != service.account_id:
            raise OrderNotFound()
        _check_member(acting, Area.SERVICES)
    locked = Service.objects.locked().select_related("plan__product", "price_version").get(pk=service.pk)
    open_line = (
        OrderLine.objects.filter(service=locked, order__status__in=OPEN_STATUSES).select_related("order").first()
    )
    if open_line is not None:
        raise OrderAlreadyOpen(open_line.order.number)
    return locked


def _service_order(
    *,
    service: Service,
    order_type: str,
    lines: list[PricedLine],
    as_of: dt.date,
    at: dt.datetime,
    by: User | None,
) -> Order:
    account = Account.objects.get(pk=service.account_id)
    quote = quote_finish(account=account, lines=lines, as_of=as_of)
    return _write_order(
        account=account,
        order_type=order_type,
        status=OrderStatus.AWAITING_PAYMENT,
        quote=quote,
        as_of=as_of,
        at=at,
        by=by,
        services={0: service},
    )


@transaction.atomic
def order_renewal_create(
    *, service: Service, as_of: dt.date, at: dt.datetime, by: User | None = None, acting: Membership | None = None
) -> Order:
    """A renewal order for the service's next period (active), or for a new period from
    `as_of` (expired, inside the reactivation window), at the prices the service keeps.
    Paid, it renews (service_renew) or reactivates (service_reactivate) the service."""
    service = _lock_service_for_order(service, acting)
    if service.status == ServiceStatus.EXPIRED:
        last_day = reactivation_last_day(service=service)
        assert last_day is not None and service.current_period_end is not None
        if as_of > last_day:
            raise OutsideReactivationWindow(expired_on=service.current_period_end, last_day=last_day, as_of=as_of)
        cycle = service.pending_cycle or service.cycle
        lines = lines_for_period(
            service=service,
            period_start=as_of,
            period_end=period_after(as_of, cycle, anchor_day=as_of.day),
            action=LineAction.REACTIVATE,
        )
    else:
        if service.status not in SERVICE_TRANSITIONS[Transition.RENEW][0]:
            raise IllegalTransition(transition=Transition.RENEW, from_status=service.status, to_status=service.status)
        if service.current_period_end is None:
            raise RenewalRefused("one_time")
        if service.cancel_at_period_end:
            raise RenewalRefused("cancellation_scheduled")
        start = service.current_period_end
        cycle = service.pending_cycle or service.cycle
        lines = lines_for_period(
            service=service,
            period_start=start,
            period_end=period_after(start, cycle, anchor_day=service.anchor_day),
            action=LineAction.RENEW,
        )
    return _service_order(service=service, order_type=OrderType.RENEWAL, lines=lines, as_of=as_of, at=at, by=by)


def _change_line(
    service: Service,
    *,
    kind: str,
    action: str,
    description: str,
    proration: Proration,
    quantity: int = 1,
    setup_fee_minor: int = 0,
    as_of: dt.date,
    **fields: Any,
) -> PricedLine:
    return PricedLine(
        kind=kind,
        action=action,
        description=description,
        cycle=service.cycle,
        quantity=quantity,
        unit_price=Money.from_minor(max(0, proration.amount.minor), proration.amount.currency).amount / quantity,
        amount_minor=max(0, proration.amount.minor),
        setup_fee_minor=setup_fee_minor,
        tax_class=service.plan.product.tax_class,
        product_id=service.plan.product_id,
        period_start=as_of,
        period_end=service.current_period_end,
        **fields,
    )


def _proration_data(proration: Proration) -> dict[str, Any]:
    return {"days_remaining": proration.days_remaining, "days_in_period": proration.days_in_period}


@transaction.atomic
def order_upgrade_create(
    *,
    service: Service,
    plan: Plan,
    as_of: dt.date,
    at: dt.datetime,
    shown_minor: int | None,
    by: User | None = None,
    acting: Membership | None = None,
) -> Order:
    """An upgrade order for the prorated difference to `plan` for the rest of the period.
    A change with nothing to pay is not ordered (NothingToOrder): it is made at once."""
    service = _lock_service_for_order(service, acting)
    proration = plan_change_preview(service=service, plan=plan, as_of=as_of)
    _check_shown(shown_minor, proration.amount)
    if proration.amount.minor <= 0:
        raise NothingToOrder()
    line = _change_line(
        service,
        kind=LineKind.PLAN,
        action=LineAction.CHANGE_PLAN,
        description=f"{plan.product.name} {service.plan.name} → {plan.name}"
        + (f" ({service.label})" if service.label else ""),
        proration=proration,
        as_of=as_of,
        plan=plan,
        data={**_proration_data(proration), "from_plan": service.plan_id},
    )
    return _service_order(service=service, order_type=OrderType.UPGRADE, lines=[line], as_of=as_of, at=at, by=by)


def _check_shown(shown_minor: int | None, amount: Money) -> None:
    if shown_minor is not None and shown_minor != amount.minor:
        raise PriceChanged(
            shown_minor=shown_minor,
            computed_minor=amount.minor,
            shown_currency=amount.currency,
            currency=amount.currency,
        )


@transaction.atomic
def order_options_create(
    *,
    service: Service,
    option: ConfigurableOption,
    quantity: int,
    as_of: dt.date,
    at: dt.datetime,
    shown_minor: int | None,
    by: User | None = None,
    acting: Membership | None = None,
) -> Order:
    """An add-on order for more of an option ("Increase space"): the prorated price of the
    extra units for the rest of the period. Fewer units, or none to pay, is NothingToOrder."""
    service = _lock_service_for_order(service, acting)
    if option.product_id != service.plan.product_id or not option.is_active:
        raise InvalidServiceData("options", "an option of the service's product")
    current = int(service.options.get(option.code, {}).get("quantity", 0))
    proration = options_change_preview(service=service, options={option.code: quantity}, as_of=as_of)
    _check_shown(shown_minor, proration.amount)
    if quantity <= current or proration.amount.minor <= 0:
        raise NothingToOrder()
    line = _change_line(
        service,
        kind=LineKind.OPTION,
        action=LineAction.CHANGE_OPTIONS,
        description=f"{option.name}: {current} → {quantity}"
        + (f" {option.unit}" if option.unit else "")
        + (f" ({service.label})" if service.label else ""),
        proration=proration,
        quantity=quantity - current,
        as_of=as_of,
        option=option,
        data={**_proration_data(proration), "options": {option.code: quantity}},
    )
    return _service_order(service=service, order_type=OrderType.ADDON, lines=[line], as_of=as_of, at=at, by=by)


@transaction.atomic
def order_addon_create(
    *,
    service: Service,
    addon: AddOn,
    as_of: dt.date,
    at: dt.datetime,
    shown_minor: int | None,
    by: User | None = None,
    acting: Membership | None = None,
) -> Order:
    """An add-on order: its price prorated for the rest of the period, plus its setup fee."""
    service = _lock_service_for_order(service, acting)
    proration = addon_add_preview(service=service, addon=addon, as_of=as_of)
    price = addon_price_current(addon=addon, currency=service.price_version.currency, cycle=service.cycle, as_of=as_of)
    _check_shown(shown_minor, proration.amount + Money.from_minor(price.setup_fee_minor, price.currency))
    if proration.amount.minor + price.setup_fee_minor <= 0:
        raise NothingToOrder()
    line = _change_line(
        service,
        kind=LineKind.ADDON,
        action=LineAction.ADD_ADDON,
        description=addon.name + (f" ({service.label})" if service.label else ""),
        proration=proration,
        setup_fee_minor=price.setup_fee_minor,
        as_of=as_of,
        addon=addon,
        addon_price_version=price,
        data=_proration_data(proration),
    )
    return _service_order(service=service, order_type=OrderType.ADDON, lines=[line], as_of=as_of, at=at, by=by)


# --- Transitions ------------------------------------------------------------------------------


def _lock_order(order: Order) -> Order:
    _lock_account(order.account_id)
    try:
        return Order.objects.select_for_update().get(pk=order.pk)
    except Order.DoesNotExist:
        raise OrderNotFound() from None


def _check(order: Order, transition: str) -> str:
    target = TRANSITIONS[transition].get(order.status)
    if target is None:
        raise IllegalOrderTransition(transition=transition, from_status=order.status)
    return target


def _fulfil_line(line: OrderLine, *, as_of: dt.date, by: User | None) -> None:
    """Carry out one line's action through the services domain."""
    service = line.service
    assert service is not None
    reason = f"order {line.order.number}"
    if line.action == LineAction.ACTIVATE:
        service_activate(service=service, as_of=as_of, by=by, reason=reason)
    elif line.action == LineAction.RENEW:
        assert line.period_start is not None
        service_renew(service=service, period_start=line.period_start, by=by, reason=reason)
    elif line.action == LineAction.REACTIVATE:
        service_reactivate(service=service, as_of=as_of, by=by, reason=reason)
    elif line.action == LineAction.CHANGE_PLAN:
        assert line.plan is not None
        service_change_plan(service=service, plan=line.plan, as_of=as_of, by=by)
    elif line.action == LineAction.CHANGE_OPTIONS:
        service_change_options(
            service=service,
            options={code: int(quantity) for code, quantity in line.data["options"].items()},
            as_of=as_of,
            by=by,
            reason=reason,
        )
    elif line.action == LineAction.ADD_ADDON:
        assert line.addon is not None
        service_add_addon(service=service, addon=line.addon, as_of=as_of, by=by, reason=reason)


def _fulfil(order: Order, *, as_of: dt.date, by: User | None) -> list[dict[str, Any]]:
    """Carry out every line not done yet, each in its own savepoint; return the failures
    (a line refused by the services domain stays to do, and the order stays paid)."""
    failures = []
    lines = order.lines.select_related("service", "plan", "addon", "order").exclude(action=LineAction.NONE)
    for line in lines.filter(fulfilled_at__isnull=True).order_by("position"):
        try:
            with transaction.atomic():
                _fulfil_line(line, as_of=as_of, by=by)
                line.fulfilled_at = utc_now()
                line.save(update_fields=["fulfilled_at"])
        except (ServicesError, CatalogError) as error:
            failures.append({"line": line.position, "error": error.code, "detail": str(error)[:300]})
    return failures


@transaction.atomic
def order_mark_paid(*, order: Order, as_of: dt.date, by: User | None = None) -> Order:
    """THE SEAM for invoicing and payments: the order's invoice is paid on `as_of`.

    awaiting_payment -> paid, then what the order is for, line by line: a new order
    activates its services (their first period starts on `as_of`), a renewal renews the
    period it billed (or reactivates an expired service from `as_of`), an upgrade changes
    the plan, an add-on order changes the options or adds the add-on. When every line is
    done: paid -> active. A line the services domain refuses is recorded and leaves the
    order paid, for staff (order_accept). Called again for an order already paid, it
    changes nothing, so a payment processed twice acts once.
    """
    order = _lock_order(order)
    if order.status in (OrderStatus.PAID, OrderStatus.ACTIVE) and order.paid_at is not None:
        return order
    from_status = order.status
    order.status = _check(order, OrderTransition.PAY)
    order.paid_at = utc_now()
    order.save(update_fields=["status", "paid_at", "updated_at"])
    _event(order, transition=OrderTransition.PAY, from_status=from_status, by=by, data={"as_of": as_of.isoformat()})
    # Read after commit: it tells whether the order was carried out or is being finished.
    order_email_after_commit(order, PAID)
    failures = _fulfil(order, as_of=as_of, by=by)
    if failures:
        _event(
            order,
            transition=OrderTransition.FULFIL_FAILED,
            from_status=order.status,
            by=by,
            data={"as_of": as_of.isoformat(), "failures": failures},
        )
        return order
    order.status = _check(order, OrderTransition.FULFIL)
    order.save(update_fields=["status", "updated_at"])
    _event(order, transition=OrderTransition.FULFIL, from_status=OrderStatus.PAID, by=by)
    return order


@transaction.atomic
def order_accept(*, order: Order, as_of: dt.date, by: User | None, reason: str = "") -> Order:
    """Staff: release an order held for review (-> awaiting payment), or make a paid order
    active, carrying out the lines not done yet; lines still refused are listed in the event."""
    order = _lock_order(order)
    from_status = order.status
    target = _check(order, OrderTransition.ACCEPT)
    data: dict[str, Any] = {}
    if from_status == OrderStatus.PAID:
        failures = _fulfil(order, as_of=as_of, by=by)
        if failures:
            data["not_carried_out"] = failures
    order.status = target
    order.save(update_fields=["status", "updated_at"])
    _event(order, transition=OrderTransition.ACCEPT, from_status=from_status, by=by, reason=reason, data=data)
    if target == OrderStatus.AWAITING_PAYMENT and order.invoice_id is None:
        order_invoice_issue(order=order, by=by)
        order.refresh_from_db()
        if order.status == OrderStatus.AWAITING_PAYMENT:
            order_email_after_commit(order, PLACED)
    return order


@transaction.atomic
def order_cancel(*, order: Order, by: User | None, reason: str = "", acting: Membership | None = None) -> Order:
    """Cancel an order not paid yet; the services it would have created are cancelled too.
    A customer (acting) cancels only their account's orders, and only while awaiting payment."""
    order = _lock_order(order)
    if acting is not None:
        if acting.account_id != order.account_id:
            raise OrderNotFound()
        _check_member(acting)
        if order.status != OrderStatus.AWAITING_PAYMENT:
            raise IllegalOrderTransition(transition=OrderTransition.CANCEL, from_status=order.status)
    from_status = order.status
    order.status = _check(order, OrderTransition.CANCEL)
    order.cancelled_at = utc_now()
    order.save(update_fields=["status", "cancelled_at", "updated_at"])
    invoice_data = order_invoice_cancel(order=order, reason=reason, by=by)
    cancelled = []
    for line in order.lines.filter(action=LineAction.ACTIVATE).select_related("service").order_by("position"):
        assert line.service is not None
        if line.service.status == ServiceStatus.PENDING:
            service_cancel_pending(service=line.service, reason=f"order {order.number} cancelled", by=by)
            cancelled.append(line.service.pk)
    _event(
        order,
        transition=OrderTransition.CANCEL,
        from_status=from_status,
        by=by,
        reason=reason,
        data={
            "services_cancelled": cancelled,
            **invoice_data,
            **({"as_customer": True} if acting is not None else {}),
        },
    )
    return order


@transaction.atomic
def order_mark_fraud(*, order: Order, by: User | None, reason: str) -> Order:
    """Staff: hold an order awaiting payment for review."""
    order = _lock_order(order)
    from_status = order.status
    order.status = _check(order, OrderTransition.MARK_FRAUD)
    order.review_reason = reason[:300]
    order.save(update_fields=["status", "review_reason", "updated_at"])
    _event(order, transition=OrderTransition.MARK_FRAUD, from_status=from_status, by=by, reason=reason)
    return order


def open_order_of(*, service: Service) -> Order | None:
    """The order still waiting for payment (or review) that concerns `service`, if any."""
    line = (
        OrderLine.objects.filter(service=service, order__status__in=OPEN_STATUSES)
        .select_related("order")
        .order_by("-order__placed_at")
        .first()
    )
    return line.order if line else None


# --- Promo codes: what staff may save ----------------------------------------------------------


def promo_values_clean(*, kind: str, percent: Any, amounts: Any, cycles: Any) -> tuple[Any, dict[str, int], list[str]]:
    """Validate a promo code's figures as staff enter them; InvalidPromo names the field."""
    from decimal import Decimal, InvalidOperation

    from sportello.catalog.models import Cycle
    from sportello.core.money import is_currency
    from sportello.orders.errors import InvalidPromo
    from sportello.orders.models import PromoKind

    if kind == PromoKind.PERCENT:
        try:
            value = Decimal(str(percent))
        except (InvalidOperation, ValueError):
            raise InvalidPromo("percent", "a number from 0.01 to 100") from None
        if not value.is_finite() or not Decimal("0.01") <= value <= 100:
            raise InvalidPromo("percent", "a number from 0.01 to 100")
        percent = value
    else:
        percent = None
    if not isinstance(amounts, dict):
        raise InvalidPromo("amounts", 'a mapping such as {"EUR": 500, "BRL": 2500} (minor units)')
    cleaned: dict[str, int] = {}
    for currency, amount in amounts.items():
        code = str(currency).upper()
        if not is_currency(code) or isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise InvalidPromo("amounts", f"{currency}: an ISO currency and a positive whole number of minor units")
        cleaned[code] = amount
    if kind == PromoKind.FIXED and not cleaned:
        raise InvalidPromo("amounts", "a fixed code needs an amount in at least one currency")
    if not isinstance(cycles, list) or any(cycle not in Cycle.values for cycle in cycles):
        raise InvalidPromo("cycles", f"a list of billing cycles among {', '.join(Cycle.values)}")
    return percent, cleaned, list(cycles)
