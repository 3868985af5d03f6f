"""Reading settings from the environment.

Every setting comes from an environment variable; secrets may instead come from a file
named by the same variable with a ``_FILE`` suffix (Docker and systemd credentials).
A missing or malformed value raises :class:`SettingError`, whose message is one line
that names the variable, so start-up stops with an explanation rather than a traceback.

This module must not import Django: the settings module uses it before Django is set up.
"""

from __future__ import annotations

import os
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
