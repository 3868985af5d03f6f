# ruff: noqa: F811  (fixtures imported from the payments tests are redefined as parameters)
"""Paying goes through a review: the first post shows what will be paid, only the confirmation
pays, and a confirmation sent twice pays once. Saved cards can be chosen by hand, with the
bank's extra step when it asks."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import Membership
from sportello.billing.models import Invoice, InvoiceStatus, Settlement
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.payments.models import CreditEntry, Payment, PaymentStatus, SavedPaymentMethod
from sportello.payments.selectors import credit_balance
from sportello.payments.services import credit_adjust
from sportello.payments.tests.conftest import (  # noqa: F401
    _testcard_on,
    billing_setup,
    expired_card,
    make_invoice,
    pay_confirmed,
    review_fields,
    seller,
    tax_rates,
)
from sportello.payments.tests.test_autopay import save_card

pytestmark = pytest.mark.django_db
TODAY = utc_now().date()


def eur(amount: str) -> Money:
    return Money(amount, "EUR")  # type: ignore[arg-type]


def text(response: Any) -> str:
    """The page's visible text, tags dropped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def nothing_paid() -> tuple[int, int, int]:
    return Payment.objects.count(), CreditEntry.objects.filter(kind="applied").count(), Settlement.objects.count()


@pytest.fixture
def three(make_invoice: Callable[..., Invoice]) -> list[Invoice]:
    return [
        make_invoice("100.00", as_of=TODAY, due=TODAY + dt.timedelta(days=3)),
        make_invoice("10.00", as_of=TODAY, due=TODAY + dt.timedelta(days=1)),
        make_invoice("50.00", as_of=TODAY, due=TODAY + dt.timedelta(days=2)),
    ]


def test_the_review_shows_only_what_was_ticked_and_pays_nothing(alice_client: Client, three: list[Invoice]) -> None:
    first, second, third = three
    # Without the script the page still says the total of all three ticked at first...
    assert "Selected: €193.60." in alice_client.get(reverse("portal:pay")).content.decode()
    # ... and the review, after unticking the third, the total of the two left.
    review = alice_client.post(reverse("portal:pay"), {"invoices": [first.number, second.number], "method": "testcard"})
    assert review.status_code == 200
    page = text(review)
    assert "Review your payment" in page and "Nothing is paid until you confirm." in page
    lines = re.findall(r"<th scope=\"row\"><a href=\"[^\"]+\">([^<]+)</a></th>", review.content.decode())
    assert lines == [second.number, first.number], "in the order they are paid: due date first"
    assert "€12.10" in page and "€121.00" in page and third.number not in page
    assert re.search(r'id="review-total">€133.10<', review.content.decode())
    assert "Method Card" in page and "Paid by Card €133.10" in page
    assert "Confirm and pay €133.10" in page
    assert nothing_paid() == (0, 0, 0)
    response = alice_client.post(reverse("portal:pay"), {**review_fields(review), "confirm": "1"})
    assert response.status_code == 302 and "/testcard/pay/" in response["Location"]
    payment = Payment.objects.get()
    assert payment.amount_minor == 13310
    assert sorted(payment.allocations.values_list("invoice__number", flat=True)) == sorted(
        [first.number, second.number]
    )


def test_credit_is_reviewed_with_the_balance_before_and_after_and_a_double_confirm_pays_once(
    alice: Membership, alice_client: Client, three: list[Invoice]
) -> None:
    first, second, _third = three
    credit_adjust(account=alice.account, amount=eur("200.00"), note="goodwill", by=None)  # type: ignore[arg-type]
    url = reverse("portal:pay")
    review = alice_client.post(url, {"invoices": [first.number, second.number], "method": "credit"})
    page = text(review)
    assert "Method Account credit Credit before €200.00 Credit after €66.90" in page
    assert nothing_paid() == (0, 0, 0)
    confirm = {**review_fields(review), "confirm": "1"}
    response = alice_client.post(url, confirm)
    assert response["Location"] == reverse("portal:credit")
    again = alice_client.post(url, confirm, follow=True)
    assert again.redirect_chain == [(reverse("portal:credit"), 302)]
    assert [str(message) for message in get_messages(again.wsgi_request)][-1] == (
        "This payment was already confirmed: nothing was paid twice."
    )
    assert credit_balance(account=alice.account, currency="EUR") == eur("66.90")  # type: ignore[arg-type]
    assert list(CreditEntry.objects.filter(kind="applied").order_by("amount_minor").values_list("amount_minor")) == [
        (-12100,),
        (-1210,),
    ]


def test_part_paid_from_credit_and_confirmed_twice_is_spent_once(
    alice: Membership, alice_client: Client, three: list[Invoice]
) -> None:
    first = three[0]
    credit_adjust(account=alice.account, amount=eur("200.00"), note="goodwill", by=None)  # type: ignore[arg-type]
    url = reverse("portal:invoice-pay", args=[first.number])
    review = alice_client.post(url, {"invoices": first.number, "method": "credit", "amount": "20.00"})
    assert "Credit before €200.00 Credit after €180.00" in text(review)
    confirm = {**review_fields(review), "confirm": "1"}
    assert alice_client.post(url, confirm).status_code == 302
    assert alice_client.post(url, confirm).status_code == 302
    assert credit_balance(account=alice.account, currency="EUR") == eur("180.00")  # type: ignore[arg-type]
    first.refresh_from_db()
    assert first.status == InvoiceStatus.PARTIALLY_PAID


def test_a_card_payment_confirmed_twice_opens_one_payment(alice_client: Client, three: list[Invoice]) -> None:
    first = three[0]
    url = reverse("portal:invoice-pay", args=[first.number])
    review = alice_client.post(url, {"invoices": first.number, "method": "testcard", "use_credit": "on"})
    confirm = {**review_fields(review), "confirm": "1"}
    assert confirm["use_credit"] == ["on"]
    hosted = alice_client.post(url, confirm)["Location"]
    assert alice_client.post(url, confirm)["Location"] == hosted
    assert Payment.objects.count() == 1


def test_change_goes_back_with_the_same_choice(alice_client: Client, three: list[Invoice]) -> None:
    first, _second, third = three
    review = alice_client.post(
        reverse("portal:pay"), {"invoices": [first.number, third.number], "method": "bank_transfer"}
    )
    back = alice_client.post(reverse("portal:pay"), {**review_fields(review), "change": "1"})
    assert back.status_code == 200
    body = back.content.decode()
    ticked = re.findall(r'name="invoices" value="([^"]+)"[^>]*checked', body)
    assert sorted(ticked) == sorted([first.number, third.number])
    assert re.search(r'value="bank_transfer" id="method-bank_transfer"[^>]*checked', body)
    assert "Selected: €181.50." in body and "field-error" not in body
    assert nothing_paid() == (0, 0, 0)


def test_a_confirmation_without_a_review_or_of_other_figures_shows_the_review(
    alice: Membership, alice_client: Client, three: list[Invoice]
) -> None:
    first = three[0]
    url = reverse("portal:invoice-pay", args=[first.number])
    direct = alice_client.post(url, {"invoices": first.number, "method": "testcard", "confirm": "1"})
    assert direct.status_code == 200 and "Review your payment" in text(direct)
    made_up = alice_client.post(
        url, {"invoices": first.number, "method": "testcard", "confirm": "1", "review": "not-a-key"}
    )
    assert made_up.status_code == 200 and "Review your payment" in text(made_up)
    # Credit spent elsewhere after the review: the figures differ, the review comes back.
    credit_adjust(account=alice.account, amount=eur("50.00"), note="goodwill", by=None)  # type: ignore[arg-type]
    review = alice_client.post(url, {"invoices": first.number, "method": "testcard", "use_credit": "on"})
    credit_adjust(account=alice.account, amount=eur("-30.00"), note="correction", by=None)  # type: ignore[arg-type]
    again = alice_client.post(url, {**review_fields(review), "confirm": "1"})
    assert again.status_code == 200
    assert "The amounts changed since you reviewed them" in text(again)
    assert "From your account credit €20.00" in text(again)
    assert nothing_paid() == (0, 0, 0)


def test_a_refused_choice_is_said_on_the_pay_page_and_nothing_is_reviewed(
    alice: Membership, alice_client: Client, three: list[Invoice]
) -> None:
    first = three[0]
    credit_adjust(account=alice.account, amount=eur("21.00"), note="goodwill", by=None)  # type: ignore[arg-type]
    url = reverse("portal:invoice-pay", args=[first.number])
    response = alice_client.post(url, {"invoices": first.number, "method": "credit"})
    assert response.status_code == 400
    assert "Review your payment" not in text(response)
    assert "Your account credit (€21.00) does not cover €121.00." in text(response)
    assert nothing_paid() == (0, 0, 0)


# --- Saved cards -----------------------------------------------------------------------------


def saved(alice: Membership, client: Client, number: str, capture: Any) -> SavedPaymentMethod:
    response = save_card(client, alice, number, capture)
    if "/authenticate/" in response["Location"]:
        with capture(execute=True):
            client.post(response["Location"], {"decision": "approve"})
    return SavedPaymentMethod.objects.get(last4=number[-4:])


def test_the_pay_page_offers_the_default_and_other_saved_cards_but_not_expired_ones(
    alice: Membership, alice_client: Client, three: list[Invoice], django_capture_on_commit_callbacks: Any
) -> None:
    visa = saved(alice, alice_client, "4242424242424242", django_capture_on_commit_callbacks)
    mastercard = saved(alice, alice_client, "5555555555554444", django_capture_on_commit_callbacks)
    expired_card(alice.account)
    page = text(alice_client.get(reverse("portal:invoice-pay", args=[three[0].number])))
    assert "Visa •••• 4242, your default card Money received: Immediately" in page
    assert "Mastercard •••• 4444, saved card Money received: Immediately" in page
    assert "0069" not in page
    body = alice_client.get(reverse("portal:pay")).content.decode()
    codes = re.findall(r'name="method" value="([^"]+)"', body)
    assert codes == [f"saved-{visa.pk}", f"saved-{mastercard.pk}", "testcard", "bank_transfer"]
    assert re.search(rf'value="saved-{visa.pk}"[^>]*checked', body), "the default card is preselected"


def test_a_saved_card_pays_at_once_after_the_review(
    alice: Membership, alice_client: Client, three: list[Invoice], django_capture_on_commit_callbacks: Any
) -> None:
    visa = saved(alice, alice_client, "4242424242424242", django_capture_on_commit_callbacks)
    first = three[0]
    url = reverse("portal:invoice-pay", args=[first.number])
    review = alice_client.post(url, {"invoices": first.number, "method": f"saved-{visa.pk}"})
    assert "Method Visa •••• 4242" in text(review) and "Your saved card is charged when you confirm." in text(review)
    assert nothing_paid() == (0, 0, 0)
    confirm = {**review_fields(review), "confirm": "1"}
    response = alice_client.post(url, confirm)
    payment = Payment.objects.get()
    assert response["Location"] == reverse("portal:payment", args=[payment.public_id])
    assert (payment.status, payment.amount_minor, payment.saved_method_id) == (PaymentStatus.SUCCEEDED, 12100, visa.pk)
    assert "Payment received" in text(alice_client.get(response["Location"]))
    first.refresh_from_db()
    assert first.status == InvoiceStatus.PAID
    # Sent again: the same payment, charged once.
    assert alice_client.post(url, confirm)["Location"] == response["Location"]
    assert Payment.objects.count() == 1


def test_a_saved_card_whose_bank_asks_goes_through_the_extra_step(
    alice: Membership, alice_client: Client, three: list[Invoice], django_capture_on_commit_callbacks: Any
) -> None:
    card = saved(alice, alice_client, "4000002500003155", django_capture_on_commit_callbacks)
    first = three[0]
    url = reverse("portal:invoice-pay", args=[first.number])
    response = pay_confirmed(alice_client, url, {"invoices": first.number, "method": f"saved-{card.pk}"})
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert re.fullmatch(r"http://testserver/testcard/pay/[\w-]+/authenticate/", response["Location"])
    with django_capture_on_commit_callbacks(execute=True):
        back = alice_client.post(response["Location"], {"decision": "approve"})
    assert back["Location"] == f"http://testserver{reverse('portal:payment', args=[payment.public_id])}"
    payment.refresh_from_db()
    first.refresh_from_db()
    assert (payment.status, first.status) == (PaymentStatus.SUCCEEDED, InvoiceStatus.PAID)


def test_another_accounts_saved_card_cannot_be_chosen(
    alice_client: Client, bob: Membership, three: list[Invoice]
) -> None:
    theirs = SavedPaymentMethod.objects.create(
        account=bob.account,
        gateway="testcard",
        token="card_bob",
        brand="Visa",
        last4="1111",
        exp_month=12,
        exp_year=2039,
    )
    first = three[0]
    url = reverse("portal:invoice-pay", args=[first.number])
    response = alice_client.post(url, {"invoices": first.number, "method": f"saved-{theirs.pk}"})
    assert response.status_code == 400 and "1111" not in response.content.decode()
    assert nothing_paid() == (0, 0, 0)


# --- The banner asking to replace a card -----------------------------------------------------


def test_the_expired_card_banner_goes_once_a_valid_default_card_exists(
    alice: Membership, alice_client: Client, billing_setup: None, django_capture_on_commit_callbacks: Any
) -> None:
    old = expired_card(alice.account, is_default=True)
    dashboard = alice_client.get(reverse("portal:dashboard")).content.decode()
    assert 'id="card-prompt"' in dashboard and "Your card Visa •••• 0069 has expired." in dashboard
    # A valid card that is not the default: automatic payment still charges the expired one.
    spare = SavedPaymentMethod.objects.create(
        account=alice.account,
        gateway="testcard",
        token="card_spare",
        brand="Visa",
        last4="1881",
        exp_month=12,
        exp_year=2039,
    )
    assert 'id="card-prompt"' in alice_client.get(reverse("portal:dashboard")).content.decode()
    # A new card given on the processor's page replaces the expired default.
    new = saved(alice, alice_client, "4242424242424242", django_capture_on_commit_callbacks)
    assert (new.is_default, spare.is_default) == (True, False)
    for page in ("portal:dashboard", "portal:payment-methods"):
        assert 'id="card-prompt"' not in alice_client.get(reverse(page)).content.decode(), page
    # The expired card is still listed, flagged, on the payment methods page.
    methods = alice_client.get(reverse("portal:payment-methods")).content.decode()
    assert "Visa •••• 0069" in methods and "This card has expired" in methods
    old.refresh_from_db()
    assert old.removed_at is None
