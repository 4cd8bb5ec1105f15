"""The scheduler process of ``scheduler_faults``: ``python -m reliability.scheduler_workers``.

``URL SEED KILL_RATE LEASE EPOCH``: runs
:func:`~crm_procedures.services.scheduler.run_due` on a running clock
(:class:`RunningClock`) until no automatic step is due, and with
``KILL_RATE > 0`` SIGKILLs its own process at random: just before a unit of work commits, or
just after (before the scheduler goes on). Exits 0 when nothing is left.

:func:`fill` writes the world the test starts from: ``n`` running prospects
whose automatic information e-mail (the demo's cadence) is due.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_procedures import CrmApp, Group, Relation, RelationKind, User, standard_definitions
from crm_procedures.adapters.sql import open_store
from crm_procedures.ids import UserId
from crm_procedures.model.contact import Contact
from crm_procedures.model.prospect import EntryKind, HistoryEntry, Prospect, ProspectStatus
from crm_procedures.ports import Store, UnitOfWork
from crm_procedures.services import campaigns, scheduler
from crm_procedures.services.context import Context
from crm_procedures.testing import FrozenClock

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OWNERS = ["ann", "bas"]


def definitions() -> Any:
    """The demo's cadence: ``send_info`` is automatic after ``info_asked``."""
    from crm_procedures.demo import _with_cadence

    return _with_cadence(standard_definitions())


def fill(url: str, n: int) -> None:
    """A campaign of ``n`` prospects whose information e-mail is due (and contacts)."""
    app = CrmApp(store=open_store(url), clock=FrozenClock(T0), definitions=definitions())
    try:
        with app.store.unit_of_work() as uow:
            uow.groups.add(Group("admins", "Admins", permissions={"admin"}))
            uow.users.add(User("pia", "Pia", email="pia@example.com", groups={"admins"}))
            for e in OWNERS:
                uow.users.add(User(e, e, email=f"{e}@example.com", roles={"marketeer"}))
            uow.relations.add(Relation("klant", "Klant B.V.", kinds={RelationKind.CLIENT}))
            uow.commit()
        project = campaigns.start_campaign(
            app.ctx,
            "pia",
            relation_id="klant",
            name="Cadence",
            procedure="standard",
            members={"marketeer": OWNERS, "client": ["pia"], "project_leader": ["pia"]},
        )
        past = T0 + timedelta(days=1)
        for lo in range(0, n, 1000):
            with app.store.unit_of_work() as uow:
                hi = min(lo + 1000, n)
                uow.relations.add_many([Relation(f"r{i}", f"Relation {i}") for i in range(lo, hi)])
                uow.contacts.add_many(
                    [
                        Contact(id=f"c{i}", relation_id=f"r{i}", last_name="J", email=email(i))
                        for i in range(lo, hi)
                    ]
                )
                prospects = []
                for i in range(lo, hi):
                    owner = UserId(OWNERS[i % 2])
                    p = Prospect(
                        id=prospect_id(i),
                        project_id=project.id,
                        relation_id=f"r{i}",
                        contact_id=f"c{i}",
                        status=ProspectStatus.RUNNING,
                        last_step="info_asked",
                        owner=owner,
                        history=[
                            HistoryEntry(1, EntryKind.STATUS, T0, owner, detail="running"),
                            HistoryEntry(2, EntryKind.STEP, past, owner, "marketeer", "info_asked"),
                        ],
                    )
                    p.next_due_at, p.due_step, p.due_role = past, "send_info", "marketeer"
                    p.due_automatic = True
                    prospects.append(p)
                uow.prospects.add_many(prospects)
                uow.commit()
    finally:
        app.close()


def prospect_id(i: int) -> str:
    return f"p{i:06d}"


def email(i: int) -> str:
    return f"contact-{i}@example.nl"


OPENS = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
"""A Monday, 10:00 in Amsterdam: the send window is open for the next seven hours."""


class RunningClock:
    """Real seconds since ``epoch`` (a ``time.time()``), counted from :data:`OPENS`.

    Time moves, so leases run out; every process of a run shares the epoch,
    so they agree on the time; and the e-mails' send window is open whatever
    the day the test runs on.
    """

    def __init__(self, epoch: float) -> None:
        self._epoch = epoch

    def now(self) -> datetime:
        return OPENS + timedelta(seconds=time.time() - self._epoch)


class _KillingUnit:
    """A unit of work whose commit may SIGKILL the process just before or after it."""

    def __init__(self, inner: UnitOfWork, die: Any) -> None:
        self._inner = inner
        self._die = die

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def commit(self) -> None:
        self._die()
        self._inner.commit()
        self._die()


class KillingStore:
    """A store whose units of work may die around their commits."""

    def __init__(self, inner: Store, rng: random.Random, kill_rate: float) -> None:
        self._inner = inner
        self._rng = rng
        self._rate = kill_rate
        self.capabilities: frozenset[str] = getattr(inner, "capabilities", frozenset())

    def _die(self) -> None:
        if self._rate and self._rng.random() < self._rate:
            os.kill(os.getpid(), signal.SIGKILL)

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[Any]:
        with self._inner.unit_of_work(read_only=read_only) as uow:
            yield _KillingUnit(uow, self._die)

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def main(argv: list[str]) -> int:
    url, seed, kill_rate, lease = argv[0], int(argv[1]), float(argv[2]), float(argv[3])
    epoch = float(argv[4])
    inner = open_store(url, create=False)
    store: Any = KillingStore(inner, random.Random(seed), kill_rate)
    ctx = Context(store=store, clock=RunningClock(epoch), definitions=definitions())
    worker = f"w{seed}:{os.getpid()}"
    try:
        while True:
            run = scheduler.run_due(ctx, limit=10, worker=worker, lease_seconds=lease)
            if run.claimed == 0:
                with inner.unit_of_work(read_only=True) as uow:
                    left = uow.prospects.due(automatic=True, until=ctx.now(), limit=1)
                if not left:
                    return 0
    finally:
        inner.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
