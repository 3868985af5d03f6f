"""Every command the README shows, run through the installed `sportello` entry point.

`call_command` finds a command by its module's name, so a command whose module name the
entry point cannot spell (it turns `billing-run` into `billing_run`) passes every test
that calls it directly and still fails for the person who types it. These tests type it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SPORTELLO = Path(sys.executable).parent / "sportello"

# The commands of README's "The `sportello` command" table and of its other sections,
# each asked for its help: the entry point must find every one of them.
HELP_COMMANDS = [
    ["demo", "--help"],
    ["serve", "--help"],
    ["worker", "--help"],
    ["billing-run", "--help"],
    ["bench", "--help"],
    ["bench", "billing-run", "--help"],
    ["bench", "invoice-pdf", "--help"],
    ["support_inbound", "--help"],
    ["support-inbound", "--help"],
    ["load-vat-rates", "--help"],
    ["migrate", "--help"],
    ["createsuperuser", "--help"],
    ["check", "--help"],
]


def _environment(data_dir: Path, **extra: str) -> dict[str, str]:
    environment = {
        **os.environ,
        "DEBUG": "true",
        "SPORTELLO_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        "LOG_LEVEL": "WARNING",
        # A throw-away SQLite file, whatever database the suite itself runs on.
        "DATABASE_URL": f"sqlite:///{data_dir / 'cli.sqlite3'}",
        "DATABASE_POOL": "false",
        **extra,
    }
    environment.pop("SECRET_KEY_FILE", None)
    return environment


def _run(argv: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SPORTELLO), *argv], env=environment, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )


def test_it_finds_every_command_the_readme_shows(tmp_path: Path) -> None:
    environment = _environment(tmp_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda argv: (argv, _run(argv, environment)), HELP_COMMANDS))

    failures = [
        f"sportello {' '.join(argv)}: exit {result.returncode}: {result.stderr.strip()[-300:]}"
        for argv, result in results
        if result.returncode != 0 or "usage:" not in result.stdout
    ]
    assert failures == []


def test_every_command_in_the_readme_table_is_one_it_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## The `sportello` command", 1)[1].split("\n## ", 1)[0]
    shown = set(re.findall(r"^\| `sportello ([a-z][a-z_-]*(?: [a-z][a-z-]*)?)", table, flags=re.MULTILINE))
    helped = {" ".join(argv[:-1]) for argv in HELP_COMMANDS}
    assert shown == {"demo", "serve", "worker", "billing-run", "bench billing-run", "bench invoice-pdf"}
    assert shown <= helped


def test_it_runs_the_billing_run_for_a_date_through_the_entry_point(tmp_path: Path) -> None:
    environment = _environment(
        tmp_path,
        SECRET_KEY="cli-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        TASKS_BACKEND="database",
        BILLING_PDF_ON_ISSUE="false",
        BILLING_INVOICE_EMAILS="false",
        BILLING_RUN_PARTITIONS="1",
    )
    # The billing run benchmark's workload: three accounts with a monthly service due
    # on 1 November 2026, so the run of 18 October issues each its renewal invoice.
    setup = subprocess.run(
        [sys.executable, "-m", "bench.billing_run", "setup", "3"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert setup.returncode == 0, setup.stderr[-2000:]

    by_partition = ["billing-run", "--as-of", "2026-10-18", "--json", "--no-progress", "--partition"]
    first = _run([*by_partition, "0/2"], environment)
    second = _run([*by_partition, "1/2"], environment)
    again = _run(["billing-run", "--as-of", "2026-10-18", "--no-progress"], environment)
    report = _run(["billing-run", "--as-of", "2026-10-18", "--report", "--json"], environment)
    refused = _run(["billing-run", "--as-of", "18/10/2026"], environment)

    assert (first.returncode, second.returncode, again.returncode, report.returncode) == (0, 0, 0, 0), (
        first.stderr + second.stderr + again.stderr + report.stderr
    )
    issued = [json.loads(result.stdout.strip().splitlines()[-1])["invoices_issued"] for result in (first, second)]
    assert sorted(issued) == [1, 2]  # accounts 1 and 3 are partition 1/2, account 2 is 0/2
    assert "invoices issued: 0" in again.stdout  # the same date again issues nothing twice
    assert json.loads(report.stdout.strip().splitlines()[-1])["invoices_issued"] == 3
    assert refused.returncode != 0
    assert "--as-of must be a date written YYYY-MM-DD" in refused.stderr


@pytest.mark.parametrize("spelling", ["billing-run", "billing_run"])
def test_it_accepts_both_spellings_of_a_command(tmp_path: Path, spelling: str) -> None:
    result = _run([spelling, "--help"], _environment(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "--partition" in result.stdout
