"""The inbound records of the in-memory store (``uow.inbound``, ``uow.events``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_procedures.adapters._common import check_limit, sort_key
from crm_procedures.adapters._inbound_common import InboundByKey
from crm_procedures.errors import NotFound
from crm_procedures.model._checks import to_enum
from crm_procedures.model.inbound import (
    AddressStatus,
    InboxPosition,
    ProcessedMessage,
    SentMessage,
    UnmatchedMessage,
    UnmatchedStatus,
)
from crm_procedures.procedures.events import Event

if TYPE_CHECKING:
    from crm_procedures.adapters.memory import MemoryUnitOfWork

__all__ = ["INBOUND_TABLES", "MemoryEventLog", "MemoryInbound"]

INBOUND_TABLES: dict[str, tuple[str, ...]] = {
    "sent_message": (),
    "inbound_message": (),
    "inbox_position": (),
    "unmatched_message": ("status",),
    "address_status": (),
    "event": ("prospect_id",),
}
"""The memory store's tables of inbound records, with their indexed fields."""


class MemoryInbound(InboundByKey):
    """:class:`~crm_procedures.ports.InboundRepository` over a memory unit of work."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        from crm_procedures.adapters.memory import _Repo

        self._uow = uow
        self._sent = _Repo(uow, "sent_message", SentMessage)
        self._processed = _Repo(uow, "inbound_message", ProcessedMessage)
        self._positions = _Repo(uow, "inbox_position", InboxPosition)
        self._unmatched = _Repo(uow, "unmatched_message", UnmatchedMessage)
        self._addresses = _Repo(uow, "address_status", AddressStatus)

    def unmatched(
        self, status: UnmatchedStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[UnmatchedMessage]:
        """Kept messages (of one status when given), oldest received first."""
        check_limit(limit, offset)
        if status is None:
            found: list[UnmatchedMessage] = self._uow._records("unmatched_message")
        else:
            wanted = to_enum(UnmatchedStatus, "status", status)
            found = self._uow._records("unmatched_message", "status", wanted)
        found.sort(key=lambda m: (sort_key(m.received_at), m.id))
        return found[offset : offset + limit]

    def suppressed(self, limit: int = 100, offset: int = 0) -> list[AddressStatus]:
        """Addresses that receive no more e-mail, by address."""
        check_limit(limit, offset)
        found: list[AddressStatus] = [
            a for a in self._uow._records("address_status") if a.suppressed is not None
        ]
        found.sort(key=lambda a: a.id)
        return found[offset : offset + limit]


class MemoryEventLog:
    """:class:`~crm_procedures.ports.EventLog` over a memory unit of work."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        from crm_procedures.adapters.memory import _Repo

        self._uow = uow
        self._events = _Repo(uow, "event", Event)

    def add(self, event: Event) -> bool:
        """Store an event; False when its id is stored already."""
        if isinstance(event, Event) and self._events.find(event.id) is not None:
            return False
        self._events.add(event)
        return True

    def of_prospect(self, prospect_id: str) -> list[Event]:
        """The events of one prospect, oldest first."""
        if not isinstance(prospect_id, str):
            raise NotFound("prospect", str(prospect_id))
        found: list[Event] = self._uow._records("event", "prospect_id", prospect_id)
        found.sort(key=lambda e: (sort_key(e.at), e.id))
        return found
