"""Races on PostgreSQL: two transitions of one service, at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from sportello.catalog.models import Cycle
from sportello.services.errors import ServicesError
from sportello.services.models import Service, ServiceEvent, ServiceStatus
from sportello.services.services import service_suspend, service_terminate

from .conftest import service_in


def race(*moves: Callable[[], object]) -> list[str]:
    barrier = threading.Barrier(len(moves))
    outcomes: list[str] = []

    def run(move: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            move()
            outcomes.append("done")
        except ServicesError as refused:
            outcomes.append(type(refused).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(move,)) for move in moves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def assert_events_tell_the_story(service: Service) -> list[str]:
    """Each event starts where the previous one ended, and the last one ends at the stored status."""
    events = list(ServiceEvent.objects.filter(service=service).order_by("id"))
    status = ServiceStatus.ACTIVE
    for event in events:
        assert event.from_status == status
        status = event.to_status
    assert Service.objects.get(pk=service.pk).status == status
    return [event.transition for event in events]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_suspend_and_terminate_racing_end_terminated_with_matching_events(on_postgresql, alice, round_):
    from sportello.catalog.tests.factories import hosting_catalog

    catalog = hosting_catalog()
    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    outcomes = race(
        lambda: service_suspend(service=service, reason="late payment"),
        lambda: service_terminate(service=service, reason="contract ended"),
    )
    transitions = assert_events_tell_the_story(service)
    # Suspend first: both succeed (active -> suspended -> terminated). Terminate first: the
    # suspension finds a terminated service and is refused. Never anything else.
    if transitions == ["suspend", "terminate"]:
        assert sorted(outcomes) == ["done", "done"]
    else:
        assert transitions == ["terminate"]
        assert sorted(outcomes) == ["IllegalTransition", "done"]
    assert Service.objects.get(pk=service.pk).status == ServiceStatus.TERMINATED


@pytest.mark.django_db(transaction=True)
def test_two_suspensions_racing_suspend_once(on_postgresql, alice):
    from sportello.catalog.tests.factories import hosting_catalog

    catalog = hosting_catalog()
    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], ServiceStatus.ACTIVE)
    outcomes = race(*[lambda n=n: service_suspend(service=service, reason=f"run {n}") for n in range(4)])
    assert sorted(outcomes) == ["IllegalTransition"] * 3 + ["done"]
    assert assert_events_tell_the_story(service) == ["suspend"]
