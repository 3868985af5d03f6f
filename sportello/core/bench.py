"""Benchmarks run by `sportello bench NAME`: each one a module with `add_arguments(parser)`
and `run(**options) -> dict`, listed here by name. The command prints the dict as one JSON
line. A benchmark builds its own data in a fresh temporary database (`fresh_database`),
never in the installation's own.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

from django.db import connections

# name -> module path. Each module defines add_arguments(parser) and run(**options) -> dict.
BENCHMARKS: dict[str, str] = {
    "billing-run": "bench.billing_run",
    "invoice-pdf": "bench.invoice_pdf",
}


@contextlib.contextmanager
def fresh_database() -> Iterator[None]:
    """Point the default connection at a new, migrated, empty database for the block:
    Django's test-database machinery (an in-memory SQLite database, or `test_<name>` on
    PostgreSQL), destroyed afterwards."""
    connection = connections["default"]
    original_name = connection.settings_dict["NAME"]
    # Quietly: a benchmark's output is its one JSON line (createcachetable speaks regardless).
    with contextlib.redirect_stdout(io.StringIO()):
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
