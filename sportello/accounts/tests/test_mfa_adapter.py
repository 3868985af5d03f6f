import pytest
from allauth.mfa.models import Authenticator

from sportello.accounts.mfa import MFAAdapter
from sportello.accounts.models import Account
from sportello.accounts.tasks import prune_sessions


@pytest.mark.django_db
def test_the_last_second_factor_stays_while_two_factors_are_required(alice):
    totp = Authenticator.objects.create(user=alice.user, type=Authenticator.Type.TOTP, data={})
    adapter = MFAAdapter()
    assert adapter.can_delete_authenticator(totp) is True  # not required: free to remove
    Account.objects.filter(pk=alice.account_id).update(require_mfa=True)
    assert adapter.can_delete_authenticator(totp) is False
    passkey = Authenticator.objects.create(user=alice.user, type=Authenticator.Type.WEBAUTHN, data={})
    assert adapter.can_delete_authenticator(totp) is True
    assert adapter.can_delete_authenticator(passkey) is True


@pytest.mark.django_db
def test_rows_of_ended_sessions_are_pruned_daily(alice):
    import datetime as dt

    from django.contrib.sessions.models import Session

    from sportello.accounts.models import UserSession

    moment = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
    Session.objects.create(session_key="live", session_data="", expire_date=moment + dt.timedelta(days=1))
    Session.objects.create(session_key="expired", session_data="", expire_date=moment - dt.timedelta(days=2))
    for key in ("live", "expired", "ended"):
        UserSession.objects.create(session_key=key, user=alice.user, created_at=moment, last_seen=moment)
    assert prune_sessions.call(as_of="2026-03-10") == 2
    assert list(UserSession.objects.values_list("session_key", flat=True)) == ["live"]
