"""Waiting for a condition with a deadline: the only way the harness and its tests synchronise.

A fixed ``time.sleep`` is either too short on a busy CI machine (a flaky test) or too long
everywhere else (a slow suite).  Polling a condition every 50 ms with a deadline is both fast and
robust, and the ``what`` text makes a timeout say which step of the runbook did not happen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

from .errors import HarnessError, WaitTimeout

T = TypeVar("T")

POLL_INTERVAL = 0.05

#: Errors that mean "not yet" while a server starts, stops or reconnects; anything else is a bug
#: in the predicate and is raised at once instead of being retried until the deadline.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (psycopg.Error, OSError, HarnessError)


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    what: str = "the condition holds",
    interval: float = POLL_INTERVAL,
    transient: tuple[type[BaseException], ...] = TRANSIENT_ERRORS,
) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy; return that.

    Raises ``WaitTimeout`` naming ``what`` (and the last transient error, if any) when ``timeout``
    seconds pass first.  The predicate is always called at least once, even with timeout 0.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = predicate()
        except transient as exc:  # a server in transition: try again
            last_error = exc
        else:
            if result:
                return result
        if time.monotonic() >= deadline:
            message = f"timed out after {timeout:g} s waiting until {what}"
            if last_error is not None:
                message += f" (last error: {type(last_error).__name__}: {str(last_error).strip()})"
            raise WaitTimeout(message)
        time.sleep(interval)
