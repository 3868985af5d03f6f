"""Errors of the API: JSON with a stable `code` and a `message` in the caller's language
(Accept-Language), plus per-field details for invalid input.

Codes are part of the API's contract and never change; messages may be reworded and are
translated. Every status the API answers with is declared in the schema (ERROR_RESPONSES).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError


class FieldErrorOut(Schema):
    # Where the error is: "body.quantity", "header.Idempotency-Key", "query.limit".
    field: str
    message: str


class ErrorOut(Schema):
    code: str
    message: str
    errors: list[FieldErrorOut] = []


# Every error status an endpoint may answer with; each endpoint declares the ones it can give.
ERROR_STATUSES = (400, 401, 403, 404, 409, 422, 429)


def error_responses(*statuses: int) -> dict[int, type[ErrorOut]]:
    return dict.fromkeys(statuses, ErrorOut)


class ApiError(Exception):
    """A refusal with its status, stable code and translated message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | Promise,
        *,
        errors: list[dict[str, str]] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []
        self.params = params

    def text(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


MESSAGES: dict[str, Promise] = {
    "token_invalid": _(
        "The API token is missing, unknown, expired or revoked, or whoever it acts for can no longer use the API."
    ),
    "throttled": _("Too many failed attempts with API tokens from your address. Try again in a few minutes."),
    "not_found": _("Not found."),
    "invalid": _("The request is not valid: see the errors of each field."),
    "bad_request": _("The request could not be read: send JSON with the fields this endpoint describes."),
}


def _error(api: NinjaAPI, request: HttpRequest, *, status: int, code: str, message: str, errors: Any = ()) -> Any:
    body = {"code": code, "message": message, "errors": list(errors)}
    return api.create_response(request, body, status=status)


def _field(location: Any) -> str:
    parts = [str(part) for part in location if part not in ("payload",)]
    return ".".join(parts)


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        response: HttpResponse = _error(
            api, request, status=exc.status, code=exc.code, message=exc.text(), errors=exc.errors
        )
        if exc.status == 429:
            response["Retry-After"] = str(exc.params.get("retry_after", 600))
        return response

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response: HttpResponse = _error(
            api, request, status=401, code="token_invalid", message=str(MESSAGES["token_invalid"])
        )
        response["WWW-Authenticate"] = 'Bearer realm="sportello"'
        return response

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = [{"field": _field(error.get("loc", ())), "message": str(error.get("msg", ""))} for error in exc.errors]
        return _error(api, request, status=422, code="invalid", message=str(MESSAGES["invalid"]), errors=errors)

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return _error(api, request, status=404, code="not_found", message=str(MESSAGES["not_found"]))

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # Ninja's own refusals, such as a body that is not JSON.
        if exc.status_code == 401:
            return unauthenticated(request, AuthenticationError())
        code = "bad_request" if exc.status_code == 400 else "refused"
        message = str(MESSAGES["bad_request"]) if exc.status_code == 400 else str(exc)
        return _error(api, request, status=exc.status_code, code=code, message=message)
