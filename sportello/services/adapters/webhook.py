"""The webhook module: a signed HTTP POST of each provisioning action to the provider.

The body is JSON; the headers carry `Sportello-Signature: t=<unix time>,v1=<hex
HMAC-SHA256(secret, "<t>.<body>")>` and `Idempotency-Key: <task id>`, so the receiver can
check the sender and the age of the call, and ignore a repeated delivery. A 2xx answer
is success; 5xx, 408, 429, timeouts and connection errors are worth retrying; any other
answer (4xx, a redirect, which is never followed) is not.

Outbound calls are guarded against server-side request forgery: the host is resolved
first, and addresses in loopback, link-local, private, unspecified, multicast and
reserved ranges are refused unless `PROVISIONING_ALLOW_PRIVATE_URLS` is on. The
connection then goes to the address that was checked, so a second DNS answer cannot
swap in another one; proxies from the environment are not used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from sportello.services.adapters import AdapterResult, ProvisioningError, ProvisioningRequest

TIMEOUT_SECONDS = 10
RETRYABLE_STATUSES = frozenset({408, 429})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def address_forbidden(address: IPAddress) -> bool:
    """Whether an outbound call to `address` could reach the provider's own network."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def resolve_checked(url: str, *, allow_private: bool) -> str:
    """The address to connect to for `url`, after the SSRF checks; raises ProvisioningError."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ProvisioningError(f"webhook URL {url!r} is not an http(s) URL", retryable=False)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ProvisioningError(f"webhook URL {url!r} has an invalid port", retryable=False) from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        # A name that does not resolve now may resolve later (DNS outage).
        raise ProvisioningError(f"cannot resolve {parts.hostname!r}: {error}", retryable=True) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise ProvisioningError(f"cannot resolve {parts.hostname!r}", retryable=True)
    if not allow_private:
        refused = [str(a) for a in addresses if address_forbidden(a)]
        if refused:
            raise ProvisioningError(
                f"refused: {parts.hostname!r} resolves to a loopback, link-local, private or reserved address "
                f"({', '.join(refused)}); set PROVISIONING_ALLOW_PRIVATE_URLS to allow it",
                retryable=False,
            )
    return str(addresses[0])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx answer surfaces as an HTTPError


def _pinned(connection_class: type[http.client.HTTPConnection], address: str) -> Any:
    """A connection class that connects to `address` whatever the URL's host resolves to
    (TLS still checks the certificate against the URL's host name)."""

    def build(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        connection = connection_class(host, **kwargs)

        def create_connection(target: tuple[str, int], *args: Any, **kw: Any) -> socket.socket:
            return socket.create_connection((address, target[1]), *args, **kw)

        connection._create_connection = create_connection  # type: ignore[attr-defined]
        return connection

    return build


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_pinned(http.client.HTTPConnection, self.address), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_pinned(http.client.HTTPSConnection, self.address), req)


class WebhookAdapter:
    def __init__(self, *, url: str, secret: str, allow_private: bool, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self.secret = secret
        self.allow_private = allow_private
        self.timeout = timeout

    @classmethod
    def from_settings(cls) -> WebhookAdapter:
        return cls(
            url=settings.PROVISIONING_WEBHOOK_URL,
            secret=settings.PROVISIONING_WEBHOOK_SECRET,
            allow_private=settings.PROVISIONING_ALLOW_PRIVATE_URLS,
        )

    def run(self, request: ProvisioningRequest, *, now: dt.datetime) -> AdapterResult:
        if not self.url:
            raise ProvisioningError("PROVISIONING_WEBHOOK_URL is not set", retryable=False)
        if not self.secret:
            raise ProvisioningError("PROVISIONING_WEBHOOK_SECRET is not set", retryable=False)
        address = resolve_checked(self.url, allow_private=self.allow_private)
        body = json.dumps(request.payload(), sort_keys=True, separators=(",", ":")).encode()
        # The scheme was checked by resolve_checked: http or https only.
        http_request = urllib.request.Request(  # noqa: S310
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Sportello-Provisioning/1",
                "Sportello-Signature": signature_header(secret=self.secret, timestamp=int(now.timestamp()), body=body),
                "Idempotency-Key": str(request.task_id),
            },
        )
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), _NoRedirect(), _PinnedHTTPHandler(address), _PinnedHTTPSHandler(address)
        )
        try:
            with opener.open(http_request, timeout=self.timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as error:
            status = int(error.code)
            error.close()
            retryable = status >= 500 or status in RETRYABLE_STATUSES
            raise ProvisioningError(
                f"endpoint answered HTTP {status}", retryable=retryable, status_code=status
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", None) or error
            raise ProvisioningError(f"cannot reach the endpoint: {reason}", retryable=True) from None
        if not 200 <= status < 300:
            raise ProvisioningError(f"endpoint answered HTTP {status}", retryable=False, status_code=status)
        return AdapterResult(detail=f"HTTP {status}", status_code=status)
