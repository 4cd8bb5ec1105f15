"""Plot how the worklist query and validation grow from 10,000 to 1,000,000.

Usage: ``python benchmarks/plot_scaling.py [--out docs/scaling.png] [--max N]``

For each size it measures, in this process and alongside a baseline:

* the worklist: one page (50) of the marketeer's worklist in a SQLite project
  of N prospects, through the store (median), next to the same query written
  by hand with ``sqlite3`` (the dataset of ``bench_store``);
* validation: :func:`crm_procedures.validate` of a generated procedure of
  N steps x 10 roles (best of 3), next to a plain breadth-first search.

and draws both on log-log axes (a straight line of slope 1 is linear growth,
a flat line is constant time). The figures are printed as well.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _data  # noqa: E402
import bench_engine  # noqa: E402
import bench_store  # noqa: E402
from _common import median_of  # noqa: E402

from crm_procedures.adapters.sql import open_store  # noqa: E402
from crm_procedures.services.context import resolve_viewer  # noqa: E402

SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000)


def worklist_ms(n: int) -> tuple[float, float]:
    """Median ms of the worklist page (ours, hand-written sqlite3) over ``n`` prospects."""
    ds = _data.big_store(n)
    store = open_store(ds.url, create=False)
    conn = sqlite3.connect(ds.path)
    try:
        with store.unit_of_work(read_only=True) as uow:
            viewer = resolve_viewer(uow, "ann")

            def ours() -> object:
                return uow.prospects.worklist(ds.project_id, bench_store.MARKETEER_STEPS, viewer)

            raw = bench_store._worklist_raw(conn, ds.project_id)
            ours()
            raw()
            return median_of(ours, 31) * 1e3, median_of(raw, 31) * 1e3
    finally:
        conn.close()
        store.close()
        ds.path.unlink()


def validate_s(n: int) -> tuple[float, float]:
    """Best seconds of validate() and of the plain BFS for ``n`` steps x 10 roles."""
    d = bench_engine.generated(n)
    try:
        return bench_engine.time_validate(d, 3), bench_engine.time_plain(d, 3)
    finally:
        del d
        gc.collect()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "scaling.png"))
    parser.add_argument("--max", type=int, default=SIZES[-1], help="largest size")
    args = parser.parse_args(argv)
    sizes = [n for n in SIZES if n <= args.max]

    series: dict[str, list[float]] = {k: [] for k in ("wl", "wl_raw", "val", "val_plain")}
    for n in sizes:
        wl, wl_raw = worklist_ms(n)
        val, val_plain = validate_s(n)
        series["wl"].append(wl)
        series["wl_raw"].append(wl_raw)
        series["val"].append(val)
        series["val_plain"].append(val_plain)
        print(
            f"{n:>9,}: worklist {wl:7.3f} ms (sqlite3 {wl_raw:6.3f} ms); "
            f"validate {val:8.4f} s (plain BFS {val_plain:8.4f} s)",
            flush=True,
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    left.loglog(sizes, series["wl"], "o-", label="crm_procedures worklist (store)")
    left.loglog(sizes, series["wl_raw"], "s--", label="hand-written sqlite3 query")
    left.set_title("Worklist page of 50 (median)")
    left.set_xlabel("prospects in the project")
    left.set_ylabel("ms")
    left.set_ylim(0.05, 100)
    left.axhline(20, color="grey", lw=0.8, ls=":")
    left.text(sizes[0], 22, "target 20 ms", fontsize=8, color="grey")
    right.loglog(sizes, series["val"], "o-", label="crm_procedures validate()")
    right.loglog(sizes, series["val_plain"], "s--", label="plain BFS + dead ends")
    right.set_title("Validation, N steps x 10 roles (best of 3)")
    right.set_xlabel("steps")
    right.set_ylabel("s")
    for ax in (left, right):
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
