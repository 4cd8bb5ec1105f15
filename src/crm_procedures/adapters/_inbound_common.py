"""What the memory and SQL inbound repositories share: the record-by-key methods.

Each store keeps its own tables and list queries; the methods that only find, add
or replace one record by its key read the same on both, so they live here once.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from crm_procedures.errors import InvalidInput
from crm_procedures.model.inbound import (
    AddressStatus,
    InboxPosition,
    ProcessedMessage,
    SentMessage,
    UnmatchedMessage,
)

__all__ = ["InboundByKey", "RecordRepo", "text_key"]

R = TypeVar("R")


class RecordRepo(Protocol[R]):
    """The part of a store's generic repository the inbound records use."""

    def find(self, record_id: str) -> R | None: ...

    def get(self, record_id: str) -> R: ...

    def add(self, record: R) -> R: ...

    def save(self, record: R) -> R: ...


def text_key(field: str, value: object) -> str:
    """``value`` as a key, or InvalidInput naming ``field`` when it is not text."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text", value)
    return value


class InboundByKey:
    """The :class:`~crm_procedures.ports.InboundRepository` methods that work by key.

    A subclass sets the five repositories in its ``__init__`` and adds the list
    queries (``unmatched``, ``suppressed``) of its own store.
    """

    _sent: RecordRepo[SentMessage]
    _processed: RecordRepo[ProcessedMessage]
    _positions: RecordRepo[InboxPosition]
    _unmatched: RecordRepo[UnmatchedMessage]
    _addresses: RecordRepo[AddressStatus]

    def processed(self, message_id: str) -> ProcessedMessage | None:
        """The record of the message applied with this Message-ID, or ``None``."""
        return self._processed.find(text_key("message_id", message_id))

    def mark_processed(self, record: ProcessedMessage) -> ProcessedMessage:
        """Record a message as applied. Raises ConcurrencyConflict when it was already."""
        return self._processed.add(record)

    def add_sent(self, record: SentMessage) -> None:
        """Remember a sent e-mail's Message-ID (ignored when remembered already)."""
        if isinstance(record, SentMessage) and self._sent.find(record.id) is not None:
            return
        self._sent.add(record)

    def sent(self, message_id: str) -> SentMessage | None:
        """The e-mail sent with this Message-ID, or ``None``."""
        return self._sent.find(text_key("message_id", message_id))

    def position(self, inbox: str) -> InboxPosition | None:
        """Where the inbox was read up to, or ``None``."""
        return self._positions.find(text_key("inbox", inbox))

    def save_position(self, position: InboxPosition) -> InboxPosition:
        """Add (version 0) or replace (stored version) a position."""
        if isinstance(position, InboxPosition) and position.version == 0:
            return self._positions.add(position)
        return self._positions.save(position)

    def add_unmatched(self, message: UnmatchedMessage) -> UnmatchedMessage:
        """Keep a message for a person."""
        return self._unmatched.add(message)

    def get_unmatched(self, record_id: str) -> UnmatchedMessage:
        """One kept message. Raises NotFound."""
        return self._unmatched.get(record_id)

    def save_unmatched(self, message: UnmatchedMessage) -> UnmatchedMessage:
        """Store a changed kept message as version + 1."""
        return self._unmatched.save(message)

    def address(self, address: str) -> AddressStatus | None:
        """The delivery record of one address, or ``None``."""
        return self._addresses.find(text_key("address", address))

    def save_address(self, status: AddressStatus) -> AddressStatus:
        """Add (version 0) or replace (stored version) a delivery record."""
        if isinstance(status, AddressStatus) and status.version == 0:
            return self._addresses.add(status)
        return self._addresses.save(status)
