"""How the SQL store's engine talks to SQLite and PostgreSQL (see :func:`~.store.make_engine`).

SQLite: each connection is set to WAL, foreign keys, the busy timeout and the
``synchronous`` level; pysqlite's own transaction handling is switched off so
that the ``begin`` event can start a writing unit of work with ``BEGIN
IMMEDIATE`` (or ``BEGIN EXCLUSIVE``), waiting for the write lock in short
jittered naps, and a read-only one with a deferred ``BEGIN``. PostgreSQL: a
read-only unit of work is a ``READ ONLY`` transaction.
"""

from __future__ import annotations

import math
import random
import sqlite3
import time
from typing import Any

from sqlalchemy import Connection, Engine, event

from crm_procedures.errors import InvalidInput

MAX_BUSY_TIMEOUT = 3600.0
"""The longest ``busy_timeout`` accepted, in seconds (an hour)."""


def _check_busy_timeout(value: Any) -> float:
    """``value`` as seconds to wait for SQLite's lock, or InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("busy_timeout", "must be a number of seconds", value)
    if not math.isfinite(value) or not 0 <= value <= MAX_BUSY_TIMEOUT:
        raise InvalidInput(
            "busy_timeout",
            f"must be between 0 and {MAX_BUSY_TIMEOUT:g} seconds",
            value if not isinstance(value, int) or value.bit_length() < 64 else None,
        )
    return float(value)


def _sqlite_events(engine: Engine, busy_timeout: float, synchronous: str, memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite: the "begin" event issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.info.get("crm_read_only"):
            # Deferred: takes no write lock. On the driver's connection: through
            # SQLAlchemy's execution context this BEGIN cost more than a page read.
            try:
                conn.connection.dbapi_connection.execute("BEGIN")  # type: ignore[union-attr]
            except sqlite3.Error:
                conn.exec_driver_sql("BEGIN")  # again, so that its error arrives mapped
            return
        begin = "BEGIN EXCLUSIVE" if conn.info.get("crm_exclusive") else "BEGIN IMMEDIATE"
        raw: Any = conn.connection.dbapi_connection
        raw.execute("PRAGMA busy_timeout=0")
        try:
            if not _wait_for_write_lock(raw, busy_timeout, begin):
                conn.exec_driver_sql(begin)  # the last try; its error says why
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")


def _postgres_events(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.info.get("crm_read_only"):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def _wait_for_write_lock(raw: Any, timeout: float, begin: str = "BEGIN IMMEDIATE") -> bool:
    """``BEGIN IMMEDIATE`` on a raw SQLite connection, retried for up to ``timeout`` seconds.

    SQLite's own busy handler sleeps longer and longer (up to 100 ms at a
    time) while it waits, so with several writers a waiting one keeps missing
    the moments the lock is free: it starves and fails after the whole busy
    timeout although each transaction takes milliseconds. Short naps with
    jitter let every writer get its turn. Returns False when the time is up
    (or on any other error, which the caller's last try then reports).
    """
    deadline = time.monotonic() + timeout
    nap = 0.0002
    while True:
        try:
            raw.execute(begin)
            return True
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if "locked" not in text and "busy" not in text:
                return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(nap * (0.5 + random.random()))
        nap = min(nap * 2, 0.002)
