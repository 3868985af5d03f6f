import subprocess
import sys

import pytest

from sportello.core.env import Env, SettingError, document_numbering_problem


def test_it_reads_typed_values():
    env = Env({"A": "yes", "B": "42", "C": "x, y ,,z", "D": "https://billing.example.com/"})
    assert env.boolean("A", False) is True
    assert env.integer("B", 0) == 42
    assert env.strings("C", []) == ["x", "y", "z"]
    assert env.url("D") == "https://billing.example.com"
    assert env.string("MISSING", "fallback") == "fallback"


@pytest.mark.parametrize(
    ("environ", "read", "message"),
    [
        ({}, lambda e: e.string("SECRET_KEY"), "SECRET_KEY is required but not set"),
        ({"DEBUG": "maybe"}, lambda e: e.boolean("DEBUG", False), "DEBUG must be true or false, not 'maybe'"),
        ({"PORT": "80a"}, lambda e: e.integer("PORT", 1), "PORT must be a whole number, not '80a'"),
        ({"N": "0"}, lambda e: e.integer("N", 1, minimum=1), "N must be at least 1, not 0"),
        ({"L": "WARN"}, lambda e: e.choice("L", "INFO", ["INFO", "DEBUG"]), "L must be one of INFO, DEBUG, not 'WARN'"),
        (
            {"SITE_URL": "billing.example.com"},
            lambda e: e.url("SITE_URL"),
            "SITE_URL must be an absolute http or https URL such as https://billing.example.com,"
            " not 'billing.example.com'",
        ),
        (
            {"SECRET_KEY_FILE": "/nonexistent/secret"},
            lambda e: e.string("SECRET_KEY"),
            "SECRET_KEY_FILE points at '/nonexistent/secret', which cannot be read (No such file or directory)",
        ),
    ],
)
def test_it_names_the_variable_in_one_line(environ, read, message):
    with pytest.raises(SettingError) as raised:
        read(Env(environ))
    assert str(raised.value) == message


def test_it_reads_secrets_from_files(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret-value\n")
    assert Env({"SECRET_KEY_FILE": str(secret), "SECRET_KEY": "ignored"}).string("SECRET_KEY") == "s3cret-value"


@pytest.mark.parametrize(
    ("variables", "line"),
    [
        ({"DEBUG": "sometimes"}, "sportello: configuration error: DEBUG must be true or false, not 'sometimes'"),
        ({"DEBUG": "false", "SECRET_KEY": ""}, "sportello: configuration error: SECRET_KEY is required but not set"),
        (
            {"DATABASE_URL": "nonsense"},
            "sportello: configuration error: DATABASE_URL is not a database URL this project understands",
        ),
        (
            {"DATABASE_URL": "mysql://db/billing"},
            "sportello: configuration error: DATABASE_URL must name a sqlite:// or postgres:// database",
        ),
        ({"SITE_URL": "example.com"}, "sportello: configuration error: SITE_URL must be an absolute http or https URL"),
        (
            {"TASKS_BACKEND": "celery"},
            "sportello: configuration error: TASKS_BACKEND must be one of database, immediate",
        ),
        (
            {"BILLING_NUMBER_FORMAT": "{series}-{year}"},
            "sportello: configuration error: BILLING_NUMBER_FORMAT must contain {seq}: numbers would repeat",
        ),
        (
            {"BILLING_NUMBER_FORMAT": "{series}-{seq:05}"},
            "sportello: configuration error: BILLING_NUMBER_FORMAT must contain {year}: numbering starts again every"
            " year, so numbers would repeat",
        ),
        (
            {"BILLING_NUMBER_FORMAT": "{year}-{seq:05}"},
            "sportello: configuration error: BILLING_NUMBER_FORMAT must contain {series}: invoices, credit notes,"
            " payment requests and quotes are numbered separately, so their numbers would repeat",
        ),
        (
            {"BILLING_SERIES_PROFORMA": "INV"},
            "sportello: configuration error: BILLING_SERIES_PROFORMA must differ from the invoice and credit note"
            " series ('INV'): numbers taken from their counter would leave gaps in the fiscal numbers",
        ),
        (
            {"BILLING_NUMBERING": "sometimes"},
            "sportello: configuration error: BILLING_NUMBERING must be one of issue, payment, not 'sometimes'",
        ),
        (
            {"PAYMENTS_AUTOPAY_RETRY_DAYS": "1,three"},
            "sportello: configuration error: PAYMENTS_AUTOPAY_RETRY_DAYS must be whole days separated by commas,"
            " such as 1,3,7, not '1,three'",
        ),
        (
            {"PAYMENTS_AUTOPAY_RETRY_DAYS": "0,3"},
            "sportello: configuration error: PAYMENTS_AUTOPAY_RETRY_DAYS days must be from 1 to 365, not 0",
        ),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line(tmp_path, variables, line):
    environ = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "k" * 40,
        "SPORTELLO_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        **variables,
    }
    result = subprocess.run(
        [sys.executable, "-m", "sportello.cli", "check"], env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(line)


@pytest.mark.parametrize(
    ("environ", "days"),
    [({}, (1, 3, 7)), ({"RETRY": "7, 1,3,3"}, (1, 3, 7)), ({"RETRY": ""}, ()), ({"RETRY": "2"}, (2,))],
)
def test_it_reads_day_offsets_sorted_once_each(environ, days):
    assert Env(environ).day_offsets("RETRY", "1,3,7") == days


FISCAL_SERIES = {"BILLING_SERIES_INVOICE": "INV", "BILLING_SERIES_CREDIT_NOTE": "CN"}
OTHER_SERIES = {"BILLING_SERIES_PROFORMA": "PRO", "BILLING_SERIES_QUOTE": "Q"}


def numbering_problem(number_format: str = "{series}-{year}-{seq:05}", **series: str) -> str | None:
    """What the settings say of `number_format` with the default series, some changed by `series`."""
    return document_numbering_problem(
        number_format,
        fiscal_series={name: series.get(name, code) for name, code in FISCAL_SERIES.items()},
        other_series={name: series.get(name, code) for name, code in OTHER_SERIES.items()},
        max_length=40,
    )


@pytest.mark.parametrize(
    "number_format",
    ["{series}-{year}-{seq:05}", "{year}.{series}{seq:06}", "{series}{year}{seq}", "{seq:06d}-{series}-{year}"],
)
def test_it_accepts_a_format_that_prints_the_series_the_year_and_the_sequence(number_format: str) -> None:
    assert numbering_problem(number_format) is None


@pytest.mark.parametrize(
    ("number_format", "problem"),
    [
        ("{series}-{year}", "BILLING_NUMBER_FORMAT must contain {seq}: numbers would repeat"),
        # Escaped braces are text, not the field.
        ("{series}-{year}-{{seq}}", "BILLING_NUMBER_FORMAT must contain {seq}: numbers would repeat"),
        (
            "{series}-{seq:05}",
            "BILLING_NUMBER_FORMAT must contain {year}: numbering starts again every year, so numbers would repeat",
        ),
        (
            "{seq:05}/{year}",
            "BILLING_NUMBER_FORMAT must contain {series}: invoices, credit notes, payment requests and quotes are"
            " numbered separately, so their numbers would repeat",
        ),
        ("{series}-{year}-{seq}-{month}", "BILLING_NUMBER_FORMAT has an unknown field {month}"),
        ("{series}-{year}-{seq.real}", "BILLING_NUMBER_FORMAT has an unknown field {seq.real}"),
        ("{series}-{year}-{}", "BILLING_NUMBER_FORMAT has an unknown field {}"),
        ("{series}-{year}-{seq", "BILLING_NUMBER_FORMAT: expected '}' before end of string"),
        ("{series}-{year:.2}-{seq}", "BILLING_NUMBER_FORMAT: ValueError("),
        # Fields cut short print two documents alike.
        ("{series}-{year!s:.2}-{seq}", "BILLING_NUMBER_FORMAT prints 'CN-20-1' for two different documents"),
        ("{series}-{year}-{seq!s:.4}", "BILLING_NUMBER_FORMAT prints 'CN-2026-1234' for two different documents"),
        ("{year}/{series}{seq:06}", "BILLING_NUMBER_FORMAT must not print a '/' ('2026/CN000001')"),
        (" {series}-{year}-{seq}", "BILLING_NUMBER_FORMAT must print no spaces at either end"),
        ("{series}-{year}-{seq:035}", "BILLING_NUMBER_FORMAT prints numbers of up to 44 characters"),
    ],
)
def test_it_refuses_a_format_that_would_repeat_numbers_or_break_addresses(number_format: str, problem: str) -> None:
    found = numbering_problem(number_format)
    assert found is not None and found.startswith(problem), found


@pytest.mark.parametrize(
    ("series", "problem"),
    [
        ({"BILLING_SERIES_INVOICE": ""}, "BILLING_SERIES_INVOICE must be 1 to 16 letters"),
        ({"BILLING_SERIES_CREDIT_NOTE": "C N"}, "BILLING_SERIES_CREDIT_NOTE must be 1 to 16 letters"),
        ({"BILLING_SERIES_QUOTE": "Q/"}, "BILLING_SERIES_QUOTE must be 1 to 16 letters"),
        ({"BILLING_SERIES_QUOTE": "Q" * 17}, "BILLING_SERIES_QUOTE must be 1 to 16 letters"),
        ({"BILLING_SERIES_QUOTE": "CN"}, "BILLING_SERIES_QUOTE must differ from the invoice and credit note series"),
        ({"BILLING_SERIES_PROFORMA": "INV"}, "BILLING_SERIES_PROFORMA must differ from the invoice and credit note"),
        # Invoices and credit notes may share one series (one counter): their numbers still differ.
        ({"BILLING_SERIES_CREDIT_NOTE": "INV"}, None),
        # So may payment requests and quotes, which are not fiscal documents.
        ({"BILLING_SERIES_QUOTE": "PRO"}, None),
    ],
)
def test_it_checks_the_series(series: dict[str, str], problem: str | None) -> None:
    found = numbering_problem(**series)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem), found
