"""Loading the EU VAT rates from the repository's data file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sportello.billing.models import TaxRate
from sportello.billing.taxes import EU_MEMBER_STATES, tax_rate_on
from sportello.billing.vat_rates import VatRatesFileError, vat_rates_load, vat_rates_read
from sportello.cli import main

pytestmark = pytest.mark.django_db
IN_2026 = dt.date(2026, 6, 1)


def test_the_file_has_a_standard_rate_for_every_member_state() -> None:
    rows = vat_rates_read()
    standard = {row.country: row.rate for row in rows if row.tax_class == "standard"}
    assert set(standard) == EU_MEMBER_STATES
    assert {c: standard[c] for c in ("ES", "IT", "DE", "FR", "PT", "IE", "HU", "FI", "RO", "EE", "SK", "LU")} == {
        "ES": Decimal(21),
        "IT": Decimal(22),
        "DE": Decimal(19),
        "FR": Decimal(20),
        "PT": Decimal(23),
        "IE": Decimal(23),
        "HU": Decimal(27),
        "FI": Decimal("25.5"),
        "RO": Decimal(21),
        "EE": Decimal(24),
        "SK": Decimal(23),
        "LU": Decimal(17),
    }
    reduced = {row.country: row.rate for row in rows if row.tax_class == "reduced"}
    assert (reduced["ES"], reduced["IT"], reduced["DE"], reduced["FR"]) == (10, 10, 7, 10)
    assert "DK" not in reduced  # Denmark has a single rate


def test_loading_is_idempotent_and_ends_earlier_rates() -> None:
    old = TaxRate.objects.create(
        country="ES", tax_class="standard", name="IVA 18%", rate=Decimal(18), valid_from=dt.date(2010, 7, 1)
    )
    first = vat_rates_load()
    assert (first.created, first.kept, first.closed) == (53, 0, 1)
    old.refresh_from_db()
    assert old.valid_until == dt.date(2020, 1, 1)
    before = list(TaxRate.objects.order_by("pk").values_list("pk", "rate", "valid_until"))
    second = vat_rates_load()
    assert (second.created, second.kept, second.closed) == (0, 53, 0)
    assert list(TaxRate.objects.order_by("pk").values_list("pk", "rate", "valid_until")) == before
    found = tax_rate_on(country="DE", tax_class="standard", on=IN_2026)
    assert found is not None and (found.name, found.rate) == ("MwSt. 19%", Decimal(19))
    old_rate = tax_rate_on(country="ES", tax_class="standard", on=dt.date(2015, 1, 1))
    assert old_rate is not None and old_rate.rate == 18


def test_a_bad_file_loads_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "rates.csv"
    bad.write_text(
        "country,tax_class,name,rate,valid_from\nES,standard,IVA,21,2020-01-01\nXX,standard,X,5,2020-01-01\n"
    )
    with pytest.raises(VatRatesFileError, match="line 3: 'XX' is not an EU member state"):
        vat_rates_load(path=bad)
    bad.write_text("country,tax_class,name,rate,valid_from\nES,standard,IVA,121,2020-01-01\n")
    with pytest.raises(VatRatesFileError, match="line 2: the rate must be from 0 to below 100"):
        vat_rates_load(path=bad)
    with pytest.raises(CommandError, match="line 2"):
        call_command("load_vat_rates", file=bad)
    assert TaxRate.objects.count() == 0


def test_the_command_is_spelled_with_hyphens(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command line hands Django its underscored name (Django closes the test's
    # connection after a command run from argv, so the command itself runs below).
    seen: list[list[str]] = []
    monkeypatch.setattr("sportello.cli._manage", lambda argv: seen.append(argv) or 0)
    assert main(["load-vat-rates", "--file", "x.csv"]) == 0
    assert main(["--version"]) == 0
    assert seen == [["load_vat_rates", "--file", "x.csv"], ["--version"]]
    call_command("load_vat_rates")
    assert "VAT rates: 53 added, 0 already there, 0 earlier rates ended." in capsys.readouterr().out
    assert TaxRate.objects.filter(country="PT", tax_class="standard").get().rate == 23
