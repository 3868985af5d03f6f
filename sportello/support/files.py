"""Uploaded files: what they are (by content), what they may be called, where they are kept.

Types are read from the first bytes, with a small signature table, not from the name or
the browser's Content-Type: a PNG named "x.pdf" is a PNG, and an HTML page named
"report.pdf" is refused. Accepted: PDF, PNG, JPEG, GIF, WebP, ZIP (and the office
formats built on it) and plain text. Refused: HTML, SVG, XML, scripts and executables,
and anything else we cannot name — including polyglots, which pass for one type and act
as another:

- an image (PNG, JPEG, GIF, WebP) or a PDF carrying markup a browser would run anywhere
  in the file, not only in its first bytes (files are at most the size limit, so reading
  them whole costs little). Binary data is checked for tags that run or render
  (`<script`, `<svg`, `<iframe`, `<html`, ...), `javascript:` and event handlers inside a
  tag: patterns long enough that compressed image data practically never holds one by
  chance (short ones such as `<a ` or a bare `onx=` would refuse one large photo in a few);
- a PDF with JavaScript (a `/JavaScript` or `/JS` name, also written with `#xx` escapes
  or inside a compressed stream): a viewer would run it when the file is opened;
- a "ZIP" that no ZIP reader can open (a page with a ZIP signature in front), or whose
  archive comment carries markup. The members of a real archive are not inspected: an
  archive of a web site is a legitimate thing to send, and archives are only ever
  downloaded.
- a text file with markup anywhere in it.

Files are stored in Django's default storage (MEDIA_ROOT on local disk, outside the
static root and not served by the web server) under a random name the server makes up;
the user's name survives only as a display name, cleaned of paths and control
characters. They are sent back only by views that checked who asks, always as an
attachment with `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

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
# Markup that a browser would render or run; its presence anywhere in a text file makes it
# refused.
_MARKUP = re.compile(
    rb"<\s*(?:!doctype|html|head|body|script|svg|iframe|object|embed|xml|\?xml|meta|link|style|a\s|img|div|form)\b"
    rb"|javascript:|on[a-z]+\s*=",
    re.I,
)
# The same danger in binary data (images, PDF): tags that run or render followed by what
# ends a tag name, `javascript:`, and an event handler inside a tag. Each needs at least
# five given bytes in a row, so random (compressed) data matches one about once in 10^10
# bytes; the image metadata that holds XML (XMP: `<x:xmpmeta`, `tiff:ResolutionUnit=`)
# matches none of them.
_MARKUP_IN_BINARY = re.compile(
    rb"<(?:!doctype|html|head|body|script|svg|iframe|frame|frameset|object|embed|img|meta|link|style|form|base|math)"
    rb"[\s/>]"
    rb"|javascript:"
    rb"|<[a-z][a-z0-9:-]*\s[^<>]{0,300}?(?<=[\s\"'/])on[a-z]+\s*=",
    re.I,
)
# A PDF name (`/JavaScript`), possibly with `#xx` escapes (`/J#61vaScript`), and the
# streams whose compressed contents may hold more names.
_PDF_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]+)")
_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_PDF_SCRIPT_NAMES = frozenset({b"JavaScript", b"JS"})
# At most this much is inflated from a PDF's streams in all: a small "zip bomb" stream
# cannot make the check expensive; what lies beyond it is not inspected.
_PDF_INFLATE_BUDGET = 64 * 1024 * 1024

# Text files get this type; a browser never runs it, and downloads keep it.
TEXT_TYPE = "text/plain"


def sniff_type(content: bytes) -> str | None:
    """The MIME type of a file whose bytes are `content` (the whole file), or None when it
    is not one we accept; see the module's docstring for what is refused and why."""
    if any(content.startswith(signature) for signature in REFUSED_SIGNATURES):
        return None
    mime = next((mime for signature, mime in SIGNATURES if content.startswith(signature)), None)
    if mime is None and content.startswith(b"RIFF") and content[8:12] == b"WEBP":
        mime = "image/webp"
    if mime == "application/zip":
        return mime if _zip_is_clean(content) else None
    if mime is not None:
        if _MARKUP_IN_BINARY.search(content):
            return None
        if mime == "application/pdf" and _pdf_has_script(content):
            return None
        return mime
    if _MARKUP.search(content):
        return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(char) < 32 and char not in "\t\n\r\f" for char in text):
        return None
    return TEXT_TYPE


def _pdf_names(data: bytes) -> set[bytes]:
    names = set()
    for found in _PDF_NAME.finditer(data):
        names.add(re.sub(rb"#([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), found.group(1)))
    return names


def _pdf_has_script(content: bytes) -> bool:
    """Whether the PDF names JavaScript, in its objects or in a Flate-compressed stream
    (object streams hide whole dictionaries there)."""
    if _pdf_names(content) & _PDF_SCRIPT_NAMES:
        return True
    budget = _PDF_INFLATE_BUDGET
    for stream in _PDF_STREAM.finditer(content):
        if budget <= 0:
            break
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(stream.group(1), budget)
        except zlib.error:
            continue  # not Flate (an image, or another filter): nothing to read there
        budget -= len(inflated)
        if _pdf_names(inflated) & _PDF_SCRIPT_NAMES or _MARKUP_IN_BINARY.search(inflated):
            return True
    return False


def _zip_is_clean(content: bytes) -> bool:
    """Whether a ZIP reader opens it (its central directory is sound) and its comment holds no markup."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            comment = archive.comment
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False
    return not _MARKUP.search(comment)


def size_display(size: int) -> str:
    """A size as people read it, in the active language: "10 MB", "2.5 MB", "200 KB"."""
    if size >= 1024 * 1024:
        return _("%(size)s MB") % {"size": f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".")}
    return _("%(size)s KB") % {"size": max(1, round(size / 1024))}


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
    # The whole file (at most `max_bytes`): a polyglot hides its markup anywhere.
    content = file.read(max_bytes + 1)
    file.seek(0)
    content_type = sniff_type(content)
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
