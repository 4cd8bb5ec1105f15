"""One line of a due page: what falls due, for whom, when (T1).

A due page (``uow.prospects.due_page``) lists :class:`DueEntry` rows read
straight from the store's due index, without loading prospects and their
history: a worklist shows the entries, and a host loads the prospect when
the user opens one. Pages are cut by keyset: pass the last entry of a page
(or its :attr:`DueEntry.cursor`) as ``after`` to get the next one, so a page
costs the same deep in the list as at its start.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import require_aware
from crm_procedures.model.prospect import Prospect

__all__ = ["DueCursor", "DueEntry", "check_cursor", "check_page_size", "due_entries", "entry_of"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

DueCursor = tuple[datetime, str]
"""Where a due page ends: ``(due_at, prospect_id)`` of its last entry."""


class DueEntry(NamedTuple):
    """A running prospect's next due step, as a due page lists it (immutable).

    A named tuple, like :class:`~crm_procedures.model.prospect.HistoryEntry`:
    a page builds fifty of them, and a tuple is built several times faster
    than a frozen attrs class.

    Attributes:
        prospect_id: the prospect.
        project_id: its project.
        relation_id: its relation (the name a host shows beside the step).
        step: the step that is due.
        role: the role that performs it.
        due_at: when it is due, in UTC.
        owner: the prospect's owner (``None``: nobody is assigned).
        automatic: the scheduler performs the step (people's worklists leave these out).
    """

    prospect_id: str
    project_id: str
    relation_id: str
    step: str | None
    role: str | None
    due_at: datetime
    owner: str | None
    automatic: bool

    @property
    def cursor(self) -> DueCursor:
        """``(due_at, prospect_id)``: pass it as ``after`` for the page after this entry."""
        return (self.due_at, self.prospect_id)


def check_page_size(limit: int) -> int:
    """``limit`` if it is a whole number >= 0, else InvalidInput."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidInput("limit", "must be a whole number >= 0", limit)
    return limit


def check_cursor(after: DueEntry | DueCursor | None) -> tuple[int, str] | None:
    """``after`` (a :class:`DueEntry`, a :data:`DueCursor` or ``None``) as
    ``(microseconds since 1970 UTC, prospect id)``.

    Raises:
        InvalidInput: anything else, or a naive instant.
    """
    if after is None:
        return None
    given: Any = after.cursor if isinstance(after, DueEntry) else after
    if not (isinstance(given, tuple) and len(given) == 2 and isinstance(given[1], str)):
        raise InvalidInput(
            "after", "must be a DueEntry or its cursor (due_at, prospect_id)", type(given).__name__
        )
    at = require_aware(given[0], "after")
    return ((at - _EPOCH) // _US, given[1])


def entry_of(p: Prospect, at: datetime) -> DueEntry:
    """The due entry of a prospect whose step is due at ``at`` (its ``next_due_at``)."""
    return DueEntry(
        p.id,
        p.project_id,
        p.relation_id,
        p.due_step,
        p.due_role,
        at.astimezone(UTC),
        p.owner,
        p.due_automatic,
    )


def due_entries(
    prospects: Iterable[Prospect], after: tuple[int, str] | None, limit: int
) -> list[DueEntry]:
    """The page after ``after`` of prospects already filtered to a due list, by due time, id.

    The reference computation the stores without a due index use.
    """
    keyed = [
        ((at - _EPOCH) // _US, p.id, p, at) for p in prospects if (at := p.next_due_at) is not None
    ]
    if after is not None:
        keyed = [k for k in keyed if (k[0], k[1]) > after]
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [entry_of(p, at) for _k, _i, p, at in keyed[:limit]]
