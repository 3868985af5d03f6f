"""The state machine, pair by pair: every transition from every status.

The expected table is written out here by hand, independently of `TRANSITIONS`, so a
change to the table in the code shows up as a failing pair.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from sportello.catalog.models import Cycle
from sportello.services.errors import CancelNotAllowed, IllegalTransition, ServicesError
from sportello.services.models import (
    TRANSITIONS,
    ProvisioningTask,
    Service,
    ServiceEvent,
    ServiceStatus,
    Transition,
)
from sportello.services.services import (
    service_activate,
    service_add_addon,
    service_cancel,
    service_cancel_apply,
    service_cancel_pending,
    service_cancel_withdraw,
    service_change_cycle,
    service_change_options,
    service_change_plan,
    service_expire,
    service_link_domain,
    service_reactivate,
    service_renew,
    service_set_auto_renew,
    service_suspend,
    service_terminate,
    service_unsuspend,
)

from .conftest import service_in

P, A, S, T, C, E = (
    ServiceStatus.PENDING,
    ServiceStatus.ACTIVE,
    ServiceStatus.SUSPENDED,
    ServiceStatus.TERMINATED,
    ServiceStatus.CANCELLED,
    ServiceStatus.EXPIRED,
)
PERIOD_END = dt.date(2026, 2, 1)  # of the January service every case starts from
REASON = "ticket #4711"

Operation = Callable[[Service, Any, Any], Any]

# operation -> (transition it records, {from status: expected status}, reason it records, provisioning action)
EXPECTED: dict[str, tuple[str, dict[str, str], str, str | None]] = {
    "activate": (Transition.ACTIVATE, {P: A}, REASON, "create"),
    "suspend": (Transition.SUSPEND, {A: S}, REASON, "suspend"),
    "unsuspend": (Transition.UNSUSPEND, {S: A}, REASON, "unsuspend"),
    "terminate": (Transition.TERMINATE, {A: T, S: T}, REASON, "terminate"),
    "cancel_now": (Transition.CANCEL, {A: C}, REASON, "terminate"),
    "cancel_at_period_end": (Transition.CANCEL_SCHEDULE, {A: A}, REASON, None),
    "cancel_withdraw": (Transition.CANCEL_WITHDRAW, {A: A}, REASON, None),
    "cancel_apply": (Transition.CANCEL_APPLY, {A: C}, "moving to another provider", "terminate"),
    "expire": (Transition.EXPIRE, {A: E}, REASON, "suspend"),
    "reactivate": (Transition.REACTIVATE, {E: A}, REASON, "unsuspend"),
    "renew": (Transition.RENEW, {A: A, S: S}, REASON, None),
    "set_auto_renew": (Transition.SET_AUTO_RENEW, {P: P, A: A, S: S}, "", None),
    "change_cycle": (Transition.CHANGE_CYCLE, {A: A, S: S}, "", None),
    "change_plan": (Transition.CHANGE_PLAN, {A: A}, "", "change_plan"),
    "change_options": (Transition.CHANGE_OPTIONS, {A: A}, REASON, "change_plan"),
    "add_addon": (Transition.ADD_ADDON, {A: A}, REASON, "change_plan"),
    "cancel_pending": (Transition.CANCEL_PENDING, {P: C}, REASON, None),
    "link_domain": (Transition.LINK_DOMAIN, {P: P, A: A, S: S}, "", None),
}

OPERATIONS: dict[str, Operation] = {
    "activate": lambda s, by, cat: service_activate(service=s, as_of=dt.date(2026, 1, 5), by=by, reason=REASON),
    "suspend": lambda s, by, cat: service_suspend(service=s, reason=REASON, by=by),
    "unsuspend": lambda s, by, cat: service_unsuspend(service=s, by=by, reason=REASON),
    "terminate": lambda s, by, cat: service_terminate(service=s, reason=REASON, by=by),
    "cancel_now": lambda s, by, cat: service_cancel(service=s, reason=REASON, immediately=True, by=by),
    "cancel_at_period_end": lambda s, by, cat: service_cancel(service=s, reason=REASON, immediately=False, by=by),
    "cancel_withdraw": lambda s, by, cat: service_cancel_withdraw(service=s, by=by, reason=REASON),
    "cancel_apply": lambda s, by, cat: service_cancel_apply(service=s, as_of=PERIOD_END, by=by),
    "expire": lambda s, by, cat: service_expire(service=s, as_of=PERIOD_END, by=by, reason=REASON),
    "reactivate": lambda s, by, cat: service_reactivate(service=s, as_of=dt.date(2026, 2, 10), by=by, reason=REASON),
    "renew": lambda s, by, cat: service_renew(service=s, period_start=PERIOD_END, by=by, reason=REASON),
    "set_auto_renew": lambda s, by, cat: service_set_auto_renew(service=s, enabled=False, by=by),
    "change_cycle": lambda s, by, cat: service_change_cycle(
        service=s, cycle=Cycle.ANNUAL, as_of=dt.date(2026, 1, 10), by=by
    ),
    "change_plan": lambda s, by, cat: service_change_plan(service=s, plan=cat.pro, as_of=dt.date(2026, 1, 10), by=by),
    "change_options": lambda s, by, cat: service_change_options(
        service=s, options={"storage_gb": 20}, as_of=dt.date(2026, 1, 10), by=by, reason=REASON
    ),
    "add_addon": lambda s, by, cat: service_add_addon(
        service=s, addon=cat.backups, as_of=dt.date(2026, 1, 10), by=by, reason=REASON
    ),
    "cancel_pending": lambda s, by, cat: service_cancel_pending(service=s, reason=REASON, by=by),
    "link_domain": lambda s, by, cat: service_link_domain(service=s, domain=domain_service(s), by=by),
}


def domain_service(service: Service) -> Service:
    """A domain service of the same account, for the link."""
    from sportello.catalog.models import Product, ProductCategory, ProductKind
    from sportello.catalog.services import plan_create, price_create
    from sportello.catalog.tests.factories import SINCE

    category = ProductCategory.objects.create(name="Domains", slug="domains")
    product = Product.objects.create(category=category, name="Domain", slug="domain", kind=ProductKind.DOMAIN)
    plan = plan_create(product=product, name=".com", code="com")
    price = price_create(plan=plan, currency="EUR", cycle=Cycle.ANNUAL, amount_minor=1200, valid_from=SINCE)
    return service_in(service.account, price, ServiceStatus.ACTIVE)


def snapshot(service: Service) -> dict[str, Any]:
    """Every column of the service as stored, its events and its provisioning tasks."""
    fresh = Service.objects.get(pk=service.pk)
    return {
        "row": {field.attname: getattr(fresh, field.attname) for field in Service._meta.concrete_fields},
        "events": list(ServiceEvent.objects.filter(service=service).values_list("id", flat=True)),
        "tasks": ProvisioningTask.objects.filter(service=service).count(),
    }


def test_the_expected_table_is_the_code_table():
    for name, (transition, legal, _, _) in EXPECTED.items():
        allowed_from, target = TRANSITIONS[transition]
        assert set(legal) == allowed_from, name
        assert all(to == (target or origin) for origin, to in legal.items()), name
    assert {transition for transition, *_ in EXPECTED.values()} == set(TRANSITIONS)


CASES = [(status, name) for name in OPERATIONS for status in ServiceStatus.values]


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "operation"), CASES, ids=[f"{s}-{o}" for s, o in CASES])
def test_every_transition_from_every_status(
    from_status, operation, alice, catalog, staff, django_capture_on_commit_callbacks
):
    transition, legal, reason, provisioning = EXPECTED[operation]
    # What each operation needs besides the status: a requested cancellation to withdraw or apply.
    flagged = operation in {"cancel_withdraw", "cancel_apply"}
    service = service_in(
        alice.account,
        catalog.prices[("basic", "EUR", Cycle.MONTHLY)],
        from_status,
        cancel_at_period_end=flagged,
        cancellation_reason="moving to another provider" if flagged else "",
    )
    before = snapshot(service)

    if from_status not in legal:
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(IllegalTransition) as refused:
            OPERATIONS[operation](service, staff, catalog)
        assert (refused.value.transition, refused.value.from_status) == (transition, from_status)
        assert snapshot(service) == before
        return

    with django_capture_on_commit_callbacks(execute=True):
        OPERATIONS[operation](service, staff, catalog)
    service.refresh_from_db()
    assert service.status == legal[from_status]
    events = list(ServiceEvent.objects.filter(service=service).exclude(pk__in=before["events"]))
    assert len(events) == 1
    event = events[0]
    assert (event.transition, event.from_status, event.to_status) == (transition, from_status, legal[from_status])
    assert (event.reason, event.actor, event.account_id) == (reason, staff, alice.account_id)
    tasks = list(ProvisioningTask.objects.filter(service=service).values_list("action", "event_id", "module", "status"))
    # The task is enqueued after commit; the tests' immediate backend runs the manual module at once.
    assert tasks == ([(provisioning, event.pk, "manual", "done")] if provisioning else [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("operation", "error", "reason"),
    [
        ("cancel_withdraw", CancelNotAllowed, "not_scheduled"),
        ("cancel_apply", CancelNotAllowed, "not_scheduled"),
    ],
)
def test_cancellation_requests_must_exist_to_be_withdrawn_or_applied(alice, catalog, staff, operation, error, reason):
    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], A)
    before = snapshot(service)
    with pytest.raises(error) as refused:
        OPERATIONS[operation](service, staff, catalog)
    assert refused.value.reason == reason
    assert snapshot(service) == before


@pytest.mark.django_db
def test_a_refusal_inside_a_callers_transaction_leaves_it_usable(alice, catalog, staff):
    from django.db import transaction

    service = service_in(alice.account, catalog.prices[("basic", "EUR", Cycle.MONTHLY)], T)
    with transaction.atomic():
        with pytest.raises(ServicesError):
            service_suspend(service=service, reason=REASON, by=staff)
        assert Service.objects.get(pk=service.pk).status == T
