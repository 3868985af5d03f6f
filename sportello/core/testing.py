"""Helpers for tests of every app: a clock moved by hand, logged-in browsers."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.test import Client

CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


class Clock:
    """A stand-in for `utc_now` that tests move by hand, never by sleeping."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def logged_in_browser(
    user: Any, *, first_page: str = "/", user_agent: str = CHROME_LINUX, ip: str = "203.0.113.7"
) -> Client:
    """A browser logged in as `user` that has made one request (so its session is tracked)."""
    client = Client(headers={"user-agent": user_agent}, REMOTE_ADDR=ip)
    client.force_login(user)
    client.get(first_page)
    return client


def without_tokens(body: bytes) -> str:
    """A page without what differs on every render (CSRF tokens, CSP nonces), to compare two answers."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body.decode())
    text = re.sub(r' nonce="[^"]+"', "", text)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "", text)
