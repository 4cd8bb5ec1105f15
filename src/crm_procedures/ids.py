"""Typed ids.

Ids are plain strings (cheap to store, compare and serialise, and what host
applications already have). The aliases below say in signatures which record
an id points to; they are aliases of ``str``, so host code passes its own
strings without wrapping them. The domain never invents ids: the service layer
generates them (:func:`new_id`) and passes them in.
"""

from __future__ import annotations

from os import urandom
from time import time_ns
from typing import TypeAlias

__all__ = [
    "ActivityId",
    "AppointmentId",
    "ContactId",
    "DocumentId",
    "GroupId",
    "MessageId",
    "ProjectId",
    "ProspectId",
    "RelationId",
    "UserId",
    "VisitReportId",
    "new_id",
]

RelationId: TypeAlias = str
ContactId: TypeAlias = str
ProjectId: TypeAlias = str
ProspectId: TypeAlias = str
ActivityId: TypeAlias = str
AppointmentId: TypeAlias = str
VisitReportId: TypeAlias = str
DocumentId: TypeAlias = str
UserId: TypeAlias = str
GroupId: TypeAlias = str
MessageId: TypeAlias = str


# The version (7) and variant bits of a UUID, placed as RFC 9562 places them.
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (7 << 76) | (0x8000 << 48)
_MS = (1 << 48) - 1


def new_id() -> str:
    """A new unique id (32 lowercase hex digits). Used by the service layer.

    The digits are those of a version 7 UUID (RFC 9562): the time in
    milliseconds, then 74 random bits. Ids made later sort after earlier ones,
    so a bulk import appends to the stores' id indexes instead of writing all
    over them; the random bits keep ids unique across processes and machines.
    An id therefore tells, to the millisecond, when it was made.
    """
    ms = (time_ns() // 1_000_000) & _MS
    value = ((ms << 80) | int.from_bytes(urandom(10), "big")) & _CLEAR | _SET
    return f"{value:032x}"
