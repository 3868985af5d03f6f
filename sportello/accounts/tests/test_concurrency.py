"""Races on PostgreSQL: an invitation is accepted once, whoever clicks first."""

import threading

import pytest
from django.db import connection

from sportello.accounts.errors import AccountsError
from sportello.accounts.models import Membership, Role, User
from sportello.accounts.services import invitation_accept, invitation_create
from sportello.core.time import utc_now


@pytest.mark.django_db(transaction=True)
def test_an_invitation_is_accepted_once_under_concurrency(on_postgresql, alice):
    _, secret = invitation_create(acting=alice, email="twin@example.org", role=Role.FINANCE, now=utc_now())
    twin = User.objects.create_user("twin@example.org", "x" * 12)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def accept() -> None:
        try:
            barrier.wait(timeout=30)
            invitation_accept(secret=secret, user=twin, now=utc_now())
            outcomes.append("accepted")
        except AccountsError as refused:
            outcomes.append(type(refused).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["InvitationInvalid"] * 5 + ["accepted"]
    assert Membership.objects.filter(user=twin, account=alice.account).count() == 1
