"""Plot how the worklist, the due page and validation grow, up to 10,000,000.

Usage: ``python benchmarks/plot_scaling.py [--out docs/scaling.png] [--max N]``

For each size it measures, in this process and alongside a baseline:

* the worklist: one page (50) of the marketeer's worklist in a SQLite project
  of N prospects, through the store (median), next to the same query written
  by hand with ``sqlite3``; and the due page: the next 50 due entries of one
  owner (``due_page``) next to the same range query in ``sqlite3``. Both on
  one file that grows from 10,000 to 10,000,000 prospects
  (:mod:`bench_scaling`, which also prints ``worklist_10m_ms`` and
  ``due_page_10m_ms``);
* validation: :func:`crm_procedures.validate` of a generated procedure of
  N steps x 10 roles (best of 3), next to a plain breadth-first search, up
  to 1,000,000 steps.

and draws both on log-log axes (a straight line of slope 1 is linear growth,
a flat line is constant time). The figures are printed as well.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_engine  # noqa: E402
import bench_scaling  # noqa: E402

SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
"""The validation sizes (steps); the pages go on to :data:`bench_scaling.SIZES`."""


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
    parser.add_argument(
        "--max", type=int, default=bench_scaling.SIZES[-1], help="largest number of prospects"
    )
    args = parser.parse_args(argv)
    pages: dict[str, list[float]] = {k: [] for k in ("worklist", "worklist_raw", "due", "due_raw")}
    page_sizes = []
    for n, medians, spent in bench_scaling.series(args.max):
        page_sizes.append(n)
        for key, values in pages.items():
            values.append(medians[key])
        print(
            f"{n:>10,}: worklist {medians['worklist']:7.3f} ms "
            f"(sqlite3 {medians['worklist_raw']:6.3f} ms); due page {medians['due']:6.3f} ms "
            f"(sqlite3 {medians['due_raw']:6.3f} ms); rows written in {spent:.0f} s",
            flush=True,
        )
    sizes = [n for n in SIZES if n <= args.max]
    series: dict[str, list[float]] = {k: [] for k in ("val", "val_plain")}
    for n in sizes:
        val, val_plain = validate_s(n)
        series["val"].append(val)
        series["val_plain"].append(val_plain)
        print(f"{n:>10,}: validate {val:8.4f} s (plain BFS {val_plain:8.4f} s)", flush=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    left.loglog(page_sizes, pages["worklist"], "o-", label="worklist (store, whole prospects)")
    left.loglog(page_sizes, pages["worklist_raw"], "s--", label="worklist, hand-written sqlite3")
    left.loglog(page_sizes, pages["due"], "^-", label="due page (store, DueEntry rows)")
    left.loglog(page_sizes, pages["due_raw"], "v--", label="due page, hand-written sqlite3")
    left.set_title("A page of 50 (median)")
    left.set_xlabel("prospects in the project")
    left.set_ylabel("ms")
    left.set_ylim(0.02, 100)
    left.axhline(20, color="grey", lw=0.8, ls=":")
    left.text(page_sizes[0], 22, "target 20 ms", fontsize=8, color="grey")
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
