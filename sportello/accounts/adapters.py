"""How django-allauth fits Sportello: no self sign-up, links from SITE_URL, every email
through the email log, every login and failure in the audit log and the session list."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation

from sportello.accounts.models import User
from sportello.accounts.services import audit_user, user_session_record
from sportello.core.services import audit_record
from sportello.core.time import utc_now

# allauth's security notices, by template name, and the audit action each one records.
SECURITY_NOTICE_ACTIONS = {
    "password_changed": "user.password_changed",
    "password_set": "user.password_changed",
    "password_reset": "user.password_changed",
    "email_changed": "user.email_changed",
    "totp_activated": "user.mfa_enabled",
    "totp_deactivated": "user.mfa_disabled",
    "webauthn_added": "user.passkey_added",
    "webauthn_removed": "user.passkey_removed",
    "recovery_codes_generated": "user.recovery_codes_generated",
}


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """Customers' people are created by the provider or invited by a colleague."""
        return False

    def get_reset_password_from_key_url(self, key: str) -> str:
        """Built from SITE_URL, never from the request's Host header (which an attacker sets)."""
        uidb36, _, token = key.partition("-")
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": uidb36, "key": token})
        return f"{settings.SITE_URL}{path}"

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        from sportello.notifications.models import EmailKind
        from sportello.notifications.services import email_send_rendered

        user = context.get("user") or User.objects.filter(email=email.lower()).first()
        language = getattr(user, "language", "") or translation.get_language() or settings.LANGUAGE_CODE
        context = {
            **context,
            "PROVIDER_NAME": settings.PROVIDER_NAME,
            "SITE_URL": settings.SITE_URL,
            "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
            "name": user.get_short_name() if isinstance(user, User) else "",
            "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        }
        with translation.override(language):
            message = self.render_mail(template_prefix, email, context)
        html = ""
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                html = str(content)
        # The reset link only: "password_reset" alone is the notice that a reset happened.
        reset_link = template_prefix.endswith("password_reset_key")
        kind = EmailKind.PASSWORD_RESET if reset_link else EmailKind.SECURITY
        email_send_rendered(
            kind=kind,
            to_email=email,
            subject=str(message.subject),
            text=str(message.body),
            html=html,
            recipient=user if isinstance(user, User) else None,
        )
        if kind == EmailKind.PASSWORD_RESET and isinstance(user, User):
            audit_user(
                action="user.password_reset_requested", actor=user, user=user, ip_address=client_ip(self.request)
            )

    def send_notification_mail(
        self,
        template_prefix: str,
        user: AbstractBaseUser,
        context: dict[str, Any] | None = None,
        email: str | None = None,
    ) -> None:
        """Security notices (password, email, two-factor changed): audited, then emailed."""
        action = SECURITY_NOTICE_ACTIONS.get(template_prefix.rsplit("/", 1)[-1])
        if action is not None and isinstance(user, User):
            audit_user(action=action, actor=user, user=user, ip_address=client_ip(self.request))
        if isinstance(user, User) and not email:
            email = user.email  # people created by staff may have no allauth EmailAddress row yet
        super().send_notification_mail(template_prefix, user, context, email)

    def login(self, request: HttpRequest, user: AbstractBaseUser) -> None:
        super().login(request, user)  # rotates the session id (django.contrib.auth.login)
        assert isinstance(user, User)
        if user.language:
            # The request started in the cookie's or browser's language; from now on the
            # member's own, so that "signed in as" and the next messages are in it.
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        if not request.session.session_key:
            request.session.save()  # a login after another user's flushes the session: key it now
        user_session_record(
            user=user,
            session_key=request.session.session_key or "",
            ip_address=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            now=utc_now(),
        )
        audit_user(action="user.login", actor=user, user=user, ip_address=client_ip(request))

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        super().authentication_failed(request, **credentials)
        email = str(credentials.get("email") or credentials.get("username") or "").lower()
        user = User.objects.filter(email=email).first()
        if user is not None:
            audit_user(action="user.login_failed", actor=None, user=user, ip_address=client_ip(request))
        else:
            # Unknown emails are logged without the email typed: the log is no list of guesses.
            audit_record(action="user.login_failed", ip_address=client_ip(request), data={"known": False})
