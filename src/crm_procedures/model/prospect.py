"""A relation inside a project, moving through a procedure (WATCH W6-W9).

``Prospect`` is the one mutable aggregate of the model: performing a step is
the hot path of the engine, so it appends to a list instead of copying a tuple.
The rules that decide *whether* a step may be performed live in
:mod:`crm_procedures.procedures`; this module holds the state.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import NamedTuple

import attrs

from crm_procedures.ids import ContactId, ProjectId, ProspectId, RelationId, UserId

__all__ = ["EntryKind", "HistoryEntry", "Prospect", "ProspectStatus", "RelationStage"]


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


@attrs.define(slots=True, eq=True)
class Prospect:
    """A relation inside a project: its status, stage and procedure history.

    Attributes:
        status: preparing / running / closed (W8).
        close_reason: the configured close reason, when closed.
        stage: suspect until the first step, then prospect (W9), customer when won.
        became_prospect_at: when the first step made the suspect a prospect (W9).
        became_prospect_by: who performed that first step.
        last_step: the last completed step that counts (corrections included),
            ``None`` while nothing is done yet (the START of the matrix).
        history: every entry, in order, never shortened.
        next_action_at: when the next action is due (orders worklists).
        owner: the user the prospect is assigned to, if any.
        version: the store's optimistic-concurrency version.
    """

    id: ProspectId
    project_id: ProjectId
    relation_id: RelationId
    contact_id: ContactId | None = None
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

    def copy(self) -> Prospect:
        """An independent copy (the history list is copied; entries are immutable)."""
        return Prospect(
            self.id,
            self.project_id,
            self.relation_id,
            self.contact_id,
            self.status,
            self.close_reason,
            self.stage,
            self.became_prospect_at,
            self.became_prospect_by,
            self.last_step,
            list(self.history),
            self.next_action_at,
            self.owner,
            self.version,
        )
