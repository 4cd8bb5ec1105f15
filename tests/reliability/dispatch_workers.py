"""The dispatcher process of ``dispatch_faults``, run as ``python -m reliability.dispatch_workers``.

``URL PORT SEED LOG KILL_RATE LEASE``: an outbox dispatcher delivering through
:class:`~crm_procedures.adapters.smtp.SmtpMailer` (the envelope path, per
recipient) to the test's slow aiosmtpd. With ``KILL_RATE > 0`` it kills its
own process (SIGKILL) at random points: after the fence and before sending,
and after the server accepted a message but before the outcome is recorded.
Every kill and every send is logged (one JSON line, fsynced) first.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_procedures.adapters.smtp import SmtpMailer
from crm_procedures.adapters.sql import open_store
from crm_procedures.model.outbox import DeliveryOutcome
from crm_procedures.services.outbox import dispatch_once, exponential_backoff


class WallClock:
    """The real time, timezone-aware."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class KillingMailer:
    """SmtpMailer.send_to, with SIGKILLs at random points (logged before they happen)."""

    def __init__(self, port: int, rng: random.Random, kill_rate: float, log: Any) -> None:
        self.smtp = SmtpMailer("127.0.0.1", port, timeout=5)
        self.rng = rng
        self.kill_rate = kill_rate
        self.log = log

    def note(self, event: str, message: Any, recipients: Sequence[str]) -> None:
        entry = {"event": event, "id": str(message["Message-ID"]), "to": list(recipients)}
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()
        os.fsync(self.log.fileno())

    def die(self, where: str, message: Any, recipients: Sequence[str]) -> None:
        if self.kill_rate and self.rng.random() < self.kill_rate:
            self.note(f"kill:{where}", message, recipients)
            os.kill(os.getpid(), signal.SIGKILL)

    def send(self, message: Any) -> None:  # pragma: no cover - the dispatcher uses send_to
        self.smtp.send(message)

    def send_to(self, message: Any, recipients: Sequence[str]) -> DeliveryOutcome:
        self.die("before-send", message, recipients)
        outcome = self.smtp.send_to(message, recipients)
        self.note("sent", message, recipients)
        self.die("after-send", message, recipients)
        return outcome


def dispatch(
    url: str, port: int, seed: int, log_path: Path, kill_rate: float, lease: float
) -> None:
    """Dispatch until nothing is pending; may kill itself on the way."""
    rng = random.Random(seed)
    store = open_store(url, create=False)
    clock = WallClock()
    with log_path.open("a", encoding="utf-8") as log:
        mailer = KillingMailer(port, rng, kill_rate, log)
        while True:
            report = dispatch_once(
                store,
                clock,
                mailer=mailer,
                limit=10,
                lease_seconds=lease,
                max_attempts=10_000,
                backoff=exponential_backoff(base_seconds=0.05, cap_seconds=0.2),
            )
            if report.claimed:
                continue
            with store.unit_of_work() as uow:
                pending = uow.outbox.list(status="pending", limit=1)
            if not pending:
                break
            time.sleep(0.05)
    store.close()


def main(argv: list[str]) -> int:
    url, port, seed, log, kill_rate, lease = argv
    dispatch(url, int(port), int(seed), Path(log), float(kill_rate), float(lease))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
