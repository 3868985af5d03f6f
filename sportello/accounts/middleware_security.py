"""Security middleware: the list of logged-in browsers, and the two-factor requirement.

`SessionTrackingMiddleware` keeps one UserSession row per authenticated Django session,
so that "Where you are logged in" lists every browser and ending one (or disabling a
user, or suspending an account) ends them all. `MfaRequiredMiddleware` sends a user who
must have a second factor (staff, or a member of an account that requires one) to set
one up before anything else.

The reads about second factors live here, next to the middleware that needs them on
every request; the Security page uses them too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django_htmx.http import HttpResponseClientRedirect

from sportello.accounts.adapters import client_ip
from sportello.accounts.models import Account, Membership, User
from sportello.accounts.services import user_session_record, user_session_rotated, user_session_touch
from sportello.core.time import utc_now

# A session's row is written at most this often: most requests write nothing.
TOUCH_INTERVAL_SECONDS = 60
# Where the session remembers when its row was last written (seconds since the epoch).
SESSION_TOUCHED_AT = "sportello_session_touched_at"

# The authenticators that are a second factor. Recovery codes are a way back in when
# the factor is lost, not a factor of their own.
SECOND_FACTOR_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


# --- Reads ------------------------------------------------------------------------------


def accounts_requiring_mfa(*, user: User) -> list[Account]:
    """The accounts of `user` whose staff settings require members to use two factors."""
    return list(Account.objects.filter(memberships__user=user, require_mfa=True).order_by("name", "pk"))


def mfa_required_for(*, user: User) -> bool:
    if user.is_staff and settings.STAFF_REQUIRE_MFA:
        return True
    return Membership.objects.filter(user=user, account__require_mfa=True).exists()


def has_second_factor(*, user: User) -> bool:
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTOR_TYPES).exists()


@dataclass(frozen=True)
class Passkey:
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None


@dataclass(frozen=True)
class SecondFactors:
    """What protects a login besides the password."""

    totp: bool
    # None: no recovery codes were ever generated.
    recovery_codes_unused: int | None
    passkeys: list[Passkey]

    @property
    def enabled(self) -> bool:
        return self.totp or bool(self.passkeys)


def second_factors_of(*, user: User) -> SecondFactors:
    totp = False
    unused: int | None = None
    passkeys: list[Passkey] = []
    for authenticator in Authenticator.objects.filter(user=user).order_by("created_at", "pk"):
        if authenticator.type == Authenticator.Type.TOTP:
            totp = True
        elif authenticator.type == Authenticator.Type.RECOVERY_CODES:
            unused = len(authenticator.wrap().get_unused_codes())
        elif authenticator.type == Authenticator.Type.WEBAUTHN:
            passkeys.append(
                Passkey(
                    name=authenticator.wrap().name,
                    created_at=authenticator.created_at,
                    last_used_at=authenticator.last_used_at,
                )
            )
    return SecondFactors(totp=totp, recovery_codes_unused=unused, passkeys=passkeys)


# --- Middleware -------------------------------------------------------------------------


@functools.cache
def _untracked_prefixes() -> tuple[str, ...]:
    # Static files (served by WhiteNoise before this, but also in DEBUG), uploads and the
    # load balancer's health check never read the session.
    prefixes = [settings.STATIC_URL, settings.MEDIA_URL]
    with contextlib.suppress(NoReverseMatch):
        prefixes.append(reverse("healthz"))
    return tuple(prefix for prefix in prefixes if prefix)


class SessionTrackingMiddleware:
    """Keeps the UserSession row of each authenticated session: present and recent.

    Works after the view, when the request's final user and session id are known: a
    login or a password change in this request has rotated the id (the row follows), a
    logout has flushed it (the row goes). A session without a row (force_login, or one
    older than the tracking) gets one. last_seen and the IP are written at most once a
    minute per session; the session remembers when, so most requests write nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(_untracked_prefixes()):
            return self.get_response(request)
        # The id the browser came with, before anything (login, logout, an invalid
        # password hash) could change it.
        start_key = request.session.session_key
        response = self.get_response(request)
        self._track(request, start_key)
        return response

    def _track(self, request: HttpRequest, start_key: str | None) -> None:
        # The user first: loading it flushes a session whose password hash is stale.
        user = request.user if isinstance(request.user, User) and request.user.is_authenticated else None
        end_key = request.session.session_key
        if start_key and start_key != end_key:
            user_session_rotated(old_key=start_key, new_key=end_key, user=user)
        if user is None or not end_key:
            return
        now = utc_now()
        touched_at = request.session.get(SESSION_TOUCHED_AT)
        if isinstance(touched_at, int | float) and 0 <= now.timestamp() - touched_at < TOUCH_INTERVAL_SECONDS:
            return
        ip_address = client_ip(request)
        if not user_session_touch(session_key=end_key, ip_address=ip_address, now=now):
            # Not when another browser ended this session during the request: the row
            # would list a session that no longer exists.
            if not request.session.exists(end_key):
                return
            # No impersonator here: a staff session as a customer is recorded, with its
            # staff user, where it starts (and `request.impersonator` may describe the
            # session this request has just left).
            user_session_record(
                user=user,
                session_key=end_key,
                ip_address=ip_address,
                user_agent=request.headers.get("user-agent", ""),
                now=now,
            )
        request.session[SESSION_TOUCHED_AT] = int(now.timestamp())


@functools.cache
def _mfa_exempt_prefixes() -> tuple[str, ...]:
    # The login, logout, password and two-factor pages of django-allauth (all under one
    # prefix, "/accounts/"), the language switch, static files and the health check.
    prefixes = [settings.STATIC_URL, settings.MEDIA_URL]
    allauth_prefix = posixpath.commonpath([reverse("account_login"), reverse("mfa_index")])
    if allauth_prefix != "/":
        prefixes.append(f"{allauth_prefix}/")
    for name in ("account_logout", "language-set", "healthz"):
        with contextlib.suppress(NoReverseMatch):
            prefixes.append(reverse(name))
    return tuple(prefix for prefix in prefixes if prefix)


class MfaRequiredMiddleware:
    """Sends a user who must use two factors and has none to set one up first.

    Required for staff (STAFF_REQUIRE_MFA) and for members of an account with
    `require_mfa`. An authenticator app or a passkey satisfies it. A staff user acting
    as a customer is not asked to enrol the customer's factor.

    Every authenticated request gets `request.mfa_required`, a callable the templates
    use to explain why (evaluated only if they do): the two-factor page says so while it
    applies.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return self.get_response(request)
        request.mfa_required = functools.cache(lambda: mfa_required_for(user=user))  # type: ignore[attr-defined]
        if request.path.startswith(_mfa_exempt_prefixes()) or getattr(request, "impersonator", None) is not None:
            return self.get_response(request)
        if not request.mfa_required() or has_second_factor(user=user):  # type: ignore[attr-defined]
            return self.get_response(request)
        # The two-factor page explains why (mfa/index.html, from `request.mfa_required`)
        # for as long as it applies; a flash message per redirect would pile up.
        url = reverse("mfa_index")
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(url)
        return HttpResponseRedirect(url)
