"""Who may see a client-area page: a logged-in member of an account, with the page's area.

Every portal view is wrapped in `member_required`; it resolves the acting membership
(the account chosen in the switcher, else the first) and puts it on the request, where
the view hands it to selectors. An area the member lacks answers 404, like any object
of another account: the client area never confirms that something exists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from sportello.accounts.selectors import membership_active

if TYPE_CHECKING:
    from sportello.accounts.models import Membership, User

    class MemberRequest(HttpRequest):
        user: User
        membership: Membership
else:
    MemberRequest = HttpRequest

SESSION_ACCOUNT_KEY = "portal_account_id"

View = Callable[..., HttpResponse]


def member_required(area: str | None = None) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = membership_active(user=request.user, account_id=request.session.get(SESSION_ACCOUNT_KEY))  # type: ignore[arg-type]
            if membership is None:
                return render(request, "portal/no_account.html", status=403)
            if area is not None and not membership.has_area(area):
                raise Http404
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        wrapped.portal_area = area  # type: ignore[attr-defined]
        wrapped.member_required = True  # type: ignore[attr-defined]
        return wrapped

    return decorator
