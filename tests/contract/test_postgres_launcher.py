"""The throwaway PostgreSQL server of the test suites: skipped without binaries, except in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_procedures.testing import postgres
from crm_procedures.testing.postgres import PostgresNotAvailable, PostgresServer, require_postgres


def _no_binaries() -> Path | None:
    return None


def test_without_binaries_postgres_tests_skip_with_the_reason_outside_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres, "find_bindir", _no_binaries)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server binaries"):
        require_postgres()


def test_without_binaries_postgres_tests_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "find_bindir", _no_binaries)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required under CI=true"):
        require_postgres()


def test_a_server_refuses_database_names_it_would_have_to_quote(tmp_path: Path) -> None:
    server = PostgresServer(bindir=tmp_path)  # never started: names are checked first
    with pytest.raises(PostgresNotAvailable):
        server.create_database("crm; DROP DATABASE postgres")
    with pytest.raises(PostgresNotAvailable):
        server.create_database("crm", template='x" OR "1')
