"""Typed ids.

Ids are plain strings (cheap to store, compare and serialise, and what host
applications already have). The aliases below say in signatures which record
an id points to; they are aliases of ``str``, so host code passes its own
strings without wrapping them. The domain never invents ids: the service layer
generates them (:func:`new_id`) and passes them in.
"""

from __future__ import annotations

import uuid
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


def new_id() -> str:
    """A new random id (32 lowercase hex digits). Used by the service layer."""
    return uuid.uuid4().hex
