from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sportello.catalog.models import Cycle
from sportello.core.models import AppendOnlyError
from sportello.services.models import ProvisioningTask, Service, ServiceEvent, ServiceStatus, UsageRecord
from sportello.services.provisioning import provisioning_task_record, provisioning_tasks_backfill
from sportello.services.selectors import services_visible_to
from sportello.services.services import service_activate, service_create, service_suspend, usage_record

from .conftest import service_in

pytestmark = pytest.mark.django_db


def test_bob_never_sees_alices_services_events_or_usage(alice, bob, catalog):
    mine = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    service_suspend(service=mine, reason="abuse report")
    usage_record(
        service=mine,
        metric="traffic_gb",
        quantity=Decimal(1),
        at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        idempotency_key="a",
    )
    his = service_in(bob.account, catalog.prices[("basic", "BRL", Cycle.MONTHLY)], ServiceStatus.ACTIVE)

    assert list(Service.objects.visible_to(bob)) == [his]
    assert list(services_visible_to(membership=bob)) == [his]
    assert not services_visible_to(membership=bob).filter(pk=mine.pk).exists()
    assert ServiceEvent.objects.visible_to(bob).count() == 0
    assert UsageRecord.objects.visible_to(bob).count() == 0
    assert list(services_visible_to(membership=alice)) == [mine]
    assert ServiceEvent.objects.visible_to(alice).count() == 1


def test_events_and_usage_are_append_only(alice, catalog):
    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    event = service_suspend(service=service, reason="abuse").events.get()
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        ServiceEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        ServiceEvent.objects.filter(pk=event.pk).delete()
    assert ServiceEvent.objects.get(pk=event.pk).reason == "abuse"


def test_a_provisioning_task_is_asked_for_after_commit_once(alice, catalog, django_capture_on_commit_callbacks):
    service = service_create(
        account=alice.account, price_version=catalog.prices[("basic", "EUR", Cycle.MONTHLY)], as_of=dt.date(2026, 1, 1)
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        service_activate(service=service, as_of=dt.date(2026, 1, 1))
    assert ProvisioningTask.objects.count() == 0  # nothing before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    callbacks[0]()  # a hook run twice
    task = ProvisioningTask.objects.get()
    event = ServiceEvent.objects.get(service=service, transition="activate")
    assert (task.service, task.event, task.module, task.action, task.status) == (
        service,
        event,
        "manual",
        "create",
        "pending",
    )
    assert provisioning_task_record(service_id=service.pk, event_id=event.pk, module="manual", action="create") == task


def test_the_backfill_records_tasks_whose_hook_never_ran(alice, catalog):
    since = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    # Outside django_capture_on_commit_callbacks the test's transaction never commits: hooks never run.
    service_suspend(service=service, reason="late payment")
    assert ProvisioningTask.objects.count() == 0
    assert provisioning_tasks_backfill(since=since) == 1
    assert provisioning_tasks_backfill(since=since) == 0
    assert list(ProvisioningTask.objects.values_list("action", flat=True)) == ["suspend"]
