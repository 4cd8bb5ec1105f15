"""Kill rates per module of the last mutation run (``nox -s mutants``), as JSON and a table.

Reads mutmut's per-file results under ``mutants/`` and sorts every mutant into:

* ``killed``: a test failed (a timeout counts: the mutant hung the code);
* ``message_only``: the mutant changes nothing but the prose of a message
  (every token it changes is a string literal of two or more words, such as
  an error's reason); it is left out of the behaviour-changing total;
* ``equivalent``: listed in ``tools/mutants_equivalent.toml`` with the reason
  no test can tell it apart (matched by function and changed lines, not by
  mutmut's numbering, which shifts when the code changes); left out as well;
* ``survived`` (behaviour-changing, no test noticed it) and ``no_tests`` (no
  selected test runs its function).

The goal (issue 16) is ``behaviour_kill_rate`` >= 0.90 per module, where
``behaviour_kill_rate = killed / (total - message_only - equivalent)``.

Usage (from the project root, after ``mutmut run``)::

    python tools/mutants_report.py [--json PATH] [--list]

``--list`` prints every behaviour-changing survivor with its diff.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tokenize
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = ROOT / "tools" / "mutants_equivalent.toml"

_KILLED = {1, 3, 36, -24, 24, 152, 255, -9, -11}
_SURVIVED = {0}
_NO_TESTS = {5, 33}
_PROSE = re.compile(r"[A-Za-z{}'\"]+ +[A-Za-z{}'\"(]")


def _modules() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return list(data["tool"]["mutmut"]["only_mutate"])


def _exit_codes(module: str) -> dict[str, int | None]:
    meta = ROOT / "mutants" / f"{module}.meta"
    if not meta.exists():
        return {}
    data = json.loads(meta.read_text("utf-8"))
    codes: dict[str, int | None] = data["exit_code_by_key"]
    return codes


def _diff(name: str, module: str) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    return get_diff_for_mutant(name, path=module)


def _changed_lines(diff: str) -> tuple[list[str], list[str]]:
    before: list[str] = []
    after: list[str] = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            before.append(line[1:].strip())
        elif line.startswith("+"):
            after.append(line[1:].strip())
    return before, after


def _tokens(lines: list[str]) -> list[tuple[int, str]] | None:
    text = "\n".join(lines) + "\n"
    try:
        return [
            (t.type, t.string)
            for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
            and t.type != tokenize.ENDMARKER
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None


def _message_only(before: list[str], after: list[str]) -> bool:
    """True when only string literals in prose (two words or more) differ."""
    old, new = _tokens(before), _tokens(after)
    if old is None or new is None or len(old) != len(new) or not old:
        return False
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    if not changed:
        return False
    return all(
        a[0] == b[0] == tokenize.STRING and _PROSE.search(a[1]) is not None for a, b in changed
    )


def _function_of(name: str) -> str:
    """``_check_time`` or ``NameConventions.canonical_form`` from mutmut's mangled name."""
    tail = name.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]
    if tail.startswith("x_"):
        return tail[2:]
    return tail.removeprefix("x").replace("ǁ", ".").strip(".")


def _equivalents() -> list[dict[str, Any]]:
    if not EQUIVALENT_FILE.exists():
        return []
    data = tomllib.loads(EQUIVALENT_FILE.read_text("utf-8"))
    found: list[dict[str, Any]] = data.get("equivalent", [])
    return found


def _equivalent_reason(
    module: str, function: str, before: list[str], after: list[str], known: list[dict[str, Any]]
) -> str | None:
    for item in known:
        if item["module"] != module or item["function"] != function:
            continue
        if [s.strip() for s in item["before"]] != before:
            continue
        # Without "after", the entry covers every mutant of those lines.
        if "after" not in item or [s.strip() for s in item["after"]] == after:
            return str(item["reason"])
    return None


def report(list_survivors: bool = False) -> dict[str, Any]:
    known = _equivalents()
    modules: dict[str, Any] = {}
    for module in _modules():
        codes = _exit_codes(module)
        counts = dict.fromkeys(
            ("total", "killed", "message_only", "equivalent", "survived", "no_tests", "unchecked"),
            0,
        )
        survivors: list[dict[str, str]] = []
        for name, code in sorted(codes.items()):
            counts["total"] += 1
            if code is None:
                counts["unchecked"] += 1
                continue
            before, after = _changed_lines(_diff(name, module))
            function = _function_of(name)
            if _message_only(before, after):
                counts["message_only"] += 1
                continue
            reason = _equivalent_reason(module, function, before, after, known)
            if reason is not None:
                counts["equivalent"] += 1
                continue
            if code in _KILLED:
                counts["killed"] += 1
            elif code in _NO_TESTS:
                counts["no_tests"] += 1
                survivors.append({"mutant": name, "function": function, "status": "no tests"})
            else:
                counts["survived"] += 1
                survivors.append({"mutant": name, "function": function, "status": "survived"})
            if survivors and survivors[-1]["mutant"] == name and list_survivors:
                survivors[-1]["before"] = "\n".join(before)
                survivors[-1]["after"] = "\n".join(after)
        behaviour = counts["total"] - counts["message_only"] - counts["equivalent"]
        raw_killed = sum(1 for c in codes.values() if c in _KILLED)
        modules[module] = {
            **counts,
            "behaviour_changing": behaviour,
            "kill_rate": round(raw_killed / counts["total"], 4) if counts["total"] else None,
            "behaviour_kill_rate": round(counts["killed"] / behaviour, 4) if behaviour else None,
            "behaviour_survivors": survivors,
        }
    return {"goal_behaviour_kill_rate": 0.9, "modules": modules}


def _print_table(data: dict[str, Any], out: Any) -> None:
    header = (
        f"{'module':<48} {'total':>5} {'killed':>6} {'msg':>4} {'equiv':>5} "
        f"{'surv':>4} {'notest':>6} {'raw':>6} {'behav':>6}"
    )
    print(header, file=out)
    for module, m in data["modules"].items():
        raw = f"{m['kill_rate']:.1%}" if m["kill_rate"] is not None else "-"
        beh = f"{m['behaviour_kill_rate']:.1%}" if m["behaviour_kill_rate"] is not None else "-"
        print(
            f"{module.removeprefix('src/crm_procedures/'):<48} {m['total']:>5} {m['killed']:>6} "
            f"{m['message_only']:>4} {m['equivalent']:>5} {m['survived']:>4} "
            f"{m['no_tests']:>6} {raw:>6} {beh:>6}",
            file=out,
        )


def _listing(data: dict[str, Any]) -> Iterator[str]:
    for module, m in data["modules"].items():
        for s in m["behaviour_survivors"]:
            yield f"## {s['mutant']} ({s['status']}) {module}"
            yield "\n".join("- " + x for x in s.get("before", "").splitlines())
            yield "\n".join("+ " + x for x in s.get("after", "").splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", type=Path, default=ROOT / "mutants" / "kill-rates.json")
    parser.add_argument("--list", action="store_true", help="print behaviour survivors")
    args = parser.parse_args(argv)
    import os

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    data = report(list_survivors=args.list)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    _print_table(data, sys.stdout)
    if args.list:
        for line in _listing(data):
            print(line)
    print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
