"""What a user types or uploads can never become markup, a script or a path."""

from __future__ import annotations

import pytest
from django.test import override_settings

from sportello.support import references
from sportello.support.files import safe_filename, sniff_type
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


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (b"PK\x03\x04" + b"\x00" * 20, "application/zip"),
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
