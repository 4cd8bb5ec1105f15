"""P4, L5, W8: every store query returns exactly what the reference predicates allow.

For generated users, groups, project links, prospects and activities, every
user's lists, counts and gets are compared with
:mod:`crm_procedures.access.viewer`: no record leaks to a user who may not see
it, and none is missing for a user who may.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from quality.worlds import Scale, World, build, check_user, worlds

from .conftest import NOW, STORES

SCALE = Scale(created_at=NOW)


def assert_same(what: str, got: set[str], allowed: set[str]) -> None:
    leaks, missing = got - allowed, allowed - got
    assert (leaks, missing) == (set(), set()), (
        f"{what}: leaks {sorted(leaks)}, missing {sorted(missing)}"
    )


@pytest.mark.parametrize("store_name", [name for name, _ in STORES])
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(world=worlds(SCALE))
def test_every_query_returns_exactly_what_the_viewer_may_see(store_name: str, world: World) -> None:
    store = build(dict(STORES)[store_name], world)
    try:
        with store.unit_of_work() as uow:
            for user in world.users:
                check_user(uow, world, user, assert_same)
    finally:
        store.close()
