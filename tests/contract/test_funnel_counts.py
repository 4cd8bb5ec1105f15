"""The funnel's numbers equal the numbers counted from the records, on SQLite and PostgreSQL.

On SQLite the counts per stage and status are read by seeking the distinct
``(stage, status)`` pairs and counting each index range, not by a
``GROUP BY``; PostgreSQL runs the ``GROUP BY``. Both must give exactly what
the reference computation of ``reports.world`` counts from the records, for
every reader (also one who may not see prospects in preparation), with and
without a period, corrections and closings included.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contract.conftest import SQL_ADAPTERS
from crm_procedures.adapters.sql import open_store
from crm_procedures.errors import NotFound
from crm_procedures.services.context import Context
from crm_procedures.services.reports import funnel
from crm_procedures.testing.clock import FrozenClock
from reports.world import READERS, START, Rights, expected_funnel, generate

PERIODS: list[tuple[datetime | None, datetime | None]] = [
    (None, None),
    (START + timedelta(days=10, hours=7), START + timedelta(days=60)),
    (START + timedelta(days=30), None),
]


@pytest.mark.parametrize("database_url", SQL_ADAPTERS, indirect=True)
@pytest.mark.parametrize("seed", [3, 11, 2026])
def test_the_funnel_equals_the_reference_count_for_every_reader(
    database_url: str, seed: int
) -> None:
    world = generate(seed, relations=24)
    store = open_store(database_url)
    try:
        world.store_into(store)
        ctx = Context(store=store, clock=FrozenClock(START + timedelta(days=120)))
        checked = 0
        for reader in READERS:
            rights = Rights.of(reader)
            for project in world.projects:
                if not rights.sees_project(project):
                    with pytest.raises(NotFound):
                        funnel(ctx, reader, project.id)
                    continue
                for since, until in PERIODS:
                    got = funnel(ctx, reader, project.id, since, until)
                    expected = expected_funnel(world, rights, project.id, since, until)
                    assert got == expected, (reader, project.id, since, until)
                    checked += got.total
        assert checked > 0  # the data set has prospects to count
    finally:
        store.close()
