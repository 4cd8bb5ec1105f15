"""Where an inbox was read up to, and what one fetch returns.

An :class:`~crm_procedures.ports.Inbox` hands out messages after a
:class:`InboxCursor`; each :class:`InboundMessage` carries the cursor that
covers it. The caller applies a message, then stores that message's cursor
(:meth:`InboxCursor.dump`) in the same unit of work. A poller killed between
the two re-reads the message on its next fetch; the store recognises it by its
Message-ID, so it is applied once.
"""

from __future__ import annotations

import re

import attrs

from crm_procedures.errors import InvalidInput

__all__ = ["InboundMessage", "InboxCursor"]

_DUMP_PREFIX = "inbox-cursor/1"
_PART = re.compile(r"[\x21-\x7e]{1,1024}")
"""Printable ASCII without spaces: an epoch or a position as it appears in a dump."""


def _check_part(name: str, value: object) -> None:
    if not isinstance(value, str) or not _PART.fullmatch(value):
        raise InvalidInput(
            f"cursor.{name}",
            "must be 1 to 1,024 printable ASCII characters without spaces",
            value,
        )


@attrs.frozen
class InboxCursor:
    """A position in one inbox, serialisable to a string.

    Attributes:
        epoch: what the position is valid in. For IMAP the mailbox's
            UIDVALIDITY (a change means the UIDs were renumbered and the inbox
            reads again from the beginning); for a folder ``"folder"``.
        position: the last message read. For IMAP its UID (decimal); for a
            folder its file name.
    """

    epoch: str
    position: str

    def __attrs_post_init__(self) -> None:
        _check_part("epoch", self.epoch)
        _check_part("position", self.position)

    def dump(self) -> str:
        """The cursor as one line of text, for storing (``parse`` reads it back)."""
        return f"{_DUMP_PREFIX} {self.epoch} {self.position}"

    @classmethod
    def parse(cls, text: str) -> InboxCursor:
        """The cursor a :meth:`dump` wrote. Raises InvalidInput for anything else."""
        if not isinstance(text, str):
            raise InvalidInput("cursor", "must be the text InboxCursor.dump() wrote", text)
        parts = text.split(" ")
        if len(parts) != 3 or parts[0] != _DUMP_PREFIX:
            raise InvalidInput(
                "cursor", f"must look like '{_DUMP_PREFIX} <epoch> <position>'", text
            )
        return cls(parts[1], parts[2])


@attrs.frozen
class InboundMessage:
    """One message fetched from an inbox.

    Attributes:
        source_id: stable within the inbox (``"<uidvalidity>:<uid>"`` for IMAP,
            the file name for a folder); for logs and for a person looking for
            the original.
        raw: the message exactly as stored (RFC 5322 bytes).
        cursor: store this after applying the message; the next fetch after it
            starts with the following message.
    """

    source_id: str
    raw: bytes = attrs.field(repr=lambda raw: f"<{len(raw)} bytes>")
    cursor: InboxCursor
