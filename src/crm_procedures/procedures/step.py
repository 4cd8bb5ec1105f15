"""Roles, typed steps and step kinds: the building blocks of a procedure (W2, W3).

These are definitions: immutable data, loaded from TOML/JSON/dicts by
:func:`crm_procedures.procedures.definitions.load_definitions` and checked by
:func:`crm_procedures.procedures.validation.validate`. Constructors do not
check values themselves, so that a loader can build a whole (possibly broken)
definition and report every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from crm_procedures.model._mappings import any_map
from crm_procedures.procedures.timing.due import DueRule
from crm_procedures.procedures.timing.send_window import SendWindow

__all__ = [
    "BUILTIN_STEP_KINDS",
    "MAKE_APPOINTMENT",
    "OUTCOMES",
    "PLAIN",
    "SEND_EMAIL",
    "ParamValue",
    "Role",
    "Step",
    "StepKindSpec",
]

PLAIN = "plain"
"""A step with no side effect (call, call back, ...)."""

SEND_EMAIL = "send_email"
"""Performing the step sends an e-mail from the step's ``template`` to the contact."""

MAKE_APPOINTMENT = "make_appointment"
"""Performing the step books an appointment of ``duration_minutes`` with the contact."""

OUTCOMES = ("won", "closed")
"""What a final step may end the procedure with (``Step.outcome``)."""

ParamValue = str | int | bool
"""The value types a step's free ``params`` may hold (TOML scalars)."""


def _params(value: Any) -> Mapping[str, ParamValue]:
    return MappingProxyType(any_map("params", value))


def _labels(value: Any) -> Mapping[str, str]:
    return MappingProxyType(any_map("labels", value))


def _requires(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen(slots=True)
class Role:
    """A project role (W2): marketeer, client, project leader, ...

    Roles are data: each installation defines its own. ``label`` is the name
    people read; the ``key`` is what matrices and prospects refer to.
    """

    key: str
    label: str = ""

    @property
    def title(self) -> str:
        """The label, or the key when no label is given."""
        return self.label or self.key


@attrs.frozen(slots=True)
class StepKindSpec:
    """A step kind an installation declares beyond the built-in ones.

    ``requires`` names the fields a step of this kind must fill: a step
    attribute (``template``, ``duration_minutes``, ``appointment_with``) or a key
    of the step's ``params``. ``unattended`` says a step of the kind may be
    performed by the scheduler with nobody present (``automatic = true``).
    The engine treats a declared kind as a plain step
    that yields a :class:`~crm_procedures.procedures.effects.CustomEffect`; the
    host application registers what to do with it at the service level.
    """

    key: str
    description: str = ""
    requires: tuple[str, ...] = attrs.field(default=(), converter=_requires)
    unattended: bool = False


BUILTIN_STEP_KINDS: Mapping[str, StepKindSpec] = MappingProxyType(
    {
        PLAIN: StepKindSpec(PLAIN, "a step with no side effect"),
        SEND_EMAIL: StepKindSpec(
            SEND_EMAIL, "sends an e-mail from a template", ("template",), unattended=True
        ),
        MAKE_APPOINTMENT: StepKindSpec(
            MAKE_APPOINTMENT, "books an appointment with the contact", ("duration_minutes",)
        ),
    }
)
"""The kinds every installation knows: plain, send_email and make_appointment.

Only ``send_email`` runs unattended: a plain step is something a person does
(a call), and booking an appointment needs a time somebody chose."""


@attrs.frozen(slots=True)
class Step:
    """A typed procedure step (W3).

    Attributes:
        key: how matrices and histories refer to the step.
        name: what people read ("Call back").
        kind: ``"plain"``, ``"send_email"``, ``"make_appointment"`` or a kind the
            installation declares (:class:`StepKindSpec`).
        template: the e-mail template key (``send_email`` steps).
        duration_minutes: the appointment's length (``make_appointment`` steps).
        appointment_with: the role whose employee the appointment is with
            (``"client"``); ``None`` means the employee who performs the step.
        final: the procedure may end here; validation does not call it a dead end.
        description: free text for people.
        params: extra settings for installation-declared kinds.
        outcome: what reaching this step ends the procedure with: ``"won"``
            (the relation becomes a customer) or ``"closed"`` (with
            ``close_reason``); ``None`` leaves the prospect running.
        close_reason: the close reason of an ``outcome = "closed"`` step.
        labels: the step's name per language (``{"nl": "Terugbellen"}``);
            ``name`` is used for a language without one.
        due: when the step becomes due (:class:`~crm_procedures.procedures.timing.DueRule`),
            or ``None`` for a step that is never due by itself.
        automatic: the scheduler performs the step when it is due (its kind
            must run unattended).
        send_window: when an automatic step may run (weekdays and hours on
            the contact's wall clock, else the project's), or ``None``: any time.
    """

    key: str
    name: str
    kind: str = PLAIN
    template: str | None = None
    duration_minutes: int | None = None
    appointment_with: str | None = None
    final: bool = False
    description: str = ""
    params: Mapping[str, ParamValue] = attrs.field(factory=dict, converter=_params, hash=False)
    outcome: str | None = None
    close_reason: str | None = None
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_labels, hash=False)
    due: DueRule | None = None
    automatic: bool = False
    send_window: SendWindow | None = None

    def label(self, language: str) -> str:
        """The step's name in ``language``, else its ``name``."""
        return self.labels.get(language) or self.name
