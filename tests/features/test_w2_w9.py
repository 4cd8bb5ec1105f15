"""W2-W9 (and H1's host side): the campaign service tests, on PostgreSQL as well.

tests/integration/test_campaigns.py drives the standard procedure through
``services.campaigns`` on memory and SQLite: roles per procedure (W2), the send
e-mail and make appointment step kinds (W3) rendering their templates (W4),
the pinned procedure (W5), every move of the matrix (W6, W7), preparing /
running / closed with reasons (W8), suspect -> prospect -> customer (W9),
stale versions (X5). tests/integration/test_host_side.py does the same for
H1 (registered step kinds, available actions, enrolment, outcomes, previews).
Importing their tests here runs each again with this module's ``store``: a
PostgreSQL database (the suites' own memory- and SQLite-only property tests
run again unchanged).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crm_procedures.adapters.sql import open_store
from crm_procedures.testing.postgres import PostgresServer
from integration.test_campaigns import *  # noqa: F403
from integration.test_host_side import *  # noqa: F403

_made = iter(range(1, 1_000_000))


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh PostgreSQL database with the store's schema."""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"crm_campaign_{next(_made)}"
    made = open_store(server.create_database(name, template="crm_features_template"))
    try:
        yield made
    finally:
        made.close()
        server.drop_database(name)
