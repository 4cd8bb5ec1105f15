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

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from crm_procedures.model.dictionaries import Dictionary
from crm_procedures.ports import BlobStore, Calendar, Clock, Mailer, Store
from crm_procedures.services.context import Context

if TYPE_CHECKING:
    from crm_procedures.procedures.procedure import Definitions

__all__ = ["CrmApp", "SystemClock"]


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
        calendar: publishes appointments (optional).
        blobs: document content (optional).
        settings: installation settings (sender address, language, limits).
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
    ctx: Context = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.ctx = Context(
            store=self.store,
            clock=self.clock,
            blobs=self.blobs,
            language=self.language,
            sender_email=self.sender_email,
            sender_name=self.sender_name,
            definitions=self.definitions,
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
