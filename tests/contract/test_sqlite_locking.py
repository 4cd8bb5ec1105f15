"""SQLite file stores: how a writer waits for the write lock, and gives up."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from contract.conftest import check_sqlite_settings, sqlite_url
from crm_procedures.adapters.sql import open_store
from crm_procedures.errors import StoreBusy
from crm_procedures.testing.builders import a_relation


def test_a_file_store_journals_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path))
    try:
        check_sqlite_settings(store)
    finally:
        store.close()


def test_a_writer_that_cannot_get_the_lock_in_time_finds_the_store_busy(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path), busy_timeout=0.3)
    other = sqlite3.connect(tmp_path / "crm.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        began = time.monotonic()
        with pytest.raises(StoreBusy), store.unit_of_work() as uow:
            uow.relations.count()
        waited = time.monotonic() - began
        assert 0.3 <= waited < 3.0
        other.execute("ROLLBACK")
        with store.unit_of_work() as uow:
            uow.relations.add(a_relation())
            uow.commit()
    finally:
        other.close()
        store.close()


def test_a_waiting_writer_gets_the_lock_once_it_is_released(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path), busy_timeout=10)
    other = sqlite3.connect(tmp_path / "crm.db", isolation_level=None, check_same_thread=False)
    released = threading.Event()

    def hold_then_release() -> None:
        time.sleep(0.4)
        other.execute("COMMIT")
        released.set()

    try:
        other.execute("BEGIN IMMEDIATE")
        holder = threading.Thread(target=hold_then_release)
        holder.start()
        with store.unit_of_work() as uow:
            uow.relations.add(a_relation(id="relation-after-wait"))
            uow.commit()
        holder.join()
        assert released.is_set()
        # the busy timeout of the connection is the configured one again
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
            conn.rollback()
        with store.unit_of_work() as uow:
            assert uow.relations.find("relation-after-wait") is not None
    finally:
        other.close()
        store.close()
