import pytest

from sportello.accounts.models import Account, Contact, Membership, User
from sportello.demo.billing_documents import DEMO_REFUND_REASON as REFUNDED
from sportello.demo.data import DEMO_PASSWORD, DemoRefused, demo_load


@pytest.mark.django_db
def test_it_refuses_without_debug_or_sportello_demo(settings):
    settings.DEBUG = False
    settings.SPORTELLO_DEMO = False
    with pytest.raises(DemoRefused, match="SPORTELLO_DEMO"):
        demo_load()
    assert User.objects.count() == 0
    assert Account.objects.count() == 0


@pytest.mark.django_db
def test_it_loads_three_customers_in_their_currencies_and_is_idempotent(settings):
    settings.SPORTELLO_DEMO = True
    assert demo_load() == {
        "accounts": 3,
        "users": 11,
        "memberships": 11,
        "contacts": 2,
        "invitations": 2,
        "products": 2,
        "services": 19,
        "usage_records": 12,
        "invoices": 31,
        "credit_notes": 12,
        "support_requests": 9,
        "articles": 6,
        "shared_files": 3,
        "orders": 3,
        "promo_codes": 1,
        "payments": 13,
        "saved_cards": 3,
    }
    assert demo_load() == {
        "accounts": 0,
        "users": 0,
        "memberships": 0,
        "contacts": 0,
        "invitations": 0,
        "products": 0,
        "services": 0,
        "usage_records": 0,
        "invoices": 0,
        "credit_notes": 0,
        "support_requests": 0,
        "articles": 0,
        "shared_files": 0,
        "orders": 0,
        "promo_codes": 0,
        "payments": 0,
        "saved_cards": 0,
    }
    assert sorted(Account.objects.values_list("country", "currency", "language")) == [
        ("BR", "BRL", "pt-br"),
        ("ES", "EUR", "es"),
        ("IT", "EUR", "it"),
    ]
    for email in ["ana@example.com", "bruno@example.com", "chiara@example.com", "admin@example.com"]:
        assert User.objects.get(email=email).check_password(DEMO_PASSWORD)
    assert User.objects.get(email="admin@example.com").is_staff
    roles = {(m.user.email, m.account.country): m.role for m in Membership.objects.select_related("user", "account")}
    assert roles[("ana@example.com", "ES")] == "owner"
    assert roles[("ana@example.com", "IT")] == "technical"
    assert roles[("diego@example.com", "ES")] == "technical"
    assert len(set(roles.values())) == 5  # every role is shown somewhere
    assert not User.objects.get(email="sofia@example.com").has_usable_password()
    assert Contact.objects.filter(is_billing_default=True).count() == 3
    # The demo's credit notes come from the credit-note service (directly, through the
    # cancellation of an invoice and through the refund of a payment): each corrects its
    # invoice, is settled (never left open to pay), and settles what the invoice still owed.
    from sportello.billing.credit_notes import credit_note_applied_minor, credit_note_unapplied_minor
    from sportello.billing.models import Invoice

    notes = Invoice.objects.filter(kind="credit_note", corrects__source="manual").order_by("account__name", "pk")
    assert [
        (
            note.account.currency,
            note.status,
            note.corrects.status,
            note.total_minor,
            credit_note_applied_minor(credit_note=note),
            credit_note_unapplied_minor(credit_note=note),
            note.notes.split(" — ")[0],
        )
        for note in notes.select_related("account", "corrects")
    ] == [
        ("BRL", "paid", "paid", 24500, 24500, 0, "Cancelled: SSL certificate, 1 year"),
        ("BRL", "paid", "cancelled", 15000, 15000, 0, "Ordered by mistake"),
        ("BRL", "paid", "paid", 990, 0, 990, "Service credit for downtime: backups"),
        ("BRL", "paid", "refunded", 12000, 12000, 0, REFUNDED),
        ("EUR", "paid", "paid", 5929, 5929, 0, "Cancelled: SSL certificate, 1 year"),
        ("EUR", "paid", "cancelled", 3630, 3630, 0, "Ordered by mistake"),
        ("EUR", "paid", "paid", 242, 0, 242, "Service credit for downtime: backups"),
        ("EUR", "paid", "refunded", 2904, 2904, 0, REFUNDED),
        ("EUR", "paid", "paid", 4900, 4900, 0, "Cancelled: SSL certificate, 1 year"),
        ("EUR", "paid", "cancelled", 3000, 3000, 0, "Ordered by mistake"),
        ("EUR", "paid", "paid", 200, 0, 200, "Service credit for downtime: backups"),
        ("EUR", "paid", "refunded", 2400, 2400, 0, REFUNDED),
    ]
    assert all(note.lines.filter(corrects_line__invoice=note.corrects).count() == note.lines.count() for note in notes)
