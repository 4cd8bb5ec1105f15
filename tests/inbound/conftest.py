"""Fixtures for the inbound tests: the .eml corpus and a real IMAP server (pymap)."""

from __future__ import annotations

import imaplib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MESSAGES = Path(__file__).parent / "messages"
IMAP_USER = "demouser"
IMAP_PASSWORD = "demopass"


def corpus(name: str) -> bytes:
    """The bytes of one message of the corpus in tests/inbound/messages/."""
    return (MESSAGES / name).read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _pymap() -> str:
    found = shutil.which("pymap", path=str(Path(sys.executable).parent)) or shutil.which("pymap")
    if found is None:
        pytest.fail("pymap is not installed: the IMAP tests need a real server (pip install pymap)")
    return found


@pytest.fixture(scope="session")
def imap_server() -> Iterator[tuple[str, int]]:
    """A real IMAP server (pymap, in-memory backend) on a free loopback port."""
    port = _free_port()
    proc = subprocess.Popen(
        [_pymap(), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"pymap did not start: {err[-2000:]}")
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ImapClient:
    """A plain imaplib session for putting messages on the server in tests."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = imaplib.IMAP4(host, port, timeout=10)
        self.conn.login(IMAP_USER, IMAP_PASSWORD)

    def append(self, mailbox: str, raw: bytes) -> None:
        status, data = self.conn.append(mailbox, None, None, raw)
        assert status == "OK", data

    def recreate(self, mailbox: str) -> None:
        self.conn.delete(mailbox)
        status, data = self.conn.create(mailbox)
        assert status == "OK", data

    def close(self) -> None:
        self.conn.logout()


@pytest.fixture
def imap_client(imap_server: tuple[str, int]) -> Iterator[ImapClient]:
    client = ImapClient(*imap_server)
    try:
        yield client
    finally:
        client.close()
