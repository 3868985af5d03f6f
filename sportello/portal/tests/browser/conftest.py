"""Browser tests: a real Chromium driven by Playwright against pytest-django's live server.

The browser is found once per session: $CHROMIUM_PATH if set, else /usr/bin/chromium,
else Playwright's own bundled Chromium. When none can be launched every browser test is
skipped, and the end of the run says so in a line nobody can miss.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the dev dependencies are not installed
    sync_playwright = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright
    from pytest_django.live_server_helper import LiveServer

HERE = Path(__file__).resolve().parent
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
# Without these Chromium keeps trying to reach Google's servers (and the sandbox needs
# user namespaces that containers often lack).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}

# Why the browser tests could not run; printed by pytest_terminal_summary.
_NOT_RUN: list[str] = []
if sync_playwright is None:
    _NOT_RUN.append("the playwright package is not installed (pip install -e '.[dev]')")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Hooks of a conftest see every collected item: mark only this directory's.
    for item in items:
        if Path(item.path).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> Iterator[None]:
    # A wrapper, so that the line comes after the short test summary, next to the final count.
    try:
        return (yield)
    finally:
        if _NOT_RUN:
            terminalreporter.write_sep("!", "BROWSER TESTS NOT RUN", red=True, bold=True)
            terminalreporter.write_line(f"BROWSER TESTS NOT RUN: {_NOT_RUN[0]}", red=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report = yield
    # Lets the page fixture know, at teardown, whether the test failed.
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Start every test with an empty cache: allauth counts login attempts per address
    there, and a whole suite logging in from 127.0.0.1 would hit its rate limit."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if sync_playwright is None:
        pytest.skip(f"BROWSER TESTS NOT RUN: {_NOT_RUN[0]}")
    with sync_playwright() as p:
        yield p


def _launch(playwright: Playwright) -> tuple[Browser | None, list[str]]:
    """The first Chromium that starts, and what went wrong with the others."""
    explicit = os.environ.get("CHROMIUM_PATH")
    if explicit:
        candidates: list[tuple[str, str | None]] = [(f"CHROMIUM_PATH={explicit}", explicit)]
    else:
        candidates = []
        if SYSTEM_CHROMIUM.exists():
            candidates.append((str(SYSTEM_CHROMIUM), str(SYSTEM_CHROMIUM)))
        candidates.append(("Playwright's bundled Chromium", None))
    failures = []
    for label, path in candidates:
        try:
            return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS), failures
        except PlaywrightError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            failures.append(f"{label}: {first_line}")
    return None, failures


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched, failures = _launch(playwright)
    if launched is None:
        reason = "no Chromium found (set CHROMIUM_PATH or install chromium) - tried " + "; ".join(failures)
        _NOT_RUN.append(reason)
        pytest.skip(f"BROWSER TESTS NOT RUN: {reason}")
    expect.set_options(timeout=10_000)
    yield launched
    launched.close()


@pytest.fixture
def new_context(browser: Browser, live_server: LiveServer) -> Iterator[Any]:
    """A factory of fresh browser contexts (desktop size, en-US unless told), closed at the end."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        settings = {"viewport": DESKTOP, "locale": "en-US", **options}
        context = browser.new_context(**settings)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, new_context: Any) -> Iterator[Page]:
    """A page in a fresh context (1280x800, en-US); on failure its screenshot is kept."""
    page = new_context().new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and not page.is_closed():
        from sportello.portal.tests.browser.helpers import artifact

        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        with contextlib.suppress(PlaywrightError):
            page.screenshot(path=artifact(f"failures/{name}.png"), full_page=True)
