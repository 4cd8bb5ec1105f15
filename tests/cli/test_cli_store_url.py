"""``demo --db URL`` runs the main job on any store (PostgreSQL too), and ``dispatch``
without ``--loop`` delivers every due message, however many batches that takes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_procedures import open_store
from crm_procedures.cli import DISPATCH_BATCH, main
from crm_procedures.model.outbox import OutboxStatus
from crm_procedures.testing.contracts.messages import a_message
from crm_procedures.testing.postgres import PostgresServer, require_postgres


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_dispatch_without_loop_delivers_every_due_message_in_batches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    many = 2 * DISPATCH_BATCH + 50
    store = open_store(url)
    try:
        with store.unit_of_work() as uow:
            for n in range(many):
                uow.outbox.add(a_message(n, created_at=None))
            uow.commit()
    finally:
        store.close()
    folder = tmp_path / "sent"
    code, out, err = run(capsys, "dispatch", "--db", url, "--out", str(folder))
    assert (code, err) == (0, "")
    assert out == f"claimed {many}, delivered {many}, partially failed 0, retried 0, failed 0\n"
    assert len(list(folder.glob("*.eml"))) == many
    store = open_store(url)
    try:
        with store.unit_of_work() as uow:
            statuses = {m.status for m in uow.outbox.list(limit=many + 1)}
    finally:
        store.close()
    assert statuses == {OutboxStatus.DELIVERED}
    code, out, _ = run(capsys, "dispatch", "--db", url, "--out", str(folder))
    assert (code, out) == (0, "claimed 0, delivered 0, partially failed 0, retried 0, failed 0\n")


def test_demo_runs_on_the_store_given_by_db(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "elsewhere" / "demo.db"
    db.parent.mkdir()
    out_dir = tmp_path / "demo"
    argv = ("demo", "--db", f"sqlite:///{db}", "--out", str(out_dir), "--suspects", "20")
    code, out, err = run(capsys, *argv, "--quiet")
    assert (code, err) == (0, "")
    assert "Summary" in out
    assert "stored in the sqlite database" in out
    assert db.exists()
    assert not (out_dir / "crm.db").exists()
    assert list((out_dir / "outbox").glob("*.eml"))


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    server = require_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.postgres
def test_demo_runs_on_postgres(
    postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres_server.create_database("crm_demo")
    out_dir = tmp_path / "demo"
    code, out, err = run(
        capsys, "demo", "--db", url, "--out", str(out_dir), "--suspects", "20", "--quiet"
    )
    assert (code, err) == (0, "")
    assert "stored in the postgresql" in out
    assert not (out_dir / "crm.db").exists()
    store = open_store(url, create=False)
    try:
        with store.unit_of_work() as uow:
            assert uow.prospects.count() >= 15  # the generated CSV holds a few bad rows
            assert uow.outbox.list(status="pending") == []
    finally:
        store.close()
    code, out, err = run(
        capsys, "demo", "--db", url, "--out", str(out_dir), "--suspects", "20", "--resume"
    )
    assert (code, err) == (0, "")
    assert "continuing" in out
