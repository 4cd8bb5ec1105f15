"""The service level report's results (T1): overdue work, time in step, results per template.

Plain, immutable data, and the reference computation over prospects that a
store without its own queries falls back on (the memory store does; the SQL
store counts the same numbers with ``GROUP BY`` and window functions in
:mod:`crm_procedures.adapters.sql._service_level`, and the tests check that the
two agree).

What is counted, per step of a project:

- a **visit** is an effective step entry (a step, or a correction naming a
  step, that no later correction supersedes); a prospect that performs a step
  twice visits it twice;
- ``reached``: visits; every visit ends in exactly one of ``moved_on`` (a
  later effective step follows), ``won`` (none follows and the relation
  became a customer), ``dropped_out`` (none follows and the prospect is
  closed) or ``waiting`` (none follows and the prospect still runs);
- time in step: from the visit to the next effective step, over the visits
  that moved on; ``median`` and ``p90`` are nearest-rank percentiles (the
  value at rank ``ceil(p * n)`` of the sorted times), so both are times that
  really occurred.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model.prospect import (
    EntryKind,
    HistoryEntry,
    Prospect,
    ProspectStatus,
    RelationStage,
)

__all__ = [
    "VISIT_ENDS",
    "OverdueRow",
    "StepRow",
    "TemplateRow",
    "Visit",
    "effective_steps",
    "overdue_rows",
    "step_analytics",
    "step_rows_of_visits",
    "template_rows",
]


@attrs.frozen
class OverdueRow:
    """Overdue work of one owner at one step.

    Attributes:
        owner: the prospect's owner (``None``: nobody is assigned).
        step: the step that is overdue.
        count: how many prospects have that step overdue.
        oldest: the earliest due time among them.
    """

    owner: str | None
    step: str
    count: int
    oldest: datetime


@attrs.frozen
class StepRow:
    """How prospects pass through one step (see the module for what is counted).

    Attributes:
        step: the step's key.
        reached: visits of the step.
        moved_on: visits followed by another step.
        dropped_out: last visits of prospects now closed (not won).
        won: last visits of prospects whose relation became a customer.
        waiting: last visits of prospects still running (not won).
        median: median time in the step of the visits that moved on.
        p90: 90th percentile of that time.
    """

    step: str
    reached: int
    moved_on: int
    dropped_out: int
    won: int
    waiting: int
    median: timedelta | None
    p90: timedelta | None


@attrs.frozen
class TemplateRow:
    """What became of the prospects that received an e-mail template.

    Attributes:
        template: the template's key.
        steps: the steps that send it.
        sent: effective visits of those steps (e-mails sent).
        prospects: distinct prospects that received it.
        won: of those, relations that became customers.
        closed: of those, prospects closed without becoming customers.
        running: of those, prospects still running (not won).
        exited: of those, prospects that left the automatic sequence on an
            event (a reply, a bounce, an unsubscribe, ...).
    """

    template: str
    steps: tuple[str, ...]
    sent: int
    prospects: int
    won: int
    closed: int
    running: int
    exited: int


def _nearest_rank(ordered: Sequence[int], numerator: int, denominator: int) -> int | None:
    """The nearest-rank percentile ``numerator / denominator`` of sorted ``ordered``."""
    n = len(ordered)
    if n == 0:
        return None
    rank = (numerator * n + denominator - 1) // denominator
    return ordered[max(rank, 1) - 1]


def effective_steps(prospect: Prospect) -> list[HistoryEntry]:
    """The prospect's effective step entries in history order (see the module)."""
    superseded = {
        e.supersedes
        for e in prospect.history
        if e.kind is EntryKind.CORRECTION and e.supersedes is not None
    }
    return [
        e
        for e in prospect.history
        if e.kind in (EntryKind.STEP, EntryKind.CORRECTION)
        and e.step is not None
        and e.seq not in superseded
    ]


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _end(prospect: Prospect) -> str:
    if prospect.stage is RelationStage.CUSTOMER:
        return "won"
    if prospect.status is ProspectStatus.CLOSED:
        return "dropped_out"
    return "waiting"


def _step_rows(counts: dict[str, dict[str, int]], times: dict[str, list[int]]) -> list[StepRow]:
    """Rows from visit counts per step (``reached``, ``moved_on``, ...) and
    time-in-step samples in microseconds, ordered by step key."""
    out: list[StepRow] = []
    for step in sorted(counts):
        c = counts[step]
        ordered = sorted(times.get(step, ()))
        median = _nearest_rank(ordered, 1, 2)
        p90 = _nearest_rank(ordered, 9, 10)
        out.append(
            StepRow(
                step,
                c.get("reached", 0),
                c.get("moved_on", 0),
                c.get("dropped_out", 0),
                c.get("won", 0),
                c.get("waiting", 0),
                None if median is None else timedelta(microseconds=median),
                None if p90 is None else timedelta(microseconds=p90),
            )
        )
    return out


def step_analytics(prospects: Iterable[Prospect]) -> list[StepRow]:
    """Per step: visits and how they ended, and time in step (the reference computation)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    times: dict[str, list[int]] = defaultdict(list)
    for prospect in prospects:
        visits = effective_steps(prospect)
        for i, entry in enumerate(visits):
            step = str(entry.step)
            c = counts[step]
            c["reached"] += 1
            if i + 1 < len(visits):
                c["moved_on"] += 1
                times[step].append(_micros(visits[i + 1].at - entry.at))
            else:
                c[_end(prospect)] += 1
    return _step_rows(counts, times)


VISIT_ENDS: Final = ("waiting", "won", "dropped_out")
"""How a prospect's last visit ended, by the code a store reads (:data:`Visit`):
0 still running, 1 its relation became a customer, 2 closed without that."""

_ENDS: Final = {code: code for code in range(len(VISIT_ENDS))}

Visit = tuple[str, str, int, int]
"""An effective visit as a store reads it: ``(prospect id, step, instant in
microseconds since 1970 UTC, the prospect's end code)`` (:data:`VISIT_ENDS`)."""


def step_rows_of_visits(visits: Iterable[Visit]) -> list[StepRow]:
    """:func:`step_analytics` over visits streamed from a store, in one pass.

    ``visits`` holds every effective visit (:func:`effective_steps`) of the
    prospects counted, each prospect's together and in history order (a
    store reads them by ``(prospect id, seq)``); only the durations are kept.
    """
    # per step: [reached, moved on, then one count per end code], and its durations
    found: dict[str, tuple[list[int], list[int]]] = {}
    counts: list[int] = []
    durations: list[int] = []
    last_pid: str | None = None
    last_at = last_end = 0
    try:  # free unless something is wrong: the store's rows are checked in bulk, not each
        for pid, step, at, end in visits:
            if pid == last_pid:
                counts[1] += 1
                durations.append(at - last_at)
            elif last_pid is not None:
                counts[2 + _ENDS[last_end]] += 1
            here = found.get(step)
            if here is None:
                if not isinstance(step, str):
                    raise TypeError(step)
                here = found[step] = ([0, 0, 0, 0, 0], [])
            counts, durations = here
            counts[0] += 1
            last_pid, last_at, last_end = pid, at, end
        if last_pid is not None:
            counts[2 + _ENDS[last_end]] += 1
        if any(type(d) is not int for here in found.values() for d in here[1][:1]):
            raise TypeError("instants")
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidInput(
            "visits",
            "each visit must be (prospect id, step, instant in microseconds, end code 0-2)",
            type(exc).__name__,
        ) from None
    times = {step: here[1] for step, here in found.items()}
    named = {
        step: {"reached": c[0], "moved_on": c[1], **dict(zip(VISIT_ENDS, c[2:], strict=True))}
        for step, (c, _times) in found.items()
    }
    return _step_rows(named, times)


def overdue_rows(prospects: Iterable[Prospect], now: datetime) -> list[OverdueRow]:
    """Overdue steps people must perform, per owner and step (the reference computation).

    Overdue: a running prospect whose next due step is not automatic and was
    due before ``now``. Ordered by owner (nobody last), then step.
    """
    found: dict[tuple[str | None, str], tuple[int, datetime]] = {}
    for p in prospects:
        if (
            p.status is not ProspectStatus.RUNNING
            or p.next_due_at is None
            or p.due_automatic
            or p.due_step is None
            or p.next_due_at >= now
        ):
            continue
        key = (None if p.owner is None else str(p.owner), p.due_step)
        n, oldest = found.get(key, (0, p.next_due_at))
        found[key] = (n + 1, min(oldest, p.next_due_at))
    return _sort_overdue(OverdueRow(o, s, n, t) for (o, s), (n, t) in found.items())


def _sort_overdue(rows: Iterable[OverdueRow]) -> list[OverdueRow]:
    """Overdue rows by owner (nobody last), then step."""
    return sorted(rows, key=lambda r: (r.owner is None, r.owner or "", r.step))


def template_rows(
    prospects: Iterable[Prospect], templates: dict[str, tuple[str, ...]]
) -> list[TemplateRow]:
    """Per template (``{template: steps that send it}``): e-mails sent and what became
    of the prospects that received them (the reference computation)."""
    sent: dict[str, int] = defaultdict(int)
    outcome: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    step_template = {s: t for t, steps in templates.items() for s in steps}
    for p in prospects:
        got: set[str] = set()
        for entry in effective_steps(p):
            template = step_template.get(str(entry.step))
            if template is not None:
                sent[template] += 1
                got.add(template)
        for template in got:
            o = outcome[template]
            o["prospects"] += 1
            o[_outcome(p.status.value, p.stage.value)] += 1
            if p.sequence_exit is not None:
                o["exited"] += 1
    return _template_table(templates, sent, outcome)


def _outcome(status: str, stage: str) -> str:
    if stage == RelationStage.CUSTOMER.value:
        return "won"
    if status == ProspectStatus.CLOSED.value:
        return "closed"
    return "running"


def _outcome_of(status: str, stage: str) -> str:
    """``won``, ``closed`` or ``running`` for a prospect's status and stage."""
    return _outcome(status, stage)


def _template_table(
    templates: dict[str, tuple[str, ...]],
    sent: dict[str, int],
    outcome: dict[str, dict[str, int]],
) -> list[TemplateRow]:
    """Rows per template, by template key, from sends and outcome counts."""
    return [
        TemplateRow(
            t,
            tuple(sorted(templates[t])),
            sent.get(t, 0),
            outcome.get(t, {}).get("prospects", 0),
            outcome.get(t, {}).get("won", 0),
            outcome.get(t, {}).get("closed", 0),
            outcome.get(t, {}).get("running", 0),
            outcome.get(t, {}).get("exited", 0),
        )
        for t in sorted(templates)
    ]
