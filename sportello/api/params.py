"""What every endpoint checks of its request the same way: the ids a path may name and the
query parameters it takes."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sportello.api.errors import ApiError

# Largest id a path may name (a 64-bit database key).
MAX_ID = 2**63 - 1


def only_known_query(request: HttpRequest, *known: str) -> None:
    """Refuse query parameters the endpoint does not take (a misspelt ?limt=5 would
    otherwise be ignored silently and the client would never learn why)."""
    unknown = sorted(set(request.GET) - set(known))
    if unknown:
        raise ApiError(
            422,
            "invalid",
            _("The request is not valid: see the errors of each field."),
            errors=[{"field": f"query.{name}", "message": "unknown parameter"} for name in unknown],
        )
