"""The poller process of ``inbound_faults``, run as ``python -m reliability.inbound_workers``.

``URL FOLDER KILL_AT``: applies the folder inbox with
:func:`~crm_procedures.services.inbound.process_inbox` until nothing is left.
With ``KILL_AT > 0`` it SIGKILLs itself at the ``KILL_AT``-th kill point: a
kill point is every id the library asks for (inside a message's unit of
work, before its commit) and every event handed out (after a commit).
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from crm_procedures.adapters.inbox_folder import FolderInbox
from crm_procedures.adapters.sql import open_store
from crm_procedures.ids import new_id
from crm_procedures.procedures.events import Event
from crm_procedures.services.context import Context
from crm_procedures.services.inbound import process_inbox


class WallClock:
    """The real time, timezone-aware."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def poll(url: str, folder: Path, kill_at: int) -> None:
    """Process the inbox until a fetch returns nothing; may kill itself on the way."""
    points = itertools.count(1)

    def point() -> None:
        if kill_at and next(points) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def ids() -> str:
        point()
        return new_id()

    def on_event(_event: Event) -> None:
        point()

    store = open_store(url, create=False)
    ctx = Context(
        store=store,
        clock=WallClock(),
        new_id=ids,
        sender_email="campaigns@example.com",
        on_event=on_event,
    )
    inbox = FolderInbox(folder)
    while process_inbox(ctx, inbox, limit=50).fetched:
        pass
    store.close()


def main(argv: list[str]) -> int:
    url, folder, kill_at = argv
    poll(url, Path(folder), int(kill_at))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
