"""Issue 16, ``dispatch_faults``: live dispatchers, a slow SMTP server, refusals, SIGKILLs.

Several dispatcher processes deliver one outbox (SQLite, then PostgreSQL)
through :class:`~crm_procedures.adapters.smtp.SmtpMailer` to aiosmtpd on
loopback. The server is slow (each DATA waits), so a claimed batch outlives
its lease while its messages are still being sent: only the fence (a lease
token checked and renewed before each send) keeps a second dispatcher from
sending them too. Each message has two or three recipients, the first with a
non-ASCII display name (CPython gh-100884 loses the next address when the
envelope is read back from the header); some recipients are deferred (451,
once) and some refused (550, always).

Two rounds: live dispatchers only, then dispatchers that SIGKILL themselves
at random (before a send, and after the server accepted a message but before
the outcome was recorded) and are restarted.

Figures (summed over the backends):

* ``dispatch_faults_lost``: recipients the server never accepted that it
  did not refuse either (0);
* ``dispatch_faults_duplicates_without_kill``: extra deliveries of a message
  (to any of its recipients) in the round without kills (0);
* ``dispatch_faults_duplicates_per_kill``: extra deliveries of a message per
  kill in the round with kills (<= 1);
* ``dispatch_faults_recipient_state_mismatches``: stored per-recipient states
  that differ from what the server saw (0);
* ``interop_smtp_envelope_mismatches``: messages whose recipients at the
  server (every RCPT TO, over all tries) differ from the stored envelope (0).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crm_procedures.adapters.sql import open_store
from crm_procedures.model.outbox import OutboxStatus, RecipientState
from crm_procedures.services.messages import build_email, outbox_message_for_email
from reliability.conftest import SQL_BACKENDS
from reliability.figures import FULL, record, size
from reliability.world import TESTS, fixed_id

MESSAGES = size(20, 400)
DISPATCHERS = 3
DATA_DELAY = 0.05
"""Seconds the server waits before answering DATA: ten sends outlive the lease."""
LEASE = 0.4
KILL_RATE = size(60, 10) / 1000
DEADLINE = size(60, 900)


class SlowServer:
    """An aiosmtpd handler: slow DATA, 550 for ``refuse*``; keeps what it saw per Message-ID."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rcpts: dict[str, set[str]] = {}
        """Every RCPT TO per Message-ID (read at DATA: the session's Message-ID)."""
        self.accepted: Counter[tuple[str, str]] = Counter()
        self.refused: set[tuple[str, str]] = set()
        self.deferred: set[tuple[str, str]] = set()
        self._tried: dict[int, list[tuple[str, str]]] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        # Which message this is, is known only at DATA: remember the replies per session.
        kind = address.split("-", 1)[0]
        tried = self._tried.setdefault(id(envelope), [])
        if kind == "refuse":
            tried.append((address, "550"))
            return "550 5.1.1 no such user"
        tried.append((address, "250"))
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(DATA_DELAY)
        content = envelope.content.decode("utf-8", "replace")
        mid = next(
            (
                line.split(":", 1)[1].strip()
                for line in content.splitlines()
                if line.lower().startswith("message-id:")
            ),
            "",
        )
        tried = self._tried.pop(id(envelope), [])
        with self.lock:
            seen = self.rcpts.setdefault(mid, set())
            for address, reply in tried:
                seen.add(address)
                if reply == "550":
                    self.refused.add((mid, address))
                elif reply == "250":
                    self.accepted[(mid, address)] += 1
        return "250 Message accepted"


class DeferringServer(SlowServer):
    """SlowServer whose ``defer*`` recipients get 451 on their first RCPT per message.

    The Message-ID is not known at RCPT time, so the first try of a ``defer``
    address is recognised by the address itself: each is used by one message.
    """

    def __init__(self) -> None:
        super().__init__()
        self.first_seen: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.startswith("defer-"):
            tried = self._tried.setdefault(id(envelope), [])
            with self.lock:
                first = address not in self.first_seen
                self.first_seen.add(address)
            if first:
                tried.append((address, "451"))
                return "451 4.7.1 greylisted, try again"
            tried.append((address, "250"))
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        tried = self._tried.get(id(envelope), [])
        reply = await super().handle_DATA(server, session, envelope)
        mid = self._last_mid(envelope)
        with self.lock:
            for address, code in tried:
                if code == "451":
                    self.deferred.add((mid, address))
        return reply

    @staticmethod
    def _last_mid(envelope: Any) -> str:
        content = bytes(envelope.content).decode("utf-8", "replace")
        for line in content.splitlines():
            if line.lower().startswith("message-id:"):
                return line.split(":", 1)[1].strip()
        return ""


def recipients_of(n: int) -> list[tuple[str, str]]:
    """Two or three recipients; the first has a non-ASCII display name."""
    people = [
        (f"Zoë Łukasiewicz {n}", f"person-{n}a@example.nl"),
        ("Bob", f"person-{n}b@example.nl"),
    ]
    if n % 3 == 0:
        people.append(("Ria", f"refuse-{n}@example.nl"))
    elif n % 3 == 1:
        people.append(("Dirk", f"defer-{n}@example.nl"))
    return people


def fill(url: str, round_name: str) -> dict[str, list[str]]:
    """The outbox with MESSAGES mails; returns each Message-ID's recipients."""
    store = open_store(url)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    envelopes: dict[str, list[str]] = {}
    with store.unit_of_work() as uow:
        for n in range(MESSAGES):
            key = f"dispatch-faults:{round_name}:{n:05d}"
            msg = build_email(
                sender=("Campaigns", "campaigns@example.com"),
                to=recipients_of(n),
                subject=f"Information {n}",
                text=f"Message number {n}.\n",
                key=key,
                date=now,
            )
            message = outbox_message_for_email(msg, key, now, fixed_id(f"{round_name}-{n:05d}"))
            envelopes[str(msg["Message-ID"])] = list(message.envelope or [])
            uow.outbox.add(message)
        uow.commit()
    store.close()
    return envelopes


def spawn(url: str, port: int, seed: int, log: Path, kill_rate: float) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reliability.dispatch_workers",
            url,
            str(port),
            str(seed),
            str(log),
            str(kill_rate),
            str(LEASE),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run_round(url: str, tmp: Path, round_name: str, kill_rate: float) -> dict[str, Any]:
    """Deliver a fresh outbox with live dispatchers; returns what happened."""
    from aiosmtpd.controller import Controller

    envelopes = fill(url, round_name)
    server = DeferringServer()
    port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    log = tmp / f"{round_name}.jsonl"
    workers: list[subprocess.Popen[bytes]] = []
    errors: list[str] = []
    kills = 0
    seed = 1000 if kill_rate else 0
    started = time.monotonic()
    try:
        for _ in range(DISPATCHERS):
            seed += 1
            workers.append(spawn(url, port, seed, log, kill_rate))
        while workers and time.monotonic() - started < DEADLINE:
            time.sleep(0.05)
            for proc in list(workers):
                code = proc.poll()
                if code is None:
                    continue
                workers.remove(proc)
                if code == -9:
                    kills += 1
                    seed += 1
                    workers.append(spawn(url, port, seed, log, kill_rate))
                elif code != 0:
                    errors.append(proc.stderr.read().decode()[-3000:] if proc.stderr else "")
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
        controller.stop()

    store = open_store(url, create=False)
    with store.unit_of_work() as uow:
        stored = {m.key: m for m in uow.outbox.list(limit=10 * MESSAGES) if round_name in m.key}
    store.close()
    by_mid = {}
    for message in stored.values():
        text = message.payload["message"]
        mid = next(
            line.split(":", 1)[1].strip()
            for line in text.splitlines()
            if line.lower().startswith("message-id:")
        )
        by_mid[mid] = message
    lost = duplicates = state_mismatches = envelope_mismatches = unfinished = 0
    for mid, envelope in envelopes.items():
        message = by_mid[mid]
        if message.status is OutboxStatus.PENDING:
            unfinished += 1
        if server.rcpts.get(mid, set()) != set(envelope):
            envelope_mismatches += 1
        extra = 0
        for address in envelope:
            got = server.accepted[(mid, address)]
            refused = (mid, address) in server.refused
            if got == 0 and not refused:
                lost += 1
            extra = max(extra, got - 1)
            expected = RecipientState.ACCEPTED if got else RecipientState.REFUSED
            held = message.recipients.get(address)
            if held is None or held.state is not expected:
                state_mismatches += 1
        # One resend of a message reaches each of its recipients again: count
        # the message's extra deliveries, not its recipients'.
        duplicates += extra
    return {
        "lost": lost,
        "duplicates": duplicates,
        "state_mismatches": state_mismatches,
        "envelope_mismatches": envelope_mismatches,
        "unfinished": unfinished,
        "kills": kills,
        "deferred": len(server.deferred),
        "refused": len(server.refused),
        "errors": errors,
    }


# The bounded run (the ordinary suite) uses SQLite; the full run both backends.
BACKENDS = SQL_BACKENDS if FULL else SQL_BACKENDS[:1]
_TALLY: Counter[str] = Counter()


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_dispatch_faults_nothing_lost_and_no_duplicates_but_one_per_kill(
    database_url: str, tmp_path: Path
) -> None:
    live = run_round(database_url, tmp_path, "live", 0.0)
    killed = run_round(database_url, tmp_path, "killed", KILL_RATE)
    lost = live["lost"] + killed["lost"]
    mismatches = live["state_mismatches"] + killed["state_mismatches"]
    envelopes = live["envelope_mismatches"] + killed["envelope_mismatches"]
    _TALLY.update(kills=killed["kills"], duplicates=killed["duplicates"])
    per_kill = _TALLY["duplicates"] / max(_TALLY["kills"], 1)

    record("dispatch_faults_messages", 2 * MESSAGES, f">= {2 * MESSAGES}", accumulate=True)
    record("dispatch_faults_lost", lost, "== 0", accumulate=True)
    record("dispatch_faults_duplicates_without_kill", live["duplicates"], "== 0", accumulate=True)
    record("dispatch_faults_kills", killed["kills"], ">= 1", accumulate=True)
    record("dispatch_faults_duplicates_per_kill", per_kill, "<= 1")
    record("dispatch_faults_recipient_state_mismatches", mismatches, "== 0", accumulate=True)
    record("interop_smtp_envelope_mismatches", envelopes, "== 0", accumulate=True)
    record(
        "dispatch_faults_deferred_and_refused",
        live["deferred"] + live["refused"] + killed["deferred"] + killed["refused"],
        ">= 1",
        accumulate=True,
    )

    assert not live["errors"], live["errors"]
    assert not killed["errors"], killed["errors"]
    assert (live["unfinished"], killed["unfinished"]) == (0, 0)
    assert lost == 0
    assert live["duplicates"] == 0
    assert killed["kills"] >= 1
    assert killed["duplicates"] <= killed["kills"]
    assert mismatches == 0
    assert envelopes == 0
