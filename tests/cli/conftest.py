"""Fixtures of the command-line tests: a SQLite campaign database in ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from crm_procedures import open_store
from integration.campaign import make_campaign


@attrs.frozen
class Database:
    """A SQLite file holding people and a released W7 campaign with two prospects."""

    url: str
    path: Path
    project_id: str
    acme: str
    bolt: str


@pytest.fixture
def database(tmp_path: Path) -> Database:
    path = tmp_path / "crm.db"
    url = "sqlite:///" + str(path)
    store = open_store(url)
    try:
        c = make_campaign(store)
    finally:
        store.close()
    return Database(url, path, c.project.id, c.acme, c.bolt)
