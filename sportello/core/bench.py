"""Benchmarks run by `sportello bench NAME`: each one a module with `add_arguments(parser)`
and `run(**options) -> dict`, listed here by name. The command prints the dict as one JSON
line. A benchmark builds its own data in a fresh temporary database (`fresh_database`),
never in the installation's own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connections

# name -> module path. Each module defines add_arguments(parser) and run(**options) -> dict.
BENCHMARKS: dict[str, str] = {
    "billing-run": "bench.billing_run",
    "invoice-pdf": "sportello.billing.bench_pdf",
}


@contextlib.contextmanager
def fresh_database() -> Iterator[None]:
    """Point the default connection at a new, migrated, empty database for the block:
    Django's test-database machinery (an in-memory SQLite database, or `test_<name>` on
    PostgreSQL), destroyed afterwards."""
    connection = connections["default"]
    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
