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


def test_importing_the_package_loads_nothing_but_its_version() -> None:
    # Every public name loads on first use (PEP 562): the bare import costs next
    # to nothing over the interpreter's own start-up.
    out = run_python(
        """
        import sys
        before = set(sys.modules)
        import crm_procedures
        print(sorted(set(sys.modules) - before))
        """
    )
    assert out == "['__future__', 'crm_procedures', 'crm_procedures._version']\n"


def test_the_services_load_without_calendar_mail_sql_or_parsers() -> None:
    # What a host imports to run procedures on the memory store: the engine,
    # model and services, not the formats and adapters it has not used yet.
    late = (*HEAVY, "cattrs", "dateutil", "email", "tomllib", "uuid")
    out = run_python(
        f"""
        import sys
        from crm_procedures import CrmApp, MemoryStore, Prospect, standard_definitions
        print(sorted(m for m in {late!r} if m in sys.modules))
        """
    )
    assert out == "[]\n"


def test_every_public_name_imports_in_a_fresh_interpreter() -> None:
    # The lazy look-up table and __all__ name the same things, and the names of
    # each module resolve in an interpreter that has imported nothing else first.
    assert set(crm_procedures._LAZY) == set(crm_procedures.__all__) - {"__version__"}
    assert set(crm_procedures.__all__) <= set(dir(crm_procedures))
    by_module: dict[str, list[str]] = {}
    for name, module in crm_procedures._LAZY.items():
        by_module.setdefault(module, []).append(name)
    for module, names in by_module.items():
        out = run_python(
            f"""
            from crm_procedures import {", ".join(names)}
            import {module} as source
            print(all(globals()[n] is getattr(source, n) for n in {names!r}))
            """
        )
        assert out == "True\n", module


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
