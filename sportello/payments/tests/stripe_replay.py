"""Stripe at the HTTP boundary, without the network: an HTTP client for the official SDK that
answers each expected request with a response recorded from Stripe's API (files under
recorded/stripe/), after checking the method, the path, the form parameters that matter, the
API key and the Idempotency-Key header. An unexpected request fails the test; so does an
expected one that never came. Webhook payloads are built and signed by the tests."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

from sportello.payments.adapters.base import signature_header

RECORDED = Path(__file__).parent / "recorded" / "stripe"
SECRET_KEY = "sk_test_51Sportello0000000000000000000000000000000000000000000000000000000000000000000000000000"
API_VERSION = "2026-10-28.endive"
WEBHOOK_SECRET = "whsec_sportello_test_0123456789abcdef0123456789abcdef"


def recorded(name: str, **changes: Any) -> dict[str, Any]:
    """A recorded Stripe object, with some top-level fields changed."""
    body: dict[str, Any] = json.loads((RECORDED / f"{name}.json").read_text())
    body.update(changes)
    return body


@dataclass
class Exchange:
    method: str
    path: str
    response: dict[str, Any]
    status: int
    # Form (or query) parameters that must be sent with exactly these values.
    params: dict[str, str]
    idempotency_key: str | None


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class ReplayClient(stripe.HTTPClient):
    """What the SDK sends through instead of `requests`."""

    name = "replay"

    def __init__(self) -> None:
        super().__init__()
        self.expected: deque[Exchange] = deque()
        self.sent: list[Sent] = []

    def expect(
        self,
        method: str,
        path: str,
        response: str | dict[str, Any],
        *,
        status: int = 200,
        params: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        **changes: Any,
    ) -> None:
        body = recorded(response, **changes) if isinstance(response, str) else copy.deepcopy(response)
        self.expected.append(Exchange(method.upper(), path, body, status, params or {}, idempotency_key))

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, dict[str, str]]:
        split = urlsplit(url)
        assert split.scheme == "https" and split.netloc == "api.stripe.com", url
        encoded = post_data.decode() if isinstance(post_data, bytes) else post_data or split.query
        params = dict(parse_qsl(encoded, keep_blank_values=True))
        sent_headers = {key.lower(): value for key, value in dict(headers or {}).items()}
        self.sent.append(Sent(method.upper(), split.path, params, sent_headers))
        assert self.expected, f"unexpected request to Stripe: {method.upper()} {split.path} {params}"
        exchange = self.expected.popleft()
        assert (method.upper(), split.path) == (exchange.method, exchange.path)
        assert sent_headers.get("authorization") == f"Bearer {SECRET_KEY}"
        for key, value in exchange.params.items():
            assert params.get(key) == value, f"{key}: sent {params.get(key)!r}, expected {value!r}"
        if exchange.idempotency_key is not None:
            assert sent_headers.get("idempotency-key") == exchange.idempotency_key
        return json.dumps(exchange.response), exchange.status, {"request-id": "req_replayed"}

    def close(self) -> None:
        pass


def stripe_event(event_type: str, obj: dict[str, Any], *, event_id: str, at: dt.datetime) -> dict[str, Any]:
    """An event as Stripe delivers it to a webhook endpoint."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": int(at.timestamp()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def signed(payload: dict[str, Any], *, at: dt.datetime, secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    """The body and the `Stripe-Signature` header Stripe would send, signed at `at`."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return body, {"Stripe-Signature": signature_header(secret=secret, body=body, timestamp=int(at.timestamp()))}
