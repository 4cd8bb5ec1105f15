"""Run the reliability and security suite and print its figures.

    python tests/reliability/run.py [--full] [--json PATH] [--findings PATH] [-- pytest options]

``--full`` runs the full sizes (``CRM_RELIABILITY=full``); without it the
bounded sizes of the ordinary test suite. The figures are printed as a table
and, with ``--json PATH``, written as ``{"<name>": {"value": ..., "target":
..., "met": bool}}``. With ``--findings PATH`` the ``hostile_api`` suite writes
every distinct finding (function, argument class, exception, store) there as
JSON. The exit status is non-zero when a test fails or a
target is not met.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SIZE_ENV = "CRM_RELIABILITY"
FIGURES_ENV = "CRM_RELIABILITY_FIGURES"
FINDINGS_ENV = "CRM_HOSTILE_FINDINGS"


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(figures: dict[str, dict[str, object]]) -> str:
    """The figures as a plain-text table, one row per figure."""
    rows = [("figure", "value", "target", "met")]
    for name in sorted(figures):
        fig = figures[name]
        rows.append(
            (name, _format(fig["value"]), str(fig["target"]), "yes" if fig["met"] else "NO")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(widths[i]) if i in (0, 2, 3) else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="run the full sizes")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument(
        "--findings", type=Path, help="write the hostile_api findings to this JSON file"
    )
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="crm-reliability-") as tmp:
        figures_file = Path(tmp) / "figures.json"
        env = dict(os.environ)
        env[SIZE_ENV] = "full" if args.full else "bounded"
        env[FIGURES_ENV] = str(figures_file)
        if args.findings is not None:
            args.findings.parent.mkdir(parents=True, exist_ok=True)
            env[FINDINGS_ENV] = str(args.findings.resolve())
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-q",
                "-rfEs",
                str(HERE),
                *args.pytest_args,
            ],
            cwd=ROOT,
            env=env,
            check=False,
        )
        elapsed = time.perf_counter() - started
        figures: dict[str, dict[str, object]] = {}
        if figures_file.exists() and figures_file.read_text(encoding="utf-8").strip():
            figures = json.loads(figures_file.read_text(encoding="utf-8"))

    print()
    print(f"reliability suite ({'full' if args.full else 'bounded'} sizes) in {elapsed:.0f} s")
    print(table(figures) if figures else "no figures were recorded")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    unmet = sorted(name for name, fig in figures.items() if not fig.get("met"))
    if unmet:
        print("targets not met: " + ", ".join(unmet))
    if result.returncode != 0:
        print(f"pytest exited with status {result.returncode}")
    if not figures:
        return 1
    return 1 if unmet or result.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
