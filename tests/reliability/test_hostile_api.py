"""``hostile_api``: every public callable, called with hostile arguments chosen by type.

The callables are discovered from the code (:mod:`reliability.hostile_catalogue`
walks ``__all__`` of the package and of every public module), never listed by
hand; the few that are not called are named there with the reason (pytest
fixtures, the demo, the command line, server launchers, Enums, Protocols).
Each call starts valid (its ids point at the seeded records of
:mod:`reliability.hostile_world`) and Hypothesis replaces one argument at a
time with a hostile value of the parameter's type
(:mod:`reliability.hostile_strategies`): strings with control characters, lone
surrogates, bidi overrides and line breaks, very long strings; naive
datetimes, years 1 and 9999, DST gaps and folds; 0, negative and enormous
numbers; ids with NUL, "/", "..", 10,000 characters.

A call that needs a store runs on memory, SQLite and PostgreSQL alike.
Findings are collected, not stopped at, and written to the JSON file named by
``CRM_HOSTILE_FINDINGS`` (and printed):

- ``raw-exception``: something other than a ``CrmError`` escaped;
- ``changed-after-refusal``: a call refused, yet the store's dump changed;
- ``store-disagreement``: the stores answered the same call differently
  (ok, or the error's class);
- ``slow``: one call took longer than :data:`SLOW_SECONDS`.

Figures: ``hostile_api_functions_covered`` of ``hostile_api_public_functions``
(and their ratio, target 1), ``hostile_api_examples`` (a floor),
``hostile_api_raw_exceptions`` (0) and ``hostile_api_store_disagreements`` (0).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.errors import CrmError, InvalidInput
from crm_procedures.model.dictionaries import Choice
from crm_procedures.model.reports import EmployeeRow, Funnel, ratio
from crm_procedures.model.users import Group
from crm_procedures.policies.normalise import NameConventions
from crm_procedures.policies.rules import DEFAULT_RULES, RecordKind, Rule
from crm_procedures.services.charts import employee_chart, funnel_chart
from crm_procedures.services.context import Context
from crm_procedures.services.record_settings import RecordSettings, custom_choice_dictionary
from crm_procedures.testing.postgres import PostgresServer
from reliability.figures import hypothesis_settings, record, size
from reliability.hostile_catalogue import EXPECTED, Env, NoValidValue, Target, targets
from reliability.hostile_strategies import Hostile
from reliability.hostile_world import Fleet, Seeded

FINDINGS_ENV = "CRM_HOSTILE_FINDINGS"
"""The environment variable naming the JSON file the findings are written to."""

SLOW_SECONDS = 5.0
"""A single call slower than this is a finding of its own."""

PER_PARAMETER = {False: size(4, 60), True: size(1, 12)}
"""Hostile examples per varied parameter: of a call without a store, of one with stores."""
BOUNDS = {False: (size(10, 100), size(40, 1000)), True: (size(3, 20), size(10, 200))}
"""The least and the most examples of one callable, by whether it runs on stores."""
EXAMPLES_FLOOR = size(2500, 25_000)

_SQL_ONLY = (
    "SqlReports",
    "SqlUnitOfWork",
    "SqlStore",
    "sql.schema",
    "sql.store",
    "sql.due",
    "sql.inbound",
)
_MEMORY_ONLY = ("MemoryReports", "MemoryUnitOfWork")


@attrs.define
class Finding:
    """One distinct finding and how often it was seen."""

    kind: str
    function: str
    argument: str
    label: str
    exception: str
    store: str
    where: str
    detail: str
    count: int = 1


@attrs.define
class Collector:
    """Everything the run saw: findings, examples, covered and uncovered callables."""

    findings: dict[tuple[str, ...], Finding] = attrs.field(factory=dict)
    examples: int = 0
    covered: set[str] = attrs.field(factory=set)
    uncovered: dict[str, str] = attrs.field(factory=dict)
    base_refused: dict[str, str] = attrs.field(factory=dict)
    disagreements: int = 0
    seconds: dict[str, float] = attrs.field(factory=dict)

    def add(self, finding: Finding) -> None:
        key = (
            finding.kind,
            finding.function,
            finding.argument,
            finding.label,
            finding.exception,
            finding.store,
        )
        if key in self.findings:
            self.findings[key].count += 1
        else:
            self.findings[key] = finding

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings.values() if f.kind == kind)


@attrs.frozen
class Outcome:
    """How one call ended: ``ok`` or the exception, and how long it took."""

    exc: BaseException | None
    seconds: float

    @property
    def name(self) -> str:
        return "ok" if self.exc is None else type(self.exc).__name__

    def raw(self, target: Target) -> bool:
        if self.exc is None or isinstance(self.exc, CrmError):
            return False
        for prefix, (expected, _reason) in EXPECTED.items():
            if target.name.startswith(prefix) and isinstance(self.exc, expected):
                return False
        return True


def _text(exc: BaseException | None) -> str:
    """The exception's message, shortened (formatting it may fail: say so)."""
    try:
        return str(exc)[:300]
    except Exception as error:
        return f"<message could not be formatted: {type(error).__name__}>"


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "crm_procedures" in f.filename]
    if not ours:
        return "?"
    frame = ours[-1]
    path = frame.filename.split("crm_procedures/", 1)[-1]
    return f"{path}:{frame.lineno} in {frame.name}"


def _named(name: str, hostile: Hostile) -> tuple[str, Hostile]:
    return name, hostile


def _consume(result: Any) -> None:
    if isinstance(result, Iterator):
        for _ in result:
            pass


def _invoke(target: Target, kwargs: dict[str, Any]) -> Outcome:
    started = time.perf_counter()
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        with redirect_stdout(sink), redirect_stderr(sink):
            _consume(target.call(kwargs))
    except Exception as exc:
        return Outcome(exc, time.perf_counter() - started)
    finally:
        sink.close()
    return Outcome(None, time.perf_counter() - started)


def _needs_uow(target: Target) -> bool:
    return any(
        "UnitOfWork" in repr(target.hints.get(p.name))
        or "StepContext" in repr(target.hints.get(p.name))
        or p.name in ("uow", "repo")
        for p in target.params
    )


def _stores_for(target: Target, fleet: list[Seeded]) -> list[Seeded]:
    if any(part in target.name for part in _SQL_ONLY):
        return [s for s in fleet if s.name != "memory"]
    if any(part in target.name for part in _MEMORY_ONLY):
        return [s for s in fleet if s.name == "memory"]
    return fleet


class Runner:
    """Calls targets, valid and hostile, on no store or on every store, and collects."""

    def __init__(self, fleet: Fleet, tmp: Path, collector: Collector) -> None:
        self.fleet = fleet
        self.tmp = tmp
        self.c = collector
        self.stores = fleet.fresh()
        self.dumps: dict[str, Any] = {s.name: s.dump() for s in self.stores}
        self.seed_dumps = dict(self.dumps)

    def reseed(self) -> None:
        self.stores = self.fleet.fresh()
        self.dumps = {s.name: s.dump() for s in self.stores}

    def _check(
        self, target: Target, choice: tuple[str, Hostile] | None, store: str, out: Outcome
    ) -> None:
        argument, label = ("-", "valid") if choice is None else (choice[0], choice[1].label)
        if out.raw(target):
            assert out.exc is not None
            self.c.add(
                Finding(
                    "raw-exception",
                    target.name,
                    argument,
                    label,
                    out.name,
                    store,
                    _where(out.exc),
                    _text(out.exc),
                )
            )
        if out.seconds > SLOW_SECONDS:
            self.c.add(
                Finding(
                    "slow",
                    target.name,
                    argument,
                    label,
                    f"{out.seconds:.1f} s",
                    store,
                    "",
                    repr(choice[1]) if choice else "",
                )
            )

    def run_pure(self, target: Target, choice: tuple[str, Hostile] | None) -> bool:
        env = Env(None, self.tmp)
        try:
            kwargs = target.base(env)
        except NoValidValue as exc:
            self.c.uncovered[target.name] = f"no valid value for {exc}"
            return False
        if choice is not None:
            kwargs[choice[0]] = choice[1].value
        out = _invoke(target, kwargs)
        self._check(target, choice, "-", out)
        if choice is None and out.exc is not None:
            self.c.base_refused[target.name] = f"{out.name}: {_text(out.exc)}"
        return True

    def run_on_stores(self, target: Target, choice: tuple[str, Hostile] | None) -> bool:
        outcomes: dict[str, Outcome] = {}
        changed = False
        for seeded in _stores_for(target, self.stores):
            with ExitStack() as stack:
                env = Env(seeded, self.tmp)
                if _needs_uow(target):
                    env.uow = stack.enter_context(seeded.store.unit_of_work())
                try:
                    kwargs = target.base(env)
                except NoValidValue as exc:
                    self.c.uncovered[target.name] = f"no valid value for {exc}"
                    return False
                if choice is not None:
                    kwargs[choice[0]] = choice[1].value
                out = _invoke(target, kwargs)
            outcomes[seeded.name] = out
            self._check(target, choice, seeded.name, out)
            try:
                after = seeded.dump()
            except Exception as exc:
                after = f"dump failed: {type(exc).__name__}: {_text(exc)}"
            if out.exc is not None and after != self.dumps[seeded.name]:
                self.c.add(
                    Finding(
                        "changed-after-refusal",
                        target.name,
                        "-" if choice is None else choice[0],
                        "valid" if choice is None else choice[1].label,
                        out.name,
                        seeded.name,
                        _where(out.exc),
                        _text(out.exc),
                    )
                )
            changed = changed or after != self.dumps[seeded.name]
            self.dumps[seeded.name] = after
        if choice is None:
            first = next(iter(outcomes.values()))
            if first.exc is not None:
                self.c.base_refused[target.name] = f"{first.name}: {_text(first.exc)}"
        names = {o.name for o in outcomes.values()}
        if len(names) > 1:
            self.c.disagreements += 1
            summary = ", ".join(f"{k}={v.name}" for k, v in outcomes.items())
            self.c.add(
                Finding(
                    "store-disagreement",
                    target.name,
                    "-" if choice is None else choice[0],
                    "valid" if choice is None else choice[1].label,
                    summary,
                    "all",
                    "; ".join(
                        f"{k}: {_where(v.exc)}" for k, v in outcomes.items() if v.exc is not None
                    ),
                    repr(choice[1])[:200] if choice else "",
                )
            )
            if changed:
                self.reseed()  # the stores no longer hold the same records
        return True

    def drive(self, target: Target) -> None:
        started = time.perf_counter()
        try:
            self._drive(target)
        finally:
            self.c.seconds[target.name] = time.perf_counter() - started

    def _drive(self, target: Target) -> None:
        run = self.run_on_stores if target.on_store else self.run_pure
        if target.on_store and self.dumps != self.seed_dumps:
            self.reseed()
        if not run(target, None):
            return
        self.c.examples += 1
        strategies = target.strategies(self.tmp)
        if not strategies:
            self.c.covered.add(target.name)
            return
        low, high = BOUNDS[target.on_store]
        examples = max(low, min(high, PER_PARAMETER[target.on_store] * len(strategies)))
        choices = st.one_of(
            *[s.map(functools.partial(_named, name)) for name, s in sorted(strategies.items())]
        )
        ran = 0

        @hypothesis_settings(examples, examples)
        @given(choices)
        def example(choice: tuple[str, Hostile]) -> None:
            nonlocal ran
            if run(target, choice):
                ran += 1

        example()
        self.c.examples += ran
        if ran:
            self.c.covered.add(target.name)


def _report(
    collector: Collector, public: int, skipped: dict[str, str], seconds: float, reseeds: int
) -> str:
    findings = sorted(
        collector.findings.values(), key=lambda f: (f.kind, f.function, f.argument, f.label)
    )
    data = {
        "public_functions": public,
        "covered": len(collector.covered),
        "examples": collector.examples,
        "seconds": round(seconds, 1),
        "skipped_with_reason": skipped,
        "uncovered": collector.uncovered,
        "valid_call_refused": collector.base_refused,
        "findings": [attrs.asdict(f) for f in findings],
    }
    path = os.environ.get(FINDINGS_ENV)
    if path:
        Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=True) + "\n", "utf-8")
    lines = [
        f"hostile_api: {len(collector.covered)} of {public} public callables driven, "
        f"{collector.examples} examples in {seconds:.0f} s, {len(findings)} findings, "
        f"{reseeds} reseeds"
    ]
    lines += [f"  uncovered {k}: {v}" for k, v in sorted(collector.uncovered.items())]
    slowest = sorted(collector.seconds.items(), key=lambda kv: -kv[1])[:15]
    lines += [f"  time {v:6.2f} s {k}" for k, v in slowest]
    for f in findings:
        lines.append(
            f"  {f.kind}: {f.function}({f.argument}={f.label}) -> {f.exception} "
            f"[{f.store}] at {f.where} x{f.count}: {f.detail[:120]!r}"
        )
    return "\n".join(lines)


@pytest.fixture
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fleet]:
    """The seeded stores: memory, SQLite and PostgreSQL."""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    made = Fleet(tmp_path, server)
    try:
        yield made
    finally:
        made.close()


@pytest.mark.postgres
def test_hostile_api_every_public_callable(fleet: Fleet, tmp_path: Path) -> None:
    """Every public callable, hostile argument by argument, on every store."""
    started = time.perf_counter()
    found, skipped = targets()
    public = len(found)
    collector = Collector()
    runner = Runner(fleet, tmp_path, collector)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    old = Path.cwd()
    os.chdir(scratch)  # relative paths a call may write land here
    try:
        for target in found:
            runner.drive(target)
    finally:
        os.chdir(old)
    seconds = time.perf_counter() - started
    report = _report(collector, public, skipped, seconds, fleet.reseeds)
    print(report, file=sys.stderr)

    raw = collector.count("raw-exception")
    disagreements = collector.count("store-disagreement")
    changed = collector.count("changed-after-refusal")
    covered = len(collector.covered)
    # Public callables not called (Enums, Protocols, fixtures ...) each carry a reason.
    record("hostile_api_skipped_with_reason", len(skipped), f"<= {len(skipped)}")
    record("hostile_api_public_functions", public, f">= {public}")
    record("hostile_api_functions_covered", covered, f">= {public}")
    record("hostile_api_functions_covered_ratio", covered / public, ">= 1")
    record("hostile_api_examples", collector.examples, f">= {EXAMPLES_FLOOR}")
    record("hostile_api_raw_exceptions", raw, "== 0")
    record("hostile_api_store_disagreements", disagreements, "== 0")
    record("hostile_api_changed_after_refusal", changed, "== 0")
    record("hostile_api_slow_calls", collector.count("slow"), "== 0")

    assert covered == public, report
    assert collector.examples >= EXAMPLES_FLOOR, report
    assert not collector.findings, report


# Regression tests of what this suite found in the files it fixes.

_NOT_MAPPINGS = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.lists(st.text(min_size=3, max_size=5), min_size=1, max_size=3),
    st.just(None),
)


@given(_NOT_MAPPINGS)
def test_defect_hostile_01_choice_labels_that_are_no_mapping_are_invalid_input(value: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        Choice("first", "First", labels=value)
    assert str(caught.value.field).startswith("labels")


@given(_NOT_MAPPINGS | st.dictionaries(st.text(max_size=3), st.text(max_size=3), min_size=1))
def test_defect_hostile_02_report_counts_that_are_no_counts_are_invalid_input(value: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        Funnel(project_id="p1", total=1, suspects=1, prospects=0, steps=value)
    assert str(caught.value.field).startswith("steps")
    with pytest.raises(InvalidInput) as caught:
        EmployeeRow("pia", outcomes=value)
    assert str(caught.value.field).startswith("outcomes")


def test_defect_hostile_02_report_counts_keep_their_valid_form() -> None:
    row = EmployeeRow("pia", outcomes={"reached": 2, "absent": 1})
    assert list(row.outcomes.items()) == [("absent", 1), ("reached", 2)]


@given(st.integers(min_value=1, max_value=10**400), st.integers(min_value=1, max_value=10**400))
def test_defect_hostile_03_ratio_of_counts_past_the_float_range(part: int, whole: int) -> None:
    if part // whole > 10**308:
        with pytest.raises(InvalidInput) as caught:
            ratio(part, whole)
        assert caught.value.field == "part"
    else:
        value = ratio(part, whole)
        assert value is not None
        assert value == pytest.approx(float(Fraction(part, whole)), rel=1e-3, abs=1e-4)


def test_defect_hostile_03_ratio_of_a_googol_over_two_googols_is_a_half() -> None:
    assert ratio(10**5000, 2 * 10**5000) == 0.5
    with pytest.raises(InvalidInput):
        ratio(10**5000, 1)


@given(_NOT_MAPPINGS)
def test_defect_hostile_04_name_conventions_refuse_malformed_tables(value: Any) -> None:
    for field in ("fixed_spellings", "prefix_abbreviations", "abbreviations"):
        with pytest.raises(InvalidInput) as caught:
            NameConventions(**{field: value})
        assert caught.value.field == field


@given(st.text(max_size=20).filter(lambda t: t not in {"written_out", "abbreviated"}))
def test_defect_hostile_04_name_conventions_refuse_an_unknown_form(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        NameConventions(prefer=value)
    assert caught.value.field == "prefer"


@given(st.text(max_size=20).filter(lambda t: t not in {k.value for k in RecordKind}))
def test_defect_hostile_05_a_rule_for_an_unknown_record_kind_is_invalid_input(value: str) -> None:
    rule = DEFAULT_RULES.rules[0]
    with pytest.raises(InvalidInput) as caught:
        Rule(rule.code, rule.description, value, rule.condition)
    assert caught.value.field == "applies_to"


@given(_NOT_MAPPINGS)
def test_defect_hostile_06_record_settings_dictionaries_that_are_no_mapping(value: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        RecordSettings(dictionaries=value)
    assert str(caught.value.field).startswith("dictionaries")


def test_hostile_api_discovers_the_public_api_from_all() -> None:
    found, skipped = targets()
    names = {t.name for t in found}
    assert "crm_procedures.services.campaigns.perform_step" in names
    assert "crm_procedures.model.contact.Contact" in names
    assert "crm_procedures.ports.Store" in skipped  # a Protocol, with its reason
    assert all(reason for reason in skipped.values())
    assert not any(name.rsplit(".", 1)[-1].startswith("_") for name in names)


@given(st.integers().filter(lambda i: not 1 <= i <= 5) | st.just(10**5000))
def test_defect_hostile_07_custom_choice_field_number_out_of_range_is_invalid_input(
    index: int,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        custom_choice_dictionary(index)
    assert caught.value.field == "index"
    assert custom_choice_dictionary(5) == "project_choice_5"


def _writes_then_fails(ctx: Context, name: str) -> None:
    """A stand-in for a defective service: it commits, then fails with a raw error."""
    with ctx.store.unit_of_work() as uow:
        uow.groups.add(Group(id=f"g{len(name)}", name="Written"))
        uow.commit()
    raise ValueError("raw")


def test_hostile_api_runner_reports_raw_errors_changes_and_disagreements(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, None)
    try:
        collector = Collector()
        runner = Runner(fleet, tmp_path, collector)
        params = list(inspect.signature(_writes_then_fails).parameters.values())
        target = Target(
            "test._writes_then_fails",
            _writes_then_fails,
            params,
            {"ctx": Context, "name": str},
            {},
            on_store=True,
        )
        runner.run_on_stores(target, ("name", Hostile("str:empty", "")))
    finally:
        fleet.close()
    kinds = {(f.kind, f.store) for f in collector.findings.values()}
    assert ("raw-exception", "memory") in kinds
    assert ("raw-exception", "sqlite") in kinds
    assert ("changed-after-refusal", "memory") in kinds
    assert ("changed-after-refusal", "sqlite") in kinds
    assert collector.count("store-disagreement") == 0  # both stores failed alike


@given(st.sampled_from(["\ud800", "\udfff", "Evil\udc80Co"]))
def test_defect_hostile_08_chart_text_with_a_lone_surrogate_is_invalid_input(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        funnel = Funnel(project_id="p1", total=2, suspects=1, prospects=1)
        with pytest.raises(InvalidInput) as caught:
            funnel_chart(funnel, Path(tmp) / "f.png", title=text)
        assert caught.value.field == "title"
        with pytest.raises(InvalidInput) as caught:
            employee_chart([EmployeeRow(text, contacts=1)], Path(tmp) / "e.png")
        assert caught.value.field == "rows[0].employee"
        assert not list(Path(tmp).iterdir())


def test_defect_hostile_09_a_chart_title_of_a_megabyte_is_refused_at_once(tmp_path: Path) -> None:
    funnel = Funnel(project_id="p1", total=2, suspects=1, prospects=1)
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as caught:
        funnel_chart(funnel, tmp_path / "f.png", title="x" * 1_000_000)
    assert caught.value.field == "title"
    assert time.perf_counter() - started < 1.0
    assert funnel_chart(funnel, tmp_path / "f.png", title="t" * 500).exists()
