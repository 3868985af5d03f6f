"""What a user types or uploads can never become markup, a script or a path."""

from __future__ import annotations

import io
import zipfile
import zlib

import pytest
from django.test import override_settings

from sportello.support import references
from sportello.support.errors import AttachmentRefused
from sportello.support.files import safe_filename, sniff_type, upload_check
from sportello.support.markup import render_markdown
from sportello.support.tests.conftest import EXE, HTML, PDF, PNG, POLYGLOT, SVG


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("**bold** and *it*", "<p><strong>bold</strong> and <em>it</em></p>"),
        ("`a*b*`", "<p><code>a*b*</code></p>"),
        ("- one\n- two", "<ul><li>one</li><li>two</li></ul>"),
        ("1. one\n2. two", "<ol><li>one</li><li>two</li></ol>"),
        ("line\nnext", "<p>line<br>\nnext</p>"),
        ("```\n<b>x</b>\n```", "<pre><code>&lt;b&gt;x&lt;/b&gt;</code></pre>"),
        (
            "[docs](https://example.com/a?b=1&c=2)",
            '<p><a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">docs</a></p>',
        ),
    ],
)
def test_it_renders_the_markdown_subset(text, html):
    assert render_markdown(text) == html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ("<svg onload=alert(1)>", "<p>&lt;svg onload=alert(1)&gt;</p>"),
        ("{{7*7}} {% debug %}", "<p>{{7*7}} {% debug %}</p>"),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
        # No images (a remote load): the syntax becomes a plain link.
        (
            "![img](https://evil.example/pixel.png)",
            '<p>!<a href="https://evil.example/pixel.png" rel="nofollow noopener noreferrer">img</a></p>',
        ),
        # nh3 writes the quotes of text as plain characters: still text, outside any tag.
        ('<img src=x onerror="alert(1)">', '<p>&lt;img src=x onerror="alert(1)"&gt;</p>'),
    ],
)
def test_it_keeps_what_users_type_as_text(text, html):
    assert render_markdown(text) == html


def zip_of(members: dict[str, bytes], *, comment: bytes = b"", stored: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        archive.comment = comment
    return out.getvalue()


def pdf_with(objects: bytes) -> bytes:
    return b"%PDF-1.7\n" + objects + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# Bytes that stand for compressed image data: no markup in them, and enough of them to push
# what follows well beyond the first 8 KB a sniffer that stops early would read.
FILLER = bytes(range(256)).replace(b"<", b"") * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description tiff:ResolutionUnit="2"'
    b' tiff:Orientation="1" stEvt:action="saved"/></rdf:RDF></x:xmpmeta>'
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # Markup anywhere in an image, not only in its first 8 KB.
        (PNG + FILLER + b"<script>alert(document.domain)</script>", None),
        (JPEG + FILLER + b"<svg/onload=alert(1)>", None),
        (b"GIF89a" + FILLER + b'<img src=x onerror="alert(1)">', None),
        (PNG + FILLER + b'<p class=x onclick="alert(1)">', None),
        (JPEG + FILLER + b"<a href='javascript:alert(1)'>x</a>", None),
        # WebP is checked like the other images.
        (WEBP, "image/webp"),
        (WEBP + FILLER + b"<html><body><script>alert(1)</script>", None),
        # Image metadata in XML (XMP) is not markup a browser runs.
        (JPEG + XMP + FILLER, "image/jpeg"),
        # PDF: JavaScript is refused, however its name is written and wherever it hides.
        (pdf_with(b"1 0 obj << /Type /Catalog /Filter /JBIG2Decode >> endobj"), "application/pdf"),
        (pdf_with(b"1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj"), None),
        (pdf_with(b"1 0 obj << /AA << /O << /S /Launch /JS <6170702e616c657274> >> >> >> endobj"), None),
        (pdf_with(b"1 0 obj << /OpenAction << /S /J#61vaScript /J#53 (x) >> >> endobj"), None),
        (
            pdf_with(
                b"5 0 obj << /Type /ObjStm /Filter /FlateDecode >>\nstream\n"
                + zlib.compress(b"<< /S /JavaScript /JS (app.alert(1)) >>")
                + b"\nendstream endobj"
            ),
            None,
        ),
        (pdf_with(b"%" + FILLER[:200] + b"\n% <html><body><script>alert(1)</script>"), None),
        # ZIP: an archive a reader opens, whatever it holds; not a page with a ZIP signature.
        (zip_of({"site/index.html": b"<html><script>alert(1)</script></html>"}, stored=True), "application/zip"),
        (zip_of({"a.txt": b"a"}, comment=b"<script>alert(1)</script>"), None),
        (b"PK\x03\x04<html><script>alert(1)</script></html>", None),
        # Text: markup anywhere, not only at the start.
        (b"Plain notes\n" * 1000 + b"<script>alert(1)</script>", None),
    ],
)
def test_it_refuses_polyglots_wherever_the_markup_hides(content, expected):
    assert sniff_type(content) == expected


def test_the_upload_check_reads_the_whole_file():
    polyglot = PNG + FILLER * 4 + b"<script>alert(1)</script>"
    assert len(polyglot) > 60_000
    with pytest.raises(AttachmentRefused) as refused:
        upload_check(io.BytesIO(polyglot), name="photo.png", max_bytes=100_000)
    assert (refused.value.reason, refused.value.filename) == ("type_refused", "photo.png")
    checked = upload_check(io.BytesIO(PNG + FILLER * 4), name="photo.png", max_bytes=100_000)
    assert (checked.content_type, checked.size) == ("image/png", len(PNG + FILLER * 4))


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (zip_of({"report.txt": b"Quarterly report"}), "application/zip"),
        (b"PK\x05\x06" + b"\x00" * 18, "application/zip"),  # an empty archive
        ("Plain text, ñandú, 日本".encode(), "text/plain"),
        (HTML, None),
        (SVG, None),
        (POLYGLOT, None),
        (EXE, None),
        (b"\x7fELF\x02\x01", None),
        (b"#!/bin/sh\nrm -rf /\n", None),
        (b"<?xml version='1.0'?><x/>", None),
        (b"\x00\x01\x02\x03binary", None),
    ],
)
def test_it_tells_the_type_from_the_content(head, expected):
    assert sniff_type(head) == expected


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\report.pdf", "report.pdf"),
        ('in"voice\r\n.pdf', "in'voice.pdf"),
        ("<script>.pdf", "<script>.pdf"),
        ("...", "file"),
        ("a" * 300 + ".pdf", "a" * 146 + ".pdf"),
    ],
)
def test_it_cleans_file_names(name, safe):
    assert safe_filename(name) == safe


@override_settings(SUPPORT_REPLY_ADDRESS="help@provider.example")
def test_a_reference_is_signed_and_found_again():
    address = references.reply_address("k7m2q9xw4a")
    local = address.split("@")[0]
    assert address.endswith("@provider.example")
    assert local.startswith("help+k7m2q9xw4a-")
    assert len(local) <= 64
    assert references.public_id_from(f"Support <{address.upper()}>") == "k7m2q9xw4a"
    assert references.public_id_from("Re: Invoice " + references.subject_tag("k7m2q9xw4a")) == "k7m2q9xw4a"
    assert references.public_id_from("support@provider.example", "Re: no reference here") is None


def test_a_forged_reference_is_refused():
    genuine = references.reference_for("k7m2q9xw4a")
    forged = "k7m2q9xw4b" + genuine[10:]
    with pytest.raises(references.BadReference):
        references.public_id_from(f"support+{forged}@provider.example")
