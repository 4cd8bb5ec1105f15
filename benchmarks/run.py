"""Run every benchmark module and print (and optionally save) the figures.

Usage: ``python benchmarks/run.py [--quick] [--json PATH] [--markdown] [--only NAME ...]``

Each ``benchmarks/bench_*.py`` exposes ``run(quick: bool) -> list[Figure]``.
Every figure is a ratio against a baseline measured in the same run where one
exists: absolute times on shared machines move by 20-50% between runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import Figure  # noqa: E402


def _load(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0 or 0.01 <= abs(x) < 100_000:
        return f"{x:.3g}" if abs(x) < 10 else f"{x:,.1f}"
    return f"{x:.3g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    parser.add_argument("--only", nargs="*", help="module names (e.g. engine store)")
    parser.add_argument(
        "--markdown", action="store_true", help="also print the table as Markdown (for the docs)"
    )
    args = parser.parse_args(argv)

    figures: list[Figure] = []
    failures: list[str] = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        try:
            module = _load(path)
            got = module.run(args.quick)  # type: ignore[attr-defined]
        except Exception as exc:  # a broken benchmark must not hide the others
            failures.append(f"{path.name}: {type(exc).__name__}: {exc}")
            continue
        figures.extend(got)
        print(f"# {path.name}: {len(got)} figures in {time.perf_counter() - t0:.1f} s", flush=True)

    header = ("name", "value", "unit", "baseline", "ratio", "target", "met")
    rows = [
        (
            f.name,
            _fmt(f.value),
            f.unit,
            _fmt(f.baseline),
            _fmt(f.ratio),
            f.target,
            "yes" if f.met else "NO",
        )
        for f in figures
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    if args.markdown:
        print()
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(f"`{c}`" if i == 0 else str(c) for i, c in enumerate(r)) + " |")
    met = sum(f.met for f in figures)
    quick = " (quick run: sizes reduced)" if args.quick else ""
    print(f"\n{met} of {len(figures)} targets met{quick}")
    if args.json:
        out = {f.name: f.as_dict() for f in figures}
        out["_machine"] = {  # type: ignore[assignment]
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "quick": args.quick,
        }
        Path(args.json).write_text(json.dumps(out, indent=2, sort_keys=True))
        print(f"wrote {args.json}")
    for f in failures:
        print(f"benchmark failed: {f}", file=sys.stderr)
    return 1 if failures or not figures else 0


if __name__ == "__main__":
    raise SystemExit(main())
