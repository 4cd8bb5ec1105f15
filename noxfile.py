"""Developer sessions for crm_procedures.

``nox -s tests`` proves the project healthy in one command: lint, formatting,
types (mypy --strict), import contracts, the whole test suite with coverage,
every example, the docs build and a quick benchmark smoke run.
"""

from __future__ import annotations

import os
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

ROOT = Path(__file__).parent
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

TEST_DEPS = [
    "pytest>=8",
    "pytest-cov>=5",
    "hypothesis>=6.100",
    "aiosmtpd>=1.4",
    "pymap>=0.36",
    "types-python-dateutil",
    "vobject>=0.9.6",
    "holidays>=0.50",
    "caldav>=2.0",
    "radicale>=3.2",
]
LINT_DEPS = ["ruff>=0.6"]
TYPE_DEPS = [
    "mypy>=1.10",
    "types-python-dateutil",
    "pytest>=8",
    "hypothesis>=6.100",
    "holidays>=0.50",
]
CONTRACT_DEPS = ["import-linter>=2.0"]
DOCS_DEPS = ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26"]
BENCH_DEPS = ["transitions>=0.9", "python-statemachine>=2.3", "holidays>=0.50"]
CHART_DEPS = ["matplotlib>=3.7"]
EXAMPLE_DEPS = ["django>=5.1"]
"""What examples/ needs beyond the library: Django for examples/django_store only."""


def _install_project(session: nox.Session, extras: str = "sql") -> None:
    session.install("-e", f".[{extras}]" if extras else ".")


def _lint(session: nox.Session) -> None:
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "examples", "noxfile.py")


def _types(session: nox.Session) -> None:
    session.run("mypy", "--strict", "src", "tests")


def _contracts(session: nox.Session) -> None:
    session.run("lint-imports")


def _docs(session: nox.Session) -> None:
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"))


def _examples(session: nox.Session) -> None:
    scripts = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
    if not scripts:
        session.error("no examples found in examples/")
    for script in scripts:
        session.log(f"example: {script.name}")
        session.run("python", str(script))
    for project in ("host_app", "django_store"):
        session.log(f"example project: {project} (its own test suite)")
        session.run("pytest", "-q", "-p", "no:cacheprovider", cwd=str(ROOT / "examples" / project))


def _pytest(session: nox.Session, *args: str) -> None:
    junit = ROOT / ".nox" / "junit.xml"
    session.run(
        "pytest",
        "--cov=crm_procedures",
        "--cov-report=term:skip-covered",
        f"--junitxml={junit}",
        *args,
        env={"HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")},
    )
    # pytest exits 5 when no test ran; nox already fails on any non-zero exit.
    _check_junit(session, junit)


def _check_junit(session: nox.Session, junit: Path) -> None:
    """Fail when nothing ran, and under CI when a PostgreSQL test was skipped."""
    root = ET.parse(junit).getroot()
    cases = list(root.iter("testcase"))
    if not cases:
        session.error("pytest ran no test")
    skipped = [
        f"{c.get('classname')}::{c.get('name')}" for c in cases if c.find("skipped") is not None
    ]
    pg_skipped = [s for s in skipped if "postgres" in s.lower() or "pg" in s.lower().split("[")[-1]]
    session.log(f"{len(cases)} tests, {len(skipped)} skipped")
    if os.environ.get("CI", "").lower() == "true" and pg_skipped:
        session.error("PostgreSQL tests were skipped under CI: " + ", ".join(pg_skipped[:10]))


@nox.session
def tests(session: nox.Session) -> None:
    """Everything CI checks: lint, types, import contracts, tests (examples and the bounded
    reliability suite included), docs, bench smoke."""
    _install_project(session, "sql,charts")
    session.install(
        *TEST_DEPS, *LINT_DEPS, *TYPE_DEPS, *CONTRACT_DEPS, *DOCS_DEPS, *BENCH_DEPS, *EXAMPLE_DEPS
    )
    _lint(session)
    _types(session)
    _contracts(session)
    _pytest(session, *session.posargs)  # includes tests/test_examples.py: every example runs
    _docs(session)
    session.run("python", "benchmarks/run.py", "--quick")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*LINT_DEPS)
    _lint(session)


@nox.session
def types(session: nox.Session) -> None:
    """mypy --strict on src and tests."""
    _install_project(session, "sql")
    session.install(*TYPE_DEPS, *TEST_DEPS)
    _types(session)


@nox.session
def contracts(session: nox.Session) -> None:
    """import-linter: the domain imports no adapter, service, SQL or network module."""
    _install_project(session, "sql")
    session.install(*CONTRACT_DEPS)
    _contracts(session)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly."""
    _install_project(session, "sql")
    session.install(*DOCS_DEPS)
    _docs(session)


@nox.session
def examples(session: nox.Session) -> None:
    """Run every script in examples/, and the test suites of the example projects
    (examples/host_app; examples/django_store, whose Django store passes the shipped
    store contract suites)."""
    _install_project(session, "sql")
    session.install(*TEST_DEPS, *EXAMPLE_DEPS)
    _examples(session)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: a whole campaign on an embedded SQLite file, printing what happened."""
    _install_project(session, "sql,holidays")  # Dutch public holidays for the cadence
    session.run("crm-procedures", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """All benchmarks; ``nox -s bench -- --quick`` for a smoke run, ``--json PATH`` to save."""
    _install_project(session, "sql,charts")
    session.install(*BENCH_DEPS)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def reliability(session: nox.Session) -> None:
    """The full reliability and security suite; ``-- --json PATH`` writes the figures."""
    _install_project(session, "sql")
    session.install(*TEST_DEPS)
    session.run("python", "tests/reliability/run.py", "--full", *session.posargs)


@nox.session
def mutants(session: nox.Session) -> None:
    """Mutation testing (mutmut) of the runtime, validation, policies and outbox.

    Each mutant runs only against the selected tests that call its function
    (``[tool.mutmut]`` in pyproject.toml), two at a time; then the kill rates
    per module go to stdout and ``mutants/kill-rates.json`` (docs/mutation.md).
    Starts afresh unless ``-- --resume`` (cached verdicts ignore new tests).
    Slow on two cores, so not part of ``nox -s tests``.
    """
    _install_project(session, "sql")
    session.install(*TEST_DEPS, "mutmut>=3.8,<4")
    args = list(session.posargs)
    if "--resume" in args:
        args.remove("--resume")
    else:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    env = {
        # The plugin empties the name-conventions memo before every test.
        "PYTHONPATH": str(ROOT / "tools"),
        "HYPOTHESIS_PROFILE": "mutants",
    }
    children = os.environ.get("MUTANTS_CHILDREN", "2")
    session.run("mutmut", "run", "--max-children", children, env=env)
    session.run("python", "tools/mutants_report.py", *args, env=env)
