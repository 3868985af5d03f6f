"""The payments app's own HTTP surface: gateways' webhooks, and the pages of the simulated
card processor (`testcard`), which stand in for a provider's hosted payment page.

The client area's payment pages live in the portal (portal/views/payments.py); they never
receive a card number. Only `testcard_checkout` does, as a provider's page would: its
POST parameters are marked sensitive (Django's error reports hide them), the number is
read into a local value, never stored but for its last four digits, and never logged.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.payments import testcard
from sportello.payments.errors import GatewayError, MethodUnavailable, WebhookRejected, WebhookReplayed
from sportello.payments.models import TestcardCheckout, TestcardMode, TestcardStatus
from sportello.payments.services import webhook_receive

# --- Webhooks -------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, gateway: str) -> HttpResponse:
    """A gateway's notification. Unsigned, forged or stale: 400 and nothing recorded. The very
    same signed request seen again (a replay): 409 and nothing recorded. An event already
    processed that the gateway sends again, signed anew: 200 (so that it stops re-sending it)
    and nothing recorded again."""
    try:
        result = webhook_receive(gateway=gateway, body=request.body, headers=request.headers, now=utc_now())
    except MethodUnavailable:
        raise Http404 from None
    except WebhookReplayed as replayed:
        return JsonResponse({"error": replayed.reason}, status=409)
    except WebhookRejected as refused:
        return JsonResponse({"error": refused.reason}, status=400)
    except GatewayError as failed:
        # Reading the event needed the gateway (a saved card's details) and it did not answer:
        # nothing was recorded, and the gateway sends the event again later.
        return JsonResponse({"error": failed.reason}, status=503 if failed.retryable else 400)
    return JsonResponse({"outcome": result.outcome})


# --- The simulated card processor's pages ---------------------------------------------------


class SecretInput(forms.TextInput):
    """A text box that never writes back what was typed into it (card number, CVC)."""

    def format_value(self, value: Any) -> str | None:
        return None


class CardForm(forms.Form):
    number = forms.CharField(
        label=_("Card number"),
        max_length=23,
        widget=SecretInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric", "spellcheck": "false"}),
    )
    expiry = forms.CharField(
        label=_("Expiry date (MM/YY)"),
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "inputmode": "numeric", "placeholder": "MM/YY"}),
    )
    cvc = forms.CharField(
        label=_("Security code (CVC)"),
        max_length=4,
        widget=SecretInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )
    name = forms.CharField(
        label=_("Name on the card"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "cc-name"})
    )

    @sensitive_variables("number")
    def clean_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not testcard.luhn_valid(number):
            raise forms.ValidationError(_("This card number is not valid: check the digits."))
        return number

    def clean_expiry(self) -> tuple[int, int]:
        match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", self.cleaned_data["expiry"])
        if not match or not 1 <= int(match.group(1)) <= 12:
            raise forms.ValidationError(_("Enter the expiry date as month and year, e.g. 04/29."))
        year = int(match.group(2))
        return int(match.group(1)), year + 2000 if year < 100 else year

    @sensitive_variables("cvc")
    def clean_cvc(self) -> str:
        cvc = self.cleaned_data["cvc"].strip()
        if not re.fullmatch(r"\d{3,4}", cvc):
            raise forms.ValidationError(_("The security code is the 3 or 4 digits on the card."))
        return cvc


# Saving a card: the processor refuses these on its own page, as real ones do.
SETUP_REFUSALS = {
    "card_declined": _("This card was declined. Use another card."),
    "expired_card": _("This card has expired. Use another card."),
}


def _checkout(token: str) -> TestcardCheckout:
    if not testcard.enabled():
        raise Http404
    return get_object_or_404(TestcardCheckout, token=token)


def _page(
    request: HttpRequest, template: str, checkout: TestcardCheckout, *, status: int = 200, **context: Any
) -> HttpResponse:
    context.update(
        checkout=checkout,
        saving=checkout.mode == TestcardMode.SETUP,
        amount=Money.from_minor(checkout.amount_minor, checkout.currency),
        test_cards=[
            ("4242 4242 4242 4242", _("Payment succeeds")),
            ("4000 0025 0000 3155", _("Asks for an extra confirmation step")),
            ("4000 0000 0000 0002", _("Declined")),
            ("4000 0000 0000 9995", _("Declined: insufficient funds")),
            ("4000 0000 0000 0069", _("Declined: expired card")),
        ],
    )
    return render(request, template, context, status=status)


@sensitive_post_parameters("number", "cvc", "expiry", "name")
@sensitive_variables("form", "card")
@require_http_methods(["GET", "POST"])
def testcard_checkout(request: HttpRequest, token: str) -> HttpResponse:
    """The hosted payment page: the card is typed here, and only here."""
    checkout = _checkout(token)
    if checkout.status == TestcardStatus.REQUIRES_ACTION:
        return HttpResponseRedirect(testcard.authenticate_path(checkout))
    if checkout.status != TestcardStatus.OPEN:
        return HttpResponseRedirect(checkout.return_url)
    form = CardForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        month, year = form.cleaned_data["expiry"]
        card = testcard.CardEntered(number=form.cleaned_data["number"], exp_month=month, exp_year=year)
        refused = ""
        if checkout.mode == TestcardMode.SETUP:
            checkout, refused = testcard.checkout_save_card(checkout=checkout, card=card, today=utc_now().date())
        else:
            checkout = testcard.checkout_pay(checkout=checkout, card=card, today=utc_now().date())
        if refused:
            form.add_error("number", SETUP_REFUSALS.get(refused, SETUP_REFUSALS["card_declined"]))
        elif checkout.status == TestcardStatus.REQUIRES_ACTION:
            return HttpResponseRedirect(testcard.authenticate_path(checkout))
        else:
            return HttpResponseRedirect(checkout.return_url)
    return _page(request, "payments/testcard/checkout.html", checkout, form=form, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def testcard_authenticate(request: HttpRequest, token: str) -> HttpResponse:
    """The extra confirmation step (3-D Secure's stand-in)."""
    checkout = _checkout(token)
    if checkout.status != TestcardStatus.REQUIRES_ACTION:
        return HttpResponseRedirect(checkout.return_url)
    if request.method == "POST":
        checkout = testcard.checkout_authenticate(checkout=checkout, approved=request.POST.get("decision") == "approve")
        return HttpResponseRedirect(checkout.return_url)
    return _page(request, "payments/testcard/authenticate.html", checkout)


@require_POST
def testcard_cancel(request: HttpRequest, token: str) -> HttpResponse:
    checkout = testcard.checkout_cancel(checkout=_checkout(token))
    return HttpResponseRedirect(checkout.return_url)
