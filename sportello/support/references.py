"""The signed reference that lets an emailed reply find its request.

A notification about request `k7m2q9xw4a` is answered to
``support+k7m2q9xw4a-<20 hex>@example.com`` (SUPPORT_REPLY_ADDRESS with the reference
after a "+"), and its subject ends with ``[ref:k7m2q9xw4a-<20 hex>]`` for mail servers
that drop the "+" part. The 20 hex characters are an HMAC-SHA256 (keyed by SECRET_KEY)
of the public id, truncated to 80 bits: nobody can make a valid reference for a request
they have not been emailed about. Lower-case letters and digits only, because some mail
servers change the case of the local part; 8 + 31 characters fit the 64 allowed.

The reference says *which* request; *who* may write to it is decided from the sender's
address (see services.ticket_reply_by_email).
"""

from __future__ import annotations

import hmac
import re

from django.conf import settings
from django.utils.crypto import salted_hmac

from sportello.support.models import PUBLIC_ID_ALPHABET, PUBLIC_ID_LENGTH

_SALT = "sportello.support.reply-reference"
SIGNATURE_LENGTH = 20
_REFERENCE = re.compile(
    rf"(?<![0-9a-z])([{PUBLIC_ID_ALPHABET}]{{{PUBLIC_ID_LENGTH}}})-([0-9a-f]{{{SIGNATURE_LENGTH}}})(?![0-9a-z])"
)


def _signature(public_id: str) -> str:
    return salted_hmac(_SALT, public_id, algorithm="sha256").hexdigest()[:SIGNATURE_LENGTH]


def reference_for(public_id: str) -> str:
    return f"{public_id}-{_signature(public_id)}"


def reply_address(public_id: str) -> str:
    local, _at, domain = settings.SUPPORT_REPLY_ADDRESS.rpartition("@")
    return f"{local}+{reference_for(public_id)}@{domain}"


def subject_tag(public_id: str) -> str:
    return f"[ref:{reference_for(public_id)}]"


class BadReference(Exception):
    """A reference was found but its signature is wrong."""


def public_id_from(*candidates: str) -> str | None:
    """The public id in the first of `candidates` (addresses, then the subject) that holds a
    reference; None when none does. A reference with a wrong signature raises BadReference:
    it is refused, and the other candidates are not tried."""
    for text in candidates:
        for found in _REFERENCE.finditer((text or "").lower()):
            public_id, signature = found.groups()
            if hmac.compare_digest(signature, _signature(public_id)):
                return public_id
            raise BadReference(public_id)
    return None
