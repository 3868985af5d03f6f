"""The Security tab of the account: the password, two-factor authentication, and the
browsers where the user is logged in, each of which can be ended.

The password and two-factor pages themselves are django-allauth's (under /accounts/,
drawn in the client area's layout by templates/allauth/layouts/manage.html); this page
shows where things stand and links to them. Sessions are the user's own: another user's
session id answers 404, like any object that is not yours.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from sportello.accounts.adapters import client_ip
from sportello.accounts.middleware_security import accounts_requiring_mfa, second_factors_of
from sportello.accounts.selectors import sessions_of
from sportello.accounts.services import user_session_end, user_sessions_end_others
from sportello.portal.access import MemberRequest, member_required

# --- Devices --------------------------------------------------------------------------------

# (pattern, name), first match wins: Edge and Opera also say "Chrome", Chrome also says
# "Safari", Android also says "Linux", iPhones also say "Mac OS X".
_BROWSERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"\bEdg(e|A|iOS)?/", "Edge"),
        (r"\bOPR/|\bOpera\b|\bOPT/", "Opera"),
        (r"\bSamsungBrowser/", "Samsung Internet"),
        (r"\bYaBrowser/", "Yandex Browser"),
        (r"\bVivaldi/", "Vivaldi"),
        (r"\bFirefox/|\bFxiOS/", "Firefox"),
        (r"\bCriOS/", "Chrome"),
        (r"\bChromium/", "Chromium"),
        (r"\b(Headless)?Chrome/", "Chrome"),
        (r"\bVersion/[\d.]+.*\bSafari/|\bAppleWebKit/.*\(KHTML, like Gecko\) Mobile/", "Safari"),
        (r"\bMSIE |\bTrident/", "Internet Explorer"),
    )
)
_SYSTEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"\bWindows Phone\b", "Windows Phone"),
        (r"\bWindows\b", "Windows"),
        (r"\biPad\b", "iPadOS"),
        (r"\biPhone\b|\biPod\b", "iOS"),
        (r"\bAndroid\b", "Android"),
        (r"\bCrOS\b", "ChromeOS"),
        (r"\bMacintosh\b|\bMac OS X\b", "macOS"),
        (r"\bLinux\b|\bX11\b", "Linux"),
    )
)


def _first_match(user_agent: str, table: tuple[tuple[re.Pattern[str], str], ...]) -> str | None:
    return next((name for pattern, name in table if pattern.search(user_agent)), None)


def device_summary(user_agent: str) -> str:
    """A short readable name for a browser, from its User-Agent: "Chrome on Linux".

    Only the common browsers and systems are told apart; anything else says what it can,
    or "Unknown device". It is a label for people, never used to decide anything.
    """
    browser = _first_match(user_agent, _BROWSERS)
    system = _first_match(user_agent, _SYSTEMS)
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system or _("Unknown device")


# --- Pages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    id: int
    device: str
    user_agent: str
    ip_address: str | None
    created_at: dt.datetime
    last_seen: dt.datetime
    is_current: bool
    # Opened by staff acting as this user (shown, so that the customer knows).
    by_staff: bool


@member_required()
@require_safe
def security(request: MemberRequest) -> HttpResponse:
    user = request.user
    current_key = request.session.session_key
    sessions = [
        SessionRow(
            id=session.pk,
            device=device_summary(session.user_agent),
            user_agent=session.user_agent,
            ip_address=session.ip_address,
            created_at=session.created_at,
            last_seen=session.last_seen,
            is_current=session.session_key == current_key,
            by_staff=session.impersonator_id is not None,
        )
        for session in sessions_of(user=user)
    ]
    # The current browser first, then the most recently seen.
    sessions.sort(key=lambda row: not row.is_current)
    return render(
        request,
        "portal/security/index.html",
        {
            "active_nav": "account",
            "account_tab": "security",
            "sessions": sessions,
            "other_sessions": sum(1 for row in sessions if not row.is_current),
            "factors": second_factors_of(user=user),
            "accounts_requiring_mfa": accounts_requiring_mfa(user=user),
            "staff_requires_mfa": user.is_staff and settings.STAFF_REQUIRE_MFA,
        },
    )


def _back(request: MemberRequest) -> HttpResponse:
    """Back to the page the form was on (the security page, or the password page)."""
    next_url = request.POST.get("next") or ""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect(reverse("portal:security"))


@member_required()
@require_POST
def session_end(request: MemberRequest, session_id: int) -> HttpResponse:
    if sessions_of(user=request.user).filter(pk=session_id, session_key=request.session.session_key).exists():
        messages.error(request, _("This is the browser you are using now. To end this session, log out."))
        return _back(request)
    ended = user_session_end(user=request.user, session_id=session_id, by=request.user, ip_address=client_ip(request))
    if not ended:
        raise Http404
    messages.success(request, _("The session has ended: that browser is logged out."))
    return _back(request)


@member_required()
@require_POST
def sessions_end_others(request: MemberRequest) -> HttpResponse:
    ended = user_sessions_end_others(
        user=request.user,
        keep_session_key=request.session.session_key or "",
        by=request.user,
        ip_address=client_ip(request),
    )
    if ended:
        messages.success(
            request,
            ngettext(
                "%(count)d other session has ended.",
                "%(count)d other sessions have ended.",
                ended,
            )
            % {"count": ended},
        )
    else:
        messages.info(request, _("You were not logged in anywhere else."))
    return _back(request)


urlpatterns: list[URLPattern] = [
    path("account/security/", security, name="security"),
    path("account/security/sessions/<int:session_id>/end/", session_end, name="security-session-end"),
    path("account/security/sessions/end-others/", sessions_end_others, name="security-sessions-end-others"),
]
