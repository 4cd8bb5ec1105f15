"""A relation inside a project, moving through a procedure (WATCH W6-W9).

``Prospect`` is the one mutable aggregate of the model: performing a step is
the hot path of the engine, so it appends to a list instead of copying a tuple.
The rules that decide *whether* a step may be performed live in
:mod:`crm_procedures.procedures`; this module holds the state.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, NamedTuple

import attrs

from crm_procedures.ids import ContactId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model._checks import non_empty, one_line

__all__ = [
    "BulkStatusChange",
    "EntryKind",
    "HistoryEntry",
    "Prospect",
    "ProspectStatus",
    "RelationStage",
]


class ProspectStatus(enum.StrEnum):
    """W8: preparing (imported, not yet released), running, closed."""

    PREPARING = "preparing"
    RUNNING = "running"
    CLOSED = "closed"


class RelationStage(enum.StrEnum):
    """Suspect (not yet approached), prospect (approached, not closed), customer (won)."""

    SUSPECT = "suspect"
    PROSPECT = "prospect"
    CUSTOMER = "customer"


class EntryKind(enum.StrEnum):
    """What a history entry records."""

    STEP = "step"
    CORRECTION = "correction"
    STATUS = "status"
    STAGE = "stage"


class HistoryEntry(NamedTuple):
    """One line of a prospect's append-only history.

    ``seq`` numbers entries from 1. For ``kind=step`` and ``kind=correction``,
    ``step`` is the step performed; a correction names the entry it
    ``supersedes`` (nothing is ever deleted) and has ``step=None`` when it
    withdraws that entry without a replacement. For ``kind=status`` the new
    status is in ``detail`` (``closed:<reason>`` when closing); for
    ``kind=stage`` the new stage.

    An entry is an immutable named tuple rather than an attrs class: one is
    created for every step performed, and a tuple is the cheapest immutable
    record Python can build.
    """

    seq: int
    kind: EntryKind
    at: datetime
    actor: UserId
    role: str | None = None
    step: str | None = None
    supersedes: int | None = None
    detail: str | None = None
    note: str = ""


class _HistoryStore:
    """The slots behind :attr:`Prospect.history` (see :func:`_named_history`).

    ``_entries`` is the history list itself; the engine appends its entries to
    it as plain tuples. ``_named`` counts the leading entries known to be
    :class:`HistoryEntry` named tuples; reading ``history`` names the rest.
    """

    __slots__ = ("_entries", "_named")
    _entries: list[Any]
    _named: int


@attrs.define(slots=True, eq=True, on_setattr=attrs.setters.NO_OP)
class Prospect(_HistoryStore):
    """A relation inside a project: its status, stage and procedure history.

    Attributes:
        status: preparing / running / closed (W8).
        close_reason: the configured close reason, when closed.
        stage: suspect until the first step, then prospect (W9), customer when won.
        became_prospect_at: when the first step made the suspect a prospect (W9).
        became_prospect_by: who performed that first step.
        last_step: the last completed step that counts (corrections included),
            ``None`` while nothing is done yet (the START of the matrix).
        history: every entry, in order, never shortened (a list of
            :class:`HistoryEntry`; see the note on entries below).
        next_action_at: when the next action is due (orders worklists).
        owner: the user the prospect is assigned to, if any.
        version: the store's optimistic-concurrency version.
        next_due_at: when the next step falls due by the definitions' due
            rules (kept by every move; ``None``: nothing is due).
        due_step: the step that falls due then.
        due_role: the role that performs it.
        due_automatic: whether the scheduler performs it (an automatic step).
        paused_until: no step falls due before this instant (a pause); after a
            resume, when the pause ended, kept while it still shifts the due step.
        sequence_exit: the event that took the prospect out of the automatic
            sequence (``"reply"``, ...), ``None`` while it is in it.
        paused_at: when the pause of ``paused_until`` began: the due step's
            clock stands still from then to ``paused_until``.

    Raises :class:`~crm_procedures.errors.InvalidInput` for an empty id, or an
    id with a line break or control character or longer than 1,000 characters.

    History entries: a move of the engine (:func:`~crm_procedures.procedures.
    runtime.perform`) appends its entry as a plain tuple, the cheapest record
    Python builds, and reading ``history`` turns the entries appended since the
    last read into :class:`HistoryEntry` named tuples (equal to the plain
    tuples, so comparisons never change). Read ``prospect.history`` after a
    move rather than keeping the list from before it: a list held across a move
    shows that move's entry as a plain tuple until ``history`` is read again.
    """

    # Ids follow the id rule of every record (one line, no control characters,
    # at most 1,000 characters), checked when a prospect is made. They are not
    # checked again on assignment (on_setattr=NO_OP): nothing reassigns them,
    # and a hook on every attribute set would slow the engine's hot path.
    id: ProspectId = attrs.field(validator=non_empty)
    project_id: ProjectId = attrs.field(validator=non_empty)
    relation_id: RelationId = attrs.field(validator=non_empty)
    contact_id: ContactId | None = attrs.field(default=None, validator=one_line)
    status: ProspectStatus = ProspectStatus.PREPARING
    close_reason: str | None = None
    stage: RelationStage = RelationStage.SUSPECT
    became_prospect_at: datetime | None = None
    became_prospect_by: UserId | None = None
    last_step: str | None = None
    history: list[HistoryEntry] = attrs.field(factory=list)
    next_action_at: datetime | None = None
    owner: UserId | None = None
    version: int = 0
    next_due_at: datetime | None = None
    due_step: str | None = None
    due_role: str | None = None
    due_automatic: bool = False
    paused_until: datetime | None = None
    sequence_exit: str | None = None
    paused_at: datetime | None = None

    def copy(self) -> Prospect:
        """An independent copy (the history list is copied; entries are immutable)."""
        # The ids were checked when this prospect was made: fill the slots
        # directly instead of running the validators again (stores copy often).
        new: Prospect = _new_prospect(Prospect)
        new.id = self.id
        new.project_id = self.project_id
        new.relation_id = self.relation_id
        new.contact_id = self.contact_id
        new.status = self.status
        new.close_reason = self.close_reason
        new.stage = self.stage
        new.became_prospect_at = self.became_prospect_at
        new.became_prospect_by = self.became_prospect_by
        new.last_step = self.last_step
        entries = list(self.history)
        _keep_history(new, entries, len(entries))
        new.next_action_at = self.next_action_at
        new.owner = self.owner
        new.version = self.version
        new.next_due_at = self.next_due_at
        new.due_step = self.due_step
        new.due_role = self.due_role
        new.due_automatic = self.due_automatic
        new.paused_until = self.paused_until
        new.sequence_exit = self.sequence_exit
        new.paused_at = self.paused_at
        return new


_new_prospect = object.__new__
_new_entry = tuple.__new__
_FIELDS = len(HistoryEntry._fields)


def _keep_history(store: _HistoryStore, entries: list[Any], named: int) -> None:
    store._entries = entries
    store._named = named


def _named_history(prospect: _HistoryStore) -> list[HistoryEntry]:
    """The history list, every entry a :class:`HistoryEntry` (the getter of ``history``).

    Entries appended as plain tuples since the last read (by the engine) are
    replaced in place by named tuples with the same values, so a list held by
    a caller sees them named too.
    """
    entries = prospect._entries
    n = len(entries)
    named = prospect._named
    if named != n:
        for i in range(named if named < n else 0, n):
            entry = entries[i]
            if entry.__class__ is tuple and len(entry) == _FIELDS:
                entries[i] = _new_entry(HistoryEntry, entry)
        prospect._named = n
    return entries


def _set_history(prospect: _HistoryStore, entries: list[HistoryEntry]) -> None:
    prospect._entries = entries
    prospect._named = 0


# ``history`` stays an attrs field (init argument, equality, repr, ``attrs.fields``,
# ``attrs.evolve``), read and set through this property; the slot attrs made for it
# is left unused (8 bytes a prospect).
Prospect.history = property(_named_history, _set_history)  # type: ignore[assignment,misc]


@attrs.frozen(slots=True)
class BulkStatusChange:
    """One status change applied to many prospects of a project at once (release, close all).

    A prospect is changed when its status is in ``from_statuses`` and it is not
    already at ``status`` with ``close_reason``; it gets ``status`` and
    ``close_reason`` and a ``kind=status`` history entry with ``detail``,
    ``actor``, ``at`` and ``note``. Built (and checked) by the engine
    (:func:`crm_procedures.procedures.runtime.release_change`,
    :func:`~crm_procedures.procedures.runtime.close_change`); a store applies it.
    """

    from_statuses: frozenset[ProspectStatus]
    status: ProspectStatus
    close_reason: str | None
    detail: str
    actor: UserId
    at: datetime
    note: str = ""

    def changes(self, prospect: Prospect) -> bool:
        """Whether this change applies to ``prospect`` (and would alter it)."""
        return prospect.status in self.from_statuses and not (
            prospect.status is self.status and prospect.close_reason == self.close_reason
        )

    def apply(self, prospect: Prospect) -> None:
        """Change ``prospect`` in place: status, close reason, one history entry."""
        prospect.status = self.status
        prospect.close_reason = self.close_reason
        prospect.history.append(
            HistoryEntry(
                len(prospect.history) + 1,
                EntryKind.STATUS,
                self.at,
                self.actor,
                detail=self.detail,
                note=self.note,
            )
        )
