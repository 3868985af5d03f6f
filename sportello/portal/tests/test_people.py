"""Users and contacts in the client area: members, invitations, contacts, account details.

Every refused path checks that nothing changed: the account's memberships, contacts,
invitations and details are compared row by row before and after.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from sportello.accounts.models import ROLE_AREAS, Account, Area, Contact, Invitation, Membership, Role, User
from sportello.accounts.services import contact_create, invitation_create, membership_add
from sportello.core.time import utc_now
from sportello.notifications.models import EmailLog

PASSWORD = "x" * 12


def member(account: Account, email: str, role: str, areas: list[str] | None = None) -> Membership:
    user = User.objects.create_user(email, PASSWORD, full_name=email.split("@")[0].title())
    return membership_add(account=account, user=user, role=role, custom_areas=areas or [])


def finance_with_contacts(account: Account) -> Membership:
    """A finance member whose custom role also lets her manage people."""
    return member(account, "fiona@example.org", Role.CUSTOM, ["billing", "contacts", "orders", "support"])


def accountant(account: Account, by: Membership) -> Contact:
    return contact_create(
        account=account,
        name="Ana Contable",
        email="ana@example.org",
        phone="+34 600 000 000",
        topics=["invoices", "receipts"],
        acting=by,
        by=by.user,
    )


def invite(by: Membership, email: str = "dana@example.org", role: str = Role.FINANCE) -> Invitation:
    return invitation_create(acting=by, email=email, role=role, now=utc_now())[0]


def state(account: Account) -> dict[str, Any]:
    """Everything these pages can change in an account, row by row."""
    return {
        "account": Account.objects.filter(pk=account.pk).values().get(),
        "memberships": list(
            Membership.objects.filter(account=account)
            .order_by("pk")
            .values_list("pk", "user_id", "role", "custom_areas")
        ),
        "contacts": list(
            Contact.objects.filter(account=account)
            .order_by("pk")
            .values_list("pk", "user_id", "name", "email", "phone", "topics", "is_billing_default")
        ),
        "invitations": list(
            Invitation.objects.filter(account=account)
            .order_by("pk")
            .values_list("pk", "email", "role", "custom_areas", "accepted_at", "revoked_at")
        ),
    }


def body_of(response: Any) -> str:
    return response.content.decode()


# --- The people page --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_owner_sees_members_invitations_and_contacts(alice_client, alice, bob):
    carla = member(alice.account, "carla@example.org", Role.FINANCE)
    ana = accountant(alice.account, alice)
    invitation = invite(alice)
    response = alice_client.get(reverse("portal:people"))
    assert response.status_code == 200
    body = body_of(response)
    for text in ("alice@example.org", "carla@example.org", "Carla", "Finance", "Billing, Support, Orders"):
        assert text in body
    assert '<span class="badge badge-you">you</span>' in body
    assert "dana@example.org" in body
    assert reverse("portal:invitation-revoke", args=[invitation.pk]) in body
    for text in ("Ana Contable", "ana@example.org", "+34 600 000 000", "Invoices, Payment receipts"):
        assert text in body
    # Actions on others, none on oneself.
    assert reverse("portal:member-edit", args=[carla.pk]) in body
    assert reverse("portal:member-remove", args=[carla.pk]) in body
    assert reverse("portal:member-edit", args=[alice.pk]) not in body
    assert reverse("portal:member-remove", args=[alice.pk]) not in body
    assert reverse("portal:contact-edit", args=[ana.pk]) in body
    assert reverse("portal:contact-delete", args=[ana.pk]) in body
    assert reverse("portal:contact-billing-default", args=[ana.pk]) in body
    assert f'action="{reverse("portal:invitation-create")}"' in body
    assert f'action="{reverse("portal:contact-create")}"' in body
    assert f'href="{reverse("portal:people")}" aria-current="page"' in body
    for secret in ("bob@example.org", "Bob Tecnologia"):
        assert secret not in body


@pytest.mark.django_db
def test_the_invite_form_offers_only_what_the_member_holds(client, alice):
    fiona = finance_with_contacts(alice.account)
    client.force_login(fiona.user)
    body = body_of(client.get(reverse("portal:people")))
    for area in ("billing", "contacts", "orders", "support"):
        assert f'name="custom_areas" value="{area}"' in body
    for area in ("services", "domains"):
        assert f'name="custom_areas" value="{area}"' not in body
    assert '<option value="finance"' in body
    assert '<option value="custom"' in body
    for role in ("owner", "technical", "read_only"):
        assert f'<option value="{role}"' not in body
    # Fiona may not act on the owner; she may on a finance colleague.
    carla = member(alice.account, "carla@example.org", Role.FINANCE)
    body = body_of(client.get(reverse("portal:people")))
    assert reverse("portal:member-edit", args=[alice.pk]) not in body
    assert reverse("portal:member-edit", args=[carla.pk]) in body


# --- Invitations ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_invites_a_colleague_with_limited_rights(alice_client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            reverse("portal:invitation-create"),
            {"email": " Dana@Example.org", "role": "custom", "custom_areas": ["support", "billing"]},
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:people")
    invitation = Invitation.objects.get()
    assert (invitation.account, invitation.email, invitation.role, invitation.custom_areas) == (
        alice.account,
        "dana@example.org",
        Role.CUSTOM,
        ["billing", "support"],
    )
    assert invitation.invited_by == alice.user
    assert invitation.expires_at - invitation.created_at == dt.timedelta(days=7)
    assert [message.to for message in mail.outbox] == [["dana@example.org"]]
    assert "Alice Servicios S.L." in mail.outbox[0].body
    page = body_of(alice_client.get(reverse("portal:people")))
    assert "Invitation sent to dana@example.org. It is valid for 7 days." in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"email": "dana@example.org", "role": "custom", "custom_areas": ["services"]},
            "You cannot give access to areas you do not have yourself.",
        ),
        (
            {"email": "dana@example.org", "role": "technical"},
            "You cannot give access to areas you do not have yourself.",
        ),
        ({"email": "dana@example.org", "role": "owner"}, "Only an owner can make someone an owner."),
        ({"email": "dana@example.org", "role": "custom"}, "Choose at least one area for a custom role."),
        ({"email": "not-an-email", "role": "finance"}, "Enter a valid email address."),
        ({"email": "alice@example.org", "role": "finance"}, "This person is already a member of the account."),
    ],
)
def test_a_refused_invitation_shows_why_and_sends_nothing(
    client, alice, data, message, django_capture_on_commit_callbacks
):
    fiona = finance_with_contacts(alice.account)
    client.force_login(fiona.user)
    before = state(alice.account)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:invitation-create"), data)
    assert response.status_code == 200
    assert message in body_of(response)
    assert Invitation.objects.count() == 0
    assert EmailLog.objects.count() == 0
    assert mail.outbox == []
    assert state(alice.account) == before


@pytest.mark.django_db
def test_it_revokes_an_invitation(alice_client, alice):
    invitation = invite(alice)
    response = alice_client.post(reverse("portal:invitation-revoke", args=[invitation.pk]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    page = body_of(alice_client.get(reverse("portal:people")))
    assert "The invitation to dana@example.org was revoked." in page
    assert "No invitations are waiting for an answer." in page
    # Revoked once is gone: a second revoke finds nothing.
    assert alice_client.post(reverse("portal:invitation-revoke", args=[invitation.pk])).status_code == 404


@pytest.mark.django_db
def test_revoking_is_post_only(alice_client, alice):
    invitation = invite(alice)
    assert alice_client.get(reverse("portal:invitation-revoke", args=[invitation.pk])).status_code == 405
    assert Invitation.objects.get().revoked_at is None


# --- Members ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_owner_changes_a_members_role(alice_client, alice):
    carla = member(alice.account, "carla@example.org", Role.FINANCE)
    assert alice_client.get(reverse("portal:member-edit", args=[carla.pk])).status_code == 200
    response = alice_client.post(
        reverse("portal:member-edit", args=[carla.pk]), {"role": "custom", "custom_areas": ["billing"]}
    )
    assert response.status_code == 302
    carla.refresh_from_db()
    assert (carla.role, carla.custom_areas) == (Role.CUSTOM, ["billing"])
    assert "The role of Carla was changed." in body_of(alice_client.get(reverse("portal:people")))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "finance_with_contacts"])
def test_nobody_promotes_themselves(client, alice, who):
    acting = alice if who == "owner" else finance_with_contacts(alice.account)
    client.force_login(acting.user)
    page = body_of(client.get(reverse("portal:member-edit", args=[acting.pk])))
    assert "You cannot change your own role; ask another owner." in page
    assert 'name="role"' not in page
    before = state(alice.account)
    response = client.post(reverse("portal:member-edit", args=[acting.pk]), {"role": "owner"}, follow=True)
    assert response.redirect_chain == [(reverse("portal:people"), 302)]
    assert "You cannot change your own role; ask another owner." in body_of(response)
    assert state(alice.account) == before


@pytest.mark.django_db
def test_a_non_owner_cannot_make_someone_owner(client, alice):
    everything = member(alice.account, "eva@example.org", Role.CUSTOM, list(Area.values))
    carla = member(alice.account, "carla@example.org", Role.FINANCE)
    client.force_login(everything.user)
    before = state(alice.account)
    response = client.post(reverse("portal:member-edit", args=[carla.pk]), {"role": "owner"})
    assert response.status_code == 200
    assert "Only an owner can make someone an owner." in body_of(response)
    assert state(alice.account) == before


@pytest.mark.django_db
def test_a_non_owner_cannot_change_or_remove_an_owner(client, alice):
    everything = member(alice.account, "eva@example.org", Role.CUSTOM, list(Area.values))
    client.force_login(everything.user)
    before = state(alice.account)
    edit = body_of(client.get(reverse("portal:member-edit", args=[alice.pk])))
    assert "Only an owner can change another owner." in edit
    confirm = body_of(client.get(reverse("portal:member-remove", args=[alice.pk])))
    assert "Only an owner can remove another owner." in confirm
    for name, data in (("portal:member-edit", {"role": "finance"}), ("portal:member-remove", {})):
        response = client.post(reverse(name, args=[alice.pk]), data, follow=True)
        assert response.redirect_chain == [(reverse("portal:people"), 302)]
        assert "Only an owner can change or remove another owner." in body_of(response)
    assert state(alice.account) == before


@pytest.mark.django_db
def test_the_last_owner_cannot_be_demoted_or_removed(alice_client, alice):
    before = state(alice.account)
    demoted = alice_client.post(reverse("portal:member-edit", args=[alice.pk]), {"role": "finance"}, follow=True)
    assert "You cannot change your own role; ask another owner." in body_of(demoted)
    removed = alice_client.post(reverse("portal:member-remove", args=[alice.pk]), follow=True)
    assert removed.redirect_chain == [(reverse("portal:people"), 302)]
    assert "An account must keep at least one owner." in body_of(removed)
    assert state(alice.account) == before


@pytest.mark.django_db
def test_the_owner_removes_a_member_after_confirming(alice_client, alice):
    carla = member(alice.account, "carla@example.org", Role.FINANCE)
    confirm = alice_client.get(reverse("portal:member-remove", args=[carla.pk]))
    assert confirm.status_code == 200
    assert "<h1>Remove Carla from this account?</h1>" in body_of(confirm)
    assert Membership.objects.filter(pk=carla.pk).exists()
    response = alice_client.post(reverse("portal:member-remove", args=[carla.pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=carla.pk).exists()
    assert not Contact.objects.filter(user=carla.user).exists()
    assert User.objects.filter(email="carla@example.org").exists()
    assert "Carla no longer has access to this account." in body_of(alice_client.get(reverse("portal:people")))


@pytest.mark.django_db
def test_the_member_who_receives_invoices_is_not_removed(alice_client, alice):
    olga = member(alice.account, "olga@example.org", Role.FINANCE)
    olga_contact = Contact.objects.get(user=olga.user)
    assert alice_client.post(reverse("portal:contact-billing-default", args=[olga_contact.pk])).status_code == 302
    page = body_of(alice_client.get(reverse("portal:people")))
    assert reverse("portal:member-remove", args=[olga.pk]) not in page
    before = state(alice.account)
    response = alice_client.post(reverse("portal:member-remove", args=[olga.pk]), follow=True)
    assert "This person receives the invoices: choose another default billing contact first." in body_of(response)
    assert state(alice.account) == before


# --- Contacts ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_adds_edits_and_deletes_a_contact(alice_client, alice):
    response = alice_client.post(
        reverse("portal:contact-create"),
        {"name": " Ana Contable ", "email": "Ana@Example.org", "phone": "+34 600", "topics": ["receipts", "invoices"]},
    )
    assert response.status_code == 302
    ana = Contact.objects.get(email="ana@example.org")
    assert (ana.account, ana.user, ana.name, ana.phone, ana.topics, ana.is_billing_default) == (
        alice.account,
        None,
        "Ana Contable",
        "+34 600",
        ["invoices", "receipts"],
        False,
    )
    assert alice_client.get(reverse("portal:contact-edit", args=[ana.pk])).status_code == 200
    response = alice_client.post(
        reverse("portal:contact-edit", args=[ana.pk]), {"name": "Ana G.", "phone": "", "topics": ["marketing"]}
    )
    assert response.status_code == 302
    ana.refresh_from_db()
    assert (ana.name, ana.email, ana.phone, ana.topics) == ("Ana G.", "ana@example.org", "", ["marketing"])
    confirm = alice_client.get(reverse("portal:contact-delete", args=[ana.pk]))
    assert "<h1>Delete the contact Ana G.?</h1>" in body_of(confirm)
    response = alice_client.post(reverse("portal:contact-delete", args=[ana.pk]))
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=ana.pk).exists()
    assert "The contact Ana G. was deleted." in body_of(alice_client.get(reverse("portal:people")))


@pytest.mark.django_db
def test_a_contact_email_is_unique_in_the_account(alice_client, alice):
    accountant(alice.account, alice)
    before = state(alice.account)
    response = alice_client.post(
        reverse("portal:contact-create"), {"name": "Ana Bis", "email": "ANA@example.org", "topics": ["invoices"]}
    )
    assert response.status_code == 200
    assert "A contact with this email address already exists." in body_of(response)
    assert state(alice.account) == before


@pytest.mark.django_db
def test_it_moves_the_default_billing_contact_and_keeps_it(alice_client, alice):
    ana = accountant(alice.account, alice)
    response = alice_client.post(reverse("portal:contact-billing-default", args=[ana.pk]))
    assert response.status_code == 302
    assert list(Contact.objects.filter(account=alice.account).values_list("email", "is_billing_default")) == [
        ("ana@example.org", True),
        ("alice@example.org", False),
    ]
    assert "Invoices will now be sent to Ana Contable." in body_of(alice_client.get(reverse("portal:people")))
    confirm = body_of(alice_client.get(reverse("portal:contact-delete", args=[ana.pk])))
    assert "This contact receives the invoices: choose another default billing contact first." in confirm
    before = state(alice.account)
    response = alice_client.post(reverse("portal:contact-delete", args=[ana.pk]), follow=True)
    assert response.redirect_chain == [(reverse("portal:people"), 302)]
    assert "This person receives the invoices: choose another default billing contact first." in body_of(response)
    assert state(alice.account) == before


@pytest.mark.django_db
def test_a_member_without_billing_does_not_choose_who_receives_invoices(client, alice):
    tech = member(alice.account, "tomas@example.org", Role.CUSTOM, ["contacts", "services"])
    ana = accountant(alice.account, alice)
    client.force_login(tech.user)
    assert reverse("portal:contact-billing-default", args=[ana.pk]) not in body_of(client.get(reverse("portal:people")))
    before = state(alice.account)
    response = client.post(reverse("portal:contact-billing-default", args=[ana.pk]), follow=True)
    assert "Only a member with access to billing can choose who receives invoices." in body_of(response)
    assert state(alice.account) == before


# --- The account's details --------------------------------------------------------------------


def details(**changes: str) -> dict[str, str]:
    data = {
        "address_line1": "Calle Mayor 1",
        "address_line2": "3º B",
        "postal_code": "28013",
        "city": "Madrid",
        "region": "Madrid",
        "language": "es",
        "time_zone": "Atlantic/Canary",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_it_edits_the_account_details(alice_client, alice):
    page = body_of(alice_client.get(reverse("portal:account-edit")))
    for text in ("Alice Servicios S.L.", "ESB12345674", "EUR", f"only {settings.PROVIDER_NAME} can change them"):
        assert text in page
    response = alice_client.post(reverse("portal:account-edit"), details())
    assert response.status_code == 302
    account = Account.objects.get(pk=alice.account_id)
    assert (
        account.address_line1,
        account.address_line2,
        account.postal_code,
        account.city,
        account.region,
        account.language,
        account.time_zone,
    ) == ("Calle Mayor 1", "3º B", "28013", "Madrid", "Madrid", "es", "Atlantic/Canary")
    # The legal identity is not on the form and does not move.
    assert (account.name, account.vat_id, account.country, account.currency) == (
        "Alice Servicios S.L.",
        "ESB12345674",
        "ES",
        "EUR",
    )


@pytest.mark.django_db
def test_a_bad_time_zone_is_shown_next_to_the_field(alice_client, alice):
    before = state(alice.account)
    response = alice_client.post(reverse("portal:account-edit"), details(time_zone="Mars/Olympus"))
    assert response.status_code == 200
    assert '<p class="field-error" id="id_time_zone_error">Enter a time zone such as Europe/Madrid.</p>' in body_of(
        response
    )
    assert state(alice.account) == before


@pytest.mark.django_db
def test_the_legal_name_cannot_be_posted_in(alice_client, alice):
    before = state(alice.account)
    response = alice_client.post(reverse("portal:account-edit"), {**details(), "name": "Other S.L.", "vat_id": ""})
    assert response.status_code == 302
    account = Account.objects.get(pk=alice.account_id)
    assert (account.name, account.vat_id) == (before["account"]["name"], before["account"]["vat_id"])


# --- Who may see these pages ------------------------------------------------------------------


def page_urls() -> list[tuple[str, str]]:
    """The URLs of these pages that name no object, and the methods they answer."""
    return [
        (reverse("portal:people"), "get"),
        (reverse("portal:invitation-create"), "post"),
        (reverse("portal:contact-create"), "post"),
        (reverse("portal:account-edit"), "get"),
        (reverse("portal:account-edit"), "post"),
    ]


def object_urls(membership_id: int, invitation_id: int, contact_id: int) -> list[tuple[str, str]]:
    """The URLs of these pages that name a member, an invitation or a contact."""
    return [
        (reverse("portal:member-edit", args=[membership_id]), "get"),
        (reverse("portal:member-edit", args=[membership_id]), "post"),
        (reverse("portal:member-remove", args=[membership_id]), "get"),
        (reverse("portal:member-remove", args=[membership_id]), "post"),
        (reverse("portal:invitation-revoke", args=[invitation_id]), "post"),
        (reverse("portal:contact-edit", args=[contact_id]), "get"),
        (reverse("portal:contact-edit", args=[contact_id]), "post"),
        (reverse("portal:contact-delete", args=[contact_id]), "get"),
        (reverse("portal:contact-delete", args=[contact_id]), "post"),
        (reverse("portal:contact-billing-default", args=[contact_id]), "post"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.FINANCE, Role.TECHNICAL, Role.READ_ONLY])
def test_a_member_without_the_contacts_right_gets_404_everywhere(client, alice, role):
    carla = member(alice.account, "carla@example.org", role)
    ana = accountant(alice.account, alice)
    invitation = invite(alice)
    client.force_login(carla.user)
    before = state(alice.account)
    for path, method in [*page_urls(), *object_urls(alice.pk, invitation.pk, ana.pk)]:
        data = {"role": "owner", "email": "x@example.org", "name": "X", "topics": ["invoices"], **details()}
        response = getattr(client, method)(path, data if method == "post" else None)
        assert response.status_code == 404, (path, method)
    assert state(alice.account) == before


@pytest.mark.django_db
def test_the_tab_shows_only_for_the_contacts_right(client, alice):
    carla = member(alice.account, "carla@example.org", Role.FINANCE)
    people = f'href="{reverse("portal:people")}"'
    client.force_login(carla.user)
    assert people not in body_of(client.get(reverse("portal:email-preferences")))
    client.force_login(alice.user)
    assert people in body_of(client.get(reverse("portal:email-preferences")))


@pytest.mark.django_db
def test_another_accounts_members_invitations_and_contacts_answer_404(alice_client, alice, bob):
    bob_member = member(bob.account, "bruna@example.org", Role.FINANCE)
    bob_contact = accountant(bob.account, bob)
    bob_invitation = invite(bob, email="beto@example.org")
    before = state(bob.account)
    for membership_id in (bob.pk, bob_member.pk):
        for path, method in object_urls(membership_id, bob_invitation.pk, bob_contact.pk):
            data = {"role": "read_only", "name": "Mallory", "topics": ["marketing"]}
            response = getattr(alice_client, method)(path, data if method == "post" else None)
            assert response.status_code == 404, (path, method)
    bob_own_contact = Contact.objects.get(user=bob.user)
    for name in ("portal:contact-edit", "portal:contact-delete", "portal:contact-billing-default"):
        assert alice_client.post(reverse(name, args=[bob_own_contact.pk]), {"name": "M"}).status_code == 404
    assert state(bob.account) == before


@pytest.mark.django_db
def test_a_read_only_member_is_kept_out_as_the_roles_stand(client, alice):
    reader = member(alice.account, "rita@example.org", Role.READ_ONLY)
    client.force_login(reader.user)
    assert client.get(reverse("portal:people")).status_code == 404


@pytest.mark.django_db
def test_a_read_only_member_with_the_contacts_area_sees_lists_and_changes_nothing(client, alice, monkeypatch):
    """Read-only does not open the contacts area today; were it given it, the pages must
    still show no forms and every attempt must be refused by the services."""
    monkeypatch.setitem(ROLE_AREAS, Role.READ_ONLY, ROLE_AREAS[Role.READ_ONLY] | {Area.CONTACTS})
    reader = member(alice.account, "rita@example.org", Role.READ_ONLY)
    carla = member(alice.account, "carla@example.org", Role.FINANCE)
    ana = accountant(alice.account, alice)
    invitation = invite(alice)
    client.force_login(reader.user)
    page = client.get(reverse("portal:people"))
    assert page.status_code == 200
    body = body_of(page)
    for text in ("carla@example.org", "ana@example.org", "dana@example.org"):
        assert text in body
    assert "<form" not in body.split('<main id="main"')[1]
    for edit_page in (
        reverse("portal:member-edit", args=[carla.pk]),
        reverse("portal:contact-edit", args=[ana.pk]),
        reverse("portal:account-edit"),
    ):
        response = client.get(edit_page)
        assert response.status_code == 200
        assert 'method="post"' not in body_of(response).split('<main id="main"')[1]
    before = state(alice.account)
    posts = [
        (reverse("portal:invitation-create"), {"email": "x@example.org", "role": "finance"}),
        (reverse("portal:contact-create"), {"name": "X", "email": "x@example.org", "topics": ["invoices"]}),
        (reverse("portal:member-edit", args=[carla.pk]), {"role": "read_only"}),
        (reverse("portal:member-remove", args=[carla.pk]), {}),
        (reverse("portal:invitation-revoke", args=[invitation.pk]), {}),
        (reverse("portal:contact-edit", args=[ana.pk]), {"name": "X", "topics": ["marketing"]}),
        (reverse("portal:contact-delete", args=[ana.pk]), {}),
        (reverse("portal:contact-billing-default", args=[ana.pk]), {}),
        (reverse("portal:account-edit"), details()),
    ]
    for path, data in posts:
        response = client.post(path, data, follow=True)
        assert response.status_code == 200, path
        assert response.redirect_chain[0][1] == 302, path
        assert "You cannot manage users and contacts of this account." in body_of(response), path
    assert state(alice.account) == before
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_role_the_member_cannot_give_stays_selected_and_is_refused_unchanged(client, alice):
    fiona = finance_with_contacts(alice.account)
    tomas = member(alice.account, "tomas@example.org", Role.TECHNICAL)
    client.force_login(fiona.user)
    page = body_of(client.get(reverse("portal:member-edit", args=[tomas.pk])))
    assert '<option value="technical" selected>Technical</option>' in page
    assert '<option value="owner"' not in page
    before = state(alice.account)
    response = client.post(reverse("portal:member-edit", args=[tomas.pk]), {"role": "technical"})
    assert response.status_code == 200
    assert "You cannot give access to areas you do not have yourself." in body_of(response)
    assert state(alice.account) == before
