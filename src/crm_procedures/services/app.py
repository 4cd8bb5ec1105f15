"""The application facade: the ports wired together, and the services bound to them.

A host application builds one :class:`CrmApp` at start-up::

    app = CrmApp(store=open_store("sqlite:///crm.db"), clock=SystemClock(),
                 definitions=load_definitions("procedures.toml"),
                 mailer=SmtpMailer("smtp.example.com", 587, starttls=True))

and calls the service functions with ``app.ctx`` (see the modules of
:mod:`crm_procedures.services`), or the shortcuts on the facade. Tests use
:func:`crm_procedures.testing.in_memory_app`, which wires every port to its
in-memory adapter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model.dictionaries import Dictionary
from crm_procedures.ports import BlobStore, Calendar, Clock, Mailer, Store
from crm_procedures.services.context import Context

if TYPE_CHECKING:
    from crm_procedures.procedures.events import Event
    from crm_procedures.procedures.procedure import Definitions
    from crm_procedures.services.step_kinds import StepKind

__all__ = ["CrmApp", "SystemClock"]

_COUNTRY = re.compile(r"[A-Z]{2}")


class SystemClock:
    """The real clock: ``datetime.now`` in UTC (or in ``zone``)."""

    def __init__(self, zone: Any = UTC) -> None:
        self._zone = zone

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        return datetime.now(self._zone)


@attrs.define
class CrmApp:
    """The ports of one installation, and its definitions.

    Attributes:
        store: where records live.
        clock: where time comes from.
        definitions: procedures, templates, dictionaries (see ``load_definitions``).
        mailer: delivers e-mail from the outbox (optional until you dispatch).
        calendar: publishes appointments (optional); with one, booking, moving and
            cancelling also record a ``calendar`` outbox message for it.
        blobs: document content (optional).
        language: the installation's default language (en, nl, pl).
        sender_email: the installation's address: the From of every e-mail,
            ``{{organisation.email}}`` in templates.
        sender_name: the installation's name: the From display name,
            ``{{organisation.name}}`` in templates.
        step_kinds: the application's own step kinds (:class:`StepKind`), on
            top of the built-in ones and those installed packages register
            under the entry point group ``crm_procedures.step_kinds``; one of
            these replaces a built-in or discovered kind with the same key.
        discover_step_kinds: look for kinds in the entry point group (default on).
        on_event: the host's hook, called with each
            :class:`~crm_procedures.procedures.events.Event` (``reply``,
            ``bounce``, ``unsubscribe``, ``appointment_declined``, ...) after
            the unit of work that raised it committed; an exception it raises
            is reported as a warning and does not undo anything.
        unsubscribe_url: the https URL of the host's one-click unsubscribe
            endpoint (campaign e-mails then carry ``List-Unsubscribe``).
        unsubscribe_secret: the secret that signs unsubscribe tokens (bytes, >= 16).
        soft_bounce_limit: soft delivery failures after which an address is
            suppressed (default 3).
        country: where the installation is (ISO 3166 alpha-2, default ``NL``):
            the ``{{relation.address}}`` block of a relation abroad names its country.

    Raises:
        InvalidInput: ``step_kinds`` holds something that is not a StepKind,
            or two kinds with one key; ``country`` is not an ISO 3166 alpha-2 code.
    """

    store: Store
    clock: Clock
    definitions: Definitions | None = None
    mailer: Mailer | None = None
    calendar: Calendar | None = None
    blobs: BlobStore | None = None
    language: str = "en"
    sender_email: str = "crm@example.com"
    sender_name: str = "CRM"
    step_kinds: Iterable[StepKind] = ()
    discover_step_kinds: bool = True
    on_event: Callable[[Event], object] | None = None
    unsubscribe_url: str | None = None
    unsubscribe_secret: bytes | None = attrs.field(default=None, repr=False)
    soft_bounce_limit: int = 3
    country: str = "NL"
    ctx: Context = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        from crm_procedures.services.step_kinds import step_kind_registry

        if not (isinstance(self.country, str) and _COUNTRY.fullmatch(self.country)):
            raise InvalidInput(
                "country",
                "must be an ISO 3166 alpha-2 code in capitals, such as 'NL'",
                self.country,
            )
        registry = step_kind_registry(self.step_kinds, discover=self.discover_step_kinds)
        self.step_kinds = tuple(self.step_kinds)
        self.ctx = Context(
            store=self.store,
            clock=self.clock,
            blobs=self.blobs,
            language=self.language,
            country=self.country,
            sender_email=self.sender_email,
            sender_name=self.sender_name,
            definitions=self.definitions,
            step_kinds=registry,
            on_event=self.on_event,
            unsubscribe_url=self.unsubscribe_url,
            unsubscribe_secret=self.unsubscribe_secret,
            soft_bounce_limit=self.soft_bounce_limit,
            calendar_channel=self.calendar is not None,
        )

    @property
    def dictionaries(self) -> Mapping[str, Dictionary]:
        """The installation's dictionaries by key (empty without definitions)."""
        if self.definitions is None:
            return {}
        return {d.key: d for d in self.definitions.dictionaries}

    def close(self) -> None:
        """Release the store."""
        self.store.close()
