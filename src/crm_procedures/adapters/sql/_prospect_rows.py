"""A prospect as rows: its ``prospects`` row, due columns and new history rows."""

from __future__ import annotations

from typing import Any, Final

from crm_procedures.adapters._common import sort_key, utc_us
from crm_procedures.adapters.sql._repo import _DUMP_DT
from crm_procedures.errors import InvalidInput
from crm_procedures.model.prospect import EntryKind, Prospect, ProspectStatus, RelationStage

_STATUS: Final = {s.value: s for s in ProspectStatus}
_STAGE: Final = {s.value: s for s in RelationStage}
_ENTRY: Final = {k.value: k for k in EntryKind}


def _prospect_row(p: Prospect) -> tuple[Any, ...]:
    try:
        status = _STATUS[p.status]
        stage = _STAGE[p.stage]
    except KeyError as exc:
        raise InvalidInput("status", f"{exc.args[0]!r} is not a prospect status or stage") from None
    nxt = p.next_action_at
    return (
        p.id,
        p.project_id,
        p.relation_id,
        p.contact_id,
        status.value,
        p.close_reason,
        stage.value,
        None if p.became_prospect_at is None else _DUMP_DT(p.became_prospect_at),
        p.became_prospect_by,
        p.last_step,
        sort_key(nxt),
        None if nxt is None else _DUMP_DT(nxt),
        p.owner,
        p.version,
        len(p.history),
        *_due_columns(p),
    )


def _due_columns(p: Prospect) -> tuple[Any, ...]:
    due = p.next_due_at
    paused = p.paused_until
    return (
        None if due is None else utc_us(due),
        None if due is None else _DUMP_DT(due),
        p.due_step,
        p.due_role,
        bool(p.due_automatic),
        None if paused is None else _DUMP_DT(paused),
        p.sequence_exit,
        None if p.paused_at is None else _DUMP_DT(p.paused_at),
    )


def _history_rows(p: Prospect, start: int) -> list[tuple[Any, ...]]:
    out = []
    history = p.history
    superseded = {
        e.supersedes for e in history if e.kind == _CORRECTION and type(e.supersedes) is int
    }
    project_id = p.project_id
    for e in history[start:]:
        try:
            kind = _ENTRY[e.kind].value
        except KeyError:
            raise InvalidInput("history.kind", f"{e.kind!r} is not an entry kind") from None
        out.append(
            (
                p.id,
                e.seq,
                kind,
                _DUMP_DT(e.at),
                e.actor,
                e.role,
                e.step,
                e.supersedes,
                e.detail,
                e.note,
                project_id,
                1 if e.seq in superseded else 0,
                utc_us(e.at),
            )
        )
    return out


_CORRECTION: Final = EntryKind.CORRECTION


def _newly_superseded(p: Prospect, stored: int) -> list[tuple[str, int]]:
    """``(prospect id, seq)`` of stored entries that new corrections supersede."""
    history = p.history
    last = history[stored - 1].seq if stored else 0
    return [
        (p.id, e.supersedes)
        for e in history[stored:]
        if e.kind == _CORRECTION and type(e.supersedes) is int and e.supersedes <= last
    ]
