"""The REST API at /api/v1/ (OpenAPI 3 schema at /api/v1/openapi.json, docs at /api/v1/docs).

Every endpoint but /status needs `Authorization: Bearer spt_...` (see auth.py). Views
only check scopes, call one selector or service and shape the answer: the rules live in
the domain. A member token reaches its account's rows only through the selectors that
take its membership, so another account's service answers 404.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import Header, NinjaAPI, Path, Query, Schema
from ninja.responses import Status

from sportello import __version__
from sportello.accounts.models import ApiScope, ApiToken
from sportello.accounts.services import api_token_scopes
from sportello.api.auth import ApiRequest, TokenAuth, acting_membership, require_scope
from sportello.api.billing import router as billing_router
from sportello.api.errors import ApiError, error_responses, install_error_handlers
from sportello.api.idempotency import IdempotencyKeyReused, idempotent_write, request_fingerprint
from sportello.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, paginate
from sportello.api.params import MAX_ID, only_known_query
from sportello.api.schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    AccountOut,
    BillingDetailsOut,
    MeOut,
    MoneyOut,
    PlanOut,
    QuotaOut,
    ServiceOut,
    ServicesPageOut,
    ServiceUsageOut,
    TokenOut,
    UsageIn,
    UsageRecordOut,
    decimal_text,
)
from sportello.core.time import utc_now
from sportello.services.errors import InvalidServiceData, UsageKeyReused
from sportello.services.models import Service, UsageRecord
from sportello.services.selectors import quota_usage, service_charge, service_for_integration, services_visible_to
from sportello.services.services import usage_record

api = NinjaAPI(
    title="Sportello API",
    version="1",
    description=(
        "Customer accounts, billing and services of a Sportello installation. "
        "Authenticate with `Authorization: Bearer spt_...`; send an `Idempotency-Key` with every write; "
        "lists are paginated with the opaque `next_cursor`. Errors are JSON with a stable `code` and a "
        "`message` in the language of `Accept-Language`."
    ),
    urls_namespace="api",
    auth=TokenAuth(),
)
install_error_handlers(api)

READ_ERRORS = error_responses(401, 403, 404, 422, 429)
_only_known_query = only_known_query


class StatusOut(Schema):
    name: str
    version: str


@api.get("/status", response=StatusOut, tags=["meta"], summary="Which Sportello answers", auth=None)
def status(request: HttpRequest) -> StatusOut:
    return StatusOut(name="sportello", version=__version__)


# --- Who am I ---------------------------------------------------------------------------------


@api.get(
    "/me", response={200: MeOut, **error_responses(401, 429)}, tags=["account"], summary="The token and its account"
)
def me(request: ApiRequest) -> dict[str, Any]:
    _only_known_query(request)
    token: ApiToken = request.auth
    scopes = api_token_scopes(token=token)
    membership = acting_membership(token)
    account = membership.account if membership is not None else None
    return {
        "token": TokenOut(
            name=token.name,
            kind=token.kind,
            key_id=token.key_id,
            scopes=sorted(scopes),
            expires_at=token.expires_at,
        ),
        "account": AccountOut.model_validate(account, from_attributes=True) if account is not None else None,
        "user": membership.user.email if membership is not None else None,
        "role": membership.role if membership is not None else None,
        "billing": (
            BillingDetailsOut(
                legal_name=account.name,
                kind=account.kind,
                address_lines=account.address_lines,
                country=account.country,
                vat_id=account.vat_id,
                tax_id=account.tax_id,
                currency=account.currency,
            )
            if account is not None and ApiScope.BILLING in scopes
            else None
        ),
    }


# --- Services ---------------------------------------------------------------------------------


def _service_out(service: Service) -> ServiceOut:
    charge = service_charge(service=service)
    return ServiceOut(
        id=service.pk,
        label=service.label,
        status=service.status,
        plan=PlanOut(code=service.plan.code, name=service.plan.name, product=service.plan.product.name),
        cycle=service.cycle,
        quantity=service.quantity,
        auto_renew=service.auto_renew,
        cancel_at_period_end=service.cancel_at_period_end,
        current_period_start=service.current_period_start,
        current_period_end=service.current_period_end,
        next_due_date=service.next_due_date,
        price=MoneyOut(amount=str(charge.amount), currency=charge.currency),
        created_at=service.created_at,
    )


def _member_service(request: ApiRequest, service_id: int) -> Service:
    """The service of the token's account with this id, or 404 (also for another account's)."""
    _only_known_query(request)
    token = require_scope(request, ApiScope.SERVICES)
    membership = acting_membership(token)
    if membership is None:
        raise Http404
    service = services_visible_to(membership=membership).filter(pk=service_id).first()
    if service is None:
        raise Http404
    return service


@api.get(
    "/services",
    response={200: ServicesPageOut, **error_responses(400, 401, 403, 422, 429)},
    tags=["services"],
    summary="The account's services, newest first",
)
def services_list(
    request: ApiRequest,
    cursor: str | None = Query(None, max_length=1000, description="The next_cursor of the page before."),
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
) -> ServicesPageOut:
    _only_known_query(request, "cursor", "limit")
    token = require_scope(request, ApiScope.SERVICES)
    membership = acting_membership(token)
    if membership is None:
        raise ApiError(
            403,
            "missing_scope",
            _("This token does not allow this: it needs the “%(scope)s” scope."),
            scope=ApiScope.SERVICES.value,
        )
    page = paginate(services_visible_to(membership=membership), listing="services", cursor=cursor, limit=limit)
    return ServicesPageOut(items=[_service_out(service) for service in page.items], next_cursor=page.next_cursor)


@api.get(
    "/services/{service_id}",
    response={200: ServiceOut, **READ_ERRORS},
    tags=["services"],
    summary="One service of the account",
)
def service_detail(request: ApiRequest, service_id: int = Path(..., ge=1, le=MAX_ID)) -> ServiceOut:
    return _service_out(_member_service(request, service_id))


@api.get(
    "/services/{service_id}/usage",
    response={200: ServiceUsageOut, **READ_ERRORS},
    tags=["services"],
    summary="What the service uses of each quota in its current period",
)
def service_usage(request: ApiRequest, service_id: int = Path(..., ge=1, le=MAX_ID)) -> ServiceUsageOut:
    service = _member_service(request, service_id)
    return ServiceUsageOut(
        service_id=service.pk,
        period_start=service.current_period_start,
        period_end=service.current_period_end,
        quotas=[
            QuotaOut(
                metric=quota.metric,
                name=quota.name,
                unit=quota.unit,
                used=decimal_text(quota.used),
                limit=decimal_text(quota.limit),
                percent=decimal_text(quota.percent) if quota.percent is not None else None,
                near_limit=quota.near_limit,
                over_limit=quota.over_limit,
            )
            for quota in quota_usage(service=service)
        ],
    )


# The messages of the usage service's refusals of a field, by field.
_USAGE_FIELD_MESSAGES = {
    "quantity": _("The quantity must be a decimal number of zero or more, with at most 18 digits and 6 decimals."),
    "metric": _("The metric must be a code such as storage_gb."),
    "idempotency_key": _("The Idempotency-Key must have between 1 and 128 characters."),
}


def _usage_record_out(record: UsageRecord) -> dict[str, Any]:
    return UsageRecordOut(
        id=record.pk,
        service_id=record.service_id,
        metric=record.metric,
        quantity=decimal_text(record.quantity),
        recorded_at=record.recorded_at,
        idempotency_key=record.idempotency_key,
    ).model_dump(mode="json")


@api.post(
    "/services/{service_id}/usage",
    response={201: UsageRecordOut, **error_responses(400, 401, 403, 404, 409, 422, 429)},
    tags=["services"],
    summary="Report usage of a service",
    description=(
        "For integration tokens (any service) and member tokens with usage:write (their account's services). "
        "Send the same Idempotency-Key again to get the first answer back (header Idempotent-Replayed: true); "
        "the same key with another body is refused (422)."
    ),
)
def usage_report(
    request: ApiRequest,
    response: HttpResponse,
    payload: UsageIn,
    service_id: int = Path(..., ge=1, le=MAX_ID),
    idempotency_key: str = Header(..., alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN),
) -> Status[dict[str, Any]]:
    _only_known_query(request)
    token = require_scope(request, ApiScope.USAGE_WRITE)
    membership = acting_membership(token)
    if membership is None:
        service = service_for_integration(service_id=service_id)
    else:
        service = services_visible_to(membership=membership).filter(pk=service_id).first()
    if service is None:
        raise Http404

    def effect() -> tuple[int, dict[str, Any]]:
        try:
            record = usage_record(
                service=service,
                metric=payload.metric,
                quantity=Decimal(payload.quantity),
                at=payload.recorded_at,
                idempotency_key=idempotency_key,
            )
        except InvalidServiceData as error:
            message = _USAGE_FIELD_MESSAGES.get(
                error.field, _("The request is not valid: see the errors of each field.")
            )
            raise ApiError(422, "invalid", message) from None
        except UsageKeyReused:
            raise ApiError(
                409,
                "usage_key_reused",
                _("This Idempotency-Key already names a different usage record of this service."),
            ) from None
        return 201, _usage_record_out(record)

    fingerprint = request_fingerprint(
        method=request.method or "POST", path=request.path, payload=payload.model_dump(mode="json")
    )
    try:
        outcome = idempotent_write(
            token=token, key=idempotency_key, fingerprint=fingerprint, now=utc_now(), effect=effect
        )
    except IdempotencyKeyReused:
        raise ApiError(
            422,
            "idempotency_key_reused",
            _("This Idempotency-Key was already used for a different request. Use a new key for a new request."),
        ) from None
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(outcome.status, outcome.body)


# --- Invoices, payments and account credit (billing.py) ---------------------------------------

api.add_router("", billing_router)
