"""Token authentication of the API: `Authorization: Bearer spt_...`.

The token is verified on every request (accounts.services.api_token_authenticate), so a
revoked token, a suspended or closed account, a disabled login or a removed membership
stop it at once. Failed attempts are counted per client address in the shared cache: past
AUTH_FAILURES_ALLOWED within AUTH_FAILURE_WINDOW, the address gets 429 without its
tokens being looked at, which makes guessing pointless.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja.security import HttpBearer

from sportello.accounts.adapters import client_ip
from sportello.accounts.errors import ApiTokenInvalid
from sportello.accounts.models import ApiToken, ApiTokenKind, Membership
from sportello.accounts.services import api_token_authenticate, api_token_scopes
from sportello.api.errors import MESSAGES, ApiError
from sportello.core.time import utc_now

if TYPE_CHECKING:

    class ApiRequest(HttpRequest):
        auth: ApiToken
else:
    ApiRequest = HttpRequest

AUTH_FAILURES_ALLOWED = 20
AUTH_FAILURE_WINDOW = 600  # seconds


def _failures_key(ip: str | None) -> str:
    return f"api-auth-failures:{ip or 'unknown'}"


def _throttled() -> ApiError:
    return ApiError(429, "throttled", MESSAGES["throttled"], retry_after=AUTH_FAILURE_WINDOW)


class TokenAuth(HttpBearer):
    """Bearer token auth; `request.auth` is the live ApiToken."""

    def __call__(self, request: HttpRequest) -> Any:
        ip = client_ip(request)
        if cache.get(_failures_key(ip), 0) >= AUTH_FAILURES_ALLOWED:
            raise _throttled()
        token = super().__call__(request)
        if token is None:
            self._failed(ip)
        return token

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        try:
            return api_token_authenticate(secret=token.strip(), now=utc_now(), ip_address=client_ip(request))
        except ApiTokenInvalid:
            return None

    @staticmethod
    def _failed(ip: str | None) -> None:
        key = _failures_key(ip)
        cache.add(key, 0, timeout=AUTH_FAILURE_WINDOW)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=AUTH_FAILURE_WINDOW)


def require_scope(request: ApiRequest, scope: str) -> ApiToken:
    """The caller's token if it may use `scope` now (bounded by its member's current areas), else 403."""
    token = request.auth
    if scope not in api_token_scopes(token=token):
        raise ApiError(
            403, "missing_scope", _("This token does not allow this: it needs the “%(scope)s” scope."), scope=scope
        )
    return token


def acting_membership(token: ApiToken) -> Membership | None:
    """The membership a member token acts as; None for an integration token."""
    return token.membership if token.kind == ApiTokenKind.MEMBER else None
