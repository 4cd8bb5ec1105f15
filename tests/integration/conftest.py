"""Fixtures of the integration tests: the standard procedure (W7) run through the services.

Every store-backed fixture is parametrised over the in-memory store and a
SQLite file, so each service test proves the same behaviour on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.campaign import Campaign, make_campaign, open_test_store


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty store: a MemoryStore, or a SQLite file in ``tmp_path``."""
    s = open_test_store(request.param, tmp_path)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def campaign(store: Any) -> Campaign:
    """People, a client, two suspects with contacts, and a released W7 campaign."""
    return make_campaign(store)
