"""The public API: what ``crm_procedures`` exports, what importing it costs, the README."""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import crm_procedures

README = Path(__file__).resolve().parents[2] / "README.md"
HEAVY = ("icalendar", "sqlalchemy", "psycopg", "smtplib")


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter; its standard output."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", crm_procedures.__all__)
def test_every_public_name_is_importable_and_documented(name: str) -> None:
    value = getattr(crm_procedures, name)
    namespace: dict[str, object] = {}
    exec(f"from crm_procedures import {name}", namespace)
    assert namespace[name] is value
    if inspect.isclass(value) or inspect.isfunction(value):
        assert inspect.getdoc(value), f"{name} has no docstring"


def test_all_lists_each_name_once_with_the_main_entry_points() -> None:
    names = crm_procedures.__all__
    assert len(names) == len(set(names))
    assert {"open_store", "load_definitions", "validate", "CrmApp", "MemoryStore"} <= set(names)


def test_importing_the_package_loads_no_adapter_dependency() -> None:
    out = run_python(
        f"""
        import sys
        import crm_procedures
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
        """
    )
    assert out == "[]\n"


def test_open_store_is_imported_on_first_use_and_works() -> None:
    out = run_python(
        """
        import sys
        import crm_procedures
        print("sqlalchemy" in sys.modules)
        store = crm_procedures.open_store("sqlite://")
        print("sqlalchemy" in sys.modules)
        with store.unit_of_work() as uow:
            print(uow.users.count())
        store.close()
        """
    )
    assert out.split() == ["False", "True", "0"]


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        crm_procedures.no_such_name  # noqa: B018


def quick_start() -> str:
    found = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert found, "README.md has no python code block"
    return found.group(1)


def test_readme_quick_start_runs_and_prints_what_its_comments_say() -> None:
    code = quick_start()
    expected = [
        line.split("#", 1)[1].strip()
        for line in code.splitlines()
        if line.lstrip().startswith("print(") and "#" in line
    ]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    lines = printed.getvalue().splitlines()
    assert expected[0] == "['call']"
    assert len(lines) == len(expected)
    for got, want in zip(lines, expected, strict=True):
        if want.endswith("..."):
            assert got.startswith(want.removesuffix("...").rstrip()), (got, want)
        else:
            assert got == want
