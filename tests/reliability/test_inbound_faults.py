"""Issue 19, ``inbound_faults``: a poller killed with SIGKILL while it applies received mail.

A folder inbox holds a mix of messages for a campaign on SQLite: replies to
the information e-mail, calendar answers to the appointment, soft bounces
(each of its own address) and messages that match nothing. Each carries a
token that applying it writes exactly once (an activity's note, a kept
message's body, an address's soft-failure count). A poller subprocess is
killed with SIGKILL at random points (inside a message's unit of work, and
right after a commit) ``KILLS`` times, restarted each time, and finally runs
to the end.

Figures:

* ``inbound_faults_lost``: messages whose effect is missing (0);
* ``inbound_faults_applied_twice``: messages whose effect is there twice (0).
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crm_procedures.adapters.sql import open_store
from crm_procedures.inbound.samples import bounce_of, calendar_reply_to, reply_to
from crm_procedures.services import campaigns
from integration.campaign import make_campaign
from reliability.figures import record, size
from reliability.world import TESTS

MESSAGES = size(200, 5_000)
KILLS = size(4, 20)
CONTACT = "jan@acme.example.nl"
TOKEN = re.compile(r"tok-\d{6}-x")


def token(n: int) -> str:
    return f"tok-{n:06d}-x"


def seed(url: str) -> tuple[str, str, int]:
    """A campaign whose prospect got the information e-mail and an appointment."""
    store = open_store(url)
    try:
        c = make_campaign(store)
        for step in ("call", "send_info", "call_back", "make_appointment"):
            c.clock.advance(minutes=1)
            result = campaigns.perform_step(
                c.ctx,
                "ann",
                c.acme,
                step,
                role="marketeer",
                appointment_start=c.clock.now() + timedelta(days=2),
            )
        appointment = result.appointment
        assert appointment is not None
        with store.unit_of_work() as uow:
            mails = uow.outbox.list()
        (info,) = [m for m in mails if m.channel == "mail" and "invite:" not in m.key]
        mail_id = re.search(r"^Message-ID: (.+?)\r?$", info.payload["message"], re.M | re.I)
        assert mail_id is not None
        return mail_id.group(1).strip(), appointment.uid, appointment.sequence
    finally:
        store.close()


def fill(folder: Path, sent_id: str, uid: str, sequence: int) -> None:
    """MESSAGES files: replies, calendar answers, soft bounces and strays, each with a token."""
    folder.mkdir()
    rng = random.Random(19)
    date = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    for n in range(MESSAGES):
        kind = rng.choice(("reply", "calendar", "bounce", "stray"))
        mid = f"<m{n:06d}@acme.example.nl>"
        if kind == "reply":
            raw = reply_to(
                sent_id,
                sender=CONTACT,
                to="campaigns@example.com",
                body=f"Answer {token(n)}",
                message_id=mid,
                date=date,
            )
        elif kind == "calendar":
            raw = calendar_reply_to(
                uid,
                sequence=sequence,
                attendee=CONTACT,
                organizer="campaigns@example.com",
                partstat=rng.choice(("ACCEPTED", "TENTATIVE")),
                message_id=mid,
                date=date,
                comment=token(n),
            )
        elif kind == "bounce":
            raw = bounce_of(
                sent_id,
                recipient=f"{token(n)}@bounce.example.nl",
                to="campaigns@example.com",
                message_id=mid,
                date=date,
                hard=False,
            )
        else:
            raw = reply_to(
                f"<never-sent-{n}@example.com>",
                sender="someone@else.example",
                to="campaigns@example.com",
                body=f"Who are you? {token(n)}",
                message_id=mid,
                date=date,
            )
        (folder / f"{n:06d}.eml").write_bytes(raw)


def poll(url: str, folder: Path, kill_at: int) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "reliability.inbound_workers", url, str(folder), str(kill_at)],
        env=env,
        capture_output=True,
        timeout=size(120, 1800),
        check=False,
    )
    if done.returncode not in (0, -9):
        raise AssertionError(done.stderr.decode("utf-8", "replace")[-3000:])
    return done.returncode


def effects(db: Path) -> tuple[Counter[str], int, list[int]]:
    """Tokens written (activities' notes, kept bodies), processed messages, soft-failure counts."""
    seen: Counter[str] = Counter()
    with sqlite3.connect(db) as conn:
        for table in ("activities", "unmatched_messages"):
            for (data,) in conn.execute(f"SELECT data FROM {table}"):
                seen.update(TOKEN.findall(data))
        (processed,) = conn.execute("SELECT count(*) FROM inbound_messages").fetchone()
        failures = [
            int(json.loads(data).get("soft_failures", 0))
            for (data,) in conn.execute("SELECT data FROM address_statuses")
        ]
    return seen, processed, failures


def test_inbound_faults_each_message_applied_once_through_kills(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    url = f"sqlite:///{db}"
    sent_id, uid, sequence = seed(url)
    folder = tmp_path / "inbox"
    fill(folder, sent_id, uid, sequence)
    rng = random.Random(2026)
    kills = runs = 0
    while kills < KILLS and runs < KILLS * 2:
        runs += 1
        # Every message asks for at least one id: a kill point within the
        # messages left is reached, and the kills spread over the whole run.
        left = MESSAGES - effects(db)[1]
        if poll(url, folder, rng.randint(1, max(1, left // (KILLS - kills + 1)))) == -9:
            kills += 1
    assert poll(url, folder, 0) == 0
    seen, processed, failures = effects(db)
    expected = {token(n) for n in range(MESSAGES)}
    lost = len(expected - set(seen))
    twice = sum(1 for t in expected if seen[t] > 1) + sum(1 for f in failures if f > 1)
    ok = [
        record("inbound_faults_lost", lost, "== 0"),
        record("inbound_faults_applied_twice", twice, "== 0"),
        record("inbound_faults_kills", kills, f">= {KILLS}"),
    ]
    assert processed == MESSAGES
    assert (lost, twice) == (0, 0)
    assert all(ok), (kills, runs)
