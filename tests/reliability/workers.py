"""Worker processes of the reliability tests, run as ``python -m reliability.workers``.

Subcommands:

* ``perform URL WORKER ATTEMPTS SEED OUT``: attempts steps on the campaign's
  prospects with the version just read; writes one JSON line per attempt.
* ``crash URL SEED JOURNAL``: imports and step performs in a loop until the
  process is killed, journalling each unit of work before and after it.
* ``dispatch URL PORT SEED LOG``: an outbox dispatcher whose mailer fails
  at random and which kills itself at random points (claim/send/mark).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters.smtp import SmtpMailer
from crm_procedures.adapters.sql import open_store
from crm_procedures.errors import ConcurrencyConflict, CrmError, DeliveryError
from crm_procedures.model.prospect import ProspectStatus
from crm_procedures.services import campaigns
from crm_procedures.services.imports import import_suspects
from crm_procedures.services.outbox import dispatch_once, exponential_backoff
from reliability.world import CAMPAIGN, context


class WallClock:
    """The real time, timezone-aware."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def _project_of(store: Any) -> str:
    with store.unit_of_work() as uow:
        projects = uow.projects.of_relation("client")
    return str(next(p.id for p in projects if p.name == CAMPAIGN))


def perform(url: str, worker: int, attempts: int, seed: int, out: Path) -> None:
    """Attempt steps on random prospects with the version just read; log every outcome."""
    rng = random.Random(seed)
    store = open_store(url, create=False)
    ctx = context(store, WallClock(), new_id=lambda: f"w{worker}-{rng.getrandbits(64):016x}")
    project = _project_of(store)
    with store.unit_of_work() as uow:
        ids = sorted(p.id for p in uow.prospects.of_project(project, Viewer.system()))
    actor = ("ann", "bas")[worker % 2]
    with out.open("w", encoding="utf-8") as log:
        for attempt in range(attempts):
            pid = rng.choice(ids)
            note = f"w{worker}-a{attempt}"
            outcome: dict[str, Any] = {"prospect": pid, "note": note}
            try:
                with store.unit_of_work() as uow:
                    seen = uow.prospects.get(pid)
                step = "call" if seen.last_step is None else "call_back"
                if rng.random() < 0.5:
                    time.sleep(rng.random() * 0.002)
                result = campaigns.perform_step(
                    ctx,
                    actor,
                    pid,
                    step,
                    role="marketeer",
                    note=note,
                    expected_version=seen.version,
                )
                outcome.update(result="commit", version=result.prospect.version)
            except ConcurrencyConflict:
                outcome["result"] = "conflict"
            except CrmError as exc:
                outcome["result"] = f"refused:{type(exc).__name__}: {exc}"
            except Exception as exc:
                outcome["result"] = f"unhandled:{type(exc).__name__}: {exc}"
            log.write(json.dumps(outcome) + "\n")
    store.close()


def crash(url: str, seed: int, journal: Path) -> None:
    """Imports and performs for ever, each journalled as begin/done, until killed."""
    rng = random.Random(seed)
    store = open_store(url, create=False)
    ctx = context(store, WallClock(), new_id=lambda: f"s{seed}-{rng.getrandbits(64):016x}")
    project = _project_of(store)
    n = 0
    with journal.open("a", encoding="utf-8") as log:

        def write(entry: dict[str, Any]) -> None:
            log.write(json.dumps(entry) + "\n")
            log.flush()
            os.fsync(log.fileno())

        while True:
            n += 1
            tag = f"s{seed}u{n}"
            if rng.random() < 0.4:
                rows = [
                    {
                        "name": f"Batch {tag} member {i}",
                        "contact": "Jan de Vries",
                        "contact_email": f"{tag}.{i}@example.nl",
                    }
                    for i in range(rng.randint(1, 40))
                ]
                write({"op": "import", "tag": tag, "rows": len(rows), "state": "begin"})
                report = import_suspects(ctx, "pia", project, rows)
                write({"op": "import", "tag": tag, "rows": report.imported, "state": "done"})
                campaigns.release(ctx, "pia", project)
                continue
            with store.unit_of_work() as uow:
                running = uow.prospects.of_project(
                    project, Viewer.system(), status=ProspectStatus.RUNNING
                )
            if not running:
                continue
            p = rng.choice(list(running))
            steps = {None: "call", "call": "send_info", "send_info": "call_back"}
            step = steps.get(p.last_step, "call_back")
            write({"op": "perform", "tag": tag, "prospect": p.id, "step": step, "state": "begin"})
            try:
                campaigns.perform_step(ctx, "ann", p.id, step, role="marketeer", note=tag)
            except CrmError as exc:
                write({"op": "perform", "tag": tag, "state": "refused", "error": str(exc)})
                continue
            write({"op": "perform", "tag": tag, "prospect": p.id, "state": "done"})


class FaultyMailer:
    """An SMTP mailer that fails 20% of calls (half of them after the server got the
    message) and kills its own process at random points."""

    def __init__(self, port: int, rng: random.Random, kill_rate: float, log: Any) -> None:
        self.smtp = SmtpMailer("127.0.0.1", port, timeout=5)
        self.rng = rng
        self.kill_rate = kill_rate
        self.log = log

    def note(self, event: str, message: Any) -> None:
        self.log.write(json.dumps({"event": event, "id": str(message["Message-ID"])}) + "\n")
        self.log.flush()
        os.fsync(self.log.fileno())

    def die(self, where: str, message: Any) -> None:
        if self.rng.random() < self.kill_rate:
            self.note(f"kill:{where}", message)
            os.kill(os.getpid(), signal.SIGKILL)

    def send(self, message: Any) -> None:
        self.die("after-claim", message)
        roll = self.rng.random()
        if roll < 0.1:
            self.note("fail:before-send", message)
            raise DeliveryError("simulated failure before sending")
        self.smtp.send(message)
        self.note("sent", message)
        self.die("after-send", message)
        if roll < 0.2:
            self.note("fail:after-send", message)
            raise DeliveryError("simulated failure after the server accepted the message")


def dispatch(url: str, port: int, seed: int, log_path: Path, kill_rate: float) -> None:
    """Dispatch the outbox until nothing is pending; may kill itself on the way."""
    rng = random.Random(seed)
    store = open_store(url, create=False)
    clock = WallClock()
    with log_path.open("a", encoding="utf-8") as log:
        mailer = FaultyMailer(port, rng, kill_rate, log)
        while True:
            report = dispatch_once(
                store,
                clock,
                mailer=mailer,
                limit=20,
                lease_seconds=5,
                max_attempts=10_000,
                backoff=exponential_backoff(base_seconds=0.05, cap_seconds=0.5),
            )
            if report.claimed:
                continue
            with store.unit_of_work() as uow:
                pending = uow.outbox.list(status="pending", limit=1)
            if not pending:
                break
            time.sleep(0.1)
    store.close()


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "perform":
        perform(args[0], int(args[1]), int(args[2]), int(args[3]), Path(args[4]))
    elif command == "crash":
        crash(args[0], int(args[1]), Path(args[2]))
    elif command == "dispatch":
        dispatch(args[0], int(args[1]), int(args[2]), Path(args[3]), float(args[4]))
    else:
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
