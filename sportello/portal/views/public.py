"""Pages for visitors: first access, invitations, the password meter, language, contact."""

from __future__ import annotations

from allauth.core.ratelimit import consume, respond_429
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import path, re_path, reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sportello.accounts.adapters import AccountAdapter, client_ip
from sportello.accounts.errors import AlreadyMember, InvitationInvalid
from sportello.accounts.models import User
from sportello.accounts.passwords import password_strength, user_inputs_of
from sportello.accounts.services import (
    first_access_request,
    invitation_accept,
    invitation_find,
    password_link_user,
    user_create,
    user_set_language,
    user_set_password_from_link,
    user_update_profile,
)
from sportello.core.time import utc_now
from sportello.portal.access import SESSION_ACCOUNT_KEY
from sportello.portal.forms import LanguageForm
from sportello.portal.forms_public import FirstAccessForm, NewMemberForm, SetPasswordForm


def _log_in(request: HttpRequest, user: User) -> None:
    adapter = AccountAdapter(request)
    adapter.login(request, user)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def first_access(request: HttpRequest) -> HttpResponse:
    """Step one: the email. Known and unknown emails get the same answer."""
    form = FirstAccessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].lower()
        if not consume(request, action="first_access", key=email):
            return respond_429(request)
        first_access_request(email=email, ip_address=client_ip(request))
        return redirect("first-access-sent")
    return render(request, "portal/public/first_access.html", {"form": form})


@require_safe
def first_access_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/public/first_access_sent.html")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def first_access_set_password(request: HttpRequest, uidb36: str, key: str) -> HttpResponse:
    """Step two, from the emailed link: choose a password; the link then dies."""
    user = password_link_user(uidb36=uidb36, key=key)
    if user is None:
        return render(request, "portal/public/link_invalid.html", status=400)
    form = SetPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        user = user_set_password_from_link(
            user=user, password=form.cleaned_data["password1"], ip_address=client_ip(request)
        )
        if Authenticator.objects.filter(user=user).exists():
            # A password link never skips the second factor: log in through the normal door.
            messages.success(request, _("Your password is set. Log in with it and your second factor."))
            return redirect("account_login")
        _log_in(request, user)
        messages.success(request, _("Welcome! Your password is set and your email is confirmed."))
        return redirect("portal:dashboard")
    return render(request, "portal/public/set_password.html", {"form": form, "user_email": user.email})


@require_POST
def password_strength_meter(request: HttpRequest) -> HttpResponse:
    """The live meter: scores what is being typed with the rules the server enforces."""
    if not consume(request, action="password_strength"):
        return HttpResponse(status=429)
    password = next((str(value) for key, value in request.POST.items() if key.startswith("password")), "")
    user = request.user if request.user.is_authenticated else None
    inputs = [*user_inputs_of(user), request.POST.get("email", ""), request.POST.get("full_name", "")]
    return render(request, "portal/_password_meter.html", {"strength": password_strength(password[:4096], inputs)})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def invitation(request: HttpRequest, secret: str) -> HttpResponse:
    """Accept an invitation: logged in as the invited email, or by creating the login."""
    try:
        pending = invitation_find(secret=secret, now=utc_now())
    except InvitationInvalid:
        return render(request, "portal/public/link_invalid.html", status=400)
    existing = User.objects.filter(email=pending.email).first()
    context: dict[str, object] = {"invitation": pending, "existing": existing}
    if request.user.is_authenticated:
        if request.user.email != pending.email:
            return render(request, "portal/public/invitation_other_user.html", context, status=403)
        if request.method == "POST":
            return _accept(request, secret, request.user)
        return render(request, "portal/public/invitation.html", context)
    if existing is not None and existing.has_usable_password():
        login_url = f"{reverse('account_login')}?next={request.path}"
        return render(request, "portal/public/invitation.html", {**context, "login_url": login_url})
    form = NewMemberForm(request.POST or None, user=existing or User(email=pending.email))
    if request.method == "POST" and form.is_valid():
        user = existing or user_create(email=pending.email, language=translation.get_language() or "")
        user_update_profile(user=user, full_name=form.cleaned_data["full_name"], language=user.language)
        user = user_set_password_from_link(
            user=user, password=form.cleaned_data["password1"], ip_address=client_ip(request)
        )
        return _accept(request, secret, user, log_in=True)
    return render(request, "portal/public/invitation.html", {**context, "form": form})


def _accept(request: HttpRequest, secret: str, user: User, *, log_in: bool = False) -> HttpResponse:
    try:
        membership = invitation_accept(secret=secret, user=user, now=utc_now())
    except (InvitationInvalid, AlreadyMember):
        return render(request, "portal/public/link_invalid.html", status=400)
    if log_in:
        _log_in(request, user)
    request.session[SESSION_ACCOUNT_KEY] = membership.account_id
    messages.success(request, _("You now have access to %(account)s.") % {"account": membership.account.name})
    return redirect("portal:dashboard")


@require_safe
def contact_provider(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/public/contact.html")


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Choose the language: saved on the user when logged in, in a cookie for visitors."""
    form = LanguageForm(request.POST)
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if not form.is_valid():
        messages.error(request, _("That language is not available."))
        return response
    language = form.cleaned_data["language"]
    if request.user.is_authenticated:
        user_set_language(user=request.user, language=language)
    translation.activate(language)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite="Lax",
    )
    return response


urlpatterns = [
    path("language/", language_set, name="language-set"),
    path("contact/", contact_provider, name="contact-provider"),
    path("accounts/first-access/", first_access, name="first-access"),
    path("accounts/first-access/sent/", first_access_sent, name="first-access-sent"),
    re_path(
        r"^accounts/first-access/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>[0-9A-Za-z]+-[0-9A-Za-z]+)/$",
        first_access_set_password,
        name="first-access-set-password",
    ),
    path("accounts/password-strength/", password_strength_meter, name="password-strength"),
    path("accounts/invitation/<str:secret>/", invitation, name="invitation-accept"),
]
