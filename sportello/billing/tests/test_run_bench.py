"""The billing-run benchmark works end to end (its figures are `make bench`'s business)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sportello.billing.models import Invoice


@pytest.mark.django_db
def test_the_bench_command_runs_the_billing_run_in_a_fresh_database(capsys, settings) -> None:
    call_command("bench", "billing-run", "--services", "50", "--database", "sqlite")
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(figures) == {"bench", "services", "seconds", "per_second", "peak_rss_mb", "database"}
    assert (figures["bench"], figures["services"], figures["database"]) == ("billing-run", 50, "sqlite")
    assert figures["seconds"] > 0 and figures["peak_rss_mb"] > 0
    assert Invoice.objects.count() == 0  # the test database was never touched


def test_the_bench_command_refuses_a_bad_count() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        call_command("bench", "billing-run", "--services", "0")
