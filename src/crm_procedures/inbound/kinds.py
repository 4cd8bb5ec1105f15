"""The kinds of received message :func:`~crm_procedures.inbound.classify.classify` tells apart."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

import attrs

__all__ = [
    "AutoReply",
    "Bounce",
    "BouncedRecipient",
    "CalendarCounter",
    "CalendarReply",
    "Classification",
    "Envelope",
    "Kind",
    "PartStat",
    "Reply",
    "Unmatched",
]


class Kind(StrEnum):
    """What a received message is."""

    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    CALENDAR_REPLY = "calendar_reply"
    CALENDAR_COUNTER = "calendar_counter"
    BOUNCE = "bounce"
    UNMATCHED = "unmatched"


class PartStat(StrEnum):
    """An attendee's answer to an invitation (iCalendar PARTSTAT)."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"


@attrs.frozen
class Envelope:
    """The headers every classification carries.

    Attributes:
        message_id: the message's own ``Message-ID`` with angle brackets, or ``None``.
        sender: the ``From`` address, lower case, or ``None`` when there is none.
        subject: the decoded subject (control characters removed, at most 2,000 characters).
        references: the Message-IDs of ``In-Reply-To`` then ``References``,
            with angle brackets, first occurrence kept, at most 100.
        date: the ``Date`` header, timezone-aware (UTC when it gave no zone), or ``None``.
    """

    message_id: str | None
    sender: str | None
    subject: str
    references: tuple[str, ...]
    date: datetime | None


@attrs.frozen
class Reply:
    """A person's answer to a message: match ``envelope.references`` with the outbox."""

    kind: ClassVar[Kind] = Kind.REPLY
    envelope: Envelope
    body: str
    body_truncated: bool


@attrs.frozen
class AutoReply:
    """An automatic answer (out of office, autoresponder): link it, raise no event.

    Attributes:
        reason: which sign gave it away (``Auto-Submitted: auto-replied``,
            ``subject: out of office``, ...).
    """

    kind: ClassVar[Kind] = Kind.AUTO_REPLY
    envelope: Envelope
    body: str
    body_truncated: bool
    reason: str


@attrs.frozen
class CalendarReply:
    """An attendee's iTIP REPLY to an invitation (RFC 5546).

    Attributes:
        uid: the appointment's iCalendar UID.
        sequence: the SEQUENCE the attendee answered (0 when absent).
        attendee: the attendee's address, lower case, without ``mailto:``.
        partstat: accepted, declined or tentative.
        comment: the attendee's COMMENT, if any.
    """

    kind: ClassVar[Kind] = Kind.CALENDAR_REPLY
    envelope: Envelope
    uid: str
    sequence: int
    attendee: str
    partstat: PartStat
    comment: str | None


@attrs.frozen
class CalendarCounter:
    """An attendee's proposal of other times (iTIP COUNTER), for a person to answer.

    Attributes:
        start: the proposed start, timezone-aware; ``None`` when the value
            names no zone this machine knows (an Outlook Windows zone name, a
            floating time) or is a date without a time.
        end: the proposed end, likewise.
        start_text: the DTSTART value as written.
        end_text: the DTEND value as written.
    """

    kind: ClassVar[Kind] = Kind.CALENDAR_COUNTER
    envelope: Envelope
    uid: str
    sequence: int
    attendee: str | None
    start: datetime | None
    end: datetime | None
    start_text: str | None
    end_text: str | None
    comment: str | None


@attrs.frozen
class BouncedRecipient:
    """One recipient a delivery failed for.

    Attributes:
        address: lower case.
        hard: ``True`` for a permanent failure (mark the address
            undeliverable), ``False`` for a temporary one (count it).
        status: the RFC 3463 status (``5.1.1``) when one was given.
        action: the RFC 3464 action (``failed``, ``delayed``); ``None`` for
            a non-standard bounce.
        diagnostic: the remote server's words, at most 2,000 characters.
    """

    address: str
    hard: bool
    status: str | None
    action: str | None
    diagnostic: str | None


@attrs.frozen
class Bounce:
    """A delivery failure report.

    Attributes:
        recipients: the failed recipients (at least one).
        original_message_id: the Message-ID of the message that failed, when
            the report returned it (match it with the outbox).
        standard: ``True`` for an RFC 3464 report, ``False`` for a text bounce
            read by its wording.
    """

    kind: ClassVar[Kind] = Kind.BOUNCE
    envelope: Envelope
    recipients: tuple[BouncedRecipient, ...]
    original_message_id: str | None
    standard: bool

    @property
    def hard(self) -> bool:
        """True when any recipient failed permanently."""
        return any(r.hard for r in self.recipients)


@attrs.frozen
class Unmatched:
    """A message none of the rules recognised; keep it for a person.

    Attributes:
        reason: why it was not recognised, in words.
    """

    kind: ClassVar[Kind] = Kind.UNMATCHED
    envelope: Envelope
    reason: str


Classification = Reply | AutoReply | CalendarReply | CalendarCounter | Bounce | Unmatched
"""What :func:`classify` returns; tell them apart by ``kind`` or ``isinstance``."""
