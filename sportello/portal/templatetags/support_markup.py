"""{{ text|markdown }}: knowledge-base text, rendered and sanitised like request messages."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from sportello.support.markup import render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    # render_markdown escapes every character typed, then nh3 cleans against an allow-list.
    return mark_safe(render_markdown(text or ""))  # noqa: S308
