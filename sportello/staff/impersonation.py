"""Staff logged in as a customer: explicit, time-limited, shown, audited.

Starting puts the staff user's id and a deadline in the customer's fresh session. Every
request checks the deadline (middleware); past it, the session ends. The client area
shows a banner with the staff user's name and an "End" button while it lasts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sportello.accounts.adapters import client_ip
from sportello.accounts.models import User
from sportello.accounts.services import (
    IMPERSONATION_MINUTES,
    ImpersonationRefused,
    impersonation_check,
    impersonation_record,
    user_session_record,
)
from sportello.core.time import utc_now

SESSION_IMPERSONATOR = "impersonator_id"
SESSION_UNTIL = "impersonation_until"
BACKEND = "django.contrib.auth.backends.ModelBackend"


@require_POST
@staff_member_required
def impersonation_start(request: HttpRequest, user_id: int) -> HttpResponse:
    staff = request.user
    assert isinstance(staff, User)
    target = get_object_or_404(User, pk=user_id)
    try:
        impersonation_check(staff=staff, target=target)
    except ImpersonationRefused as refused:
        messages.error(request, _("You cannot log in as this user (%(reason)s).") % {"reason": refused.reason})
        return redirect("admin:accounts_user_change", user_id)
    impersonation_record(staff=staff, target=target, ip_address=client_ip(request), started=True)
    login(request, target, backend=BACKEND)  # a new session: the staff one is closed
    until = utc_now() + dt.timedelta(minutes=IMPERSONATION_MINUTES)
    request.session[SESSION_IMPERSONATOR] = staff.pk
    request.session[SESSION_UNTIL] = until.isoformat()
    request.session.save()  # login() flushed the session: save it now to have its new key
    user_session_record(
        user=target,
        session_key=request.session.session_key or "",
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        now=utc_now(),
        impersonator=staff,
    )
    return redirect("portal:dashboard")


@require_POST
def impersonation_end(request: HttpRequest) -> HttpResponse:
    """Back to the back office as the staff user who started it."""
    staff_id = request.session.get(SESSION_IMPERSONATOR)
    target = request.user if request.user.is_authenticated else None
    staff = User.objects.filter(pk=staff_id, is_staff=True, is_active=True).first() if staff_id else None
    logout(request)
    if staff is None or not isinstance(target, User):
        return redirect("account_login")
    impersonation_record(staff=staff, target=target, ip_address=client_ip(request), started=False)
    login(request, staff, backend=BACKEND)
    return redirect("admin:accounts_user_change", target.pk)


class ImpersonationMiddleware:
    """Ends an impersonated session past its deadline; exposes the staff user for the banner."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.impersonator = None  # type: ignore[attr-defined]
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_IMPERSONATOR) and request.user.is_authenticated:
            until = dt.datetime.fromisoformat(session.get(SESSION_UNTIL, "1970-01-01T00:00:00+00:00"))
            staff = User.objects.filter(pk=session[SESSION_IMPERSONATOR]).first()
            if utc_now() >= until or staff is None:
                target = request.user
                logout(request)
                if staff is not None and isinstance(target, User):
                    impersonation_record(staff=staff, target=target, ip_address=client_ip(request), started=False)
                messages.info(request, _("The staff session as a customer has ended."))
                return redirect("account_login")
            request.impersonator = staff  # type: ignore[attr-defined]
            request.impersonation_until = until  # type: ignore[attr-defined]
        return self.get_response(request)
