"""The stores every contract test runs against: memory, SQLite (a WAL file), PostgreSQL.

The contracts themselves ship in the package (:mod:`crm_procedures.testing.contracts`);
``crm_contract_store`` is the one fixture they need, here parametrised over the
shipped adapters. ``store`` gives one store of it to the SQL-specific tests.

PostgreSQL: one throwaway server per test session (``testing.postgres``), the
schema created once in a template database, and a fresh copy of it for every
test. Without server binaries the PostgreSQL cases are skipped with the reason,
except under ``CI=true``, where a missing server fails them.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.sql import SqlStore, open_store
from crm_procedures.ports import Store
from crm_procedures.testing.contracts import StoreFactory
from crm_procedures.testing.contracts import dump as contract_dump
from crm_procedures.testing.postgres import PostgresServer, require_postgres

TEMPLATE = "crm_contract_template"

ADAPTERS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
"""The ``store`` fixture's parameters (ids name the adapter; CI greps for "postgres")."""

SQL_ADAPTERS = ADAPTERS[1:]
"""The adapters that live in a database file or server (many processes may share them)."""

_numbers = itertools.count(1)


def quick() -> bool:
    """True when ``CRM_QUICK`` asks for the short versions of the long tests."""
    return os.environ.get("CRM_QUICK", "") not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server with the store's schema in a template database."""
    server = require_postgres()
    try:
        open_store(server.create_database(TEMPLATE)).close()
        yield server
    finally:
        server.stop()


def sqlite_url(directory: Path) -> str:
    """The URL of a new SQLite database file in ``directory``."""
    return f"sqlite:///{directory / 'crm.db'}"


def check_sqlite_settings(store: SqlStore) -> None:
    """Fail unless the SQLite store journals in WAL mode with foreign keys enforced."""
    with store.engine.connect() as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        foreign_keys = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
        conn.rollback()
    assert str(journal).lower() == "wal"
    assert foreign_keys == 1


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new database with the store's schema, of the parametrised SQL adapter."""
    adapter: str = request.param
    if adapter == "sqlite":
        url = sqlite_url(tmp_path)
        store = open_store(url)
        try:
            check_sqlite_settings(store)
        finally:
            store.close()
        yield url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"crm_test_{next(_numbers)}"
    yield server.create_database(name, template=TEMPLATE)
    server.drop_database(name)


@pytest.fixture(params=ADAPTERS)
def crm_contract_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A maker of empty stores of each adapter (the shipped contract suites' fixture)."""
    adapter: str = request.param
    server: PostgresServer | None = None
    if adapter == "postgres":
        server = request.getfixturevalue("postgres_server")
    databases: list[str] = []

    def make() -> Store:
        if adapter == "memory":
            return MemoryStore()
        if server is None:
            directory = tmp_path / f"store-{next(_numbers)}"
            directory.mkdir()
            sql = open_store(sqlite_url(directory))
            check_sqlite_settings(sql)
            return sql
        name = f"crm_test_{next(_numbers)}"
        databases.append(name)
        return open_store(server.create_database(name, template=TEMPLATE), create=False)

    yield make
    for name in databases:
        assert server is not None
        server.drop_database(name)


@pytest.fixture
def store(crm_contract_store: StoreFactory) -> Iterator[Store]:
    """An empty store of each adapter."""
    made = crm_contract_store()
    try:
        yield made
    finally:
        made.close()


def dump(store: Store) -> Any:
    """Every committed record of the store, as plain data, for before/after comparisons."""
    assert isinstance(store, MemoryStore | SqlStore)
    return contract_dump(store)
