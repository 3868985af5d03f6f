from django.http import HttpRequest

from sportello.accounts.selectors import billing_contact_of, membership_active, memberships_of
from sportello.portal.access import SESSION_ACCOUNT_KEY
from sportello.portal.navigation import navigation_for


def portal(request: HttpRequest) -> dict[str, object]:
    """The acting membership and the navigation, for every page of a logged-in member.

    Client-area views have set `request.membership` (member_required); pages rendered by
    django-allauth (password change, two-factor) resolve it here so that they show the
    same navigation.
    """
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if membership is None and user is not None and user.is_authenticated:
        membership = membership_active(user=user, account_id=request.session.get(SESSION_ACCOUNT_KEY))
    if membership is None:
        return {}
    return {
        "membership": membership,
        "current_account": membership.account,
        "navigation": navigation_for(membership),
        "billing_contact": billing_contact_of(account_id=membership.account_id),
        "other_memberships": [m for m in memberships_of(user=membership.user) if m.pk != membership.pk],
    }
