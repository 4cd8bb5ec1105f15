"""Procedures, their role transition matrix (W5, W6), and the definitions bundle.

A procedure is an ordered list of step keys with a name and a description.
Its matrix says, per role, which steps may follow the prospect's last
completed step; the row :data:`START` says which steps may begin a procedure
on which nothing is done yet. The last completed step is the prospect's,
whoever performed it.

On construction a procedure precomputes a lookup ``(role, last step or None)
-> frozenset of next steps``, so deciding whether a move is allowed is one
dictionary lookup.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from crm_procedures.errors import InvalidInput, NotFound
from crm_procedures.model._mappings import any_map
from crm_procedures.model.dictionaries import Dictionary
from crm_procedures.procedures.effects import BookAppointment, CustomEffect, Effect, SendEmail
from crm_procedures.procedures.step import (
    BUILTIN_STEP_KINDS,
    MAKE_APPOINTMENT,
    PLAIN,
    SEND_EMAIL,
    ParamValue,
    Role,
    Step,
    StepKindSpec,
)
from crm_procedures.procedures.templates import EmailTemplate
from crm_procedures.procedures.timing.business_calendar import BusinessCalendar

if TYPE_CHECKING:
    from crm_procedures.model.prospect import Prospect

__all__ = [
    "ANY_STEP",
    "START",
    "AnyStep",
    "Definitions",
    "Procedure",
    "Start",
    "StepRef",
]


class Start(enum.Enum):
    """The type of :data:`START`."""

    START = "START"

    def __repr__(self) -> str:
        return "START"


START: Final = Start.START
"""The matrix row for "nothing done yet" (W6: steps that may begin a procedure).

Written ``START`` in TOML and JSON (a step may therefore not be keyed
``"START"``); a prospect on which nothing is done has ``last_step = None``.
"""


class AnyStep(enum.Enum):
    """The type of :data:`ANY_STEP`."""

    ANY_STEP = "*"

    def __repr__(self) -> str:
        return "ANY_STEP"


ANY_STEP: Final = AnyStep.ANY_STEP
"""In ``Procedure.corrections``: the role may register any step of the procedure
as a correction. Written ``"*"`` in TOML and JSON."""

StepRef = str | Literal[Start.START]
"""A matrix row key: a step key or :data:`START`."""

_EMPTY: frozenset[str] = frozenset()
_NO_EFFECTS: tuple[Effect, ...] = ()

EffectMaker = Callable[["Prospect"], tuple[Effect, ...]]


def _targets(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset((value,))
    return frozenset(value)


def _matrix(value: Any) -> Mapping[str, Mapping[StepRef, frozenset[str]]]:
    out: dict[str, Mapping[StepRef, frozenset[str]]] = {}
    for role, rows in any_map("matrix", value).items():
        converted: dict[StepRef, frozenset[str]] = {}
        for ref, targets in any_map(f"matrix[{role!r}]", rows).items():
            key: StepRef = START if ref is START or ref == "START" else ref
            converted[key] = _targets(targets)
        out[role] = MappingProxyType(converted)
    return MappingProxyType(out)


def _corrections(value: Any) -> Mapping[str, frozenset[str] | AnyStep]:
    out: dict[str, frozenset[str] | AnyStep] = {}
    for role, steps in any_map("corrections", value).items():
        out[role] = ANY_STEP if steps is ANY_STEP or steps == "*" else _targets(steps)
    return MappingProxyType(out)


def _str_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen(slots=True)
class Procedure:
    """An ordered set of steps with a role transition matrix (W5, W6).

    Attributes:
        key: how projects refer to the procedure.
        name: what people read.
        description: what the procedure is for.
        steps: the step keys, in the order people see them.
        version: raised on every change; a running project pins the version.
        matrix: role -> (last completed step or :data:`START`) -> steps that
            role may perform next.
        corrections: role -> steps the role may register as a correction of an
            earlier entry (W7 project leader), or :data:`ANY_STEP`.
        close_reasons: the keys of the ``close_reason`` choices a prospect of
            this procedure may be closed with (W8).
        exit_on: the events that take a prospect out of the automatic
            sequence (:data:`~crm_procedures.procedures.cadence.EXIT_EVENTS`):
            afterwards no automatic step of it is performed.
        on_appointment_lost: the ``make_appointment`` step that becomes
            available again when the appointment it booked is cancelled or
            declined by the contact (the history records a correction that
            withdraws the booking); ``None``: a lost appointment changes
            nothing in the procedure.

    The constructor does not validate; use
    :func:`~crm_procedures.procedures.validation.validate` (loading does).
    """

    key: str
    name: str
    description: str = ""
    steps: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    version: int = 1
    matrix: Mapping[str, Mapping[StepRef, frozenset[str]]] = attrs.field(
        factory=dict, converter=_matrix, hash=False
    )
    corrections: Mapping[str, frozenset[str] | AnyStep] = attrs.field(
        factory=dict, converter=_corrections, hash=False
    )
    close_reasons: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    exit_on: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    on_appointment_lost: str | None = None
    _next: dict[tuple[str, str | None], frozenset[str]] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    _worklist: dict[str, frozenset[str | None]] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    _effects: dict[str, EffectMaker] = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        nxt: dict[tuple[str, str | None], frozenset[str]] = {}
        worklist: dict[str, frozenset[str | None]] = {}
        for role, rows in self.matrix.items():
            after: list[str | None] = []
            for ref, targets in rows.items():
                last = None if ref is START else ref
                nxt[(role, last)] = targets
                if targets:
                    after.append(last)
            worklist[role] = frozenset(after)
        object.__setattr__(self, "_next", nxt)
        object.__setattr__(self, "_worklist", worklist)
        object.__setattr__(self, "_effects", {})

    def allowed(self, role: str, last_step: str | None) -> frozenset[str]:
        """The steps ``role`` may perform after ``last_step`` (``None`` = nothing done yet)."""
        return self._next.get((role, last_step), _EMPTY)

    def may_correct(self, role: str, step: str) -> bool:
        """True when ``role`` may register ``step`` as a correction (W7)."""
        rights = self.corrections.get(role)
        if rights is None:
            return False
        if rights is ANY_STEP:
            return step in self.steps
        return step in rights

    def worklist_last_steps(self, role: str) -> frozenset[str | None]:
        """The last-step values after which ``role`` may do something (``None`` = START)."""
        return self._worklist.get(role, frozenset())

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles that have rows in the matrix, in definition order."""
        return tuple(self.matrix)

    def bound_to(self, steps: Mapping[str, Step], kinds: Mapping[str, StepKindSpec]) -> Procedure:
        """A copy that knows the effects of its typed steps (used by :class:`Definitions`).

        A procedure on its own does not know what its steps do; one inside a
        :class:`Definitions` bundle returns :class:`SendEmail`,
        :class:`BookAppointment` and :class:`CustomEffect` effects when its
        steps are performed.
        """
        copy = attrs.evolve(self)
        effects: dict[str, EffectMaker] = {}
        for key in self.steps:
            step = steps.get(key)
            if step is not None:
                maker = _effect_maker(step, kinds)
                if maker is not None:
                    effects[key] = maker
        object.__setattr__(copy, "_effects", effects)
        return copy


def _effect_maker(step: Step, kinds: Mapping[str, StepKindSpec]) -> EffectMaker | None:
    if step.kind == PLAIN:
        return None
    if step.kind == SEND_EMAIL:
        if step.template is None:
            return None
        key, template = step.key, step.template
        return lambda prospect: (SendEmail(key, template, prospect.contact_id),)
    if step.kind == MAKE_APPOINTMENT:
        if step.duration_minutes is None:
            return None
        booked = (BookAppointment(step.key, step.duration_minutes, step.appointment_with),)
        return lambda _prospect: booked
    if step.kind not in kinds:
        return None
    params: dict[str, ParamValue] = dict(step.params)
    for name in ("template", "duration_minutes", "appointment_with"):
        value = getattr(step, name)
        if value is not None:
            params[name] = value
    custom = (CustomEffect(step.kind, step.key, params),)
    return lambda _prospect: custom


def _keyed(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return MappingProxyType(dict(value))
    out: dict[str, Any] = {}
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput("definitions", "must be a mapping or a list of keyed definitions", value)
    for item in value:
        if not isinstance(getattr(item, "key", None), str):
            raise InvalidInput("definitions", "holds an item that is no keyed definition", item)
        if item.key in out:
            raise InvalidInput("key", f"{item.key!r} is defined twice", item.key)
        out[item.key] = item
    return MappingProxyType(out)


def _close_reason_dictionary(value: Dictionary | None) -> Dictionary:
    return Dictionary("close_reason") if value is None else value


def _dictionaries(value: Any) -> tuple[Dictionary, ...]:
    return tuple(value)


@attrs.frozen(slots=True)
class Definitions:
    """Everything an installation defines: roles, steps, templates, procedures, lists.

    Each collection maps keys to definitions (an iterable of definitions is
    accepted too and keyed by their ``key``). ``close_reasons`` is the
    ``close_reason`` choice list (W8); ``dictionaries`` are the other choice
    lists. ``version`` is the version of the whole bundle. The procedures kept
    here are bound to the steps (see :meth:`Procedure.bound_to`).
    ``calendars`` are the business calendars due rules and send windows name;
    ``time_zone`` is the project's zone (wall clock of due rules and send
    windows when the contact has none), ``None`` for UTC.

    Raises:
        InvalidInput: an iterable holds two definitions with the same key.
    """

    roles: Mapping[str, Role] = attrs.field(factory=dict, converter=_keyed, hash=False)
    steps: Mapping[str, Step] = attrs.field(factory=dict, converter=_keyed, hash=False)
    templates: Mapping[str, EmailTemplate] = attrs.field(factory=dict, converter=_keyed, hash=False)
    procedures: Mapping[str, Procedure] = attrs.field(factory=dict, converter=_keyed, hash=False)
    step_kinds: Mapping[str, StepKindSpec] = attrs.field(factory=dict, converter=_keyed, hash=False)
    close_reasons: Dictionary = attrs.field(default=None, converter=_close_reason_dictionary)
    dictionaries: tuple[Dictionary, ...] = attrs.field(default=(), converter=_dictionaries)
    version: int = 1
    calendars: Mapping[str, BusinessCalendar] = attrs.field(
        factory=dict, converter=_keyed, hash=False
    )
    time_zone: str | None = None

    def __attrs_post_init__(self) -> None:
        kinds = {**BUILTIN_STEP_KINDS, **self.step_kinds}
        bound = {k: p.bound_to(self.steps, kinds) for k, p in self.procedures.items()}
        object.__setattr__(self, "procedures", MappingProxyType(bound))

    def procedure(self, key: str) -> Procedure:
        """The procedure ``key``. Raises NotFound when there is none."""
        try:
            return self.procedures[key]
        except KeyError:
            raise NotFound("procedure", key) from None

    def step(self, key: str) -> Step:
        """The step ``key``. Raises NotFound when there is none."""
        try:
            return self.steps[key]
        except KeyError:
            raise NotFound("step", key) from None

    def template(self, key: str) -> EmailTemplate:
        """The e-mail template ``key``. Raises NotFound when there is none."""
        try:
            return self.templates[key]
        except KeyError:
            raise NotFound("template", key) from None

    def dictionary(self, key: str) -> Dictionary:
        """The choice list ``key`` (``close_reason`` included). Raises NotFound."""
        if key == self.close_reasons.key:
            return self.close_reasons
        for d in self.dictionaries:
            if d.key == key:
                return d
        raise NotFound("dictionary", key)
