"""The service level report on every store: overdue work, time in step, results per template.

The stores count in their own way (the SQL store in the database, the memory
store through the reference computation); each test checks hand-computed
numbers, and a generated campaign checks that every store agrees with the
reference computation of :mod:`crm_procedures.model.service_level`.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from contract.test_cadence import AMS, _call, _world
from crm_procedures.errors import AccessDenied, NotFound
from crm_procedures.ids import UserId
from crm_procedures.model import service_level as ref
from crm_procedures.model.prospect import (
    EntryKind,
    HistoryEntry,
    Prospect,
    ProspectStatus,
    RelationStage,
)
from crm_procedures.model.relation import Relation
from crm_procedures.model.users import User
from crm_procedures.ports import Store
from crm_procedures.services import cadence, scheduler, service_level

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEPS = ("call", "send_info", "call_back", "won")


def _entry(seq: int, step: str | None, hours: float, supersedes: int | None = None) -> HistoryEntry:
    kind = EntryKind.STEP if supersedes is None else EntryKind.CORRECTION
    at = T0 + timedelta(hours=hours)
    return HistoryEntry(seq, kind, at, UserId("ann"), "marketeer", step, supersedes)


def _add(store: Store, project_id: str, prospects: list[Prospect]) -> None:
    with store.unit_of_work() as uow:
        for p in prospects:
            if uow.relations.find(p.relation_id) is None:
                uow.relations.add(Relation(id=p.relation_id, name=p.relation_id))
        uow.commit()
    with store.unit_of_work() as uow:
        for p in prospects:
            uow.prospects.add(p)
        uow.commit()


def _prospect(
    project_id: str,
    n: int,
    history: list[HistoryEntry],
    *,
    status: ProspectStatus = ProspectStatus.RUNNING,
    stage: RelationStage = RelationStage.PROSPECT,
    exit_event: str | None = None,
) -> Prospect:
    return Prospect(
        id=f"g{n}",
        project_id=project_id,
        relation_id=f"rel-{n}",
        status=status,
        close_reason="not_interested" if status is ProspectStatus.CLOSED else None,
        stage=stage,
        history=history,
        sequence_exit=exit_event,
    )


def _project_of(store: Store, pid: str) -> str:
    with store.unit_of_work(read_only=True) as uow:
        return uow.prospects.get(pid).project_id


def test_time_in_step_counts_visits_moves_drop_outs_and_percentiles(store: Store) -> None:
    ctx, pid = _world(store)
    project = _project_of(store, pid)
    _add(
        store,
        project,
        [
            # call -> send_info after 2 h, then waits
            _prospect(project, 1, [_entry(1, "call", 0), _entry(2, "send_info", 2)]),
            # call -> send_info after 4 h; closed at send_info (a drop-out)
            _prospect(
                project,
                2,
                [_entry(1, "call", 0), _entry(2, "send_info", 4)],
                status=ProspectStatus.CLOSED,
            ),
            # call, a wrong send_info corrected into call_back after 10 h: won
            _prospect(
                project,
                3,
                [_entry(1, "call", 0), _entry(2, "send_info", 1), _entry(3, "call_back", 10, 2)],
                stage=RelationStage.CUSTOMER,
            ),
            # closed at call, never moved on
            _prospect(project, 4, [_entry(1, "call", 0)], status=ProspectStatus.CLOSED),
        ],
    )
    rows = {r.step: r for r in service_level.step_analytics(ctx, "boss", project)}
    assert set(rows) == {"call", "send_info", "call_back"}
    call = rows["call"]
    assert (call.reached, call.moved_on, call.dropped_out, call.won, call.waiting) == (
        4,
        3,
        1,
        0,
        0,
    )
    # times in call: 2 h, 4 h, 10 h: median 4 h (rank 2 of 3), p90 10 h (rank 3)
    assert call.median == timedelta(hours=4)
    assert call.p90 == timedelta(hours=10)
    info = rows["send_info"]
    assert (info.reached, info.moved_on, info.dropped_out, info.won, info.waiting) == (
        2,
        0,
        1,
        0,
        1,
    )
    assert info.median is None
    assert info.p90 is None
    back = rows["call_back"]
    assert (back.reached, back.won) == (1, 1)


def test_results_per_template_follow_the_prospects_that_received_it(store: Store) -> None:
    ctx, pid = _world(store)
    project = _project_of(store, pid)
    _add(
        store,
        project,
        [
            _prospect(project, 1, [_entry(1, "call", 0), _entry(2, "send_info", 2)]),
            _prospect(
                project,
                2,
                [_entry(1, "call", 0), _entry(2, "send_info", 4)],
                status=ProspectStatus.CLOSED,
                exit_event="reply",
            ),
            _prospect(
                project,
                3,
                [_entry(1, "call", 0), _entry(2, "send_info", 1), _entry(3, "call_back", 10, 2)],
            ),
            _prospect(
                project,
                4,
                [_entry(1, "call", 0), _entry(2, "send_info", 1), _entry(3, "send_info", 9)],
                stage=RelationStage.CUSTOMER,
            ),
        ],
    )
    (row,) = service_level.template_results(ctx, "boss", project)
    assert (row.template, row.steps) == ("info", ("send_info",))
    # the superseded send of g3 does not count; g4 got the e-mail twice
    assert (row.sent, row.prospects) == (4, 3)
    assert (row.won, row.closed, row.running, row.exited) == (1, 1, 1, 1)


def test_overdue_work_per_owner_and_step(store: Store) -> None:
    ctx, pid = _world(store)
    _call(ctx, pid)
    at = datetime(2026, 4, 7, 10, 5, tzinfo=AMS)
    scheduler.run_due(ctx, at, worker="w1")
    project = _project_of(store, pid)
    cadence.assign_owner(ctx, "boss", pid, "bas")
    due = datetime(2026, 4, 10, 10, 5, tzinfo=AMS)  # call_back: 3 business days later
    assert service_level.overdue_work(ctx, "boss", due) == []
    (row,) = service_level.overdue_work(ctx, "boss", due + timedelta(days=2))
    assert (row.owner, row.step, row.count, row.oldest) == ("bas", "call_back", 1, due)
    assert service_level.overdue_work(ctx, "boss", due + timedelta(days=2), project) == [row]
    cadence.assign_owner(ctx, "boss", pid, None)
    (row,) = service_level.overdue_work(ctx, "boss", due + timedelta(days=2))
    assert row.owner is None


def test_the_report_needs_report_read_and_a_visible_project(store: Store) -> None:
    ctx, pid = _world(store)
    project = _project_of(store, pid)
    with store.unit_of_work() as uow:
        uow.users.add(User(id="eve", name="Eve"))
        uow.commit()
    with pytest.raises(AccessDenied):
        service_level.step_analytics(ctx, "eve", project)
    with pytest.raises(AccessDenied):
        service_level.overdue_work(ctx, "ann")
    with pytest.raises(NotFound):
        service_level.step_analytics(ctx, "boss", "no-such-project")
    with pytest.raises(NotFound):
        service_level.template_results(ctx, "boss", "no-such-project")


def _random_history(rng: random.Random) -> list[HistoryEntry]:
    out: list[HistoryEntry] = []
    hours = 0.0
    for seq in range(1, rng.randint(0, 6) + 1):
        hours += rng.choice([0.0, 0.5, 1.0, 3.0, 24.0, 49.5])
        if out and rng.random() < 0.25:
            target = rng.choice(out)
            step = rng.choice([*STEPS[:3], None])
            out.append(_entry(seq, step, hours, target.seq))
        else:
            out.append(_entry(seq, rng.choice(STEPS[:3]), hours))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_every_store_agrees_with_the_reference_computation(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    ctx, pid = _world(store)
    project = _project_of(store, pid)
    generated = [
        _prospect(
            project,
            n,
            _random_history(rng),
            status=rng.choice(list(ProspectStatus)),
            stage=rng.choice([RelationStage.PROSPECT, RelationStage.CUSTOMER]),
            exit_event=rng.choice([None, "reply"]),
        )
        for n in range(60)
    ]
    _add(store, project, generated)
    with store.unit_of_work(read_only=True) as uow:
        everyone = uow.prospects.of_project(project)
    assert service_level.step_analytics(ctx, "boss", project) == ref.step_analytics(everyone)
    templates = {"info": ("send_info",), "other": ("call", "call_back")}
    with store.unit_of_work(read_only=True) as uow:
        queries = getattr(getattr(uow, "reports", None), "template_results", None)
        if queries is not None:
            assert queries(project, None, templates) == ref.template_rows(everyone, templates)
    assert service_level.template_results(ctx, "boss", project) == ref.template_rows(
        everyone, {"info": ("send_info",)}
    )
