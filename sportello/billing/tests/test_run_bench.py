"""The benchmarks work end to end (their figures are `make bench`'s business)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pypdf import PdfReader

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
    with pytest.raises(CommandError, match="at least 1"):
        call_command("bench", "invoice-pdf", "--count", "0")


def test_the_invoice_pdf_bench_times_two_page_pdf_a_3b_invoices(tmp_path: Path) -> None:
    """Run as `make bench` runs it, in a process of its own: it swaps the default database
    for a fresh one, which must not be the test run's."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update({"DEBUG": "true", "DJANGO_SETTINGS_MODULE": "sportello.settings", "SPORTELLO_DATA_DIR": str(tmp_path)})
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "sportello.cli",
            "bench",
            "invoice-pdf",
            "--count",
            "3",
            "--output",
            str(tmp_path / "pdf"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    (line,) = child.stdout.strip().splitlines()  # one JSON line, nothing else
    figures = json.loads(line)
    assert set(figures) == {"bench", "count", "ms_per_pdf"}
    assert (figures["bench"], figures["count"]) == ("invoice-pdf", 3)
    assert figures["ms_per_pdf"] > 0

    pdfs = sorted((tmp_path / "pdf").glob("*.pdf"))
    assert [pdf.name for pdf in pdfs] == [f"INV-2026-{n:05d}.pdf" for n in (1, 2, 3)]
    for pdf in pdfs:
        reader = PdfReader(pdf, strict=True)
        assert len(reader.pages) == 2
        xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
        assert "<pdfaid:part>3</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
        assert reader.trailer["/Root"]["/OutputIntents"]
        fonts = [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]
        assert fonts and all("/FontFile2" in font["/FontDescriptor"] for font in fonts)
        assert re.search(rf"{pdf.stem}\b", reader.pages[0].extract_text())
