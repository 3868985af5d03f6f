"""Uploaded files: what they are (by content), what they may be called, where they are kept.

Types are read from the first bytes, with a small signature table, not from the name or
the browser's Content-Type: a PNG named "x.pdf" is a PNG, and an HTML page named
"report.pdf" is refused. Accepted: PDF, PNG, JPEG, GIF, WebP, ZIP (and the office
formats built on it) and plain text. Refused: HTML, SVG, XML, scripts and executables,
and anything else we cannot name — including polyglots whose first bytes say "image"
but which carry markup, because the whole head of the file is checked for markup too.

Files are stored in Django's default storage (MEDIA_ROOT on local disk, outside the
static root and not served by the web server) under a random name the server makes up;
the user's name survives only as a display name, cleaned of paths and control
characters. They are sent back only by views that checked who asks, always as an
attachment with `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import IO

from django.core.files.base import File
from django.core.files.storage import default_storage

from sportello.support.errors import AttachmentRefused

# (magic bytes at offset 0, MIME type). Checked in order.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
)
# Executables and script containers, refused whatever their name.
REFUSED_SIGNATURES: tuple[bytes, ...] = (
    b"MZ",  # Windows PE
    b"\x7fELF",  # Linux
    b"\xcf\xfa\xed\xfe",  # Mach-O
    b"\xfe\xed\xfa\xcf",
    b"\xca\xfe\xba\xbe",  # Mach-O universal, Java class
    b"#!",  # shell and other scripts
)
# Markup that a browser would render or run; its presence anywhere in the head makes a
# file refused, also behind an image signature (GIF/JPEG + HTML polyglots).
_MARKUP = re.compile(
    rb"<\s*(?:!doctype|html|head|body|script|svg|iframe|object|embed|xml|\?xml|meta|link|style|a\s|img|div|form)\b"
    rb"|javascript:|on[a-z]+\s*=",
    re.I,
)
HEAD_BYTES = 8192

# Text files get this type; a browser never runs it, and downloads keep it.
TEXT_TYPE = "text/plain"


def sniff_type(head: bytes) -> str | None:
    """The MIME type of a file starting with `head`, or None when it is not one we accept."""
    if any(head.startswith(signature) for signature in REFUSED_SIGNATURES):
        return None
    for signature, mime in SIGNATURES:
        if head.startswith(signature):
            if mime in {"image/png", "image/jpeg", "image/gif"} and _MARKUP.search(head):
                return None
            return mime
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if _MARKUP.search(head):
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The head may end in the middle of a character; anything else is binary.
        if error.start < len(head) - 4:
            return None
        text = head[: error.start].decode("utf-8")
    if any(ord(char) < 32 and char not in "\t\n\r\f" for char in text):
        return None
    return TEXT_TYPE


def safe_filename(name: str, *, fallback: str = "file") -> str:
    """A display name without directories, control or quote characters, at most 150 characters.
    It is shown escaped and sent in Content-Disposition, never used as a path."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = name.replace('"', "'").strip(" .")
    if len(name) > 150:
        stem, dot, extension = name.rpartition(".")
        name = (stem[: 150 - len(extension) - 1] + dot + extension) if dot and len(extension) <= 10 else name[:150]
    return name or fallback


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed the checks, ready to be stored."""

    file: IO[bytes]
    filename: str
    content_type: str
    size: int


def upload_check(file: IO[bytes], *, name: str, max_bytes: int) -> CheckedUpload:
    """Refuse an empty, oversized or unaccepted file (AttachmentRefused); else describe it."""
    filename = safe_filename(name)
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, 2)
        size = file.tell()
    if size == 0:
        raise AttachmentRefused("empty", filename=filename)
    if size > max_bytes:
        raise AttachmentRefused("too_large", filename=filename, limit=max_bytes)
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(0)
    content_type = sniff_type(head)
    if content_type is None:
        raise AttachmentRefused("type_refused", filename=filename)
    return CheckedUpload(file=file, filename=filename, content_type=content_type, size=size)


def file_store(upload: CheckedUpload, *, folder: str) -> tuple[str, str]:
    """Save the upload under a random name in `folder`; return (stored name, SHA-256)."""
    digest = hashlib.sha256()
    upload.file.seek(0)
    for chunk in iter(lambda: upload.file.read(65536), b""):
        digest.update(chunk)
    upload.file.seek(0)
    stored = default_storage.save(f"{folder}/{secrets.token_hex(16)}", File(upload.file))
    return stored, digest.hexdigest()


def file_open(stored_name: str) -> IO[bytes]:
    return default_storage.open(stored_name, "rb")
