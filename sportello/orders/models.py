"""Carts, orders and promo codes.

A customer fills a cart with what they choose (plan, cycle, quantities, add-ons): the
cart keeps choices only, never prices. Placing it prices every line again from the price
versions valid on the order's date, in the account's currency, and writes an `Order`
whose lines keep every figure they showed. An order moves only through the transitions
in `TRANSITIONS`, each one a function in `services.py` that locks the row, checks this
table, and writes the new status and an `OrderEvent` in the same transaction.

An order is what an invoice will be made from (the invoicing issue): when that invoice is
paid, `order_mark_paid` carries out what the order is for.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from sportello.catalog.models import Cycle
from sportello.core.models import AppendOnlyModel, TimestampedModel
from sportello.core.tenancy import AccountOwnedQuerySet
from sportello.services.models import AccountOwnedAppendOnlyManager

# --- Promo codes ------------------------------------------------------------------------------


class PromoKind(models.TextChoices):
    PERCENT = "percent", _("Percentage")
    FIXED = "fixed", _("Fixed amount")


class PromoDuration(models.TextChoices):
    FIRST_PERIOD = "first_period", _("First period only")
    RECURRING = "recurring", _("Every period")


class PromoCode(TimestampedModel):
    """A discount customers type in the cart. Its limits are counted on its redemptions."""

    # Compared case-insensitively (a unique index on its lower case); stored as staff typed it.
    code = models.CharField(_("code"), max_length=40)
    description = models.CharField(_("description"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=PromoKind.choices, default=PromoKind.PERCENT)
    # For a percentage code: the discount, 0.01 to 100.
    percent = models.DecimalField(_("percent"), max_digits=5, decimal_places=2, null=True, blank=True)
    # For a fixed code: {currency: amount in minor units}; an account whose currency is not
    # here cannot use the code.
    amounts = models.JSONField(_("amounts (minor units per currency)"), default=dict, blank=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    # Exclusive: the code stops working at this moment.
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    # Empty: no limit.
    max_redemptions = models.PositiveIntegerField(_("maximum uses"), null=True, blank=True)
    max_per_account = models.PositiveIntegerField(_("maximum uses per customer"), null=True, blank=True)
    # Empty: every product.
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="+", verbose_name=_("products"))
    # Billing cycles the code applies to; empty: every cycle.
    cycles = models.JSONField(_("billing cycles"), default=list, blank=True)
    duration = models.CharField(
        _("applies to"), max_length=16, choices=PromoDuration.choices, default=PromoDuration.FIRST_PERIOD
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("promo code")
        verbose_name_plural = _("promo codes")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(Lower("code"), name="promo_code_unique_ci"),
            models.CheckConstraint(
                condition=models.Q(kind=PromoKind.FIXED)
                | models.Q(kind=PromoKind.PERCENT, percent__gt=0, percent__lte=100),
                name="promo_percent_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gt=models.F("valid_from")),
                name="promo_valid_until_after_from",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class PromoRedemption(AppendOnlyModel):
    """One use of a promo code: one row per order. A cancelled order's row stays, and is
    not counted against the limits (see `promo_redemptions_counted`)."""

    promo = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("code"))
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="redemption")
    # The discount it gave on the order, in the order's currency.
    amount_minor = models.BigIntegerField(_("discount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    redeemed_at = models.DateTimeField(_("redeemed"))

    class Meta:
        verbose_name = _("promo code use")
        verbose_name_plural = _("promo code uses")
        ordering = ["-redeemed_at", "-id"]
        indexes = [models.Index(fields=["promo", "account"])]

    def __str__(self) -> str:
        return f"{self.promo_id} order {self.order_id}"


# --- The cart ---------------------------------------------------------------------------------


class Cart(TimestampedModel):
    """What one member of one account is about to order. Choices only: prices are computed."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    promo = models.ForeignKey(
        PromoCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("promo code")
    )

    objects = AccountOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="cart_one_per_member")]

    def __str__(self) -> str:
        return f"cart {self.account_id}/{self.user_id}"


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.CASCADE, related_name="+", verbose_name=_("plan"))
    cycle = models.CharField(_("billing cycle"), max_length=16, choices=Cycle.choices)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    # {option code: quantity}
    options = models.JSONField(_("options"), default=dict, blank=True)
    # [add-on code, ...]
    addons = models.JSONField(_("add-ons"), default=list, blank=True)
    # What the customer calls it: a hostname, a project.
    label = models.CharField(_("label"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("cart item")
        verbose_name_plural = _("cart items")
        ordering = ["cart", "created_at", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gte=1), name="cart_item_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.cycle} x{self.quantity}"


# --- Orders -----------------------------------------------------------------------------------


class OrderType(models.TextChoices):
    NEW = "new", _("New purchase")
    RENEWAL = "renewal", _("Renewal")
    UPGRADE = "upgrade", _("Upgrade")
    ADDON = "addon", _("Add-on")


class OrderStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
    PAID = "paid", _("Paid")
    ACTIVE = "active", _("Active")
    CANCELLED = "cancelled", _("Cancelled")
    FRAUD_REVIEW = "fraud_review", _("Under review")


class OrderTransition(models.TextChoices):
    PLACE = "place", _("Placed")
    PAY = "pay", _("Paid")
    FULFIL = "fulfil", _("Carried out")
    FULFIL_FAILED = "fulfil_failed", _("Could not be carried out")
    ACCEPT = "accept", _("Accepted by staff")
    CANCEL = "cancel", _("Cancelled")
    MARK_FRAUD = "mark_fraud", _("Sent to review")


OS = OrderStatus
# The state machine: transition -> {status it may start from: status it leads to}.
TRANSITIONS: dict[str, dict[str, str]] = {
    OrderTransition.PAY: {OS.AWAITING_PAYMENT: OS.PAID},
    # What the order is for was done: services activated, renewed, changed.
    OrderTransition.FULFIL: {OS.PAID: OS.ACTIVE},
    # Staff release an order held for review, or confirm a paid one whose fulfilment they finished.
    OrderTransition.ACCEPT: {OS.FRAUD_REVIEW: OS.AWAITING_PAYMENT, OS.PAID: OS.ACTIVE},
    # Customers cancel only while awaiting payment (checked by the service); staff also under review.
    OrderTransition.CANCEL: {OS.AWAITING_PAYMENT: OS.CANCELLED, OS.FRAUD_REVIEW: OS.CANCELLED},
    OrderTransition.MARK_FRAUD: {OS.AWAITING_PAYMENT: OS.FRAUD_REVIEW},
}

# Orders in these statuses still wait for something; at most one of them per service.
OPEN_STATUSES = frozenset({OS.AWAITING_PAYMENT, OS.FRAUD_REVIEW})


class OrderCounter(models.Model):
    """The last order number given in a year; locked while the next one is taken."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("order counter")
        verbose_name_plural = _("order counters")

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class Order(TimestampedModel):
    """What a customer bought or asked for, with every figure as it was shown."""

    # O-2026-000123: year and a counter per year, never reused.
    number = models.CharField(_("number"), max_length=20, unique=True)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="orders", verbose_name=_("account")
    )
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("placed by"),
    )
    type = models.CharField(_("type"), max_length=16, choices=OrderType.choices)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices)
    # The day the prices were taken (the price versions valid then).
    as_of = models.DateField(_("priced on"))
    placed_at = models.DateTimeField(_("date"))
    currency = models.CharField(_("currency"), max_length=3)
    # Sums of the lines, in minor units, as priced (before tax, unless prices include it).
    subtotal_minor = models.BigIntegerField(_("subtotal"))
    setup_minor = models.BigIntegerField(_("setup fees"), default=0)
    discount_minor = models.BigIntegerField(_("discount"), default=0)
    # The document's figures (billing.calc): net + tax = total.
    net_minor = models.BigIntegerField(_("net"))
    tax_minor = models.BigIntegerField(_("tax"), default=0)
    total_minor = models.BigIntegerField(_("total"))
    promo = models.ForeignKey(
        PromoCode, null=True, blank=True, on_delete=models.PROTECT, related_name="orders", verbose_name=_("promo code")
    )
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    # Why the order is held for review (the rule that matched), for staff.
    review_reason = models.CharField(_("review reason"), max_length=300, blank=True)
    # The invoice the customer pays for it, issued when the order awaits payment; paying it
    # carries the order out (`orders.invoicing`).
    invoice = models.OneToOneField(
        "billing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="order",
        verbose_name=_("invoice"),
    )

    objects = AccountOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        indexes = [models.Index(fields=["account", "-placed_at"]), models.Index(fields=["status", "placed_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=OrderStatus.values), name="order_status_known"),
            models.CheckConstraint(condition=models.Q(type__in=OrderType.values), name="order_type_known"),
            models.CheckConstraint(
                condition=models.Q(total_minor=models.F("net_minor") + models.F("tax_minor")),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(
                condition=models.Q(subtotal_minor__gte=0, setup_minor__gte=0, discount_minor__gte=0, tax_minor__gte=0),
                name="order_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class LineKind(models.TextChoices):
    PLAN = "plan", _("Plan")
    OPTION = "option", _("Option")
    ADDON = "addon", _("Add-on")


class LineAction(models.TextChoices):
    """What `order_mark_paid` does for the line; options and add-ons sold with a plan have
    none of their own (the plan line's activation brings them)."""

    NONE = "", _("Nothing of its own")
    ACTIVATE = "activate", _("Activate the new service")
    RENEW = "renew", _("Renew the service")
    REACTIVATE = "reactivate", _("Reactivate the service")
    CHANGE_PLAN = "change_plan", _("Change the plan")
    CHANGE_OPTIONS = "change_options", _("Change the options")
    ADD_ADDON = "add_addon", _("Add the add-on")


class OrderLine(models.Model):
    """One line of an order, with every figure as it was priced: prices are never read again."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=8, choices=LineKind.choices)
    action = models.CharField(_("action"), max_length=16, choices=LineAction.choices, blank=True)
    description = models.CharField(_("description"), max_length=300)
    # The service the line creates (new orders) or changes (renewals, upgrades, add-ons).
    service = models.ForeignKey(
        "services.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="order_lines"
    )
    plan = models.ForeignKey("catalog.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    price_version = models.ForeignKey(
        "catalog.PriceVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    addon = models.ForeignKey("catalog.AddOn", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    addon_price_version = models.ForeignKey(
        "catalog.AddOnPriceVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    option = models.ForeignKey(
        "catalog.ConfigurableOption", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    option_price_version = models.ForeignKey(
        "catalog.OptionPriceVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cycle = models.CharField(_("billing cycle"), max_length=16, choices=Cycle.choices)
    quantity = models.PositiveIntegerField(_("quantity"))
    # Length of the period the line pays for, in months (0 for a one-time purchase): "1 year".
    months = models.PositiveSmallIntegerField(_("months"))
    # The period billed, when the line renews a known one; a new service's starts when it is activated.
    period_start = models.DateField(_("period start"), null=True, blank=True)
    period_end = models.DateField(_("period end"), null=True, blank=True)
    # Per unit and period, in the currency's major unit (options carry sub-cent precision).
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=6)
    # unit price x quantity (or the prorated amount of a mid-period change), rounded once.
    amount_minor = models.BigIntegerField(_("amount"))
    setup_fee_minor = models.BigIntegerField(_("setup fee"), default=0)
    discount_minor = models.BigIntegerField(_("discount"), default=0)
    # The line's tax-exclusive share: amount + setup fee - discount, less the tax inside it
    # when catalog prices include tax.
    net_minor = models.BigIntegerField(_("net"))
    # Percent, e.g. 21.00; with the category and exemption text the tax engine decided.
    tax_rate = models.DecimalField(_("tax rate"), max_digits=7, decimal_places=4)
    tax_category = models.CharField(_("tax category"), max_length=4, blank=True)
    tax_exemption = models.CharField(_("tax exemption"), max_length=300, blank=True)
    reverse_charge = models.BooleanField(_("reverse charge"), default=False)
    tax_minor = models.BigIntegerField(_("tax"))
    total_minor = models.BigIntegerField(_("line total"))
    # What the action needs besides the fields above (the option quantities to set, the proration).
    data = models.JSONField(_("details"), default=dict, blank=True)
    # Set when `order_mark_paid` carried the line's action out; a line is never done twice.
    fulfilled_at = models.DateTimeField(_("carried out"), null=True, blank=True)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="order_line_position_unique"),
            models.CheckConstraint(
                condition=models.Q(total_minor=models.F("net_minor") + models.F("tax_minor")),
                name="order_line_total_adds_up",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_minor__gte=0, setup_fee_minor__gte=0, discount_minor__gte=0, tax_minor__gte=0)
                & models.Q(discount_minor__lte=models.F("amount_minor")),
                name="order_line_amounts_in_range",
            ),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} #{self.position} {self.description}"


class OrderEvent(AppendOnlyModel):
    """One transition of an order, written in the transaction that made it. Never changed."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    transition = models.CharField(_("transition"), max_length=16, choices=OrderTransition.choices)
    # Empty for the placing event.
    from_status = models.CharField(_("from"), max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=OrderStatus.choices)
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("when"))
    data = models.JSONField(_("details"), default=dict, blank=True)

    objects: ClassVar[AccountOwnedAppendOnlyManager] = AccountOwnedAppendOnlyManager()

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["order", "at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.transition} {self.from_status}->{self.to_status}"
