from django.http import HttpRequest

from sportello.accounts.selectors import memberships_of
from sportello.portal.navigation import navigation_for


def portal(request: HttpRequest) -> dict[str, object]:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "membership": membership,
        "current_account": membership.account,
        "navigation": navigation_for(membership),
        "other_memberships": [m for m in memberships_of(user=request.user) if m.pk != membership.pk],  # type: ignore[arg-type]
    }
