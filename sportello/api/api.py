"""The REST API (OpenAPI 3 schema at /api/v1/openapi.json). Domain endpoints join as they land."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Schema

from sportello import __version__

api = NinjaAPI(
    title="Sportello API",
    version="1",
    description="Customer accounts, billing and services of a Sportello installation.",
    urls_namespace="api",
)


class StatusOut(Schema):
    name: str
    version: str


@api.get("/status", response=StatusOut, tags=["meta"], summary="Which Sportello answers")
def status(request: HttpRequest) -> StatusOut:
    return StatusOut(name="sportello", version=__version__)
