"""Time in the engine: which step of a prospect falls due next, and when (T1-T3).

Pure functions over definitions and a prospect: no clock, no I/O. The
services call :func:`refresh_due` after every move (a step, a correction, a
release, a close, a pause), so the prospect's ``next_due_at``, ``due_step``,
``due_role`` and ``due_automatic`` always follow the definitions' rules; the
store indexes them for worklists and the scheduler.

Which step falls due: of the steps some role may perform after the
prospect's last step, those with a ``due`` rule or marked ``automatic`` (an
automatic step without a rule is due at once). Each is due at
:func:`~crm_procedures.procedures.timing.due_at` of its rule, counted from
its anchor: the previous step's time (``previous_step``, or the release when
nothing is done yet), the release (``enrolment``), or the campaign's start
(``fixed``, the release when the campaign gives none). An automatic step
with a send window is due at the window's next opening from then. The
earliest wins (ties: the procedure's step order). A pause moves a due time
that falls inside it to the pause's end; after an exit event automatic
steps are no longer due (steps people perform still are). A prospect that
is not running has nothing due.

:func:`check_cadence` lists the problems of a definitions bundle's time
rules; :func:`~crm_procedures.procedures.validation.validate` includes them.

Stable finding codes (beyond those of :func:`~crm_procedures.procedures.timing.validate_timing`):

=================================== ===============================================
code                                meaning
=================================== ===============================================
automatic-kind-not-unattended       an automatic step whose kind cannot run with
[error]                             nobody present (make_appointment, plain, a kind
                                    not declared ``unattended = true``)
automatic-loop [error]              automatic steps that follow each other and are
                                    due at once: the scheduler would run forever
due-on-final-step [error]           a due rule (or ``automatic``) on a final step
unknown-exit-event [error]          ``exit_on`` names an event that does not exist
=================================== ===============================================
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import attrs

from crm_procedures.errors import Finding, InvalidInput
from crm_procedures.model.prospect import EntryKind, Prospect, ProspectStatus
from crm_procedures.procedures.procedure import Definitions, Procedure
from crm_procedures.procedures.step import BUILTIN_STEP_KINDS, Step
from crm_procedures.procedures.timing._local import zone
from crm_procedures.procedures.timing.data import validate_timing
from crm_procedures.procedures.timing.due import Anchor, DueRule, due_at
from crm_procedures.procedures.timing.send_window import next_opening

__all__ = [
    "EXIT_EVENTS",
    "Due",
    "check_cadence",
    "enrolled_at",
    "is_immediate",
    "next_due",
    "pause",
    "paused",
    "project_zone",
    "refresh_due",
    "resume",
    "step_anchor",
]

EXIT_EVENTS = ("won", "closed", "appointment_booked", "reply", "bounce", "unsubscribe")
"""The events a procedure's ``exit_on`` may name. ``reply``, ``bounce`` and
``unsubscribe`` are raised by inbound mail; the others by the engine."""

_AT_ONCE = DueRule(0, "minutes")


@attrs.frozen(slots=True)
class Due:
    """The next step that falls due on a prospect.

    Attributes:
        at: when (aware).
        step: which step.
        role: the role that performs it.
        automatic: whether the scheduler performs it.
    """

    at: datetime
    step: str
    role: str
    automatic: bool


def project_zone(definitions: Definitions) -> tzinfo:
    """The definitions' ``time_zone`` (UTC when none). Raises InvalidInput for an unknown one."""
    if definitions.time_zone is None:
        return UTC
    return zone(definitions.time_zone, "time_zone")


def enrolled_at(prospect: Prospect) -> datetime | None:
    """When the prospect was released into the campaign (its first ``running`` status entry)."""
    for entry in prospect.history:
        if entry.kind is EntryKind.STATUS and entry.detail == ProspectStatus.RUNNING.value:
            return entry.at
    return None


def step_anchor(prospect: Prospect) -> datetime | None:
    """The time of the entry that made the prospect's ``last_step`` (the previous step)."""
    if prospect.last_step is None:
        return None
    for entry in reversed(prospect.history):
        if (
            entry.kind in (EntryKind.STEP, EntryKind.CORRECTION)
            and entry.step == prospect.last_step
        ):
            return entry.at
    return None


def is_immediate(step: Step) -> bool:
    """Whether an automatic ``step`` is due again at once each time the prospect reaches it.

    A rule of 0, or one counted from an anchor that does not move (enrolment,
    a fixed instant): once that time has passed, it is always passed.
    """
    rule = step.due
    return rule is None or rule.amount == 0 or rule.after is not Anchor.PREVIOUS_STEP


def next_due(
    definitions: Definitions,
    procedure: Procedure,
    prospect: Prospect,
    *,
    tz: tzinfo | str | None = None,
    fixed_at: datetime | None = None,
) -> Due | None:
    """The step that falls due next on ``prospect`` and when (see the module), or ``None``.

    Args:
        definitions: the bundle the campaign is pinned to.
        procedure: the campaign's procedure.
        prospect: the prospect, its history up to date.
        tz: the wall clock of ``days``/``business_days`` rules and send
            windows: the contact's zone, else the project's (default: the
            definitions' ``time_zone``).
        fixed_at: the instant ``after = "fixed"`` rules count from (the
            campaign's start); the release when ``None``.

    Raises:
        InvalidInput: an unknown zone, or a rule whose result lies after the year 9999.
    """
    if prospect.status is not ProspectStatus.RUNNING:
        return None
    here = project_zone(definitions) if tz is None else zone(tz)
    enrolled = enrolled_at(prospect)
    previous = step_anchor(prospect) or enrolled
    order = {key: i for i, key in enumerate(procedure.steps)}
    best: tuple[datetime, int, int, Due] | None = None
    for r, role in enumerate(procedure.roles):
        for key in procedure.allowed(role, prospect.last_step):
            step = definitions.steps.get(key)
            if step is None or (step.due is None and not step.automatic):
                continue
            if step.automatic and prospect.sequence_exit is not None:
                continue
            rule = step.due or _AT_ONCE
            anchor = {
                Anchor.PREVIOUS_STEP: previous,
                Anchor.ENROLMENT: enrolled,
                Anchor.FIXED: fixed_at or enrolled,
            }[rule.after]
            if anchor is None:
                continue
            calendar = definitions.calendars.get(rule.calendar) if rule.calendar else None
            at = paused(prospect, anchor, due_at(rule, anchor, calendar, here)).astimezone(here)
            if step.automatic and step.send_window is not None:
                window = step.send_window
                wcal = definitions.calendars.get(window.calendar) if window.calendar else None
                at = next_opening(at, window, here, wcal)
            candidate = (at, order.get(key, 0), r, Due(at, key, role, step.automatic))
            if best is None or candidate[:3] < best[:3]:
                best = candidate
    return None if best is None else best[3]


def refresh_due(
    definitions: Definitions,
    procedure: Procedure,
    prospect: Prospect,
    *,
    tz: tzinfo | str | None = None,
    fixed_at: datetime | None = None,
) -> Due | None:
    """Set the prospect's due fields from :func:`next_due`; returns what it set.

    Raises:
        InvalidInput: as :func:`next_due`; the prospect is then unchanged.
    """
    due = next_due(definitions, procedure, prospect, tz=tz, fixed_at=fixed_at)
    anchor = step_anchor(prospect)
    end = prospect.paused_until
    if end is not None and anchor is not None and anchor >= end:
        prospect.paused_until = None  # a step after the pause: it shifts nothing any more
        prospect.paused_at = None
    if due is None:
        prospect.next_due_at = None
        prospect.due_step = None
        prospect.due_role = None
        prospect.due_automatic = False
    else:
        prospect.next_due_at = due.at
        prospect.due_step = due.step
        prospect.due_role = due.role
        prospect.due_automatic = due.automatic
    return due


def paused(prospect: Prospect, anchor: datetime, at: datetime) -> datetime:
    """When a step the rules make due at ``at``, counted from ``anchor``, falls due
    given the prospect's pause: the step's clock stands still while it is paused.

    The pause runs from ``paused_at`` (or the anchor, when that came later) to
    ``paused_until`` (its end, or when it was resumed). A step due after the
    pause began moves later by the time the pause lasted; one that was due
    already falls due at the pause's end. An anchor at or after the pause's
    end is not touched by it, nor is anything without a pause. A pause made
    without a start (``paused_at`` unset: before schema 9) only holds work
    until its end.
    """
    end = prospect.paused_until
    if end is None or anchor >= end:
        return at
    begun = prospect.paused_at
    if begun is None:
        return max(at, end)
    start = max(begun, anchor)
    if at > start:  # elapsed time: added in UTC, not on a wall clock that may change
        return at.astimezone(UTC) + (end - start)
    return max(at, end)


def pause(prospect: Prospect, until: datetime, at: datetime) -> None:
    """Pause the prospect from ``at`` until ``until`` (call :func:`refresh_due` after):
    no step falls due before ``until``, and the due step's clock stands still
    meanwhile (:func:`paused`).

    Pausing a paused prospect moves the end of its pause. Pausing again after
    a pause that still shifts the due step (no step performed since) adds the
    new pause to it.

    Raises:
        InvalidInput: a naive ``until`` or ``at``, or ``until`` not after ``at``.
    """
    for name, value in (("until", until), ("at", at)):
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput(name, "must be a timezone-aware datetime", value)
    if until <= at:
        raise InvalidInput("until", f"a pause must end after it starts ({at.isoformat()})", until)
    end, begun = prospect.paused_until, prospect.paused_at
    if end is None or begun is None:
        prospect.paused_at = at
    elif end <= at:
        # an earlier pause still counts: start this one as much earlier as that one lasted
        prospect.paused_at = at - (end - begun)
    prospect.paused_until = until


def resume(prospect: Prospect, at: datetime | None = None) -> None:
    """End a pause at ``at`` (call :func:`refresh_due` after): the due step falls due
    by its rules, later by the time the pause lasted until ``at``.

    Without ``at`` the pause is forgotten: the rules alone decide, as if there
    had been none. Resuming a pause that has ended already changes nothing.

    Raises:
        InvalidInput: a naive ``at``.
    """
    if at is None:
        prospect.paused_until = None
        prospect.paused_at = None
        return
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("at", "must be a timezone-aware datetime", at)
    end = prospect.paused_until
    if end is None or end <= at:
        return
    begun = prospect.paused_at
    if begun is not None and at <= begun:
        prospect.paused_until = None  # resumed before it began: no pause at all
        prospect.paused_at = None
        return
    prospect.paused_until = at


# ---------------------------------------------------------------- validation


def check_cadence(definitions: Definitions) -> list[Finding]:
    """Every problem of the definitions' time rules, as findings (see the module's codes)."""
    out: list[Finding] = []
    steps = definitions.steps
    zones = {"time_zone": definitions.time_zone} if definitions.time_zone is not None else {}
    out.extend(
        validate_timing(
            calendars=dict(definitions.calendars),
            due={f"steps.{k}.due": s.due for k, s in steps.items() if s.due is not None},
            send_windows={
                f"steps.{k}.send_window": s.send_window
                for k, s in steps.items()
                if s.send_window is not None
            },
            time_zones=zones,
        )
    )
    kinds = {**BUILTIN_STEP_KINDS, **definitions.step_kinds}
    for key, step in steps.items():
        where = f"steps.{key}"
        spec = kinds.get(step.kind)
        if step.automatic and spec is not None and not spec.unattended:
            out.append(
                Finding(
                    "automatic-kind-not-unattended",
                    f"steps of kind {step.kind!r} cannot run with nobody present; remove "
                    "automatic = true, or declare the kind with unattended = true",
                    f"{where}.automatic",
                )
            )
        if step.final and (step.due is not None or step.automatic):
            out.append(
                Finding(
                    "due-on-final-step",
                    "a final step ends the procedure: it cannot fall due by itself; "
                    "remove due/automatic, or let a step that is not final lead to it",
                    f"{where}.due" if step.due is not None else f"{where}.automatic",
                )
            )
    for pkey, procedure in definitions.procedures.items():
        for i, event in enumerate(procedure.exit_on):
            if event not in EXIT_EVENTS:
                out.append(
                    Finding(
                        "unknown-exit-event",
                        f"{event!r} is not an exit event (known: {', '.join(EXIT_EVENTS)})",
                        f"procedures.{pkey}.exit_on[{i}]",
                    )
                )
        out.extend(_loops(definitions, pkey, procedure))
    return out


def _loops(definitions: Definitions, pkey: str, procedure: Procedure) -> list[Finding]:
    """Cycles among automatic steps that are due at once (they would run forever)."""
    fast = {
        k
        for k in procedure.steps
        if (s := definitions.steps.get(k)) is not None and s.automatic and is_immediate(s)
    }
    edges: dict[str, set[str]] = {k: set() for k in fast}
    for role in procedure.roles:
        for k in fast:
            edges[k].update(t for t in procedure.allowed(role, k) if t in fast)
    out: list[Finding] = []
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    shown = " -> ".join([*cycle, nxt])
                    out.append(
                        Finding(
                            "automatic-loop",
                            f"automatic steps {shown} follow each other and are due at once: "
                            "the scheduler would perform them forever; give one a wait "
                            "counted from the previous step",
                            f"procedures.{pkey}.matrix",
                        )
                    )
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = 2

    for node in sorted(fast):
        if node not in state:
            visit(node, [])
    return out
