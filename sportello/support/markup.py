"""Message bodies: plain text or a small, safe Markdown subset, rendered to sanitised HTML.

The subset: paragraphs and line breaks, **bold**, *italic*, `code`, fenced code blocks
(```), lists ("- " or "1. "), quotes ("> "), links [text](https://...) and bare
http(s) addresses. Nothing else: no raw HTML, no images (a remote image would be a
remote load), no headings.

Safety comes in two layers. Every character the user typed is HTML-escaped *before*
the Markdown rules run, so the rules can only add the tags they write themselves; then
nh3 cleans the result against an allow-list (tags, the `href` attribute, http/https/
mailto schemes), so a bug in the rules still cannot let a script, an event handler or a
remote load through. Template syntax such as {{ 7*7 }} is just text here: the result is
stored and inserted into pages as data, never compiled as a template.
"""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}

_FENCE = re.compile(r"^```[^\n]*\n(.*?)(?:\n```[ \t]*$|\Z)", re.S | re.M)
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s)]+)\)")
_BARE_URL = re.compile(r"(?<![\"'=/\w])(https?://[^\s<]+[^\s<.,;:!?)\]'\"])")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)")
_BULLET = re.compile(r"^[-*] +")
_NUMBERED = re.compile(r"^\d{1,3}[.)] +")
_QUOTE = re.compile(r"^&gt; ?")


def _inline(text: str) -> str:
    """Inline rules on already escaped text; code spans and links are set aside first so
    that their contents are not read as emphasis."""
    kept: list[str] = []

    def keep(fragment: str) -> str:
        kept.append(fragment)
        return f"\x00{len(kept) - 1}\x00"

    text = _CODE.sub(lambda m: keep(f"<code>{m.group(1)}</code>"), text)
    text = _LINK.sub(lambda m: keep(f'<a href="{m.group(2)}">{m.group(1)}</a>'), text)
    text = _BARE_URL.sub(lambda m: keep(f'<a href="{m.group(1)}">{m.group(1)}</a>'), text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = _ITALIC.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)


def _block(lines: list[str]) -> str:
    if all(_BULLET.match(line) for line in lines):
        items = "".join(f"<li>{_inline(_BULLET.sub('', line))}</li>" for line in lines)
        return f"<ul>{items}</ul>"
    if all(_NUMBERED.match(line) for line in lines):
        items = "".join(f"<li>{_inline(_NUMBERED.sub('', line))}</li>" for line in lines)
        return f"<ol>{items}</ol>"
    if all(_QUOTE.match(line) for line in lines):
        return f"<blockquote>{_block([_QUOTE.sub('', line) for line in lines])}</blockquote>"
    return "<p>" + "<br>\n".join(_inline(line) for line in lines) + "</p>"


def render_markdown(text: str) -> str:
    """`text` (plain or the Markdown subset) as sanitised HTML; see the module's docstring."""
    escaped = html.escape(text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", ""), quote=True)
    parts: list[str] = []
    position = 0
    for fence in _FENCE.finditer(escaped):
        parts += _paragraphs(escaped[position : fence.start()])
        parts.append(f"<pre><code>{fence.group(1)}</code></pre>")
        position = fence.end()
    parts += _paragraphs(escaped[position:])
    return sanitize_html("\n".join(parts))


def _paragraphs(text: str) -> list[str]:
    blocks = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        lines = [line.rstrip() for line in chunk.split("\n") if line.strip()]
        if lines:
            blocks.append(_block(lines))
    return blocks


def sanitize_html(fragment: str) -> str:
    """The last word on any HTML that came from a user: the allow-list above, nothing else."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
