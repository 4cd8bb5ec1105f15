"""Item 3, ``outbox_faults``: every message delivered once through failures, restarts and kills.

The outbox of a SQLite store holds many e-mails. Dispatcher processes deliver
them through a real SMTP server (aiosmtpd on loopback) with a mailer that
fails 20% of its calls (half of them after the server accepted the message,
as when the reply is lost) and kills its own process at random points: after
the claim, and after the send but before the message is marked delivered.
Halfway the SMTP server is stopped and started again.

The receiving side recognises a resent message by its Message-ID (the
idempotency key the outbox keeps for every retry) and files it once. The
figures: messages filed once, duplicates in the mailbox (0), messages lost
(0), and resends that no fault explains (0: a resend only follows a failure
or a kill after the server had the message).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_procedures.adapters.sql import open_store
from crm_procedures.model.outbox import OutboxStatus
from crm_procedures.services.messages import build_email, outbox_message_for_email
from reliability.figures import record, size
from reliability.world import TESTS, fixed_id, setup_people

MESSAGES = size(300, 10_000)
DISPATCHERS = 2
KILL_RATE = size(10, 2) / 1000
"""Chance per kill point (after claim, after send) that a dispatcher kills itself."""
DEADLINE = size(240, 900)


class DedupHandler:
    """An aiosmtpd handler that files each Message-ID once and counts every reception."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.receptions: Counter[str] = Counter()
        self.mailbox: list[str] = []
        self.filed: set[str] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content.decode("utf-8", "replace")
        mid = ""
        for line in content.split("\r\n" if "\r\n" in content else "\n"):
            if not line:
                break
            if line.lower().startswith("message-id:"):
                mid = line.split(":", 1)[1].strip()
        if not mid:
            return "550 no Message-ID"
        with self.lock:
            self.receptions[mid] += 1
            if mid not in self.filed:
                self.filed.add(mid)
                self.mailbox.append(mid)
        return "250 Message accepted"


def _fill_outbox(url: str) -> None:
    store = open_store(url)
    setup_people(store)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    batch = 1000
    for start in range(0, MESSAGES, batch):
        with store.unit_of_work() as uow:
            for n in range(start, min(start + batch, MESSAGES)):
                key = f"reliability:{n:06d}:mail"
                msg = build_email(
                    sender=("Campaigns", "campaigns@example.com"),
                    to=(f"Contact {n}", f"contact{n}@example.nl"),
                    subject=f"Information {n}",
                    text=f"Message number {n}.\n",
                    key=key,
                    date=now,
                )
                uow.outbox.add(outbox_message_for_email(msg, key, now, fixed_id(f"m{n:06d}")))
            uow.commit()
    store.close()


def _spawn(url: str, port: int, seed: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reliability.workers",
            "dispatch",
            url,
            str(port),
            str(seed),
            str(log),
            str(KILL_RATE),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_outbox_delivers_every_message_once_through_faults(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    url = f"sqlite:///{tmp_path / 'crm.db'}"
    _fill_outbox(url)
    handler = DedupHandler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    log = tmp_path / "dispatch.jsonl"
    seed = 0
    workers: list[subprocess.Popen[bytes]] = []
    kills = restarts = 0
    errors: list[str] = []
    started = time.monotonic()
    try:
        for _ in range(DISPATCHERS):
            seed += 1
            workers.append(_spawn(url, port, seed, log))
        while workers and time.monotonic() - started < DEADLINE:
            time.sleep(0.05)
            if restarts == 0 and len(handler.filed) >= MESSAGES // 2:
                controller.stop()
                time.sleep(0.5)
                controller = Controller(handler, hostname="127.0.0.1", port=port)
                controller.start()
                restarts += 1
            for proc in list(workers):
                code = proc.poll()
                if code is None:
                    continue
                workers.remove(proc)
                if code == -9:
                    kills += 1
                    seed += 1
                    workers.append(_spawn(url, port, seed, log))
                elif code != 0:
                    errors.append(proc.stderr.read().decode()[-2000:] if proc.stderr else "")
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
        controller.stop()

    store = open_store(url, create=False)
    with store.unit_of_work() as uow:
        statuses = Counter(m.status for m in uow.outbox.list(limit=MESSAGES + 10))
    store.close()
    events = [json.loads(line) for line in log.open()] if log.exists() else []
    by_event: dict[str, Counter[str]] = {}
    for e in events:
        by_event.setdefault(e["event"], Counter())[e["id"]] += 1
    sent = by_event.get("sent", Counter())
    after_send = by_event.get("kill:after-send", Counter()) + by_event.get(
        "fail:after-send", Counter()
    )
    unexplained = 0
    for mid, received in handler.receptions.items():
        # A reception the dispatcher never saw succeed (reply lost in a restart) and a
        # fault after a successful send each explain one resend.
        explained = after_send[mid] + max(received - sent[mid], 0)
        unexplained += max(received - 1 - explained, 0)
    lost = MESSAGES - len(handler.filed)
    duplicates_in_mailbox = len(handler.mailbox) - len(set(handler.mailbox))
    total_kills = sum(c.total() for k, c in by_event.items() if k.startswith("kill:"))

    record("outbox_faults.messages", MESSAGES, f">= {MESSAGES}")
    record("outbox_faults.delivered_once", len(handler.filed), f"== {MESSAGES}")
    record("outbox_faults.duplicates_in_mailbox", duplicates_in_mailbox, "== 0")
    record("outbox_faults.lost", lost, "== 0")
    record(
        "outbox_faults.outbox_not_delivered", MESSAGES - statuses[OutboxStatus.DELIVERED], "== 0"
    )
    record("outbox_faults.unexplained_resends", unexplained, "== 0")
    record(
        "outbox_faults.resends_recognised",
        sum(handler.receptions.values()) - len(handler.filed),
        ">= 0",
    )
    record("outbox_faults.dispatcher_kills", total_kills, ">= 1")
    record("outbox_faults.smtp_restarts", restarts, ">= 1")
    record(
        "outbox_faults.simulated_failures",
        sum(c.total() for k, c in by_event.items() if k.startswith("fail:")),
        ">= 1",
    )

    assert not errors, errors
    assert total_kills == kills
    assert kills >= 1
    assert restarts == 1
    assert (lost, duplicates_in_mailbox, unexplained) == (0, 0, 0)
    assert statuses[OutboxStatus.DELIVERED] == MESSAGES, statuses


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
