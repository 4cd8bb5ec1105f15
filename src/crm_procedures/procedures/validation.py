"""Static validation of definitions (X2): every problem, before anything runs.

:func:`validate` is a pure function from a :class:`Definitions` bundle to a
list of :class:`~crm_procedures.errors.Finding`. It runs in time linear in the
size of the definitions (steps, roles and matrix edges): reachability is one
breadth-first search over the union of all roles' edges.

Stable finding codes (severity in brackets):

========================== =====================================================
code                       meaning
========================== =====================================================
invalid-key [error]        a key is empty, not ``[A-Za-z_][A-Za-z0-9_-]*``, or
                           longer than :data:`MAX_KEY` characters
invalid-name [error]       a name or label has a line break, a control
                           character or a lone surrogate, or is longer than
                           :data:`MAX_NAME` characters
invalid-text [error]       a description has a control character other than
                           TAB/LF/CR or a lone surrogate, or is too long
invalid-param [error]      a step parameter is a number outside 64 bits or
                           text that breaks the text rule
key-mismatch [error]       a collection maps a key to a definition with another key
reserved-step-key [error]  a step is keyed ``START`` or ``*``
empty-name [error]         a step or procedure has no name
unknown-step-kind [error]  a step's kind is neither built in nor declared
step-kind-redefined [warn] a declared step kind reuses a built-in kind's key
missing-template [error]   a ``send_email`` step names no template
unknown-template [error]   a step names a template that does not exist
template-* [error]         a template is malformed (see ``check_template``)
missing-duration [error]   a ``make_appointment`` step has no duration
invalid-duration [error]   a duration is not a whole number of minutes from 1
                           to :data:`MAX_DURATION_MINUTES`
missing-step-field [error] a step lacks a field its declared kind requires
unknown-role [error]       a matrix (or ``appointment_with``) names an undefined role
empty-procedure [error]    a procedure has no steps
duplicate-step [error]     a procedure lists a step twice
unknown-step [error]       a procedure, matrix or correction names an undefined step
step-not-in-procedure      a matrix or correction names a defined step the
[error]                    procedure does not list
empty-matrix [error]       no role may do anything in a procedure
role-cannot-start [error]  no role may start the procedure (reported per role)
role-never-acts [warning]  a role's rows all follow steps nobody can reach
unreachable-step [error]   no role can ever reach the step from START
dead-end [error]           nobody may go on after a step not marked ``final``
correction-unknown-role    a correction right names an undefined role
[error]
empty-close-reasons [err]  a procedure has no close reasons (it could never close)
unknown-close-reason [err] a close reason is not in the ``close_reason`` list
invalid-version [error]    a version below 1 or above :data:`MAX_VERSION`
lost-not-booking [error]   ``on_appointment_lost`` names a step that is not a
                           ``make_appointment`` step
========================== =====================================================

The time rules (due rules, calendars, send windows, automatic steps, exit
events) add the codes of :func:`~crm_procedures.procedures.timing.validate_timing`
and :func:`~crm_procedures.procedures.cadence.check_cadence`.

A role without a START row is normal when another role starts (the client of
the standard procedure acts only after an appointment); it is reported as
``role-cannot-start`` only when *no* role can start, and as
``role-never-acts`` when the steps it could act after can never be reached.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from typing import Any

from crm_procedures.errors import Finding, InvalidInput
from crm_procedures.model._checks import check_note, one_line, shown
from crm_procedures.procedures.procedure import ANY_STEP, START, Definitions, Procedure
from crm_procedures.procedures.step import (
    BUILTIN_STEP_KINDS,
    MAKE_APPOINTMENT,
    SEND_EMAIL,
    Step,
    StepKindSpec,
)
from crm_procedures.procedures.templates import check_template

__all__ = [
    "KEY_PATTERN",
    "MAX_DURATION_MINUTES",
    "MAX_KEY",
    "MAX_NAME",
    "MAX_VERSION",
    "errors",
    "validate",
]

KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
"""What role, step, template, kind and procedure keys look like."""

MAX_KEY = 200
"""The longest key (of a role, step, template, kind or procedure), in characters."""

MAX_NAME = 200
"""The longest step or procedure name or role label, in characters.

A step's name becomes the subject of the activity recorded for it and part of
the title of the appointments it books, so it is one line of readable length.
"""

MAX_DURATION_MINUTES = 7 * 24 * 60
"""The longest appointment a step may book: one week (10,080 minutes)."""

MAX_VERSION = 2**31 - 1
"""The highest version number a definition may carry (larger ones are typing mistakes)."""

_PARAM_MIN = -(2**63)
_PARAM_MAX = 2**63 - 1

_RESERVED = frozenset({"START", "*"})
_STEP_ATTRIBUTES = ("template", "duration_minutes", "appointment_with")


def errors(findings: list[Finding]) -> list[Finding]:
    """The findings of severity ``error`` (those that make a definition unusable)."""
    return [f for f in findings if f.severity == "error"]


def validate(definitions: Definitions) -> list[Finding]:
    """Every problem in ``definitions``, as findings (empty when all is well).

    Never raises for a problem in the definitions; each one is a finding with
    a stable ``code`` (see the module documentation), a severity, a message
    saying how to fix it, and a location (``procedures.standard.matrix.client.call``).
    """
    out: list[Finding] = []
    _check_keys(definitions, out)
    kinds: dict[str, StepKindSpec] = {**BUILTIN_STEP_KINDS, **definitions.step_kinds}
    for key in definitions.step_kinds:
        if key in BUILTIN_STEP_KINDS:
            out.append(
                Finding(
                    "step-kind-redefined",
                    f"step kind {key!r} is built in; the declaration replaces its requirements",
                    f"step_kinds.{key}",
                    "warning",
                )
            )
    for step in definitions.steps.values():
        _check_step(step, definitions, kinds, out)
    for template in definitions.templates.values():
        out.extend(check_template(template))
    _check_version(definitions.version, "version", out)
    for role in definitions.roles.values():
        _check_name(role.label, f"roles.{role.key}.label", out)
    for spec in definitions.step_kinds.values():
        _check_text(spec.description, f"step_kinds.{spec.key}.description", out)
    reasons = {c.key for c in definitions.close_reasons.choices}
    for procedure in definitions.procedures.values():
        _check_procedure(procedure, definitions, reasons, out)
    from crm_procedures.procedures.outcomes import check_outcomes

    out.extend(check_outcomes(definitions))
    from crm_procedures.procedures.cadence import check_cadence

    out.extend(check_cadence(definitions))
    return out


def _check_version(version: Any, where: str, out: list[Finding]) -> None:
    if isinstance(version, bool) or not isinstance(version, int):
        out.append(Finding("invalid-version", "the version must be a whole number", where))
    elif not 1 <= version <= MAX_VERSION:
        out.append(
            Finding(
                "invalid-version",
                f"the version must be 1 or higher and at most {MAX_VERSION}, not {shown(version)}",
                where,
            )
        )


def _check_name(value: Any, where: str, out: list[Finding]) -> None:
    """A name or label: one line without control characters, at most MAX_NAME characters."""
    if isinstance(value, str) and len(value) > MAX_NAME:
        out.append(
            Finding(
                "invalid-name",
                f"has {len(value)} characters; at most {MAX_NAME} are allowed",
                where,
            )
        )
        return
    try:
        one_line(None, where, value)
    except InvalidInput as exc:
        out.append(Finding("invalid-name", exc.reason, where))


def _check_text(value: Any, where: str, out: list[Finding]) -> None:
    """A description: the free-text (note) rule."""
    try:
        check_note(value, where)
    except InvalidInput as exc:
        out.append(Finding("invalid-text", exc.reason, where))


def _check_param(value: Any, where: str, out: list[Finding]) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not _PARAM_MIN <= value <= _PARAM_MAX:
            out.append(
                Finding(
                    "invalid-param",
                    f"{shown(value)} does not fit in 64 bits (TOML's integers)",
                    where,
                )
            )
        return
    try:
        check_note(value, where)
    except InvalidInput as exc:
        out.append(Finding("invalid-param", exc.reason, where))


def _check_keys(definitions: Definitions, out: list[Finding]) -> None:
    collections: tuple[tuple[str, Mapping[str, object]], ...] = (
        ("roles", definitions.roles),
        ("steps", definitions.steps),
        ("templates", definitions.templates),
        ("step_kinds", definitions.step_kinds),
        ("procedures", definitions.procedures),
    )
    for section, items in collections:
        for key, item in items.items():
            where = f"{section}.{key}"
            if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
                out.append(
                    Finding(
                        "invalid-key",
                        f"{shown(key)} is not a valid key: use letters, digits, '_' and '-', "
                        "starting with a letter or '_'",
                        where,
                    )
                )
            elif len(key) > MAX_KEY:
                out.append(
                    Finding(
                        "invalid-key",
                        f"the key has {len(key)} characters; at most {MAX_KEY} are allowed",
                        f"{section}.{key[:40]}...",
                    )
                )
            own = getattr(item, "key", key)
            if own != key:
                out.append(
                    Finding("key-mismatch", f"is keyed {key!r} but its own key is {own!r}", where)
                )
    for key in definitions.steps:
        if key in _RESERVED:
            out.append(
                Finding(
                    "reserved-step-key",
                    f"{key!r} is reserved (START is the matrix row for 'nothing done yet', "
                    "'*' means any step); rename the step",
                    f"steps.{key}",
                )
            )


def _check_step(
    step: Step, definitions: Definitions, kinds: Mapping[str, StepKindSpec], out: list[Finding]
) -> None:
    where = f"steps.{step.key}"
    if isinstance(step.name, str) and not step.name.strip():
        out.append(Finding("empty-name", "the step has no name", f"{where}.name"))
    else:
        _check_name(step.name, f"{where}.name", out)
    _check_text(step.description, f"{where}.description", out)
    for name, value in step.params.items():
        _check_param(value, f"{where}.params.{name}", out)
    if step.kind not in kinds:
        declared = ", ".join(sorted(kinds))
        out.append(
            Finding(
                "unknown-step-kind",
                f"kind {step.kind!r} is neither built in nor declared under [step_kinds] "
                f"(known: {declared})",
                f"{where}.kind",
            )
        )
    if step.kind == SEND_EMAIL and step.template is None:
        out.append(
            Finding(
                "missing-template",
                "a send_email step needs a template: add template = '<template key>'",
                f"{where}.template",
            )
        )
    if step.template is not None and step.template not in definitions.templates:
        out.append(
            Finding(
                "unknown-template",
                f"template {step.template!r} is not defined under [templates]",
                f"{where}.template",
            )
        )
    if step.kind == MAKE_APPOINTMENT and step.duration_minutes is None:
        out.append(
            Finding(
                "missing-duration",
                "a make_appointment step needs duration_minutes (the appointment's length)",
                f"{where}.duration_minutes",
            )
        )
    d = step.duration_minutes
    if d is not None and (
        isinstance(d, bool) or not isinstance(d, int) or not 0 < d <= MAX_DURATION_MINUTES
    ):
        out.append(
            Finding(
                "invalid-duration",
                f"duration_minutes must be a whole number from 1 to {MAX_DURATION_MINUTES} "
                f"(one week), not {shown(d)}",
                f"{where}.duration_minutes",
            )
        )
    if step.appointment_with is not None and step.appointment_with not in definitions.roles:
        out.append(
            Finding(
                "unknown-role",
                f"appointment_with names role {step.appointment_with!r}, which is not defined",
                f"{where}.appointment_with",
            )
        )
    spec = kinds.get(step.kind)
    if spec is not None and step.kind not in BUILTIN_STEP_KINDS:
        for field in spec.requires:
            if field in _STEP_ATTRIBUTES:
                missing = getattr(step, field) is None
            else:
                missing = field not in step.params
            if missing:
                out.append(
                    Finding(
                        "missing-step-field",
                        f"steps of kind {step.kind!r} need {field!r}",
                        f"{where}.{field}" if field in _STEP_ATTRIBUTES else f"{where}.params",
                    )
                )


def _check_procedure(
    procedure: Procedure, definitions: Definitions, reasons: set[str], out: list[Finding]
) -> None:
    base = f"procedures.{procedure.key}"
    defined = definitions.steps
    if isinstance(procedure.name, str) and not procedure.name.strip():
        out.append(Finding("empty-name", "the procedure has no name", f"{base}.name"))
    _check_version(procedure.version, f"{base}.version", out)
    _check_name(procedure.name, f"{base}.name", out)
    _check_text(procedure.description, f"{base}.description", out)
    if not procedure.steps:
        out.append(Finding("empty-procedure", "the procedure lists no steps", f"{base}.steps"))
    members: set[str] = set()
    for i, key in enumerate(procedure.steps):
        if key in members:
            out.append(
                Finding("duplicate-step", f"step {key!r} is listed twice", f"{base}.steps[{i}]")
            )
        members.add(key)
        if key not in defined:
            out.append(
                Finding(
                    "unknown-step",
                    f"step {key!r} is not defined under [steps]",
                    f"{base}.steps[{i}]",
                )
            )

    def check_ref(key: str, where: str) -> bool:
        if key in members:
            return True
        if key in defined:
            out.append(
                Finding(
                    "step-not-in-procedure",
                    f"step {key!r} is defined but not in this procedure's steps; add it there",
                    where,
                )
            )
        else:
            hint = " (the row for 'nothing done yet' is spelled START)" if key == "start" else ""
            out.append(
                Finding("unknown-step", f"step {key!r} is not defined under [steps]{hint}", where)
            )
        return False

    roles = definitions.roles
    starters = 0
    for role, rows in procedure.matrix.items():
        where_role = f"{base}.matrix.{role}"
        if role not in roles:
            out.append(
                Finding("unknown-role", f"role {role!r} is not defined under [roles]", where_role)
            )
        if rows.get(START):
            starters += 1
        for ref, targets in rows.items():
            where = f"{where_role}.{'START' if ref is START else ref}"
            if ref is not START:
                check_ref(ref, where)
            for target in targets:
                if target not in members:
                    check_ref(target, where)

    for role, rights in procedure.corrections.items():
        where = f"{base}.corrections.{role}"
        if role not in roles:
            out.append(
                Finding(
                    "correction-unknown-role",
                    f"role {role!r} has correction rights but is not defined under [roles]",
                    where,
                )
            )
        if rights is not ANY_STEP:
            for key in sorted(rights):
                check_ref(key, where)

    if not procedure.close_reasons:
        out.append(
            Finding(
                "empty-close-reasons",
                "the procedure has no close reasons, so no prospect could ever be closed",
                f"{base}.close_reasons",
            )
        )
    for i, reason in enumerate(procedure.close_reasons):
        if reason not in reasons:
            out.append(
                Finding(
                    "unknown-close-reason",
                    f"close reason {reason!r} is not a choice of the close_reason list",
                    f"{base}.close_reasons[{i}]",
                )
            )

    lost = procedure.on_appointment_lost
    if lost is not None:
        where = f"{base}.on_appointment_lost"
        if check_ref(lost, where) and lost in defined and defined[lost].kind != MAKE_APPOINTMENT:
            out.append(
                Finding(
                    "lost-not-booking",
                    f"step {lost!r} books no appointment (kind {defined[lost].kind!r}); "
                    "name the make_appointment step to perform again",
                    where,
                )
            )

    if not procedure.matrix or not any(any(r.values()) for r in procedure.matrix.values()):
        out.append(
            Finding(
                "empty-matrix", "no role may perform any step; fill in the matrix", f"{base}.matrix"
            )
        )
        return
    if starters == 0:
        for role in procedure.matrix:
            out.append(
                Finding(
                    "role-cannot-start",
                    f"role {role!r} has no START row and no other role has one either: "
                    "nothing can ever be done; give at least one role a START row",
                    f"{base}.matrix.{role}",
                )
            )
    _check_graph(procedure, members, defined, base, out)


def _check_graph(
    procedure: Procedure,
    members: set[str],
    defined: Mapping[str, Step],
    base: str,
    out: list[Finding],
) -> None:
    row_sets = list(procedure.matrix.values())
    reached: set[str] = set()
    queue: deque[str] = deque()
    for rows in row_sets:
        for target in rows.get(START, ()):
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
    has_way_on: set[str] = set()
    for rows in row_sets:
        for ref, targets in rows.items():
            if targets and ref is not START:
                has_way_on.add(ref)
    steps = procedure.steps
    for key in steps:
        if key not in reached:
            out.append(
                Finding(
                    "unreachable-step",
                    f"no role can ever reach step {key!r} from START; add it to a matrix row",
                    f"{base}.steps",
                )
            )
    finals = {k for k in steps if k in defined and defined[k].final}
    for key in steps:
        if key not in has_way_on and key not in finals:
            out.append(
                Finding(
                    "dead-end",
                    f"after step {key!r} no role may do anything; give some role a row for it "
                    "or mark the step final = true",
                    f"{base}.matrix",
                )
            )
    for role, rows in procedure.matrix.items():
        if START in rows or not rows:
            continue
        if not any(ref in reached for ref, targets in rows.items() if targets):
            out.append(
                Finding(
                    "role-never-acts",
                    f"role {role!r} only has rows for steps nobody can reach, so it never acts",
                    f"{base}.matrix.{role}",
                    "warning",
                )
            )
