"""Races on PostgreSQL: the same email delivered twice at once adds one message; a request
closed by several people at once is closed once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from django.db import connection

from sportello.support import references
from sportello.support.errors import SupportError
from sportello.support.models import TicketEvent, TicketMessage
from sportello.support.services import ticket_close, ticket_reply_by_email
from sportello.support.tests.conftest import NOW

THREADS = 5


def race(action: Callable[[], str]) -> list[str]:
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            outcomes.append(action())
        except SupportError as refused:
            outcomes.append(getattr(refused, "reason", type(refused).__name__))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_email_delivered_several_times_at_once_adds_one_message(on_postgresql, alice, alice_ticket):
    message = EmailMessage()
    message["From"] = "alice@example.org"
    message["To"] = references.reply_address(alice_ticket.public_id)
    message["Subject"] = "Re: refund"
    message["Message-ID"] = "<once@mail.example>"
    message.set_content("Thanks!")
    raw = message.as_bytes()
    outcomes = race(lambda: ticket_reply_by_email(raw=raw, now=NOW).body)
    assert outcomes == ["Thanks!"] + ["duplicate"] * (THREADS - 1)
    assert TicketMessage.objects.filter(ticket=alice_ticket, body="Thanks!").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_is_closed_once(on_postgresql, alice, alice_ticket):
    outcomes = race(lambda: ticket_close(ticket=alice_ticket, membership=alice, by=alice.user, now=NOW).status)
    assert outcomes == ["IllegalTransition"] * (THREADS - 1) + ["closed"]
    assert TicketEvent.objects.filter(ticket=alice_ticket, transition="close").count() == 1
