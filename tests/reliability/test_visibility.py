"""Item 5, ``visibility``: store queries against the reference predicates, at a larger scale.

The access tests check small generated worlds; here the worlds are larger
(more users, groups, restricted projects, prospects and activities) and every
difference is counted: a record a user's query returns that the reference
predicates of :mod:`crm_procedures.access.viewer` forbid is a leak, a record
they allow that the query leaves out is missing. Both must stay 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.sql import open_store
from crm_procedures.ports import Store
from quality.worlds import READ_PERMISSIONS, Scale, World, build, check_user, worlds
from reliability.figures import hypothesis_settings, record, size
from reliability.world import T0

SCALE = Scale(
    created_at=T0,
    permissions=(*READ_PERMISSIONS, "prospect.write"),
    groups=5,
    users=8,
    relations=4,
    most=3,
    most_linked_groups=2,
    projects=6,
    prospects=40,
    activities=60,
    inactive_users=True,
)
STORES: dict[str, Callable[[], Store]] = {
    "memory": MemoryStore,
    "sqlite": lambda: open_store("sqlite://"),
}
WORLDS = {"memory": size(30, 750), "sqlite": size(10, 250)}


class Tally:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: list[str] = []

    def compare(self, what: str, got: set[str], allowed: set[str]) -> None:
        self.counts["queries"] += 1
        leaks, missing = got - allowed, allowed - got
        self.counts["leaks"] += len(leaks)
        self.counts["missing"] += len(missing)
        if (leaks or missing) and len(self.examples) < 5:
            self.examples.append(f"{what}: leaks {sorted(leaks)}, missing {sorted(missing)}")


@pytest.mark.parametrize("store_name", sorted(STORES))
def test_no_query_leaks_or_misses_a_record(store_name: str) -> None:
    tally = Tally()

    @hypothesis_settings(WORLDS[store_name], WORLDS[store_name])
    @given(world=worlds(SCALE))
    def every_world(world: World) -> None:
        tally.counts["worlds"] += 1
        store = build(STORES[store_name], world)
        try:
            with store.unit_of_work() as uow:
                for user in world.users:
                    check_user(uow, world, user, tally.compare)
        finally:
            store.close()

    every_world()
    total = sum(WORLDS.values())
    record("visibility.worlds", tally.counts["worlds"], f">= {total}", accumulate=True)
    record("visibility.queries_compared", tally.counts["queries"], ">= 1", accumulate=True)
    record("visibility.leaks", tally.counts["leaks"], "== 0", accumulate=True)
    record("visibility.missing", tally.counts["missing"], "== 0", accumulate=True)
    assert tally.counts["worlds"] >= WORLDS[store_name]
    assert (tally.counts["leaks"], tally.counts["missing"]) == (0, 0), tally.examples
