import pytest

from sportello.accounts.errors import AlreadyMember, InvalidAccountData
from sportello.accounts.models import Account, Area, Membership, Role, User
from sportello.accounts.services import account_create, membership_add, user_set_language
from sportello.core.models import AuditEvent


@pytest.mark.django_db
def test_it_numbers_accounts_and_records_their_creation():
    first = account_create(name="  Uno S.L. ", country="es", currency="eur", language="es", time_zone="Europe/Madrid")
    second = account_create(name="Due S.r.l.", country="IT", currency="EUR", language="it", time_zone="Europe/Rome")
    assert (first.name, first.country, first.currency) == ("Uno S.L.", "ES", "EUR")
    assert [first.reference, second.reference] == [f"C-{first.pk:05d}", f"C-{second.pk:05d}"]
    assert list(AuditEvent.objects.order_by("id").values_list("action", "account_id")) == [
        ("account.created", first.pk),
        ("account.created", second.pk),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": " "}, "name"),
        ({"country": "ESP"}, "country"),
        ({"currency": "EUX"}, "currency"),
        ({"currency": "XAU"}, "currency"),
        ({"language": "fr"}, "language"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ],
)
def test_it_refuses_bad_account_data_and_creates_nothing(fields, field):
    arguments = {"name": "Valid S.L.", "country": "ES", "currency": "EUR", "language": "es", "time_zone": "UTC"}
    arguments.update(fields)
    with pytest.raises(InvalidAccountData) as raised:
        account_create(**arguments)
    assert raised.value.field == field
    assert Account.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_roles_open_their_areas(alice):
    user = User.objects.create_user("carla@example.org", "x" * 12)
    cases = {
        Role.OWNER: {"billing", "services", "domains", "support", "orders", "contacts"},
        Role.FINANCE: {"billing", "orders", "support"},
        Role.TECHNICAL: {"services", "domains", "support", "orders"},
        Role.READ_ONLY: {"billing", "services", "domains", "support"},
    }
    for role, areas in cases.items():
        Membership.objects.filter(user=user).delete()
        membership = membership_add(account=alice.account, user=user, role=role)
        assert membership.areas == areas
        assert membership.can_change is (role != Role.READ_ONLY)
    Membership.objects.filter(user=user).delete()
    custom = membership_add(account=alice.account, user=user, role=Role.CUSTOM, custom_areas=["support", "billing"])
    assert custom.areas == {"billing", "support"}
    assert custom.custom_areas == ["billing", "support"]
    assert custom.area_labels == ["Billing", "Support"]
    assert not custom.has_area(Area.SERVICES)


@pytest.mark.django_db
def test_it_refuses_a_second_membership_and_unknown_roles(alice):
    before = list(Membership.objects.values_list("pk", "role"))
    with pytest.raises(AlreadyMember):
        membership_add(account=alice.account, user=alice.user, role=Role.READ_ONLY)
    with pytest.raises(InvalidAccountData):
        membership_add(account=alice.account, user=alice.user, role="emperor")
    with pytest.raises(InvalidAccountData):
        membership_add(account=alice.account, user=alice.user, role=Role.CUSTOM, custom_areas=["everything"])
    assert list(Membership.objects.values_list("pk", "role")) == before


@pytest.mark.django_db
def test_emails_are_unique_whatever_their_case(alice):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("ALICE@Example.org", "x" * 12)
    assert User.objects.get(email="alice@example.org") == alice.user


@pytest.mark.django_db
def test_it_saves_the_language(alice):
    user_set_language(user=alice.user, language="pt-br")
    alice.user.refresh_from_db()
    assert alice.user.language == "pt-br"
    with pytest.raises(InvalidAccountData):
        user_set_language(user=alice.user, language="klingon")
    alice.user.refresh_from_db()
    assert alice.user.language == "pt-br"
