"""The one way to cause a side effect that leaves the database.

Emails, webhooks, gateway calls and provisioning never run inside a transaction: a
rollback would leave them done for a change that never happened. `after_commit` defers
them until the surrounding transaction commits, and runs them at once when there is none.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def after_commit(effect: Callable[..., Any], /, **kwargs: Any) -> None:
    """Run `effect(**kwargs)` once the current transaction commits.

    A failing effect is logged with its name and arguments and does not undo the
    committed change; effects that must not be lost are enqueued as tasks, which retry.
    """

    def run() -> None:
        try:
            effect(**kwargs)
        except Exception:
            logger.exception(
                "side effect %s failed", getattr(effect, "__qualname__", effect), extra={"effect_kwargs": repr(kwargs)}
            )

    transaction.on_commit(functools.partial(run), robust=False)
