"""The one way to cause a side effect that leaves the database.

Emails, webhooks, gateway calls and provisioning never run inside a transaction: a
rollback would leave them done for a change that never happened. `after_commit` defers
them until the surrounding transaction commits, and runs them at once when there is none.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

# Set inside `effects_grouped()`: the effects waiting for its transaction to commit.
_grouped: contextvars.ContextVar[list[tuple[Callable[..., Any], dict[str, Any]]] | None] = contextvars.ContextVar(
    "sportello_grouped_effects", default=None
)


def after_commit(effect: Callable[..., Any], /, **kwargs: Any) -> None:
    """Run `effect(**kwargs)` once the current transaction commits.

    A failing effect is logged with its name and arguments and does not undo the
    committed change; effects that must not be lost are enqueued as tasks, which retry.
    """

    grouped = _grouped.get()
    if grouped is not None:
        grouped.append((effect, kwargs))
        return
    transaction.on_commit(functools.partial(_run, effect, kwargs), robust=False)


def _run(effect: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    try:
        effect(**kwargs)
    except Exception:
        logger.exception(
            "side effect %s failed", getattr(effect, "__qualname__", effect), extra={"effect_kwargs": repr(kwargs)}
        )


@contextlib.contextmanager
def effects_grouped() -> Iterator[None]:
    """Around one transaction (`with effects_grouped(), transaction.atomic(): ...`): the
    effects its work asks for run after it commits, as always, but together in one
    transaction of their own; if one fails, the group's writes roll back and each effect is
    run again on its own, so one failing does not stop the others.

    For bulk jobs whose every document enqueues a task (the billing run issues thousands of
    invoices, each enqueuing its PDF): with the database task queue, thousands of enqueues
    then commit once instead of once each. If the block raises, nothing runs.
    """
    effects: list[tuple[Callable[..., Any], dict[str, Any]]] = []
    token = _grouped.set(effects)
    try:
        yield
    finally:
        _grouped.reset(token)
    if not effects:
        return

    def run_all() -> None:
        try:
            with transaction.atomic():
                for effect, kwargs in effects:
                    effect(**kwargs)
        except Exception:
            # One failed and took the group's writes back with it: run each on its own,
            # as `after_commit` would have (effects are at least once, like tasks).
            logger.warning("grouped side effects failed together; running them one by one", exc_info=True)
            for effect, kwargs in effects:
                _run(effect, kwargs)

    # Committed already when the block wrapped the outermost transaction; otherwise after
    # the enclosing one commits.
    transaction.on_commit(run_all, robust=False)
