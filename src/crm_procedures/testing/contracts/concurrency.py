"""Many users performing a step on one prospect at once: no update may be lost.

:func:`set_up_campaign` prepares a running prospect through the services;
:func:`attempt_steps` performs ``call_back`` (a step a marketeer may repeat for
ever) again and again and reports which attempts committed and which ended in
ConcurrencyConflict; :func:`check_no_update_lost` checks that the history holds
exactly the committed attempts. The suite runs them in threads sharing one
store; the library's own tests also run them in processes sharing a database.
"""

from __future__ import annotations

import itertools
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import attrs

from crm_procedures.errors import ConcurrencyConflict
from crm_procedures.model.relation import Relation, RelationKind
from crm_procedures.model.users import Group, User
from crm_procedures.ports import Store
from crm_procedures.procedures.standard import standard_definitions
from crm_procedures.services import campaigns
from crm_procedures.services.app import SystemClock
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.contracts._support import has

STEP = "call_back"
ROLE = "marketeer"


@attrs.frozen
class Outcome:
    """What one worker saw: the notes of committed attempts, conflicts, anything else."""

    worker: int
    committed: tuple[str, ...]
    conflicts: tuple[tuple[str, str, str, int | None, int | None], ...]
    """``(note, kind, aggregate id, expected, actual)`` of every conflict."""
    errors: tuple[str, ...]


def marketeers(workers: int) -> list[str]:
    """The user ids of the marketeers, one per worker."""
    return [f"marketeer{n}" for n in range(workers)]


def _ids(prefix: str) -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


def set_up_campaign(store: Store, workers: int) -> str:
    """Marketeers, a client, a campaign of the standard procedure and one running
    prospect on which ``call`` is done; returns the prospect's id."""
    with store.unit_of_work() as uow:
        uow.groups.add(
            Group(
                "marketing",
                "Marketing",
                permissions={"project.write", "prospect.write", "prospect.read_preparing"},
            )
        )
        for user in marketeers(workers):
            uow.users.add(User(user, user.title(), groups={"marketing"}, roles={ROLE}))
        uow.relations.add(Relation("client", "Opdrachtgever B.V.", kinds={RelationKind.CLIENT}))
        uow.relations.add(Relation("suspect", "Bouwbedrijf Jansen B.V."))
        uow.commit()
    ctx = Context(
        store,
        FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        new_id=_ids("setup"),
        definitions=standard_definitions(),
    )
    first = marketeers(workers)[0]
    project = campaigns.start_campaign(
        ctx, first, relation_id="client", name="Campaign", procedure="standard"
    )
    [prospect] = campaigns.add_prospects(ctx, first, project.id, [("suspect", None)])
    campaigns.release(ctx, first, project.id)
    campaigns.perform_step(ctx, first, prospect.id, "call", role=ROLE)
    return prospect.id


def attempt_steps(
    store: Store, prospect_id: str, worker: int, attempts: int, start: Any
) -> Outcome:
    """Wait at the ``start`` barrier, then attempt ``call_back`` ``attempts`` times.

    Even attempts pass the version the user saw last (``expected_version``:
    the one their previous attempt stored, or the one its conflict named),
    odd ones leave the race to the store. Each attempt carries a unique note,
    so the history shows which attempts it holds.
    """
    committed: list[str] = []
    conflicts: list[tuple[str, str, str, int | None, int | None]] = []
    errors: list[str] = []
    actor = marketeers(worker + 1)[worker]
    ctx = Context(store, SystemClock(), new_id=_ids(f"w{worker}"))
    try:
        start.wait(timeout=120)
    except Exception:
        start.abort()
        return Outcome(worker, (), (), (f"worker {worker}: {traceback.format_exc()}",))
    seen: int | None = None  # the version this user saw last
    for attempt in range(attempts):
        note = f"w{worker}-a{attempt}"
        try:
            result = campaigns.perform_step(
                ctx,
                actor,
                prospect_id,
                STEP,
                role=ROLE,
                note=note,
                expected_version=seen if attempt % 2 == 0 else None,
            )
        except ConcurrencyConflict as conflict:
            conflicts.append(
                (note, conflict.kind, conflict.aggregate_id, conflict.expected, conflict.actual)
            )
            seen = conflict.actual
        except Exception:
            errors.append(f"{note}: {traceback.format_exc()}")
        else:
            committed.append(note)
            seen = result.prospect.version
    return Outcome(worker, tuple(committed), tuple(conflicts), tuple(errors))


@attrs.frozen
class State:
    """What the store holds about the contested prospect."""

    notes: list[str]
    """The notes of its history entries, in order."""
    version: int
    activities: int
    """Activities of its project."""
    audit: int
    """Audit entries of the prospect."""


def state_of(store: Store, prospect_id: str) -> State:
    with store.unit_of_work() as uow:
        prospect = uow.prospects.get(prospect_id)
        activities = uow.activities.of_project(prospect.project_id, limit=1_000_000)
        audit = uow.audit.of_record("prospect", prospect_id)
    notes = [e.note for e in prospect.history]
    return State(notes, prospect.version, len(activities), len(audit))


def check_no_update_lost(
    store: Store, prospect_id: str, before: State, outcomes: list[Outcome], attempts: int
) -> None:
    """Every attempt committed or conflicted, and the history holds exactly the committed."""
    errors = [e for o in outcomes for e in o.errors]
    committed = [note for o in outcomes for note in o.committed]
    conflicts = [c for o in outcomes for c in o.conflicts]
    print(
        f"\n{len(outcomes)} workers x {attempts} attempts: {len(committed)} committed, "
        f"{len(conflicts)} conflicts ({len(errors)} other errors)"
    )
    assert errors == [], errors[0]
    assert len(committed) + len(conflicts) == len(outcomes) * attempts
    assert len(set(committed)) == len(committed)
    assert committed, "no attempt committed"
    named = Counter((kind, aggregate_id) for _note, kind, aggregate_id, _e, _a in conflicts)
    # A conflict names the prospect; on a heavily loaded machine a writer may also
    # wait out the lock timeout, which is reported as a conflict of the transaction.
    assert set(named) <= {("prospect", prospect_id), ("transaction", "")}, named
    assert named[("transaction", "")] <= len(conflicts) // 2, named
    assert all(
        expected != actual for _note, kind, _id, expected, actual in conflicts if kind == "prospect"
    )

    after = state_of(store, prospect_id)
    assert after.notes[: len(before.notes)] == before.notes
    added = after.notes[len(before.notes) :]
    # the history holds exactly the committed attempts: none lost, none doubled
    assert len(added) == len(committed)
    assert sorted(added) == sorted(committed)
    assert after.version == before.version + len(committed)
    # a losing attempt left nothing behind: one activity and one audit entry per winner
    assert after.activities == before.activities + len(committed)
    assert after.audit == before.audit + len(committed)


def test_threads_sharing_one_store_lose_no_update(store: Store) -> None:
    """With ``threads`` the users' threads run at once; without it they take turns,
    each in a thread of its own: the store must still work from any thread."""
    threads, attempts = 4, 25
    prospect_id = set_up_campaign(store, threads)
    before = state_of(store, prospect_id)
    if not has(store, "threads"):
        outcomes = []
        for n in range(threads):
            with ThreadPoolExecutor(1) as executor:
                alone = threading.Barrier(1)
                turn = executor.submit(attempt_steps, store, prospect_id, n, attempts, alone)
                outcomes.append(turn.result(timeout=120))
        check_no_update_lost(store, prospect_id, before, outcomes, attempts)
        return
    start = threading.Barrier(threads)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that steps really interleave
    try:
        with ThreadPoolExecutor(threads) as executor:
            futures = [
                executor.submit(attempt_steps, store, prospect_id, n, attempts, start)
                for n in range(threads)
            ]
            outcomes = [f.result(timeout=120) for f in futures]
    finally:
        sys.setswitchinterval(switch)
    check_no_update_lost(store, prospect_id, before, outcomes, attempts)
