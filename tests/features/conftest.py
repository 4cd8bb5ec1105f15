"""Fixtures of the feature checks: each DOMAIN.md feature through the services, on every store.

``store`` is an empty store of each shipped adapter: memory, SQLite (a WAL file)
and PostgreSQL (a throwaway server, one per session; test ids contain
"postgres"). ``campaign`` is the released W7 campaign of the integration tests
and ``records`` the small installation of the records tests, both built on
that store, so one test proves a feature on all three stores.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.sql import open_store
from crm_procedures.testing.postgres import PostgresServer, require_postgres
from integration.campaign import Campaign, make_campaign
from records import builders
from records.builders import World

TEMPLATE = "crm_features_template"

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server with the store's schema in a template database."""
    server = require_postgres()
    try:
        open_store(server.create_database(TEMPLATE)).close()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty store of each adapter."""
    server: PostgresServer | None = None
    name = ""
    made: Any
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = open_store(f"sqlite:///{tmp_path / 'crm.db'}")
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"crm_features_{next(_numbers)}"
        made = open_store(server.create_database(name, template=TEMPLATE), create=False)
    try:
        yield made
    finally:
        made.close()
        if server is not None:
            server.drop_database(name)


@pytest.fixture
def campaign(store: Any) -> Campaign:
    """People, a client, two released suspects of the standard (W7) campaign."""
    return make_campaign(store)


@pytest.fixture
def records(store: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    """The records tests' installation (users, groups, relations, contacts) on ``store``."""
    monkeypatch.setattr(builders, "open_test_store", lambda kind="memory": store)
    return builders.build_world()


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The records tests' ``world`` on PostgreSQL, for re-running their service tests there.

    tests/records runs them on memory and SQLite; the modules here that import
    them run them on the third store with this fixture.
    """
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"crm_features_{next(_numbers)}"
    made = open_store(server.create_database(name, template=TEMPLATE), create=False)
    monkeypatch.setattr(builders, "open_test_store", lambda kind="memory": made)
    try:
        yield builders.build_world()
    finally:
        made.close()
        server.drop_database(name)
