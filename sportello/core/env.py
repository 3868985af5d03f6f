"""Reading settings from the environment.

Every setting comes from an environment variable; secrets may instead come from a file
named by the same variable with a ``_FILE`` suffix (Docker and systemd credentials).
A missing or malformed value raises :class:`SettingError`, whose message is one line
that names the variable, so start-up stops with an explanation rather than a traceback.

This module must not import Django: the settings module uses it before Django is set up.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        """The value of `name`, or of the file that `name_FILE` points at."""
        file_name = self.environ.get(f"{name}_FILE")
        if file_name:
            try:
                return Path(file_name).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingError(
                    f"{name}_FILE points at {file_name!r}, which cannot be read ({exc.strerror})"
                ) from exc
        return self.environ.get(name)

    def string(self, name: str, default: str | None = None) -> str:
        value = self.raw(name)
        if value is None or value == "":
            if default is None:
                raise SettingError(f"{name} is required but not set")
            return default
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise SettingError(f"{name} must be true or false, not {value!r}")

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.raw(name)
        if value is None or value.strip() == "":
            return default
        try:
            number = int(value.strip())
        except ValueError:
            raise SettingError(f"{name} must be a whole number, not {value!r}") from None
        if minimum is not None and number < minimum:
            raise SettingError(f"{name} must be at least {minimum}, not {number}")
        if maximum is not None and number > maximum:
            raise SettingError(f"{name} must be at most {maximum}, not {number}")
        return number

    def strings(self, name: str, default: list[str]) -> list[str]:
        value = self.raw(name)
        if value is None:
            return default
        return [item.strip() for item in value.split(",") if item.strip()]

    def day_offsets(self, name: str, default: str, *, minimum: int = 1, maximum: int = 365) -> tuple[int, ...]:
        """A comma-separated list of whole days, such as "1,3,7", as a sorted tuple without
        repeats; empty means none."""
        raw = self.raw(name)
        value = default if raw is None else raw
        days: set[int] = set()
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                day = int(part.strip())
            except ValueError:
                raise SettingError(
                    f"{name} must be whole days separated by commas, such as {default}, not {value!r}"
                ) from None
            if not minimum <= day <= maximum:
                raise SettingError(f"{name} days must be from {minimum} to {maximum}, not {day}")
            days.add(day)
        return tuple(sorted(days))

    def choice(self, name: str, default: str, choices: list[str]) -> str:
        value = self.string(name, default)
        if value not in choices:
            raise SettingError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def url(self, name: str, default: str | None = None, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
        value = self.string(name, default)
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            raise SettingError(
                f"{name} must be an absolute {' or '.join(schemes)} URL"
                f" such as https://billing.example.com, not {value!r}"
            )
        return value.rstrip("/")


# --- Document numbers --------------------------------------------------------------------------

NUMBER_FIELDS = ("series", "year", "seq")
# A series code: what `{series}` prints, and part of the counter's key (16 characters at most).
SERIES_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}")
# Sample values that any format keeping every field whole prints differently: a format that
# cuts a field short ("{year!s:.2}") prints two of them alike and is refused.
SAMPLE_YEARS = (2026, 2027, 2030, 2099, 2100, 2126)
SAMPLE_SEQUENCES = (1, 2, 9, 10, 11, 99, 100, 101, 12345, 99999, 100000, 1234567, 99999999)


def document_numbering_problem(
    number_format: str,
    *,
    fiscal_series: Mapping[str, str],
    other_series: Mapping[str, str],
    max_length: int,
    name: str = "BILLING_NUMBER_FORMAT",
) -> str | None:
    """Why the document numbering settings would print a number twice, leave a gap in the
    fiscal numbers, or print one the client area cannot serve; None when they are sound.

    `number_format` is a str.format template with exactly the fields {series}, {year} and
    {seq} (a format spec such as {seq:05} is allowed). Numbers are counted per series and
    year, so each of the three must be printed, whole: without {seq} every document of a
    year would print alike, without {year} the numbers of each new year would repeat the
    last year's, without {series} an invoice and a credit note (or a payment request) would
    print the same number. The number is also a path segment of the client area's
    addresses, so it never holds a "/", and it fits the `max_length` of the number columns.

    `fiscal_series` (invoices, credit notes) and `other_series` (payment requests, quotes)
    map each series' variable name to its code. Fiscal documents may share one series (one
    counter), but a payment request or a quote taking a number from a fiscal series would
    leave a gap in the fiscal numbers, which the law forbids.
    """
    series = {**fiscal_series, **other_series}
    for variable, code in series.items():
        if not SERIES_CODE.fullmatch(code):
            return (
                f"{variable} must be 1 to 16 letters, digits, dots, dashes or underscores,"
                f" starting with a letter or digit, not {code!r}"
            )
    for variable, code in other_series.items():
        if code in fiscal_series.values():
            return (
                f"{variable} must differ from the invoice and credit note series ({code!r}):"
                " numbers taken from their counter would leave gaps in the fiscal numbers"
            )
    usage = "(use {series}, {year} and {seq})"
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(number_format) if field is not None]
    except ValueError as error:
        return f"{name}: {error} {usage}"
    for field in fields:
        if field not in NUMBER_FIELDS:
            return f"{name} has an unknown field {{{field}}} {usage}"
    if "seq" not in fields:
        return f"{name} must contain {{seq}}: numbers would repeat"
    if "year" not in fields:
        return f"{name} must contain {{year}}: numbering starts again every year, so numbers would repeat"
    if "series" not in fields:
        return (
            f"{name} must contain {{series}}: invoices, credit notes, payment requests and quotes"
            " are numbered separately, so their numbers would repeat"
        )
    try:
        printed = [
            number_format.format(series=code, year=year, seq=seq)
            for code in sorted(set(series.values()))
            for year in SAMPLE_YEARS
            for seq in SAMPLE_SEQUENCES
        ]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        return f"{name}: {error!r} {usage}"
    seen: set[str] = set()
    for number in printed:
        if number in seen:
            return f"{name} prints {number!r} for two different documents: numbers would repeat"
        seen.add(number)
        if "/" in number:
            return f"{name} must not print a '/' ({number!r}): numbers are part of the client area's addresses"
        if not number.isprintable() or number != number.strip():
            return f"{name} must print no spaces at either end and no control characters, not {number!r}"
    longest = max(printed, key=len)
    if len(longest) > max_length:
        return f"{name} prints numbers of up to {len(longest)} characters ({longest!r}); at most {max_length} fit"
    return None
