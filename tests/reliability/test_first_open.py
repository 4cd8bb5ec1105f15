"""Defect 18: many processes opening one new (or old-version) database at once all succeed.

Each process imports the library, waits for a common start signal, then
calls ``open_store(url)``: schema creation and upgrade are serialised (an
advisory lock on PostgreSQL, an exclusive transaction on SQLite) and every
process re-reads the version under the lock, so none trips over another's
tables. 12 processes in the ordinary suite, 40 in the full reliability run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_procedures.adapters.sql import make_engine
from crm_procedures.adapters.sql import schema as s

from .conftest import SQL_BACKENDS
from .figures import record, size

PROCESSES = size(12, 40)
SRC = Path(__file__).resolve().parents[2] / "src"

_SCRIPT = """
import sys, time
from pathlib import Path
from crm_procedures.adapters.sql import open_store
url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.002)
open_store(url, busy_timeout=60).close()
print("opened")
"""


def build_old(url: str, version: int) -> None:
    """A database at ``version``, as a library of that version left it."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            s.schema_version_table.create(conn)
            for number, description, apply in s.MIGRATIONS:
                if number > version:
                    break
                apply(conn)
                conn.execute(
                    s.schema_version_table.insert().values(
                        version=number,
                        description=description,
                        applied_at=datetime.now(UTC).isoformat(),
                    )
                )
    finally:
        engine.dispose()


def open_at_once(url: str, processes: int, directory: Path) -> list[tuple[int, str]]:
    """Start ``processes`` processes that open ``url`` together; their (returncode, output)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    go = directory / "go"
    procs = []
    for n in range(processes):
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _SCRIPT, url, str(directory / f"ready{n}"), str(go)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + 300
        while sum((directory / f"ready{n}").exists() for n in range(processes)) < processes:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                break
            time.sleep(0.02)
        go.touch()
        return [(p.wait(timeout=300), p.stdout.read() if p.stdout else "") for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.parametrize("database_url", SQL_BACKENDS, indirect=True)
@pytest.mark.parametrize("start", ["empty", "version 1"])
def test_defect_18_many_processes_open_a_new_or_old_database_at_once(
    database_url: str, start: str, tmp_path: Path
) -> None:
    if start != "empty":
        build_old(database_url, 1)
    results = open_at_once(database_url, PROCESSES, tmp_path)
    failed = [out for code, out in results if code != 0]
    record("first_open_failures", len(failed), "== 0", accumulate=True)
    assert failed == [], f"{len(failed)} of {PROCESSES} failed; first:\n{failed[0][-3000:]}"
    engine = make_engine(database_url)
    try:
        assert s.schema_version(engine) == s.LATEST_VERSION
        with engine.connect() as conn:
            applied = conn.execute(select(s.schema_version_table.c.version)).scalars().all()
            conn.rollback()
        assert sorted(applied) == [number for number, _, _ in s.MIGRATIONS]
    finally:
        engine.dispose()
