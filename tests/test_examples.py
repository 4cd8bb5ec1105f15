"""Every script in examples/ runs to completion and tells what it did.

The records examples have their own, more specific test
(``tests/records/test_examples.py``); this one covers every other script, so
a new example is exercised by the suite the moment it is added.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CHECKED_ELSEWHERE = {"activities.py", "visit_reports.py"}
SCRIPTS = sorted(
    p.name
    for p in EXAMPLES.glob("*.py")
    if not p.name.startswith("_") and p.name not in CHECKED_ELSEWHERE
)


def test_there_are_examples_to_run() -> None:
    assert len(SCRIPTS) >= 5, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_cleanly_and_prints_its_story(script: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    assert done.stdout.strip(), f"{script} printed nothing"
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == [], f"{script} left files in the working directory"
