"""Inbound mail: classifying and applying a folder of mixed messages against bare ``email.parser``.

``inbound_classify_per_s`` is the number of messages per second read from a
folder of 10,000 mixed ``.eml`` files, classified and applied to a SQLite
store by :func:`crm_procedures.services.inbound.process_inbox` (through
:class:`~crm_procedures.adapters.inbox_folder.FolderInbox`, 1,000 per call,
until every message is applied; each message in its own unit of work with
the inbox position). The store holds a released campaign whose prospects'
e-mails were sent (their Message-IDs remembered in the inbound repository)
and whose appointments were sent as invitations, so the mix is what a real
inbox brings: replies and automatic replies linked to a prospect's timeline,
bounces (hard ones suppress the address), iTIP answers stored on the
appointment, and replies to nothing this installation sent (kept for a
person). The messages are built by :mod:`crm_procedures.inbound.samples`.

``inbound_classify_only_per_s`` is the same folder read and classified by
:func:`crm_procedures.inbound.classify.classify` alone, no store.

The baseline of both reads the same files and parses each with
``email.parser.BytesParser().parsebytes`` alone, in the same run; the ratio
is our time over the baseline's.

Run: ``python benchmarks/run.py --only inbound``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.parser import BytesParser
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure

from crm_procedures import Group, Relation, RelationKind, User, standard_definitions
from crm_procedures.adapters.inbox_folder import FolderInbox
from crm_procedures.adapters.sql import open_store
from crm_procedures.inbound.classify import Kind, classify
from crm_procedures.inbound.samples import auto_reply_to, bounce_of, calendar_reply_to, reply_to
from crm_procedures.model.appointment import Appointment, Attendee
from crm_procedures.model.contact import Contact
from crm_procedures.model.inbound import SentMessage
from crm_procedures.services import campaigns
from crm_procedures.services.context import Context
from crm_procedures.services.inbound import inbound_of, process_inbox
from crm_procedures.testing.clock import FrozenClock

START = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
SENDER = "campaigns@example.com"
PARTSTATS = ("ACCEPTED", "TENTATIVE", "DECLINED")


def _sent_id(i: int) -> str:
    return f"<sent-{i}@crm.example.com>"


def _uid(i: int) -> str:
    return f"appt-{i}@crm.example.com"


def _address(i: int) -> str:
    return f"p{i}@relation{i}.example.nl"


def _store(url: str, prospects: int) -> Context:
    """A released campaign of ``prospects`` whose e-mails and invitations were sent."""
    store = open_store(url)
    clock = FrozenClock(START)
    counter = iter(range(1, 10_000_000))
    ctx = Context(
        store=store,
        clock=clock,
        new_id=lambda: f"id{next(counter):07d}",
        sender_email=SENDER,
        sender_name="Klant B.V. campaigns",
        definitions=standard_definitions(),
    )
    with store.unit_of_work() as uow:
        uow.groups.add(
            Group("marketing", "Marketing", permissions={"prospect.write", "activity.write"})
        )
        uow.groups.add(
            Group(
                "leaders",
                "Project leaders",
                permissions={"project.write", "prospect.write", "prospect.read_preparing"},
            )
        )
        uow.users.add(User("ann", "Ann de Wit", email="ann@example.com", groups={"marketing"}))
        uow.users.add(User("pia", "Pia Nowak", email="pia@example.com", groups={"leaders"}))
        uow.relations.add(Relation("klant", "Klant B.V.", kinds={RelationKind.CLIENT}))
        for i in range(prospects):
            uow.relations.add(Relation(f"r{i}", f"Relation {i} B.V."))
            uow.contacts.add(
                Contact(id=f"c{i}", relation_id=f"r{i}", last_name="Smit", email=_address(i))
            )
        uow.commit()
    project = campaigns.start_campaign(
        ctx,
        "pia",
        relation_id="klant",
        name="Inbound campaign",
        procedure="standard",
        members={"marketeer": ["ann"], "project_leader": ["pia"]},
    )
    added = campaigns.add_prospects(
        ctx, "pia", project.id, [(f"r{i}", f"c{i}") for i in range(prospects)]
    )
    campaigns.release(ctx, "pia", project.id)
    now = clock.now()
    with store.unit_of_work() as uow:
        records = inbound_of(uow)
        for i, prospect in enumerate(added):
            records.inbound.add_sent(
                SentMessage(
                    id=_sent_id(i),
                    outbox_id=f"out{i}",
                    outbox_key=f"email:{prospect.id}:send_info",
                    prospect_id=prospect.id,
                    recipients=(_address(i),),
                    recorded_at=now,
                    actor="ann",
                )
            )
            uow.appointments.add(
                Appointment(
                    id=f"a{i}",
                    employee="ann",
                    start=now + timedelta(days=2),
                    end=now + timedelta(days=2, hours=1),
                    title=f"Visit relation {i}",
                    uid=_uid(i),
                    relation_id=f"r{i}",
                    contact_id=f"c{i}",
                    project_id=project.id,
                    prospect_id=prospect.id,
                    attendees=(Attendee(_address(i)),),
                    organizer_email="ann@example.com",
                )
            )
        uow.commit()
    return ctx


def _messages(n: int, prospects: int) -> list[bytes]:
    """``n`` answers to the seeded campaign, each with its own Message-ID.

    Per ten: four replies, two automatic replies, one bounce (every other one
    hard), two calendar answers and one reply to an e-mail never sent.
    """
    date = START + timedelta(days=1)
    out = []
    for i in range(n):
        p = i % prospects
        mid = f"<m{i}@relation{p}.example.nl>"
        slot = i % 10
        if slot < 4:
            raw = reply_to(
                _sent_id(p),
                sender=_address(p),
                to=SENDER,
                body=f"Yes, please call me on Thursday about offer {i}.\n\n> quoted text",
                message_id=mid,
                date=date,
            )
        elif slot < 6:
            raw = auto_reply_to(
                _sent_id(p), sender=_address(p), to=SENDER, message_id=mid, date=date
            )
        elif slot == 6:
            raw = bounce_of(
                _sent_id(p),
                recipient=_address(p),
                to=SENDER,
                message_id=mid,
                date=date,
                hard=i % 20 == 6,
            )
        elif slot < 9:
            raw = calendar_reply_to(
                _uid(p),
                sequence=0,
                attendee=_address(p),
                organizer="ann@example.com",
                partstat=PARTSTATS[(i // 10) % 3],
                message_id=mid,
                date=date,
            )
        else:
            raw = reply_to(
                f"<never-sent-{i}@elsewhere.example>",
                sender=f"someone{i}@elsewhere.example",
                to=SENDER,
                body="Who are you?",
                message_id=mid,
                date=date,
            )
        out.append(raw)
    return out


def _best(timed: Callable[[], float], runs: int = 3) -> float:
    timed()  # warm-up
    return min(timed() for _ in range(runs))


def run(quick: bool) -> list[Figure]:
    """The inbound figures (see the module documentation)."""
    n, prospects = (500, 50) if quick else (10_000, 500)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "inbox"
        folder.mkdir()
        for i, raw in enumerate(_messages(n, prospects)):
            (folder / f"{i:06d}.eml").write_bytes(raw)
        files = sorted(folder.glob("*.eml"))

        def baseline() -> float:
            parser = BytesParser()
            t0 = time.perf_counter()
            for path in files:
                parser.parsebytes(path.read_bytes())
            return time.perf_counter() - t0

        kinds: dict[Kind, int] = {}

        def classify_only() -> float:
            kinds.clear()
            inbox = FolderInbox(folder)
            t0 = time.perf_counter()
            cursor = None
            while batch := inbox.fetch(cursor, limit=1_000):
                for message in batch:
                    kind = classify(message.raw).kind
                    kinds[kind] = kinds.get(kind, 0) + 1
                cursor = batch[-1].cursor
            return time.perf_counter() - t0

        t_base = _best(baseline)
        t_classify = _best(classify_only)

        # Applying changes the store, so it is timed once, on a fresh store.
        ctx = _store("sqlite:///" + str(Path(tmp) / "crm.db"), prospects)
        applied = kept = events = 0
        inbox = FolderInbox(folder)
        t0 = time.perf_counter()
        while (done := process_inbox(ctx, inbox, limit=1_000)).fetched:
            applied += done.applied
            kept += done.kept
            events += len(done.events)
        t_apply = time.perf_counter() - t0
        ctx.store.close()
    assert sum(kinds.values()) == n
    assert applied == n, f"{applied} of {n} applied"
    mix = ", ".join(f"{k.value} {v}" for k, v in sorted(kinds.items()))
    return [
        Figure(
            name="inbound_classify_per_s",
            value=n / t_apply,
            unit="messages/s (folder read + classify + apply on SQLite)",
            target="report it",
            met=True,
            baseline=n / t_base,
            ratio=t_apply / t_base,
            note=(
                f"{n:,} messages, {prospects} prospects; {n - kept:,} applied to the "
                f"campaign, {kept:,} kept for a person, {events:,} events; "
                f"ratio = our time / bare BytesParser time; mix: {mix}"
            ),
        ),
        Figure(
            name="inbound_classify_only_per_s",
            value=n / t_classify,
            unit="messages/s (folder read + classify)",
            target="report it",
            met=True,
            baseline=n / t_base,
            ratio=t_classify / t_base,
            note=f"the same {n:,} messages, no store; ratio = our time / bare BytesParser time",
        ),
    ]


if __name__ == "__main__":
    for figure in run(quick="--quick" in sys.argv):
        print(f"{figure.name}: {figure.value:,.0f} {figure.unit}; baseline {figure.baseline:,.0f}")
        print(f"    ratio {figure.ratio:.2f}; {figure.note}")
