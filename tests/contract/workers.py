"""Many users performing steps on one prospect at once, each in its own process.

:func:`set_up_campaign` prepares a running prospect through the services;
:func:`perform_steps` is what each worker process runs: it performs
``call_back`` (a step a marketeer may repeat for ever) again and again and
reports which attempts committed and which ended in ConcurrencyConflict. The
module is imported by name in the workers (``multiprocessing`` with spawn),
so it holds everything they need.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from crm_procedures.adapters.sql import open_store
from crm_procedures.errors import ConcurrencyConflict
from crm_procedures.model.relation import Relation, RelationKind
from crm_procedures.model.users import Group, User
from crm_procedures.ports import Store
from crm_procedures.procedures.standard import standard_definitions
from crm_procedures.services import campaigns
from crm_procedures.services.app import SystemClock
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock

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
