"""The SQL audit log: one row per recorded change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import select

from crm_procedures.adapters._common import check_storable, some_unstorable
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._repo import _DUMP_DT, _at, _json, _surely_storable
from crm_procedures.adapters.sql._uow import SqlTransaction
from crm_procedures.errors import InvalidInput
from crm_procedures.model.audit import Change

_INSERT: Final = (
    "INSERT INTO audit (record_kind, record_id, version, at, actor, action, changes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _row(change: object) -> tuple[Any, ...]:
    """The audit row of ``change``; InvalidInput for anything else or unstorable text."""
    if not isinstance(change, Change):
        raise InvalidInput("change", "must be a Change", type(change).__name__)
    row = (
        change.record_kind,
        change.record_id,
        change.version,
        _DUMP_DT(change.at),
        change.actor,
        change.action,
        _json({k: list(v) for k, v in change.changes.items()}),
    )
    if not _surely_storable(row):
        check_storable(change, "change")
    return row


class _Audit:
    def __init__(self, uow: SqlTransaction) -> None:
        self._uow = uow

    def record(self, change: Change) -> None:
        """Append one change in this transaction."""
        self._uow.refuse_writes("audit.record")
        self._uow.fast(_INSERT.replace("?", self._uow._placeholder), _row(change))

    def record_many(self, changes: Sequence[Change]) -> None:
        """Append the changes in this transaction, with one statement."""
        self._uow.refuse_writes("audit.record_many")
        rows = [_row(change) for change in changes]
        if not rows:
            return
        with self._uow.atomic(len(rows)):
            self._uow.fast_many(_INSERT.replace("?", self._uow._placeholder), rows)

    def of_record(self, record_kind: str, record_id: str) -> list[Change]:
        """Every change of one record, oldest first."""
        if some_unstorable(record_kind, record_id):
            return []
        a = s.audit.c
        rows = self._uow.execute(
            select(a.record_kind, a.record_id, a.version, a.at, a.actor, a.action, a.changes)
            .where(a.record_kind == record_kind, a.record_id == record_id)
            .order_by(a.seq)
        )
        return [
            Change(
                record_kind=r[0],
                record_id=r[1],
                version=r[2],
                at=_at(r[3]),
                actor=r[4],
                action=r[5],
                changes={k: (v[0], v[1]) for k, v in json.loads(r[6]).items()},
            )
            for r in rows
        ]
