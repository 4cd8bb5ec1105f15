"""Step kinds as plugins: what performing a step of each kind does.

An application knows a registry of :class:`StepKind` objects, one per kind
key. ``send_email`` and ``make_appointment`` are registered exactly like a
host's own kinds; :func:`~crm_procedures.services.campaigns.perform_step`
looks the step's kind up in the registry and calls its handler with one
:class:`StepContext`. There is no branch per kind in the services.

A host registers its kinds once::

    app = CrmApp(store=..., clock=..., definitions=defs,
                 step_kinds=[StepKind("ticket", open_ticket)])

or ships them in a package, discoverable through the entry point group
``crm_procedures.step_kinds`` (each entry point loads a :class:`StepKind`, an
iterable of them, or a callable returning either)::

    [project.entry-points."crm_procedures.step_kinds"]
    ticket = "helpdesk.kinds:TICKET"

A handler runs inside the unit of work of the step: what it records commits
with the step or not at all. Outbound work goes through
:meth:`StepContext.emit`, which derives the idempotency key, id and times;
the key appears in :attr:`~crm_procedures.services.campaigns.StepResult.message_keys`
and the outbox dispatcher delivers it after the commit.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import attrs

from crm_procedures.errors import CrmError, InvalidInput
from crm_procedures.model._checks import MAX_LINE, require_aware
from crm_procedures.model._mappings import any_map
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.procedures.step import MAKE_APPOINTMENT, PLAIN, SEND_EMAIL, ParamValue

if TYPE_CHECKING:
    from crm_procedures.access.viewer import Viewer
    from crm_procedures.model.appointment import Appointment
    from crm_procedures.model.contact import Contact
    from crm_procedures.model.project import Project
    from crm_procedures.model.prospect import Prospect
    from crm_procedures.model.relation import Relation
    from crm_procedures.ports import UnitOfWork
    from crm_procedures.procedures.effects import Effect
    from crm_procedures.procedures.procedure import Definitions
    from crm_procedures.procedures.step import Step
    from crm_procedures.services.context import Context

__all__ = [
    "ENTRY_POINT_GROUP",
    "StepContext",
    "StepHandler",
    "StepInputs",
    "StepKind",
    "builtin_step_kinds",
    "default_step_kinds",
    "discover_step_kinds",
    "step_kind_registry",
]

ENTRY_POINT_GROUP = "crm_procedures.step_kinds"
"""The entry point group a package registers its step kinds under."""

StepHandler = Callable[["StepContext"], None]
"""What a step kind does: called once per performed step, inside its unit of work."""


def _requires(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen(slots=True)
class StepKind:
    """A kind of step and what performing one does.

    Attributes:
        key: the ``kind`` steps name in the definitions (``"ticket"``).
        handler: called with a :class:`StepContext` when a step of this kind
            is performed; raising a ``CrmError`` refuses the step and nothing
            is stored.
        description: what the kind does, for people.
        requires: the step fields every step of the kind must fill (as in
            ``[step_kinds.x] requires``), for documentation and tools.
        unattended: the scheduler may perform steps of this kind with nobody
            present (``automatic = true`` steps); ``send_email`` may,
            ``make_appointment`` may not.

    Raises:
        InvalidInput: an empty key or a handler that is not callable.
    """

    key: str
    handler: StepHandler
    description: str = ""
    requires: tuple[str, ...] = attrs.field(default=(), converter=_requires)
    unattended: bool = False

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise InvalidInput("step_kind.key", "must be a non-empty text", self.key)
        if not callable(self.handler):
            raise InvalidInput(
                "step_kind.handler", f"the handler of kind {self.key!r} is not callable"
            )


def _frozen_mapping(value: Any) -> Mapping[str, Any]:
    return MappingProxyType(any_map("values", value))


@attrs.frozen(slots=True)
class StepInputs:
    """What the user gave with the step, beyond the step's own definition.

    Attributes:
        appointment_start: when a make-appointment step's appointment begins.
        appointment_with: the employee the appointment is with (a user id).
        location: where the appointment takes place.
        subject: an edited e-mail subject (template syntax allowed), or ``None``.
        text: an edited e-mail text (template syntax allowed), or ``None``.
        values: anything else a host's own kind asks the user for.
    """

    appointment_start: datetime | None = None
    appointment_with: str | None = None
    location: str = ""
    subject: str | None = None
    text: str | None = None
    values: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)


class _RecordingOutbox:
    """The unit of work's outbox, remembering what the step recorded."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.messages: list[OutboxMessage] = []

    def add(self, message: OutboxMessage) -> None:
        self._inner.add(message)
        self.messages.append(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _StepContacts:
    """The unit of work's contacts, each read at most once per step.

    A step reads the prospect's contact for its time zone (before and after
    the move), the suppression list and the e-mail's address and salutation:
    one read serves them all. Contacts are frozen records, so handing out the
    same one is safe. Anything but a plain ``get`` or ``find`` by id (a write,
    a list) forgets what was read, and goes to the repository.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._read: dict[str, Contact | None] = {}

    def find(self, record_id: str) -> Contact | None:
        found: Contact | None
        if not isinstance(cast(object, record_id), str):
            found = self._inner.find(record_id)
            return found
        if record_id in self._read:
            return self._read[record_id]
        found = self._inner.find(record_id)
        self._read[record_id] = found
        return found

    def get(self, record_id: str, viewer: Viewer | None = None) -> Contact:
        if viewer is not None or not isinstance(cast(object, record_id), str):
            contact: Contact = self._inner.get(record_id, viewer)
            return contact
        found = self._read.get(record_id)
        if found is None:
            # Unread, or read as missing: the repository reads it (and names NotFound).
            found = self._inner.get(record_id)
            self._read[record_id] = found
        return found

    def __getattr__(self, name: str) -> Any:
        self._read.clear()
        return getattr(self._inner, name)


class _StepUnitOfWork:
    """The step's unit of work as a handler sees it: a recording outbox, contacts read once."""

    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner
        self.outbox = _RecordingOutbox(inner.outbox)
        self.contacts = _StepContacts(inner.contacts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@attrs.define(eq=False)
class StepContext:
    """Everything a step kind's handler needs, and the one call that records outbound work.

    Attributes:
        services: the application's service context (store, clock, settings).
        uow: the step's unit of work; records added here commit with the step.
        viewer: the acting user's rights.
        actor: the acting user's id.
        role: the role the actor performs the step in.
        project: the prospect's campaign project.
        prospect: the prospect, with the step already appended to its history.
        definitions: the definitions the campaign is pinned to.
        step: the step's definition (key, name, kind, template, params, ...).
        effect: what the engine returned for the step.
        now: the time of the step.
        inputs: what the user gave with the step (:class:`StepInputs`).
        appointment: the appointment a make-appointment step booked.
    """

    services: Context
    uow: UnitOfWork
    viewer: Viewer
    actor: str
    role: str
    project: Project
    prospect: Prospect
    definitions: Definitions
    step: Step
    effect: Effect
    now: datetime
    inputs: StepInputs = attrs.field(factory=StepInputs)
    appointment: Appointment | None = None
    _names: dict[str, int] = attrs.field(factory=dict, init=False, repr=False)

    @property
    def params(self) -> Mapping[str, ParamValue]:
        """The step's ``params`` plus ``template``, ``duration_minutes``, ``appointment_with``."""
        params: dict[str, ParamValue] = dict(self.step.params)
        for name in ("template", "duration_minutes", "appointment_with"):
            value = getattr(self.step, name)
            if value is not None:
                params[name] = value
        return MappingProxyType(params)

    @property
    def message_keys(self) -> tuple[str, ...]:
        """The outbox keys recorded during this step so far, in order."""
        outbox = self.uow.outbox
        messages = outbox.messages if isinstance(outbox, _RecordingOutbox) else []
        return tuple(dict.fromkeys(m.key for m in messages))

    @property
    def messages(self) -> tuple[OutboxMessage, ...]:
        """The outbox messages recorded during this step so far, in order."""
        outbox = self.uow.outbox
        return tuple(outbox.messages) if isinstance(outbox, _RecordingOutbox) else ()

    def contact(self) -> Contact:
        """The prospect's contact person.

        Raises:
            InvalidInput: the prospect has no contact person.
        """
        if self.prospect.contact_id is None:
            raise InvalidInput(
                "contact_id",
                f"step {self.step.key!r} needs the prospect's contact person, but prospect "
                f"{self.prospect.id} has none; set one first",
            )
        return self.uow.contacts.get(self.prospect.contact_id)

    def relation(self) -> Relation:
        """The prospect's relation (the company)."""
        return self.uow.relations.get(self.prospect.relation_id)

    def key(self, name: str) -> str:
        """A fresh idempotency key for this step's outbound ``name`` (``"sms"``).

        The key is derived from the prospect and the step's place in its
        history, so performing the step once gives one key, whoever retries
        delivery. Asking for the same name again in one step gives a numbered key.

        Raises:
            InvalidInput: ``name`` is empty or contains a colon or whitespace.
        """
        if not isinstance(name, str) or not name or any(c == ":" or c.isspace() for c in name):
            raise InvalidInput("name", "must be a non-empty word without ':' or spaces", name)
        count = self._names.get(name, 0) + 1
        self._names[name] = count
        seq = len(self.prospect.history)
        suffix = name if count == 1 else f"{name}:{count}"
        return f"prospect:{self.prospect.id}:entry:{seq}:{suffix}"

    def emit(
        self,
        channel: str,
        payload: Mapping[str, Any],
        *,
        name: str | None = None,
        key: str | None = None,
        due_at: datetime | None = None,
        delay: timedelta | None = None,
    ) -> str:
        """Record outbound work on ``channel`` in the outbox; returns its idempotency key.

        ``payload`` is plain JSON-compatible data the channel's sender
        understands. The key is derived with :meth:`key` from ``name``
        (default: the channel) unless ``key`` is given; the id and times come
        from the application. The message is due at ``due_at``, or ``now +
        delay``, or now.

        Raises:
            InvalidInput: an empty channel, a payload that is not a mapping
                of JSON-compatible data, a naive ``due_at``, or both
                ``due_at`` and ``delay``.
        """
        if not isinstance(channel, str) or not channel.strip():
            raise InvalidInput("channel", "must be a non-empty text", channel)
        if not isinstance(payload, Mapping):
            raise InvalidInput("payload", "must be a mapping of JSON-compatible data", payload)
        if due_at is not None and delay is not None:
            raise InvalidInput("due_at", "give due_at or delay, not both")
        when = self.now
        if due_at is not None:
            when = require_aware(due_at, "due_at")
        elif delay is not None:
            when = self.now + delay
        message_key = key if key is not None else self.key(name or channel)
        try:
            message = OutboxMessage(
                id=self.services.new_id(),
                key=message_key,
                channel=channel,
                payload=payload,
                created_at=self.now,
                due_at=when,
            )
        except CrmError:
            raise
        except (TypeError, ValueError) as exc:
            raise InvalidInput("payload", f"cannot be stored: {exc}", None) from None
        self.uow.outbox.add(message)
        return message_key


# -- the built-in kinds -------------------------------------------------------------------------


def _plain(_ctx: StepContext) -> None:
    """A plain step has no side effect."""


def _send_email(ctx: StepContext) -> None:
    from crm_procedures.services.inbound import (
        check_sendable,
        remember_sent,
        unsubscribe_headers,
    )
    from crm_procedures.services.messages import step_email

    msg_key = ctx.key("mail")
    contact_id = ctx.prospect.contact_id
    contact = ctx.uow.contacts.find(contact_id) if contact_id is not None else None
    # The suppression list (opt-outs, hard bounces): a person's step is refused,
    # an automatic one sends nothing and records the skip.
    if (
        contact is not None
        and contact.email
        and not check_sendable(
            ctx.uow,
            contact.email,
            actor=ctx.actor,
            prospect_id=ctx.prospect.id,
            now=ctx.now,
            step=ctx.step.key,
        )
    ):
        return
    message = step_email(ctx, msg_key)
    if ctx.prospect.contact_id is not None:
        for name, value in unsubscribe_headers(
            ctx.services, ctx.prospect.contact_id, ctx.project.id, ctx.now
        ).items():
            message[name] = value
    ctx.emit("mail", {"message": message.as_string()}, key=msg_key)
    recorded = ctx.messages[-1] if ctx.messages else None
    if recorded is not None and recorded.key == msg_key:
        remember_sent(
            ctx.uow,
            recorded,
            message,
            prospect_id=ctx.prospect.id,
            actor=ctx.actor,
            now=ctx.now,
        )


def _make_appointment(ctx: StepContext) -> None:
    from crm_procedures.services.agenda import book_appointment_in

    start = ctx.inputs.appointment_start
    if start is None:
        raise InvalidInput(
            "appointment_start",
            f"step {ctx.step.key!r} books an appointment: give appointment_start",
        )
    require_aware(start, "appointment_start")
    duration = ctx.step.duration_minutes
    if duration is None:
        raise InvalidInput(
            "duration_minutes", f"step {ctx.step.key!r} books an appointment but has no duration"
        )
    employee = ctx.inputs.appointment_with
    with_role = ctx.step.appointment_with
    if employee is None and with_role is not None:
        members = ctx.project.members.get(with_role, ())
        employee = members[0] if members else None
    employee = employee or ctx.viewer.user_id
    relation = ctx.relation()
    # The matrix authorised this step, which includes booking in the agenda
    # of the employee the procedure names: the actor acts with that right.
    booking_viewer = attrs.evolve(
        ctx.viewer, permissions=ctx.viewer.permissions | {"activity.write", "activity.read_all"}
    )
    try:
        end = start + timedelta(minutes=duration)
    except OverflowError:
        raise InvalidInput(
            "appointment_start",
            f"an appointment of {duration} minutes from {start} would end after the year 9999",
            start,
        ) from None
    title = f"{ctx.step.name}: {relation.name}"
    if len(title) > MAX_LINE:
        # A long relation name after the step's name: the title is one readable line.
        title = title[: MAX_LINE - 1] + "\u2026"
    result = book_appointment_in(
        ctx.uow,
        ctx.services,
        booking_viewer,
        employee=employee,
        start=start,
        end=end,
        title=title,
        relation_id=ctx.prospect.relation_id,
        contact_id=ctx.prospect.contact_id,
        project_id=ctx.project.id,
        prospect_id=ctx.prospect.id,
        location=ctx.inputs.location,
        description=f"{ctx.project.name}",
        allow_conflicts=True,
    )
    ctx.appointment = result.appointment


_BUILTIN: tuple[StepKind, ...] = (
    StepKind(PLAIN, _plain, "a step with no side effect"),
    StepKind(
        SEND_EMAIL, _send_email, "sends an e-mail from a template", ("template",), unattended=True
    ),
    StepKind(
        MAKE_APPOINTMENT,
        _make_appointment,
        "books an appointment with the contact and invites them",
        ("duration_minutes",),
    ),
)


def builtin_step_kinds() -> tuple[StepKind, ...]:
    """The kinds every application knows: ``plain``, ``send_email``, ``make_appointment``."""
    return _BUILTIN


def _kinds_of(value: Any, where: str) -> list[StepKind]:
    if isinstance(value, StepKind):
        return [value]
    if callable(value):
        return _kinds_of(value(), where)
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        out = []
        for item in value:
            if not isinstance(item, StepKind):
                raise InvalidInput(where, f"expected StepKind objects, got {type(item).__name__}")
            out.append(item)
        return out
    raise InvalidInput(where, f"expected a StepKind or an iterable of them, got {value!r}")


@functools.cache
def discover_step_kinds() -> tuple[StepKind, ...]:
    """The step kinds installed packages register under :data:`ENTRY_POINT_GROUP`.

    Found once per process. An entry point that fails to load is skipped with
    a warning naming it (a broken plugin does not stop the application).
    """
    from importlib.metadata import entry_points

    found: list[StepKind] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.extend(_kinds_of(ep.load(), f"entry point {ep.name!r}"))
        except Exception as exc:  # a plugin's own failure, reported and skipped
            warnings.warn(
                f"step kind entry point {ep.name!r} ({ep.value}) could not be loaded: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
    return tuple(found)


def step_kind_registry(
    kinds: Iterable[StepKind] = (), *, discover: bool = True
) -> Mapping[str, StepKind]:
    """The registry an application uses: built-in, then discovered, then ``kinds``.

    A later registration of a key replaces an earlier one, so a host may
    replace a built-in kind (its own ``send_email``). Two of ``kinds`` with
    one key are refused.

    Raises:
        InvalidInput: ``kinds`` holds something that is not a StepKind, or
            two kinds with the same key.
    """
    registry: dict[str, StepKind] = {k.key: k for k in _BUILTIN}
    if discover:
        registry.update({k.key: k for k in discover_step_kinds()})
    given: dict[str, StepKind] = {}
    for kind in _kinds_of(list(kinds), "step_kinds"):
        if kind.key in given:
            raise InvalidInput(
                "step_kinds", f"step kind {kind.key!r} is registered twice", kind.key
            )
        given[kind.key] = kind
    registry.update(given)
    return MappingProxyType(registry)


def default_step_kinds() -> Mapping[str, StepKind]:
    """Built-in and discovered kinds: the registry of an application given none."""
    return step_kind_registry()


LegacyHandler = Callable[[Any, Any, Any, Any], None]


def legacy_kinds(handlers: Mapping[str, LegacyHandler]) -> Sequence[StepKind]:
    """StepKinds calling old-style ``handler(uow, ctx, prospect, effect)`` functions."""

    def wrap(handler: LegacyHandler) -> StepHandler:
        def call(ctx: StepContext) -> None:
            handler(ctx.uow, ctx.services, ctx.prospect, ctx.effect)

        return call

    return [StepKind(key, wrap(h)) for key, h in handlers.items()]
