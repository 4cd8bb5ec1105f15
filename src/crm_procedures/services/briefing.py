"""The call briefing (A3): what a user sees before calling a relation.

The Alexion working procedure: before calling a customer, look at the
relation's notes and at the latest conversation notes. :func:`call_briefing`
gathers them in one unit of work, with the caller's visibility applied: an
activity the caller may not see (another employee's, a restricted project's)
is not in the briefing.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.contact import Contact
from crm_procedures.model.relation import Relation
from crm_procedures.services.context import Context, resolve_viewer

__all__ = ["Briefing", "call_briefing"]

_CONVERSATIONS = (ActivityKind.CONTACT, ActivityKind.MEETING)


@attrs.frozen
class Briefing:
    """What to read before calling a relation.

    Attributes:
        relation: the relation.
        notes: the relation's notes (the "Aantekeningen" field).
        contacts: the relation's contacts, by last name.
        latest_conversation_notes: completed calls and visits with a note,
            newest first.
        open_activities: activities not yet completed, newest first.
        last_contact_at: when the relation was last spoken to (a completed
            contact or meeting), or ``None``.
    """

    relation: Relation
    notes: str
    contacts: tuple[Contact, ...]
    latest_conversation_notes: tuple[Activity, ...]
    open_activities: tuple[Activity, ...]
    last_contact_at: datetime | None


def _spoken_at(activity: Activity) -> datetime | None:
    return activity.end or activity.start or activity.completed_at


def call_briefing(
    ctx: Context, actor: str, relation_id: str, *, notes: int = 3, history: int = 200
) -> Briefing:
    """The briefing for ``actor`` before calling ``relation_id`` (A3).

    Reads the relation, its contacts and its ``history`` newest activities the
    actor may see; keeps the ``notes`` latest conversation notes.

    Raises:
        AccessDenied: unknown or inactive actor.
        NotFound: no such relation.
        InvalidInput: ``notes`` or ``history`` below 1.
    """
    if notes < 1 or history < 1:
        raise InvalidInput("notes", "notes and history must be at least 1", (notes, history))
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        relation = uow.relations.get(relation_id, viewer)
        contacts = tuple(uow.contacts.of_relation(relation_id))
        activities = uow.activities.of_relation(relation_id, viewer, limit=history)
    spoken = [a for a in activities if a.kind in _CONVERSATIONS and a.completed]
    with_notes = [a for a in spoken if a.note.strip()]
    moments = [t for t in (_spoken_at(a) for a in spoken) if t is not None]
    return Briefing(
        relation,
        relation.notes,
        contacts,
        tuple(with_notes[:notes]),
        tuple(a for a in activities if not a.completed),
        max(moments) if moments else None,
    )
