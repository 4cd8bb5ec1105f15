"""Fixtures of the reliability suite: database URLs and a throwaway PostgreSQL server.

Test ids of PostgreSQL cases contain "postgres". Without server binaries those
cases are skipped with the reason, except under ``CI=true``, where a missing
server fails them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_procedures.testing.postgres import PostgresServer, require_postgres

SQL_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole session."""
    server = require_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new database of the parametrised backend (SQLite file in WAL mode)."""
    backend: str = request.param
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"crm_reliability_{next(_numbers)}")
