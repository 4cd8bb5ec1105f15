"""Fixtures of the calendar tests: a real CalDAV server (Radicale) for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_procedures.testing.radicale import RadicaleServer


@pytest.fixture(scope="session")
def radicale() -> Iterator[RadicaleServer]:
    """One Radicale server on a free loopback port, its storage in a temporary folder."""
    with RadicaleServer() as server:
        yield server
