"""A working installation for the reliability tests: people, definitions, a context."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from crm_procedures.demo import _setup_people
from crm_procedures.ports import Clock, Store
from crm_procedures.procedures.definitions import dump_definitions, load_definitions
from crm_procedures.procedures.procedure import Definitions
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock

TESTS = Path(__file__).resolve().parent.parent
"""The tests directory (on ``sys.path`` of the worker processes)."""
AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=AMS)

MEMBERS: Mapping[str, tuple[str, ...]] = {
    "marketeer": ("ann", "bas"),
    "client": ("cor",),
    "project_leader": ("pia",),
}
"""Who acts in which role on every campaign of these tests."""

USERS = ("ann", "bas", "cor", "pia")
SEES_PREPARING = frozenset({"pia"})
"""The users whose groups hold ``prospect.read_preparing``."""
MAY_CORRECT = frozenset({"pia"})
"""The users whose groups hold ``prospect.correct``."""


@cache
def standard() -> Definitions:
    """The standard procedure shipped with the library."""
    data = resources.files("crm_procedures").joinpath("data/standard.toml")
    with resources.as_file(data) as path:
        return load_definitions(path)


@cache
def variant() -> Definitions:
    """The standard procedure with one change: marketeers may send information first."""
    data: dict[str, Any] = dump_definitions(standard())
    data["procedures"]["standard"]["matrix"]["marketeer"]["START"] = ["call", "send_info"]
    return load_definitions(data)


def matrix(defs: Definitions) -> dict[str, dict[str | None, frozenset[str]]]:
    """The procedure's matrix as role -> last step (None for START) -> next steps."""
    data = dump_definitions(defs)["procedures"]["standard"]["matrix"]
    return {
        role: {(None if ref == "START" else ref): frozenset(steps) for ref, steps in rows.items()}
        for role, rows in data.items()
    }


def counting_ids(prefix: str = "id") -> Callable[[], str]:
    """Ids that are unique within one store: ``id0000001``, ``id0000002`` ..."""
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):07d}"


def fixed_id(value: str) -> Callable[[], str]:
    """An id generator that returns ``value`` (for a record made with a known id)."""

    def make() -> str:
        return value

    return make


def setup_people(store: Store) -> None:
    """Users ann, bas (marketeers), cor (client), pia (project leader) and relation ``client``."""
    _setup_people(SimpleNamespace(store=store))


def context(
    store: Store,
    clock: Clock | None = None,
    defs: Definitions | None = None,
    new_id: Callable[[], str] | None = None,
) -> Context:
    """A context on ``store`` with the standard definitions."""
    return Context(
        store=store,
        clock=clock or FrozenClock(T0),
        new_id=new_id or counting_ids(),
        definitions=defs or standard(),
        sender_email="campaigns@example.com",
        sender_name="Campaigns",
    )


CAMPAIGN = "Load campaign"
"""The name of the campaign :func:`prepare_campaign` starts (workers look it up by name)."""


def prepare_campaign(url: str, prospects: int, *, release: bool = True) -> str:
    """Create the schema at ``url``, the people, a campaign with ``prospects`` suspects.

    Every suspect has a contact with an e-mail address; with ``release`` they
    are released (running). Returns the project id.
    """
    from crm_procedures.adapters.sql import open_store
    from crm_procedures.services import campaigns
    from crm_procedures.services.imports import import_suspects

    store = open_store(url)
    try:
        setup_people(store)
        ctx = context(store, new_id=counting_ids("setup"))
        project = campaigns.start_campaign(
            ctx,
            "pia",
            relation_id="client",
            name=CAMPAIGN,
            procedure="standard",
            members={r: list(u) for r, u in MEMBERS.items()},
        )
        rows = [
            {
                "name": f"Suspect {i:05d} Holding",
                "contact": "Jan de Vries",
                "contact_email": f"jan{i}@suspect.example.nl",
            }
            for i in range(prospects)
        ]
        report = import_suspects(ctx, "pia", project.id, rows)
        assert report.imported == prospects, report.summary()
        if release:
            campaigns.release(ctx, "pia", project.id)
        return str(project.id)
    finally:
        store.close()


def run_workers(
    commands: list[list[str]], *, timeout: float = 900
) -> list[subprocess.CompletedProcess[str]]:
    """Run ``python -m reliability.workers <command>`` for each command at once; wait for all."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "reliability.workers", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    done = []
    for command, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=timeout)
        done.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return done
