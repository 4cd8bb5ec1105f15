"""The report numbers (P1) equal the numbers computed from the raw records, on the
memory store and on SQLite, for every reader and with or without a period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.errors import AccessDenied, NotFound
from crm_procedures.ports import Store
from crm_procedures.services.context import Context
from crm_procedures.services.reports import (
    acquisition,
    employee_activity,
    funnel,
    negotiation_timeline,
)
from crm_procedures.testing.clock import FrozenClock
from reports.world import (
    READERS,
    START,
    Rights,
    World,
    expected_acquisition,
    expected_employee_rows,
    expected_funnel,
    generate,
)


def sqlite_store() -> Store:
    from crm_procedures.adapters.sql import open_store

    return open_store("sqlite://")


STORES: dict[str, Callable[[], Store]] = {"memory": MemoryStore, "sqlite": sqlite_store}


def context(kind: str, world: World) -> Context:
    store = STORES[kind]()
    world.store_into(store)
    return Context(store=store, clock=FrozenClock(START + timedelta(days=120)))


def periods() -> st.SearchStrategy[tuple[datetime | None, datetime | None]]:
    day = st.integers(min_value=0, max_value=100)

    def to_period(a: int | None, b: int | None) -> tuple[datetime | None, datetime | None]:
        since = START + timedelta(days=a, hours=7) if a is not None else None
        until = START + timedelta(days=b) if b is not None else None
        if since is not None and until is not None and until <= since:
            until = since + timedelta(days=1)
        return since, until

    return st.builds(to_period, st.none() | day, st.none() | day)


@pytest.mark.parametrize("kind", sorted(STORES))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), period=periods())
def test_report_numbers_equal_the_numbers_counted_from_the_records(
    kind: str, seed: int, period: tuple[datetime | None, datetime | None]
) -> None:
    world = generate(seed)
    ctx = context(kind, world)
    since, until = period
    for reader in READERS:
        rights = Rights.of(reader)
        for project in world.projects:
            if not rights.sees_project(project):
                with pytest.raises(NotFound):
                    funnel(ctx, reader, project.id, since, until)
                continue
            got = funnel(ctx, reader, project.id, since, until)
            assert got == expected_funnel(world, rights, project.id, since, until), (
                reader,
                project.id,
            )
        got_rows = employee_activity(ctx, reader, since, until)
        assert got_rows == expected_employee_rows(world, rights, since, until), reader
        for group_by in ("industry_code", "region", "source"):
            assert acquisition(ctx, reader, group_by) == expected_acquisition(
                world, rights, group_by
            ), (reader, group_by)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), period=periods())
def test_memory_and_sqlite_reports_agree(
    seed: int, period: tuple[datetime | None, datetime | None]
) -> None:
    world = generate(seed)
    memory, sqlite = context("memory", world), context("sqlite", world)
    since, until = period
    for reader in READERS:
        assert funnel(memory, reader, "P-open", since, until) == funnel(
            sqlite, reader, "P-open", since, until
        )
        assert employee_activity(memory, reader, since, until) == employee_activity(
            sqlite, reader, since, until
        )
        for relation in world.relations[:4]:
            assert negotiation_timeline(memory, reader, relation.id) == negotiation_timeline(
                sqlite, reader, relation.id
            )


@pytest.mark.parametrize("kind", sorted(STORES))
def test_reports_need_the_report_permission(kind: str) -> None:
    ctx = context(kind, generate(1))
    with pytest.raises(AccessDenied):
        funnel(ctx, "eva", "P-open")
    with pytest.raises(AccessDenied):
        employee_activity(ctx, "eva")
    with pytest.raises(AccessDenied):
        acquisition(ctx, "eva")
    with pytest.raises(AccessDenied):
        negotiation_timeline(ctx, "eva", "R01")
    with pytest.raises(AccessDenied):
        funnel(ctx, "nobody", "P-open")


@pytest.mark.parametrize("kind", sorted(STORES))
def test_funnel_of_a_restricted_project_is_not_found_for_outsiders(kind: str) -> None:
    ctx = context(kind, generate(2))
    with pytest.raises(NotFound):
        funnel(ctx, "cees", "P-closed")
    assert funnel(ctx, "anna", "P-closed").project_id == "P-closed"
    with pytest.raises(NotFound):
        funnel(ctx, "dora", "no-such-project")


@pytest.mark.parametrize("kind", sorted(STORES))
def test_the_funnel_of_a_hand_made_project_has_the_counted_rows(kind: str) -> None:
    # One project small enough to count by eye: the generated data sets above
    # check the rules at scale, this one pins the meaning of each number.
    world = generate(3, relations=0, activities=0)
    ctx = context(kind, world)
    empty = funnel(ctx, "dora", "P-open")
    assert (empty.total, empty.suspects, empty.prospects, empty.won) == (0, 0, 0, 0)
    assert empty.rows()[0].share is None
    assert employee_activity(ctx, "dora") == []
    assert acquisition(ctx, "dora") == []


@pytest.mark.parametrize("kind", sorted(STORES))
def test_timeline_lists_activities_steps_and_visit_reports_in_time_order(kind: str) -> None:
    world = generate(5)
    ctx = context(kind, world)
    relation = max(
        world.relations,
        key=lambda r: (
            sum(v.relation_id == r.id for v in world.visit_reports),
            sum(p.relation_id == r.id for p in world.prospects),
        ),
    )
    items = negotiation_timeline(ctx, "dora", relation.id)
    moments = [i.at.astimezone(UTC) for i in items]
    assert moments == sorted(moments)
    steps_expected = sum(
        1
        for p in world.prospects
        if p.relation_id == relation.id
        for e in p.history
        if e.kind.value in ("step", "correction")
    )
    assert sum(i.kind in ("step", "correction") for i in items) == steps_expected
    activities_expected = sum(a.relation_id == relation.id for a in world.activities)
    assert sum(i.kind == "activity" for i in items) == activities_expected
    visits = [i.record_id for i in items if i.kind == "visit_report"]
    assert visits, "the chosen relation has visit reports"
    assert visits == [
        v.id
        for v in sorted(world.visit_reports, key=lambda v: v.start)
        if v.relation_id == relation.id
    ]
    # A reader who sees only their own activities gets only those.
    own = negotiation_timeline(ctx, "cees", relation.id)
    assert {i.actor for i in own if i.kind == "activity"} <= {"cees"}
    with pytest.raises(NotFound):
        negotiation_timeline(ctx, "dora", "no-such-relation")
