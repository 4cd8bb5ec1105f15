"""Many users performing steps on one prospect at once, each in its own process.

:func:`perform_steps` is what each worker process runs: it opens the store at
a URL and runs the shipped suite's
:func:`~crm_procedures.testing.contracts.concurrency.attempt_steps` there. The
module is imported by name in the workers (``multiprocessing`` with spawn),
so it holds everything they need.
"""

from __future__ import annotations

import traceback
from typing import Any

from crm_procedures.adapters.sql import open_store
from crm_procedures.testing.contracts.concurrency import (
    Outcome,
    attempt_steps,
    set_up_campaign,
)

__all__ = ["Outcome", "install", "perform_steps", "set_up_campaign"]

_start: Any = None


def install(start: Any) -> None:
    """Pool initializer: the barrier every worker waits at before its first attempt."""
    global _start
    _start = start


def perform_steps(url: str, prospect_id: str, worker: int, attempts: int) -> Outcome:
    """In a worker process: open the store at ``url`` and :func:`attempt_steps` there."""
    store = None
    try:
        store = open_store(url, create=False)
    except Exception:
        _start.abort()  # the others must not wait for a worker that never comes
        return Outcome(worker, (), (), (f"worker {worker}: {traceback.format_exc()}",))
    try:
        return attempt_steps(store, prospect_id, worker, attempts, _start)
    finally:
        store.close()
