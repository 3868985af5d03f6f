"""Helpers shared by the browser tests: logging in, choosing a language, where files go."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import expect

from sportello.accounts.models import User
from sportello.demo.data import DEMO_PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page
    from pytest_django.live_server_helper import LiveServer

REPO_ROOT = Path(__file__).resolve().parents[4]
ARTIFACTS = REPO_ROOT / "test-artifacts"

# Demo logins (sportello/demo/data.py).
ANA = "ana@example.com"  # owner of Nubeclara (es), technical in Studio Ferri (it)
DIEGO = "diego@example.com"  # technical in Nubeclara: no Billing
STAFF = "admin@example.com"  # staff, no customer membership

NUBECLARA = "Nubeclara Servicios Digitales S.L."
STUDIO_FERRI = "Studio Ferri Consulenza S.r.l."

LANGUAGES = ("en", "es", "pt-br", "it")

# The main navigation, by address (its labels are translated).
NAV_HREFS = ("/", "/billing/", "/services/", "/domains/", "/support/", "/account/")


def artifact(name: str) -> Path:
    """A path in test-artifacts/ at the repository root (gitignored), created if missing."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def set_user_language(email: str, language: str) -> None:
    """Save `language` on the user, as the language switcher would; the next request uses it."""
    assert User.objects.filter(email=email).update(language=language) == 1, f"no user {email}"


def set_visitor_language(context: BrowserContext, live_server: LiveServer, language: str) -> None:
    """The language cookie a visitor gets from the switcher (wins over Accept-Language)."""
    from django.conf import settings

    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])


def login(page: Page, live_server: LiveServer, email: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the real form and wait until the dashboard (or the no-account page) is shown."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(password)
    page.locator('form[action="/accounts/login/"] button[type="submit"]').click()
    # The heading's words depend on the user's language: wait for the dashboard URL and its h1.
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/$"))
    expect(page.locator("main h1")).to_be_visible()


def login_over_http(page: Page, live_server: LiveServer, email: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the same login endpoint, without rendering the form: for tests about
    other pages. The session cookie lands in the page's browser context."""
    login_url = f"{live_server.url}/accounts/login/"
    assert page.request.get(login_url).ok
    token = next(c["value"] for c in page.context.cookies(live_server.url) if c["name"] == "csrftoken")
    response = page.request.post(
        login_url,
        form={"login": email, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": login_url},
        max_redirects=0,
    )
    assert response.status == 302, f"login of {email} failed: HTTP {response.status}"
    assert response.headers["location"] == "/", response.headers["location"]


def nav_link(page: Page, href: str) -> Locator:
    """The main navigation's link to `href` (not the account section's tabs inside <main>)."""
    return page.locator(f'nav:not(main nav) a[href="{href}"]')


def pay_reviewed(page: Page, *, total: str | None = None) -> None:
    """On a pay page, with the invoices and the method chosen: continue to the review, check
    its total when given ("€121.00"), and confirm."""
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator("main h1")).to_have_text("Review your payment")
    if total is not None:
        expect(page.locator("#review-total")).to_have_text(total)
    page.get_by_role("button", name=re.compile(r"^Confirm and pay ")).click()
