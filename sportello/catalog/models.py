"""The catalog: what the provider sells, and at what price.

Products are grouped in categories and sold through plans. Every price is a row of its
own, valid from a moment on: changing a price inserts a new version and never edits an
old one, so a service or a document that points at a version keeps saying what it said.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from sportello.core.models import AppendOnlyModel, TimestampedModel


class Cycle(models.TextChoices):
    """How often a price is charged."""

    ONE_TIME = "one_time", _("One-time")
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    SEMIANNUAL = "semiannual", _("Semi-annual")
    ANNUAL = "annual", _("Annual")
    BIENNIAL = "biennial", _("Biennial")
    TRIENNIAL = "triennial", _("Triennial")


# Calendar months in one period of each recurring cycle; a one-time price has no period.
CYCLE_MONTHS: dict[str, int] = {
    Cycle.MONTHLY: 1,
    Cycle.QUARTERLY: 3,
    Cycle.SEMIANNUAL: 6,
    Cycle.ANNUAL: 12,
    Cycle.BIENNIAL: 24,
    Cycle.TRIENNIAL: 36,
}


class ProductKind(models.TextChoices):
    HOSTING = "hosting", _("Hosting")
    DOMAIN = "domain", _("Domain")
    SAAS = "saas", _("Software as a service")
    TELECOM = "telecom", _("Telecom")
    OTHER = "other", _("Other")


class ProvisioningModule(models.TextChoices):
    """Which provisioning adapter acts on a product's services after each transition."""

    MANUAL = "manual", _("Manual (a task for staff)")
    WEBHOOK = "webhook", _("Webhook (signed HTTP call)")


class MetricAggregation(models.TextChoices):
    """How the usage records of a metric add up against a quota."""

    # Counters (traffic, API calls, messages): the records of the current period are summed.
    SUM = "sum", _("Sum over the billing period")
    # Gauges (storage used, mailboxes): the latest reading is the usage.
    LAST = "last", _("Latest reading")


class ProductCategory(models.Model):
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    # Categories are listed in the store by this number, then by name.
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Product(TimestampedModel):
    """Something sold, with the rules its services live by."""

    category = models.ForeignKey(
        ProductCategory, on_delete=models.PROTECT, related_name="products", verbose_name=_("category")
    )
    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ProductKind.choices, default=ProductKind.HOSTING)
    provisioning_module = models.CharField(
        _("provisioning module"), max_length=16, choices=ProvisioningModule.choices, default=ProvisioningModule.MANUAL
    )
    # The billing run maps (tax class, customer country) to a rate; "standard" is the full rate.
    tax_class = models.CharField(_("tax class"), max_length=32, default="standard")
    # Only active products are offered in the store; existing services are unaffected.
    is_active = models.BooleanField(_("on sale"), default=True)

    # --- Lifecycle rules, per product ---
    # A renewal invoice is issued this many days before the next due date.
    invoice_lead_days = models.PositiveSmallIntegerField(_("invoice lead days"), default=14)
    # Days after an unpaid due date before the service is suspended.
    grace_days_before_suspension = models.PositiveSmallIntegerField(_("grace days before suspension"), default=7)
    # Days after an unpaid due date before a suspended service is terminated.
    days_before_termination = models.PositiveSmallIntegerField(_("days before termination"), default=30)
    # Days after expiry during which the customer may still reactivate (Aruba's 60-day window).
    reactivation_window_days = models.PositiveSmallIntegerField(_("reactivation window (days)"), default=60)
    # Without it, customers may only cancel at the end of the period; staff always may.
    customers_may_cancel_immediately = models.BooleanField(_("customers may cancel immediately"), default=False)
    # With it, a plan change mid-period charges or credits the remaining days; without, it costs nothing until renewal.
    prorate_upgrades = models.BooleanField(_("prorate plan changes"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["category__position", "name"]
        constraints = [
            # Termination comes after suspension, never before it.
            models.CheckConstraint(
                condition=models.Q(days_before_termination__gte=models.F("grace_days_before_suspension")),
                name="product_termination_after_suspension",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Plan(TimestampedModel):
    """One way of buying a product (e.g. "Basic", "Pro"), with its quotas."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans", verbose_name=_("product"))
    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=50)
    description = models.TextField(_("description"), blank=True)
    # Usage limits: {metric code: limit as a decimal string}, e.g. {"storage_gb": "50"}.
    quotas = models.JSONField(_("quotas"), default=dict, blank=True)
    is_active = models.BooleanField(_("on sale"), default=True)
    # Plans of a product are listed by this number (upgrades go down the list).
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["product", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["product", "code"], name="plan_unique_code_per_product")]

    def __str__(self) -> str:
        return f"{self.product.name} {self.name}"


class UsageMetric(models.Model):
    """A measured quantity (storage, traffic, seats) that quotas and usage records name."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    # Shown after the figures, e.g. "GB".
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    aggregation = models.CharField(
        _("aggregation"), max_length=8, choices=MetricAggregation.choices, default=MetricAggregation.SUM
    )

    class Meta:
        verbose_name = _("usage metric")
        verbose_name_plural = _("usage metrics")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class ConfigurableOption(TimestampedModel):
    """A quantity the customer chooses when ordering, priced per unit (storage in GB, seats)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="options", verbose_name=_("product"))
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=100)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    min_quantity = models.PositiveIntegerField(_("minimum quantity"), default=0)
    # Empty: no upper limit.
    max_quantity = models.PositiveIntegerField(_("maximum quantity"), null=True, blank=True)
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("configurable option")
        verbose_name_plural = _("configurable options")
        ordering = ["product", "code"]
        constraints = [
            models.UniqueConstraint(fields=["product", "code"], name="option_unique_code_per_product"),
            models.CheckConstraint(
                condition=models.Q(max_quantity__isnull=True) | models.Q(max_quantity__gte=models.F("min_quantity")),
                name="option_max_not_below_min",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.name}: {self.name}"


class AddOn(TimestampedModel):
    """Something bought on top of a product's service (backups, a dedicated IP)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="addons", verbose_name=_("product"))
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("add-on")
        verbose_name_plural = _("add-ons")
        ordering = ["product", "code"]
        constraints = [models.UniqueConstraint(fields=["product", "code"], name="addon_unique_code_per_product")]

    def __str__(self) -> str:
        return f"{self.product.name}: {self.name}"


# --- Prices: append-only versions ---------------------------------------------------------


class VersionedPrice(AppendOnlyModel):
    """A price in one currency and cycle, from `valid_from` on, until a newer version starts.

    Rows are inserted by the catalog services and never changed: a price change is a new
    row, so whatever points at a version (a service, an order line) keeps its price.
    """

    # ISO 4217, upper case; validated by the service that creates the version.
    currency = models.CharField(_("currency"), max_length=3)
    cycle = models.CharField(_("billing cycle"), max_length=16, choices=Cycle.choices)
    valid_from = models.DateTimeField(_("valid from"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        abstract = True


def _price_checks(prefix: str, *amount_fields: str) -> list[models.BaseConstraint]:
    checks: list[models.BaseConstraint] = [
        models.CheckConstraint(
            condition=models.Q(**{f"{field}__gte": 0}), name=f"{prefix}_{field.removesuffix('_minor')}_not_negative"
        )
        for field in amount_fields
    ]
    checks.append(models.CheckConstraint(condition=models.Q(cycle__in=Cycle.values), name=f"{prefix}_cycle_known"))
    return checks


class PriceVersion(VersionedPrice):
    """The price of a plan in a currency and cycle; the version a service was sold at."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="prices", verbose_name=_("plan"))
    # Per period (or once, for one-time), in the currency's minor units.
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    # Charged once, on the first order.
    setup_fee_minor = models.BigIntegerField(_("setup fee (minor units)"), default=0)

    class Meta:
        verbose_name = _("plan price")
        verbose_name_plural = _("plan prices")
        ordering = ["plan", "currency", "cycle", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "currency", "cycle", "valid_from"], name="price_unique_per_plan_currency_cycle_start"
            ),
            *_price_checks("price", "amount_minor", "setup_fee_minor"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.currency} {self.cycle} {self.amount_minor} from {self.valid_from:%Y-%m-%d}"


class OptionPriceVersion(VersionedPrice):
    """The unit price of a configurable option in a currency and cycle."""

    option = models.ForeignKey(
        ConfigurableOption, on_delete=models.PROTECT, related_name="prices", verbose_name=_("option")
    )
    # Per unit and period, in the currency's major unit, with sub-cent precision (0.045 EUR
    # per GB); an option line is rounded once, by round_money, after multiplying.
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=6)

    class Meta:
        verbose_name = _("option price")
        verbose_name_plural = _("option prices")
        ordering = ["option", "currency", "cycle", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["option", "currency", "cycle", "valid_from"],
                name="option_price_unique_per_currency_cycle_start",
            ),
            *_price_checks("option_price", "unit_price"),
        ]

    def __str__(self) -> str:
        return f"{self.option} {self.currency} {self.cycle} {self.unit_price} from {self.valid_from:%Y-%m-%d}"


class AddOnPriceVersion(VersionedPrice):
    """The price of an add-on in a currency and cycle."""

    addon = models.ForeignKey(AddOn, on_delete=models.PROTECT, related_name="prices", verbose_name=_("add-on"))
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    setup_fee_minor = models.BigIntegerField(_("setup fee (minor units)"), default=0)

    class Meta:
        verbose_name = _("add-on price")
        verbose_name_plural = _("add-on prices")
        ordering = ["addon", "currency", "cycle", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["addon", "currency", "cycle", "valid_from"], name="addon_price_unique_per_currency_cycle_start"
            ),
            *_price_checks("addon_price", "amount_minor", "setup_fee_minor"),
        ]

    def __str__(self) -> str:
        return f"{self.addon} {self.currency} {self.cycle} {self.amount_minor} from {self.valid_from:%Y-%m-%d}"


class OveragePrice(AppendOnlyModel):
    """What one unit of a metered metric costs above the plan's quota (`Plan.quotas`), per
    currency, from `valid_from` on. Like prices, a change is a new row: the renewal run
    prices a period's overage at the version valid when that period ended."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="overage_prices", verbose_name=_("plan"))
    # A `UsageMetric.code`; usage above the plan's quota for it is billed at this price.
    metric = models.SlugField(_("metric"), max_length=64)
    currency = models.CharField(_("currency"), max_length=3)
    # Per unit, in the currency's major unit, with sub-cent precision (0.0004 EUR per API call).
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=6)
    valid_from = models.DateTimeField(_("valid from"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("overage price")
        verbose_name_plural = _("overage prices")
        ordering = ["plan", "metric", "currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "metric", "currency", "valid_from"], name="overage_price_unique_per_plan_metric_start"
            ),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="overage_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.metric} {self.currency} {self.unit_price} from {self.valid_from:%Y-%m-%d}"
