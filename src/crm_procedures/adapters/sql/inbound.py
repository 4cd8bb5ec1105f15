"""The inbound records of the SQL store (``uow.inbound``, ``uow.events``; migration 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from crm_procedures.adapters._common import check_limit, db_count, some_unstorable, sort_key
from crm_procedures.adapters._inbound_common import InboundByKey
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._repo import _Repo
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
    from crm_procedures.adapters.sql.store import SqlUnitOfWork

__all__ = ["SqlEventLog", "SqlInbound"]


class _ProcessedRepo(_Repo[ProcessedMessage]):
    def _columns(self, record: ProcessedMessage) -> tuple[Any, ...]:
        return (record.kind, sort_key(record.processed_at))


class _UnmatchedRepo(_Repo[UnmatchedMessage]):
    def _columns(self, record: UnmatchedMessage) -> tuple[Any, ...]:
        return (record.status.value, sort_key(record.received_at))


class _AddressRepo(_Repo[AddressStatus]):
    def _columns(self, record: AddressStatus) -> tuple[Any, ...]:
        return (None if record.suppressed is None else record.suppressed.value,)


class _EventRepo(_Repo[Event]):
    def _columns(self, record: Event) -> tuple[Any, ...]:
        return (record.prospect_id, record.name, sort_key(record.at))


class SqlInbound(InboundByKey):
    """:class:`~crm_procedures.ports.InboundRepository` over a SQL unit of work."""

    _unmatched: _UnmatchedRepo
    _addresses: _AddressRepo

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self._sent: _Repo[SentMessage] = _Repo(uow, "sent_message", SentMessage, s.sent_messages)
        self._processed = _ProcessedRepo(
            uow, "inbound_message", ProcessedMessage, s.inbound_messages
        )
        self._positions: _Repo[InboxPosition] = _Repo(
            uow, "inbox_position", InboxPosition, s.inbox_positions
        )
        self._unmatched = _UnmatchedRepo(
            uow, "unmatched_message", UnmatchedMessage, s.unmatched_messages
        )
        self._addresses = _AddressRepo(uow, "address_status", AddressStatus, s.address_statuses)

    def add_sent(self, record: SentMessage) -> None:
        """Remember a sent e-mail's Message-ID (ignored when remembered already): one statement."""
        self._sent.add_unless_stored(record)

    def unmatched(
        self, status: UnmatchedStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[UnmatchedMessage]:
        """Kept messages (of one status when given), oldest received first."""
        check_limit(limit, offset)
        t = s.unmatched_messages
        statement = select(t.c.data)
        if status is not None:
            wanted = to_enum(UnmatchedStatus, "status", status)
            statement = statement.where(t.c.status == wanted.value)
        statement = (
            statement.order_by(t.c.received_key, t.c.id)
            .limit(db_count(limit))
            .offset(db_count(offset))
        )
        return self._unmatched._many(statement)

    def suppressed(self, limit: int = 100, offset: int = 0) -> list[AddressStatus]:
        """Addresses that receive no more e-mail, by address."""
        check_limit(limit, offset)
        t = s.address_statuses
        statement = (
            select(t.c.data)
            .where(t.c.suppressed.is_not(None))
            .order_by(t.c.id)
            .limit(db_count(limit))
            .offset(db_count(offset))
        )
        return self._addresses._many(statement)


class SqlEventLog:
    """:class:`~crm_procedures.ports.EventLog` over a SQL unit of work."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self._events = _EventRepo(uow, "event", Event, s.events)

    def add(self, event: Event) -> bool:
        """Store an event; False when its id is stored already."""
        if isinstance(event, Event) and self._events.find(event.id) is not None:
            return False
        self._events.add(event)
        return True

    def of_prospect(self, prospect_id: str) -> list[Event]:
        """The events of one prospect, oldest first."""
        if not isinstance(prospect_id, str) or some_unstorable(prospect_id):
            return []
        t = s.events
        statement = (
            select(t.c.data).where(t.c.prospect_id == prospect_id).order_by(t.c.at_key, t.c.id)
        )
        return self._events._many(statement)
