import pytest

from sportello.core.models import AppendOnlyError, AuditEvent
from sportello.core.services import audit_record


@pytest.mark.django_db
def test_the_audit_log_is_append_only(alice):
    event = audit_record(action="user.login", actor=alice.user, account=alice.account, ip_address="192.0.2.7")
    event.action = "user.logout"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.actor, stored.ip_address) == ("user.login", alice.user, "192.0.2.7")
    assert stored.action_label == "Logged in"
