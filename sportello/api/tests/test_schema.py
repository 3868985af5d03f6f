"""The OpenAPI schema: every error status declared, Decimal figures as strings, and the
whole API fuzzed by schemathesis against it (no 500s, no answer outside the schema)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from sportello.api import auth

from .conftest import ALL_MEMBER_SCOPES, member_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict[str, Any]:
    return client.get("/api/v1/openapi.json").json()


WRITE = ["201", "400", "401", "403", "404", "409", "422", "429"]


def test_every_endpoint_declares_its_errors(schema):
    declared = {
        (path, method): sorted(operation["responses"])
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert declared == {
        ("/api/v1/status", "get"): ["200"],
        ("/api/v1/me", "get"): ["200", "401", "429"],
        ("/api/v1/services", "get"): ["200", "400", "401", "403", "422", "429"],
        ("/api/v1/services/{service_id}", "get"): ["200", "401", "403", "404", "422", "429"],
        ("/api/v1/services/{service_id}/usage", "get"): ["200", "401", "403", "404", "422", "429"],
        ("/api/v1/services/{service_id}/usage", "post"): ["201", "400", "401", "403", "404", "409", "422", "429"],
        ("/api/v1/invoices", "get"): ["200", "400", "401", "403", "422", "429"],
        ("/api/v1/invoices/{invoice_id}", "get"): ["200", "401", "403", "404", "422", "429"],
        ("/api/v1/invoices/{invoice_id}/pay-with-credit", "post"): WRITE,
        ("/api/v1/payments", "get"): ["200", "400", "401", "403", "422", "429"],
        ("/api/v1/payments", "post"): WRITE,
        ("/api/v1/payments/{payment_id}", "get"): ["200", "401", "403", "404", "422", "429"],
        ("/api/v1/credit", "get"): ["200", "400", "401", "403", "422", "429"],
        ("/api/v1/credit/funds", "post"): ["201", "400", "401", "403", "409", "422", "429"],
    }
    assert schema["components"]["securitySchemes"] == {"TokenAuth": {"type": "http", "scheme": "bearer"}}


def test_decimal_figures_are_strings(schema):
    components = schema["components"]["schemas"]
    assert components["UsageIn"]["properties"]["quantity"]["type"] == "string"
    assert components["UsageRecordOut"]["properties"]["quantity"]["type"] == "string"
    assert components["MoneyOut"]["properties"]["amount"]["type"] == "string"
    for figure in ("used", "limit"):
        assert components["QuotaOut"]["properties"][figure]["type"] == "string"
    assert components["AmountIn"]["properties"]["amount"]["type"] == "string"
    for figure in ("quantity", "unit_price", "tax_rate"):
        assert components["InvoiceLineOut"]["properties"][figure]["type"] == "string"
    assert "number" not in types_in(components)


def types_in(node: Any) -> set[str]:
    """Every JSON type the schema names anywhere."""
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            found.add(node["type"])
        for value in node.values():
            found |= types_in(value)
    elif isinstance(node, list):
        for value in node:
            found |= types_in(value)
    return found


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/services/{service_id}/usage",
        "/api/v1/invoices/{invoice_id}/pay-with-credit",
        "/api/v1/credit/funds",
        "/api/v1/payments",
    ],
)
def test_every_write_takes_an_idempotency_key(schema, path):
    parameters = schema["paths"][path]["post"]["parameters"]
    header = next(p for p in parameters if p["in"] == "header")
    assert (header["name"], header["required"]) == ("Idempotency-Key", True)


def test_the_invoice_status_filter_offers_every_status_but_draft(schema):
    from sportello.billing.models import InvoiceStatus

    parameter = next(p for p in schema["paths"]["/api/v1/invoices"]["get"]["parameters"] if p["name"] == "status")
    offered = next(option["enum"] for option in parameter["schema"]["anyOf"] if "enum" in option)
    assert sorted(offered) == sorted(set(InvoiceStatus.values) - {"draft"})


# --- Fuzzing ------------------------------------------------------------------------------------


@pytest.fixture
def keep_the_test_connection():
    """The WSGI app closes the database connection after each request, as in production;
    Django's own test client turns that off so that the test's transaction survives, and
    so must requests sent through the plain WSGI interface."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.usefixtures("keep_the_test_connection")
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_to_its_schema(alice, alice_service, bob_service, integration_api, monkeypatch, mode):
    """Every operation, with data that fits the schema and data that does not, sent with a
    token that may do everything a member may: never a 500, never an answer (status, body,
    headers) that the schema does not describe, and invalid input always refused."""
    secret = member_token(alice, [*ALL_MEMBER_SCOPES, "payments:write"])[1]
    # The fuzzer sends deliberately unauthenticated requests from one address, many times.
    monkeypatch.setattr(auth, "AUTH_FAILURES_ALLOWED", 10**9)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 14
    for operation in operations:
        takes_input = any(len(part) for part in (operation.path_parameters, operation.query, operation.body))
        if mode == GenerationMode.NEGATIVE and not takes_input:
            continue  # /status and /me take nothing that could be invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=60,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            # Not "every schema-valid request is accepted": an opaque cursor, a key already
            # used for another body or a time past year 9999 in UTC fit the schema's types and
            # are still refused, with 400 or 422, by design.
            case.call_and_validate(
                headers={"Authorization": f"Bearer {secret}"}, excluded_checks=[positive_data_acceptance]
            )

        check()
