"""Fixtures of the records tests: a small in-memory installation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from records.builders import World, build_world


@pytest.fixture(params=["memory", "sqlite"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    """A fresh installation (users, groups, relations R-1/R-2, contacts, dictionaries).

    Every service test runs against the in-memory store and the SQL store (SQLite).
    """
    made = build_world(request.param)
    yield made
    made.store.close()
