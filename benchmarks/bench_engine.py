"""The procedure engine: role-checked moves and validation, against plain Python and peers.

``perform_vs_plain``: one move on the W7 standard procedure is
:func:`~crm_procedures.procedures.runtime.allowed_next` plus
:func:`~crm_procedures.procedures.runtime.perform` (which checks the status,
the time, the actor and the matrix, and appends a history entry). The plain
baseline is what a user would write by hand: a dict of frozensets keyed by
``(role, last step)``, a membership test, a history tuple appended and three
attribute sets on a slotted object.

``perform_vs_transitions`` and ``perform_vs_statemachine``: the same
role-conditioned moves with the W7 matrix modelled in ``transitions`` (one
transition per role, the role as a condition) and ``python-statemachine``
(one transition per role, the role as a ``cond``). The peers record no
history, which favours them.

``validate_10k_x10_s``: :func:`~crm_procedures.validate` of a generated
procedure of 10,000 steps where each of 10 roles has a row for every step
(100,000 matrix rows, 200,000 arrows). ``validate_scaling`` is the time at
10,000 steps over the time at 1,000; ``validate_vs_plain`` and
``validate_scaling_vs_plain`` compare with a plain breadth-first search plus
dead-end check over the same data (a linear algorithm measures more than 10
here because of cache effects, so the ratio of ratios judges linearity).

Run: ``python benchmarks/run.py --only engine``.
"""

from __future__ import annotations

import gc
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from functools import reduce
from operator import or_
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, best_of

from crm_procedures import Definitions, Procedure, Role, Step, standard_definitions, validate
from crm_procedures.ids import ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model.dictionaries import Choice, Dictionary
from crm_procedures.model.prospect import Prospect, ProspectStatus
from crm_procedures.procedures.runtime import allowed_next, perform

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACTOR = UserId("ann")

# Role-conditioned moves on the W7 procedure (plain steps: no effects on any side).
MOVES: tuple[tuple[str, str], ...] = (
    ("marketeer", "call"),
    ("marketeer", "call_back"),
    ("marketeer", "call_back"),
    ("project_leader", "call"),
    ("marketeer", "call_back"),
    ("project_leader", "call_back"),
    ("marketeer", "call_back"),
    ("project_leader", "call"),
)


def _w7() -> Procedure:
    return standard_definitions().procedure("standard")


def _w7_table() -> dict[tuple[str, str | None], frozenset[str]]:
    """The W7 matrix as the plain dict a user would write: (role, last step) -> next steps."""
    out: dict[tuple[str, str | None], frozenset[str]] = {}
    for role, rows in _w7().matrix.items():
        for ref, targets in rows.items():
            out[(role, None if not isinstance(ref, str) else ref)] = frozenset(targets)
    return out


def _time_moves(setup: Callable[[], Callable[[], object]], moves: int, repeat: int) -> float:
    """The best time per move: ``setup`` builds fresh objects and returns the timed body."""
    best = float("inf")
    for _ in range(repeat):
        body = setup()
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            body()
            best = min(best, time.perf_counter() - t0)
        finally:
            gc.enable()
    return best / moves


def _ours(n: int) -> Callable[[], Callable[[], object]]:
    procedure = _w7()

    def setup() -> Callable[[], object]:
        prospects = [
            Prospect(
                ProspectId(f"p{i}"),
                ProjectId("x"),
                RelationId(f"r{i}"),
                status=ProspectStatus.RUNNING,
            )
            for i in range(n)
        ]

        def body() -> None:
            for p in prospects:
                for role, step in MOVES:
                    if step in allowed_next(procedure, p, role):
                        perform(procedure, p, step, role, ACTOR, AT)

        return body

    return setup


class _Plain:
    __slots__ = ("at", "by", "history", "last")

    def __init__(self) -> None:
        self.last: str | None = None
        self.by: str | None = None
        self.at: datetime | None = None
        self.history: list[tuple[Any, ...]] = []


def _plain(n: int) -> Callable[[], Callable[[], object]]:
    table = _w7_table()

    def setup() -> Callable[[], object]:
        items = [_Plain() for _ in range(n)]

        def body() -> None:
            for o in items:
                for role, step in MOVES:
                    allowed = table.get((role, o.last))
                    if allowed is not None and step in allowed:
                        history = o.history
                        history.append((len(history) + 1, AT, ACTOR, role, step))
                        o.last = step
                        o.by = ACTOR
                        o.at = AT

        return body

    return setup


def _transitions(n: int) -> Callable[[], Callable[[], object]]:
    from transitions import Machine

    def role_is(role: str) -> Callable[..., bool]:
        def check(role_: str = "", **kwargs: Any) -> bool:
            return kwargs.get("role", role_) == role

        return check

    moves: list[dict[str, Any]] = []
    for role, rows in _w7().matrix.items():
        for ref, targets in rows.items():
            source = ref if isinstance(ref, str) else "START"
            for target in sorted(targets):
                moves.append(
                    {
                        "trigger": target,
                        "source": source,
                        "dest": target,
                        "conditions": [role_is(role)],
                    }
                )
    states = ["START", *_w7().steps]

    class Model:
        pass

    def setup() -> Callable[[], object]:
        models = [Model() for _ in range(n)]
        Machine(
            model=models,
            states=states,
            transitions=moves,
            initial="START",
            auto_transitions=False,
        )

        def body() -> None:
            for m in models:
                for role, step in MOVES:
                    if not getattr(m, step)(role=role):
                        raise AssertionError("transitions refused a valid move")

        return body

    return setup


def _statemachine_class() -> type[Any]:
    from statemachine import State, StateMachine

    ns: dict[str, Any] = {"START": State("START", initial=True)}
    for key in _w7().steps:
        ns[f"in_{key}"] = State(key)
    by_event: dict[str, list[Any]] = {}
    procedure = _w7()
    for role, rows in procedure.matrix.items():
        for ref, targets in rows.items():
            source = ns[f"in_{ref}"] if isinstance(ref, str) else ns["START"]
            for target in sorted(targets):
                move = source.to(ns[f"in_{target}"], cond=f"role_is_{role}")
                by_event.setdefault(target, []).append(move)
    for role in procedure.matrix:

        def check(self: Any, role: str, _expected: str = role) -> bool:
            return role == _expected

        ns[f"role_is_{role}"] = check
    for event, moves in by_event.items():
        ns[event] = reduce(or_, moves)
    return type("W7Machine", (StateMachine,), ns)


def _statemachine(n: int) -> Callable[[], Callable[[], object]]:
    cls = _statemachine_class()

    def setup() -> Callable[[], object]:
        machines = [cls() for _ in range(n)]

        def body() -> None:
            for m in machines:
                for role, step in MOVES:
                    m.send(step, role=role)

        return body

    return setup


# validation


def generated(n: int, roles: int = 10) -> Definitions:
    """A valid procedure of ``n`` steps in which each of ``roles`` roles has a row per step.

    Every row leads to the next step and to a far step (so the search is not a
    simple chain); the last step is final. Rows share their target sets
    between roles of the same parity, which keeps a 1,000,000-step definition
    in memory.
    """
    keys = [f"s{i}" for i in range(n)]
    steps = [Step(k, k, final=i == n - 1) for i, k in enumerate(keys)]
    jumps = [
        [frozenset({keys[i + 1], keys[(i * 7 + 3 + j) % n]}) for i in range(n - 1)]
        for j in range(2)
    ]
    matrix: dict[str, dict[Any, frozenset[str]]] = {}
    for r in range(roles):
        rows: dict[Any, frozenset[str]] = dict(zip(keys, jumps[r % 2]))
        if r == 0:
            rows["START"] = frozenset({keys[0]})
        matrix[f"role{r}"] = rows
    reasons = Dictionary("close_reason", choices=(Choice("no", "No"),))
    procedure = Procedure("big", "Generated", steps=keys, matrix=matrix, close_reasons=("no",))
    return Definitions(
        roles=[Role(f"role{r}") for r in range(roles)],
        steps=steps,
        procedures=[procedure],
        close_reasons=reasons,
    )


def plain_check(
    steps: list[str], matrix: dict[str, dict[str | None, frozenset[str]]], finals: set[str]
) -> tuple[list[str], list[str]]:
    """The validation floor: BFS reachability from START and the dead ends, in plain Python."""
    members = set(steps)
    row_sets = list(matrix.values())
    reached: set[str] = set()
    queue: deque[str] = deque()
    for rows in row_sets:
        for target in rows.get(None, ()):
            if target in members and target not in reached:
                reached.add(target)
                queue.append(target)
    while queue:
        node = queue.popleft()
        for rows in row_sets:
            targets = rows.get(node)
            if targets:
                for target in targets:
                    if target not in reached and target in members:
                        reached.add(target)
                        queue.append(target)
    has_way_on = {ref for rows in row_sets for ref, t in rows.items() if t and ref is not None}
    unreachable = [k for k in steps if k not in reached]
    dead = [k for k in steps if k not in has_way_on and k not in finals]
    return unreachable, dead


def plain_inputs(
    d: Definitions,
) -> tuple[list[str], dict[str, dict[str | None, frozenset[str]]], set[str]]:
    """The generated procedure as plain dicts (what :func:`plain_check` reads)."""
    procedure = next(iter(d.procedures.values()))
    matrix = {
        role: {(ref if isinstance(ref, str) else None): t for ref, t in rows.items()}
        for role, rows in procedure.matrix.items()
    }
    finals = {k for k, s in d.steps.items() if s.final}
    return list(procedure.steps), matrix, finals


def time_validate(d: Definitions, repeat: int) -> float:
    """Best time of ``validate(d)``; fails loudly if the generated definition is not valid."""
    findings = validate(d)
    if findings:
        raise AssertionError(f"generated definition has findings: {findings[:3]}")
    return best_of(lambda: validate(d), repeat=repeat)


def time_plain(d: Definitions, repeat: int) -> float:
    """Best time of the plain BFS over the same data."""
    steps, matrix, finals = plain_inputs(d)
    if plain_check(steps, matrix, finals) != ([], []):
        raise AssertionError("plain check found problems in a valid definition")
    return best_of(lambda: plain_check(steps, matrix, finals), repeat=repeat)


def run(quick: bool) -> list[Figure]:
    """The engine figures (see the module documentation)."""
    n_prospects = 500 if quick else 5_000
    repeat = 3 if quick else 7
    moves = n_prospects * len(MOVES)
    plain = _time_moves(_plain(n_prospects), moves, repeat)
    ours = _time_moves(_ours(n_prospects), moves, repeat)
    n_peer = 100 if quick else 1_000
    trans = _time_moves(_transitions(n_peer), n_peer * len(MOVES), repeat)
    n_sm = 20 if quick else 100
    sm = _time_moves(_statemachine(n_sm), n_sm * len(MOVES), 3 if quick else 5)
    us = 1e6
    label = " (quick: fewer moves)" if quick else ""
    figures = [
        Figure(
            "perform_vs_plain",
            ours * us,
            "µs per move",
            "<= 3 (goal: <= 3 with validators on)",
            ours / plain <= 3,
            plain * us,
            ours / plain,
            f"allowed_next + perform on W7, {moves:,} moves; baseline dict-of-frozensets check, "
            f"history tuple appended, 3 attribute sets{label}",
        ),
        Figure(
            "perform_vs_transitions",
            ours * us,
            "µs per move",
            "<= 0.5 (goal 0.1)",
            ours / trans <= 0.5,
            trans * us,
            ours / trans,
            "transitions Machine, role as a condition, no history kept" + label,
        ),
        Figure(
            "perform_vs_statemachine",
            ours * us,
            "µs per move",
            "<= 0.5 (goal 0.01)",
            ours / sm <= 0.5,
            sm * us,
            ours / sm,
            "python-statemachine, role as a cond, no history kept" + label,
        ),
    ]

    big = 2_000 if quick else 10_000
    small = big // 10
    v_repeat = 3 if quick else 5
    d_big = generated(big)
    d_small = generated(small)
    ours_big = time_validate(d_big, v_repeat)
    ours_small = time_validate(d_small, v_repeat * 3)
    plain_big = time_plain(d_big, v_repeat)
    plain_small = time_plain(d_small, v_repeat * 3)
    our_scaling = ours_big / ours_small
    plain_scaling = plain_big / plain_small
    size = f"{big:,} steps x 10 roles" + (" (quick: not 10,000)" if quick else "")
    figures += [
        Figure(
            "validate_10k_x10_s",
            ours_big,
            "s",
            "< 1 s",
            ours_big < 1.0,
            plain_big,
            ours_big / plain_big,
            f"validate() of {size}; baseline plain BFS + dead ends",
        ),
        Figure(
            "validate_vs_plain",
            ours_big / plain_big,
            "x plain BFS",
            "goal <= 5",
            ours_big / plain_big <= 5,
            None,
            ours_big / plain_big,
            "validate() does every static check, not only the graph",
        ),
        Figure(
            "validate_scaling",
            our_scaling,
            f"time({big:,}) / time({small:,})",
            "<= 12",
            our_scaling <= 12,
            plain_scaling,
            our_scaling / plain_scaling,
            "baseline: the same ratio of the plain BFS",
        ),
        Figure(
            "validate_scaling_vs_plain",
            our_scaling / plain_scaling,
            "ratio of ratios",
            "goal <= 1.3",
            our_scaling / plain_scaling <= 1.3,
            None,
            None,
            "1.0 means validate() grows exactly like a linear BFS",
        ),
    ]
    return figures


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f"{f.name}: {f.value:.4g} {f.unit}; baseline {f.baseline}; ratio {f.ratio}")
