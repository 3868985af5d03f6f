"""The store, the cart and the checkout.

The browser sends choices, never prices: the product page posts a plan, a cycle,
quantities and add-on codes, which the orders domain validates against the catalog and
prices from the versions valid today, in the account's currency. The price shown while
the customer configures (live through htmx, or with the "Show the price" button without
JavaScript) is the same computation. The checkout posts the total and currency the
customer saw; the order is placed only if they are still what the server computes.

Dates: `as_of` is today's date in UTC and `at` the moment, read from the clock here and
nowhere deeper.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sportello.accounts.models import Area
from sportello.billing.errors import BillingError
from sportello.catalog.errors import CatalogError
from sportello.catalog.models import AddOn, ConfigurableOption, Cycle, Plan, Product
from sportello.catalog.selectors import plans_on_sale, prices_current_of, products_on_sale
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.orders.errors import (
    CartEmpty,
    CartItemNotFound,
    InvalidCartItem,
    OrderNotAllowed,
    OrdersError,
    PriceChanged,
    PromoRefused,
)
from sportello.orders.models import Cart
from sportello.orders.pricing import Quote, clean_choice, lines_for_new, quote_finish
from sportello.orders.services import (
    cart_add,
    cart_for,
    cart_promo_apply,
    cart_promo_remove,
    cart_quote,
    cart_remove,
    order_place,
)
from sportello.portal.access import MemberRequest, member_required


def _now() -> dt.datetime:
    return utc_now()


# --- Refusals as translated sentences ---------------------------------------------------------

_ITEM_FIELDS = {
    "plan": gettext_lazy("This plan is not on sale any more."),
    "cycle": gettext_lazy("This plan is not sold in that billing cycle in your currency."),
    "label": gettext_lazy("The name can be at most 200 characters, on one line."),
}
_PROMO_REASONS = {
    "unknown": gettext_lazy("This promo code does not exist or is no longer active."),
    "not_started": gettext_lazy("This promo code is not valid yet."),
    "expired": gettext_lazy("This promo code has expired."),
    "used_up": gettext_lazy("This promo code has been used up."),
    "used_up_for_account": gettext_lazy("Your account has already used this promo code."),
    "not_applicable": gettext_lazy("This promo code does not apply to anything in your cart."),
    "currency": gettext_lazy("This promo code cannot be used in your account's currency."),
}


def item_refusal(error: InvalidCartItem) -> str:
    """What is wrong with a choice, in the member's language."""
    figures = error.figures
    if error.field == "quantity":
        if error.reason == "out_of_range":
            return _("The quantity must be a whole number from %(low)s to %(high)s.") % figures
        return _("The quantity must be a whole number.")
    if error.field == "options":
        name = figures.get("option") or figures.get("code") or ""
        if error.reason == "out_of_range":
            high = figures.get("high")
            if high is None:
                return _("%(option)s: choose at least %(low)s.") % {"option": name, "low": figures.get("low")}
            return _("%(option)s: choose a whole number from %(low)s to %(high)s.") % {
                "option": name,
                "low": figures.get("low"),
                "high": high,
            }
        if error.reason == "not_a_number":
            return _("%(option)s: the quantity must be a whole number.") % {"option": name}
        if error.reason == "not_priced":
            return _("%(option)s is not sold in this billing cycle.") % {"option": name}
        return _("That option is not offered for this product.")
    if error.field == "addons":
        if error.reason == "not_priced":
            return _("%(addon)s is not sold in this billing cycle.") % {"addon": figures.get("addon", "")}
        return _("That add-on is not offered for this product.")
    return str(_ITEM_FIELDS.get(error.field, _("This choice is not available.")))


def promo_refusal(error: PromoRefused) -> str:
    return str(_PROMO_REASONS.get(error.reason, _("This promo code cannot be used.")))


def price_changed_message() -> str:
    return _("The prices changed since they were shown to you: please check the new total and confirm again.")


def tax_missing_message() -> str:
    return _("We cannot compute the tax for your country yet. Please contact us to order.")


# --- Lines and totals as the pages show them ---------------------------------------------------


@dataclass(frozen=True)
class LineRow:
    description: str
    cycle_label: str
    quantity: int
    amount: Money
    setup_fee: Money
    discount: Money
    tax: Money
    tax_rate: Decimal


def line_rows(lines: list[Any], currency: str) -> list[LineRow]:
    """Priced lines (of a quote) or order lines, with their figures as Money."""

    def money(minor: int) -> Money:
        return Money.from_minor(minor, currency)

    rows = []
    for line in lines:
        rate = line.tax.rate if getattr(line, "tax", None) is not None else getattr(line, "tax_rate", Decimal(0))
        rows.append(
            LineRow(
                description=line.description,
                cycle_label=str(Cycle(line.cycle).label),
                quantity=line.quantity,
                amount=money(line.amount_minor),
                setup_fee=money(line.setup_fee_minor),
                discount=money(line.discount_minor),
                tax=money(line.tax_minor),
                tax_rate=Decimal(rate).normalize(),
            )
        )
    return rows


def quote_totals(quote: Quote) -> dict[str, Money]:
    return {
        "subtotal": quote.subtotal,
        "setup": quote.setup,
        "discount": quote.discount,
        "net": quote.net,
        "tax": quote.tax,
        "total": quote.total,
    }


# --- The store ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductCard:
    product: Product
    # The lowest recurring price in the account's currency, per its cycle.
    from_price: Money | None
    from_cycle: str


def _from_price(product: Product, currency: str, as_of: dt.date) -> tuple[Money | None, str]:
    """The lowest monthly price of the product's plans (else the lowest of any cycle)."""
    found: list[tuple[bool, Money, str]] = []
    for plan in plans_on_sale(product=product):
        for cycle, version in prices_current_of(plan=plan, currency=currency, as_of=as_of).items():
            found.append((cycle != Cycle.MONTHLY, Money.from_minor(version.amount_minor, currency), cycle))
    if not found:
        return None, ""
    _other, amount, cycle = min(found, key=lambda entry: (entry[0], entry[1].amount))
    return amount, cycle


@member_required(Area.ORDERS)
@require_safe
def store(request: MemberRequest) -> HttpResponse:
    as_of = _now().date()
    currency = request.membership.account.currency
    categories: dict[Any, list[ProductCard]] = {}
    for product in products_on_sale().order_by("category__position", "category__name", "name"):
        amount, cycle = _from_price(product, currency, as_of)
        if amount is None:
            continue  # not sold in this account's currency
        categories.setdefault(product.category, []).append(ProductCard(product, amount, str(Cycle(cycle).label)))
    return render(
        request,
        "portal/store/index.html",
        {"categories": categories.items(), "cart_count": _cart_count(request), "active_nav": "orders"},
    )


def _cart_count(request: MemberRequest) -> int:
    cart = Cart.objects.filter(account_id=request.membership.account_id, user=request.user).first()
    return cart.items.count() if cart else 0


class ConfigureForm(forms.Form):
    """What the customer chooses. Quantities are validated by the orders domain, which says
    what is wrong in the catalog's own terms; this form only shapes the fields."""

    plan = forms.TypedChoiceField(label=gettext_lazy("Plan"), coerce=int, widget=forms.RadioSelect)
    cycle = forms.ChoiceField(label=gettext_lazy("Billing cycle"))
    quantity = forms.CharField(
        label=gettext_lazy("Quantity"),
        initial="1",
        max_length=9,
        widget=forms.NumberInput(attrs={"min": 1, "max": 100, "inputmode": "numeric"}),
    )
    label = forms.CharField(
        label=gettext_lazy("Name for this service"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("A domain or a host name, to tell your services apart. Optional."),
    )
    addons = forms.MultipleChoiceField(
        label=gettext_lazy("Add-ons"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self,
        *args: Any,
        plans: list[Plan],
        cycles: list[tuple[str, str]],
        options: list[ConfigurableOption],
        addons: list[AddOn],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.option_list = options
        plan_field = self.fields["plan"]
        assert isinstance(plan_field, forms.ChoiceField)
        plan_field.choices = [(plan.pk, plan.name) for plan in plans]
        if plans:
            plan_field.initial = plans[0].pk
        cycle_field = self.fields["cycle"]
        assert isinstance(cycle_field, forms.ChoiceField)
        cycle_field.choices = cycles
        addon_field = self.fields["addons"]
        assert isinstance(addon_field, forms.ChoiceField)
        addon_field.choices = [(addon.code, addon.name) for addon in addons]
        for option in options:
            attrs: dict[str, Any] = {"min": option.min_quantity, "inputmode": "numeric"}
            if option.max_quantity is not None:
                attrs["max"] = option.max_quantity
            self.fields[f"option_{option.code}"] = forms.CharField(
                label=f"{option.name}" + (f" ({option.unit})" if option.unit else ""),
                required=False,
                initial=str(option.min_quantity),
                max_length=9,
                widget=forms.NumberInput(attrs=attrs),
            )

    def option_fields(self) -> list[forms.BoundField]:
        return [self[f"option_{option.code}"] for option in self.option_list]

    def choice(self) -> dict[str, Any]:
        """The raw choice for the orders domain, which validates every value."""
        data = self.cleaned_data
        options: dict[str, object] = {}
        for option in self.option_list:
            raw = str(data.get(f"option_{option.code}") or "").strip()
            options[option.code] = raw or "0"
        return {
            "cycle": data["cycle"],
            "quantity": data["quantity"],
            "options": options,
            "addons": list(data.get("addons") or []),
            "label": data.get("label") or "",
        }


@dataclass
class ProductPage:
    product: Product
    plans: list[Plan]
    cycles: list[tuple[str, str]]
    options: list[ConfigurableOption]
    addons: list[AddOn]

    def form(self, data: QueryDict | Mapping[str, Any] | None = None) -> ConfigureForm:
        return ConfigureForm(data, plans=self.plans, cycles=self.cycles, options=self.options, addons=self.addons)


def _product_page(slug: str, currency: str, as_of: dt.date) -> ProductPage:
    product = get_object_or_404(products_on_sale(), slug=slug)
    plans = list(plans_on_sale(product=product))
    sold: set[str] = set()
    for plan in plans:
        sold |= set(prices_current_of(plan=plan, currency=currency, as_of=as_of))
    if not plans or not sold:
        raise Http404
    cycles = [(cycle, str(label)) for cycle, label in Cycle.choices if cycle in sold]
    options = list(ConfigurableOption.objects.filter(product=product, is_active=True).order_by("code"))
    addons = list(AddOn.objects.filter(product=product, is_active=True).order_by("code"))
    return ProductPage(product=product, plans=plans, cycles=cycles, options=options, addons=addons)


@dataclass
class Preview:
    quote: Quote | None
    error: str

    @property
    def rows(self) -> list[LineRow]:
        return line_rows(self.quote.lines, self.quote.currency) if self.quote else []

    @property
    def totals(self) -> dict[str, Money]:
        return quote_totals(self.quote) if self.quote else {}


def _preview(request: MemberRequest, page: ProductPage, form: ConfigureForm, as_of: dt.date) -> Preview:
    """The price of the configured item with tax, as the cart will compute it."""
    if not form.is_valid():
        return Preview(None, _("Choose a plan and a billing cycle to see the price."))
    account = request.membership.account
    plan = next((plan for plan in page.plans if plan.pk == form.cleaned_data["plan"]), None)
    if plan is None:
        return Preview(None, _("This plan is not on sale any more."))
    try:
        choice = clean_choice(plan=plan, currency=account.currency, as_of=as_of, **form.choice())
        lines = lines_for_new(choice=choice, currency=account.currency, as_of=as_of, group=1)
        return Preview(quote_finish(account=account, lines=lines, as_of=as_of), "")
    except InvalidCartItem as error:
        return Preview(None, item_refusal(error))
    except BillingError:
        return Preview(None, tax_missing_message())
    except CatalogError:
        return Preview(None, _("This choice is not available."))


@member_required(Area.ORDERS)
@require_http_methods(["GET", "HEAD", "POST"])
def store_product(request: MemberRequest, slug: str) -> HttpResponse:
    """Configure a product: plan, cycle, quantities, add-ons; the price with tax; add to cart."""
    now = _now()
    as_of = now.date()
    page = _product_page(slug, request.membership.account.currency, as_of)
    form = page.form(request.POST if request.method == "POST" else None)
    preview = _preview(request, page, form, as_of) if request.method == "POST" else None
    if request.method == "POST" and request.POST.get("action") == "add" and preview and preview.quote:
        plan = next(plan for plan in page.plans if plan.pk == form.cleaned_data["plan"])
        try:
            cart_add(acting=request.membership, plan=plan, as_of=as_of, **form.choice())
        except InvalidCartItem as error:
            preview = Preview(None, item_refusal(error))
        except OrderNotAllowed:
            messages.error(request, _("Your role lets you see orders, but not place them."))
            return redirect("portal:store-product", slug=slug)
        else:
            messages.success(request, _("%(product)s is in your cart.") % {"product": page.product.name})
            return redirect("portal:cart")
    if preview is None:
        initial = page.form(
            {
                "plan": str(page.plans[0].pk),
                "cycle": page.cycles[0][0],
                "quantity": "1",
                **{f"option_{o.code}": str(o.min_quantity) for o in page.options},
            }
        )
        preview = _preview(request, page, initial, as_of)
        form = page.form(None)
        form.initial = {"plan": page.plans[0].pk, "cycle": page.cycles[0][0]}
    context = {
        "product": page.product,
        "form": form,
        "preview": preview,
        "may_change": request.membership.can_change,
        "cart_count": _cart_count(request),
        "active_nav": "orders",
    }
    return render(request, "portal/store/product.html", context)


@member_required(Area.ORDERS)
@require_http_methods(["GET", "HEAD", "POST"])
def store_price(request: MemberRequest, slug: str) -> HttpResponse:
    """The live price of the configured item (htmx swaps it into the product page)."""
    as_of = _now().date()
    page = _product_page(slug, request.membership.account.currency, as_of)
    data = request.POST if request.method == "POST" else request.GET
    preview = _preview(request, page, page.form(data), as_of)
    return render(request, "portal/store/_price.html", {"preview": preview})


# --- The cart -------------------------------------------------------------------------------------


class PromoForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Promo code"), max_length=40)


@dataclass
class CartView:
    quote: Quote | None
    problem: str

    @property
    def totals(self) -> dict[str, Money]:
        return quote_totals(self.quote) if self.quote else {}


def _cart_view(request: MemberRequest, cart: Cart, as_of: dt.date) -> CartView:
    account = request.membership.account
    try:
        return CartView(cart_quote(cart=cart, account=account, as_of=as_of), "")
    except InvalidCartItem as error:
        return CartView(None, item_refusal(error) + " " + _("Remove it from the cart to go on."))
    except PromoRefused as error:
        return CartView(None, promo_refusal(error) + " " + _("Remove the promo code to go on."))
    except BillingError:
        return CartView(None, tax_missing_message())
    except CatalogError:
        return CartView(None, _("An item in your cart is no longer sold as chosen. Remove it to go on."))


@member_required(Area.ORDERS)
@require_safe
def cart_page(request: MemberRequest) -> HttpResponse:
    as_of = _now().date()
    cart = cart_for(acting=request.membership)
    view = _cart_view(request, cart, as_of)
    items = list(cart.items.select_related("plan__product").order_by("created_at", "id"))
    groups = []
    for number, item in enumerate(items, start=1):
        lines = [line for line in view.quote.lines if line.group == number] if view.quote else []
        groups.append({"item": item, "rows": line_rows(lines, request.membership.account.currency)})
    context = {
        "cart": cart,
        "groups": groups,
        "view": view,
        "promo_form": PromoForm(),
        "may_change": request.membership.can_change,
        "active_nav": "orders",
    }
    return render(request, "portal/store/cart.html", context)


@member_required(Area.ORDERS)
@require_POST
def cart_item_remove(request: MemberRequest, item_id: int) -> HttpResponse:
    try:
        cart_remove(acting=request.membership, item_id=item_id)
    except CartItemNotFound:
        raise Http404 from None
    except OrderNotAllowed:
        messages.error(request, _("Your role lets you see orders, but not place them."))
        return redirect("portal:cart")
    messages.success(request, _("The item was removed from your cart."))
    return redirect("portal:cart")


@member_required(Area.ORDERS)
@require_POST
def cart_promo(request: MemberRequest) -> HttpResponse:
    now = _now()
    if request.POST.get("action") == "remove":
        try:
            cart_promo_remove(acting=request.membership)
        except OrderNotAllowed:
            messages.error(request, _("Your role lets you see orders, but not place them."))
        else:
            messages.success(request, _("The promo code was removed."))
        return redirect("portal:cart")
    form = PromoForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Type a promo code of up to 40 characters."))
        return redirect("portal:cart")
    try:
        promo = cart_promo_apply(acting=request.membership, code=form.cleaned_data["code"], as_of=now.date(), at=now)
    except PromoRefused as error:
        messages.error(request, promo_refusal(error))
    except CartEmpty:
        messages.error(request, _("Your cart is empty: add a product first."))
    except OrderNotAllowed:
        messages.error(request, _("Your role lets you see orders, but not place them."))
    except (InvalidCartItem, CatalogError, BillingError):
        messages.error(request, _("An item in your cart is no longer sold as chosen. Remove it to go on."))
    else:
        messages.success(request, _("Promo code %(code)s applied.") % {"code": promo.code})
    return redirect("portal:cart")


# --- Checkout --------------------------------------------------------------------------------------


class CheckoutForm(forms.Form):
    # What the customer saw: the order is placed only if it is still what the server computes.
    shown_total_minor = forms.IntegerField(widget=forms.HiddenInput)
    shown_currency = forms.CharField(widget=forms.HiddenInput, max_length=3)


@member_required(Area.ORDERS)
@require_http_methods(["GET", "HEAD", "POST"])
def checkout(request: MemberRequest) -> HttpResponse:
    now = _now()
    as_of = now.date()
    cart = cart_for(acting=request.membership)
    if not cart.items.exists():
        messages.info(request, _("Your cart is empty: add a product first."))
        return redirect("portal:store")
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        valid = form.is_valid()
        shown_total: int | None = form.cleaned_data["shown_total_minor"] if valid else None
        shown_currency: str = form.cleaned_data["shown_currency"] if valid else ""
        try:
            order = order_place(
                acting=request.membership,
                as_of=as_of,
                at=now,
                shown_total_minor=shown_total,
                shown_currency=shown_currency,
                by=request.user,
            )
        except PriceChanged:
            messages.warning(request, price_changed_message())
        except OrderNotAllowed:
            messages.error(request, _("Your role lets you see orders, but not place them."))
            return redirect("portal:cart")
        except (OrdersError, CatalogError, BillingError):
            return redirect("portal:cart")
        else:
            if order.status == "fraud_review":
                messages.success(
                    request,
                    _(
                        "Thank you: order %(number)s is placed. We check first orders of this size by hand and "
                        "will write to you shortly."
                    )
                    % {"number": order.number},
                )
            else:
                messages.success(
                    request,
                    _("Thank you: order %(number)s is placed and awaits payment.") % {"number": order.number},
                )
            return redirect("portal:order-detail", number=order.number)
    view = _cart_view(request, cart, as_of)
    if view.quote is None:
        messages.error(request, view.problem)
        return redirect("portal:cart")
    context = {
        "quote": view.quote,
        "rows": line_rows(view.quote.lines, view.quote.currency),
        "totals": quote_totals(view.quote),
        "form": CheckoutForm(
            initial={"shown_total_minor": view.quote.total_minor, "shown_currency": view.quote.currency}
        ),
        "may_change": request.membership.can_change,
        "account": request.membership.account,
        "active_nav": "orders",
    }
    return render(request, "portal/store/checkout.html", context)


urlpatterns: list[URLPattern] = [
    path("store/", store, name="store"),
    path("store/<slug:slug>/", store_product, name="store-product"),
    path("store/<slug:slug>/price/", store_price, name="store-price"),
    path("cart/", cart_page, name="cart"),
    path("cart/items/<int:item_id>/remove/", cart_item_remove, name="cart-item-remove"),
    path("cart/promo/", cart_promo, name="cart-promo"),
    path("checkout/", checkout, name="checkout"),
]
