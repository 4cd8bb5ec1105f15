"""One Django database for the test run, and the one fixture the contract suites need."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

_folder = tempfile.TemporaryDirectory(prefix="crm-django-")
os.environ["CRM_DJANGO_DB"] = str(Path(_folder.name) / "crm.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402

django.setup()

from crm_store.store import DjangoStore  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)


@pytest.fixture
def crm_contract_store() -> Callable[[], DjangoStore]:
    """A maker of empty stores: the app's tables, emptied."""

    def empty_store() -> DjangoStore:
        store = DjangoStore(read_using="reader")
        store.erase()
        return store

    return empty_store
