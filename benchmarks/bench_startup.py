"""Start-up cost and memory: ``import crm_procedures`` and 1,000,000 prospects in memory.

``import_crm_procedures_ms``: the wall time of a fresh ``python -c "import
crm_procedures"`` subprocess, median of 5 (after one warm-up run, so the
files are in the page cache); baseline: ``python -c pass`` measured the same
way in the same run (the interpreter's own start-up). Every public name loads
on first use, so this is the package's own cost; ``import_services_ms`` is what
a host running procedures on the memory store imports (``from crm_procedures
import CrmApp, MemoryStore, standard_definitions``: the engine, the model, the
services), measured the same way. Byte code is compiled
once into a cache folder of the run (``PYTHONPYCACHEPREFIX``), as an installed
package has it, so no run pays for compiling the sources. The note names the
heavy optional packages that the import did not load.

``memory_per_prospect_bytes``: the memory an in-memory store
(:class:`crm_procedures.MemoryStore`) holds per prospect, for 1,000,000
prospects each with one history entry, measured with ``tracemalloc`` (traced
bytes after the commit minus before, divided by the count; the input list
is freed first). Baseline: a slotted attrs prospect with one history tuple
held in a dict, measured the same way.

Run: ``python benchmarks/run.py --only startup``.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data
from _common import Figure

HEAVY = (
    "icalendar",
    "sqlalchemy",
    "psycopg",
    "cattrs",
    "dateutil",
    "matplotlib",
    "email",
    "email.mime",
    "tomllib",
    "attrs",
)
SERVICES = "from crm_procedures import CrmApp, MemoryStore, standard_definitions"


def _env() -> dict[str, str]:
    # Byte code as an installed package has it: compiled once (into a cache folder of
    # the run, so the source tree stays untouched), then loaded, never recompiled.
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(_data.cache_dir() / "pycache")
    return env


def _wall(code: str, repeat: int) -> float:
    env = _env()
    for _ in range(2):  # compile the byte code and warm the page cache
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _loaded_heavy(statement: str = "import crm_procedures") -> list[str]:
    code = f"import sys; {statement}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=_env()
    )
    return out.stdout.split()


def _import_figures(quick: bool) -> list[Figure]:
    repeat = 5
    ours = _wall("import crm_procedures", repeat)
    bare = _wall("pass", repeat)
    services = _wall(SERVICES, repeat)
    heavy = _loaded_heavy()
    heavy_services = _loaded_heavy(SERVICES)
    ms = 1e3
    package = Figure(
        "import_crm_procedures_ms",
        ours * ms,
        "ms (median of 5)",
        "< 150 ms (goal < 80 ms)",
        ours * ms < 150,
        bare * ms,
        ours / bare,
        f"cold subprocess; {(ours - bare) * ms:.0f} ms over a bare interpreter; heavy packages "
        f"loaded: {', '.join(heavy) or 'none'}",
    )
    used = Figure(
        "import_services_ms",
        services * ms,
        "ms (median of 5)",
        "informational",
        True,
        bare * ms,
        services / bare,
        f"{SERVICES!r}; {(services - bare) * ms:.0f} ms over a bare interpreter; heavy "
        f"packages loaded: {', '.join(heavy_services) or 'none'}",
    )
    return [package, used]


@attrs.define(slots=True)
class _LeanProspect:
    id: str
    project_id: str
    relation_id: str
    status: str
    last_step: str | None
    history: list[tuple[Any, ...]]
    version: int


def _traced(build: Any, n: int) -> float:
    """Bytes per item that ``build(n)`` keeps alive, measured with tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build(n)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    gc.collect()
    return (after - before) / n


def _our_store(n: int) -> Any:
    from crm_procedures import MemoryStore
    from crm_procedures.ids import ProjectId, ProspectId, RelationId, UserId
    from crm_procedures.model.project import Project
    from crm_procedures.model.prospect import EntryKind, HistoryEntry, Prospect, ProspectStatus

    store = MemoryStore()
    with store.unit_of_work() as uow:
        uow.projects.add(Project(id=ProjectId("x"), relation_id="klant", name="Campaign"))
        uow.commit()
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    actor = UserId("ann")
    chunk = 100_000
    for lo in range(0, n, chunk):
        batch = []
        for i in range(lo, min(lo + chunk, n)):
            p = Prospect(
                ProspectId(f"p{i:07d}"),
                ProjectId("x"),
                RelationId(f"r{i:07d}"),
                status=ProspectStatus.RUNNING,
                last_step="call",
            )
            p.history.append(HistoryEntry(1, EntryKind.STEP, at, actor, "marketeer", "call"))
            batch.append(p)
        with store.unit_of_work() as uow:
            uow.prospects.add_many(batch)
            uow.commit()
        del batch
    return store


def _lean(n: int) -> Any:
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    return {
        f"p{i:07d}": _LeanProspect(
            f"p{i:07d}",
            "x",
            f"r{i:07d}",
            "running",
            "call",
            [(1, "step", at, "ann", "marketeer", "call")],
            1,
        )
        for i in range(n)
    }


def _memory_figure(quick: bool) -> Figure:
    n = 50_000 if quick else 1_000_000
    ours = _traced(_our_store, n)
    lean = _traced(_lean, n)
    return Figure(
        "memory_per_prospect_bytes",
        ours,
        "bytes per prospect",
        "<= 1,500 (goal <= 600)",
        ours <= 1_500,
        lean,
        ours / lean,
        f"MemoryStore with {n:,} prospects, one history entry each (tracemalloc); baseline: "
        "slotted attrs prospect + one history tuple in a dict"
        + (" (quick: not 1,000,000)" if quick else ""),
    )


def run(quick: bool) -> list[Figure]:
    """The start-up and memory figures (see the module documentation)."""
    return [*_import_figures(quick), _memory_figure(quick)]


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f"{f.name}: {f.value:.4g} {f.unit}; baseline {f.baseline}; ratio {f.ratio}")
        print("   ", f.note)
