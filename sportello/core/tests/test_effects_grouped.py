"""Effects grouped around a bulk job's transaction: after commit, together, never on rollback."""

import pytest
from django.db import connection, transaction

from sportello.core.effects import after_commit, effects_grouped
from sportello.core.models import ScheduledRun


def record(*, seen: list[tuple[str, bool]], name: str) -> None:
    seen.append((name, connection.in_atomic_block))
    if name == "fails":
        ScheduledRun.objects.create(job="x", period=name, enqueued_at="2026-01-01T00:00:00Z")
        raise RuntimeError("boom")
    ScheduledRun.objects.create(job="x", period=name, enqueued_at="2026-01-01T00:00:00Z")


@pytest.mark.django_db(transaction=True)
def test_grouped_effects_run_after_commit_in_one_transaction():
    seen: list[tuple[str, bool]] = []
    with effects_grouped(), transaction.atomic():
        after_commit(record, seen=seen, name="a")
        after_commit(record, seen=seen, name="fails")
        after_commit(record, seen=seen, name="b")
        assert seen == []  # nothing before the commit
    # Together, inside one transaction; when one fails, each again on its own.
    assert seen == [("a", True), ("fails", True), ("a", False), ("fails", False), ("b", False)]
    # Once each: the group's writes rolled back ("fails" keeps what it wrote before raising,
    # as with a plain after_commit effect).
    assert sorted(ScheduledRun.objects.values_list("period", flat=True)) == ["a", "b", "fails"]


@pytest.mark.django_db(transaction=True)
def test_grouped_effects_never_run_when_the_work_rolls_back():
    seen: list[tuple[str, bool]] = []
    with pytest.raises(ValueError), effects_grouped(), transaction.atomic():
        after_commit(record, seen=seen, name="a")
        raise ValueError
    assert seen == []
    after_commit(record, seen=seen, name="later")  # outside: runs at once, as before
    assert seen == [("later", False)]
