"""A throwaway PostgreSQL server for test suites.

:class:`PostgresServer` runs ``initdb`` and ``pg_ctl`` from the server
binaries (found through ``pg_config --bindir``, ``/usr/lib/postgresql/*/bin``
or ``PATH``) in a temporary directory (in shared memory when the system has
it), listening on a free port and a unix socket, with durability switched off
for speed. PostgreSQL refuses to run as root, so when the current user is root
the server runs as the ``postgres`` system user (through ``runuser``) and the
directory is handed to it.

:func:`require_postgres` is what a test fixture calls: it returns a started
server, or skips the test with the reason when no binaries are installed -
except under ``CI=true``, where a missing server fails the run.

    with PostgresServer() as server:
        store = open_store(server.create_database("crm"))
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from crm_procedures.errors import CrmError

__all__ = ["PostgresNotAvailable", "PostgresServer", "find_bindir", "require_postgres"]


class PostgresNotAvailable(CrmError):
    """No PostgreSQL server binaries were found, or the server did not start."""


def _version_key(path: Path) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", path.parent.name)
    return tuple(int(n) for n in numbers)


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or ``None``."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()))
    candidates.extend(
        sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    )
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        candidates.append(Path(pg_ctl).parent)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def _scratch_parent() -> Path | None:
    """Shared memory when the system has it (a throwaway cluster needs no disk), else None.

    On a disk, every ``CREATE DATABASE`` of a test suite writes megabytes of
    catalog pages; in shared memory it takes milliseconds.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return None


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise PostgresNotAvailable(f"{name!r} is not a plain database name")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """A PostgreSQL server in a temporary directory, for the length of a test session.

    ``parent`` is where that directory is made: by default shared memory
    (``/dev/shm``) when the system has it, else the system's temporary
    directory.

    Raises:
        PostgresNotAvailable: no binaries, or the server did not start (the
            message carries the server's log).
    """

    def __init__(
        self, bindir: Path | None = None, user: str = "postgres", parent: Path | None = None
    ) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise PostgresNotAvailable(
                "no PostgreSQL server binaries (initdb, pg_ctl) found: install the "
                "'postgresql' package or put its bin directory on PATH"
            )
        self.bindir = found
        self.user = user
        self.parent = parent if parent is not None else _scratch_parent()
        self.port = 0
        self.directory: Path | None = None
        self._as_other = os.geteuid() == 0

    @property
    def socket_dir(self) -> Path:
        """The directory of the server's unix socket."""
        if self.directory is None:
            raise PostgresNotAvailable("the server is not started")
        return self.directory / "socket"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg, unix socket)."""
        return (
            f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}&port={self.port}"
        )

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_other:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def start(self) -> PostgresServer:
        """Initialise and start the server; returns it."""
        self.directory = Path(tempfile.mkdtemp(prefix="crm-pg-", dir=self.parent))
        data = self.directory / "data"
        self.socket_dir.mkdir()
        if self._as_other:
            import pwd

            entry = pwd.getpwnam("postgres")
            for path in (self.directory, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        init = self._run(
            "initdb",
            "-D",
            str(data),
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        if init.returncode != 0:
            self._cleanup()
            raise PostgresNotAvailable(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        self.port = _free_port()
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.socket_dir}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=100",
            ]
        )
        log = self.directory / "server.log"
        started = self._run("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-o", options, "start")
        if started.returncode != 0:
            text = log.read_text(errors="replace") if log.exists() else ""
            self._cleanup()
            raise PostgresNotAvailable(
                f"pg_ctl start failed:\n{started.stdout}\n{started.stderr}\n{text}"
            )
        return self

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (dropping one of that name); returns its URL.

        With ``template`` the new database is a copy of that one (which must
        have no open connections): a suite creates its schema once in a
        template and gives every test a fresh copy in a few milliseconds.
        """
        _check_name(name)
        if template is not None:
            _check_name(template)
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            copy = "" if template is None else f' TEMPLATE "{template}"'
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database (closing its remaining connections), freeing its space."""
        _check_name(name)
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=self.user,
            dbname="postgres",
            autocommit=True,
        )

    def stop(self) -> None:
        """Stop the server and delete its directory."""
        if self.directory is None:
            return
        data = self.directory / "data"
        if data.exists():
            self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", timeout=60)
        self._cleanup()

    def _cleanup(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def require_postgres() -> PostgresServer:
    """A started server for a test fixture; the caller stops it.

    Without binaries the test is skipped with the reason, except when the
    environment says ``CI=true``: there a missing server fails the test.
    """
    import pytest

    try:
        return PostgresServer().start()
    except PostgresNotAvailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {exc}")
