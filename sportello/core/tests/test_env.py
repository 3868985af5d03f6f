import subprocess
import sys

import pytest

from sportello.core.env import Env, SettingError


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
