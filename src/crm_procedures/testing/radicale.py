"""A throwaway CalDAV server (Radicale) for test suites.

:class:`RadicaleServer` starts ``python -m radicale`` on a free loopback
port with its storage in a temporary folder, no authentication and rights
for anyone, and stops it (and removes the folder) afterwards::

    with RadicaleServer() as server:
        calendar = CalDavCalendar(server.url)

Radicale is a test dependency (``pip install radicale``); without it
:class:`RadicaleNotAvailable` is raised.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from crm_procedures.errors import CrmError

__all__ = ["RadicaleNotAvailable", "RadicaleServer"]


class RadicaleNotAvailable(CrmError):
    """Radicale is not installed, or the server did not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RadicaleServer:
    """A Radicale server on ``127.0.0.1:<free port>`` with storage in a temporary folder."""

    def __init__(self, *, startup_timeout: float = 20.0) -> None:
        if importlib.util.find_spec("radicale") is None:
            raise RadicaleNotAvailable("radicale is not installed: pip install radicale")
        self.folder = Path(tempfile.mkdtemp(prefix="crm-radicale-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        log = (self.folder / "radicale.log").open("wb")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "radicale",
                "--server-hosts",
                f"127.0.0.1:{self.port}",
                "--storage-filesystem-folder",
                str(self.folder / "collections"),
                "--auth-type",
                "none",
                "--rights-type",
                "authenticated",
                "--logging-level",
                "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                raise RadicaleNotAvailable("radicale exited at start; see its log")
            try:
                with urllib.request.urlopen(self.url, timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RadicaleNotAvailable(f"radicale did not answer on {self.url}")

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.folder)

    def __enter__(self) -> RadicaleServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
