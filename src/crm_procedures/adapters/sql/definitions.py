"""The SQL repository of stored procedure definitions (versions by key)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm_procedures.adapters._common import definition_text, some_unstorable
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._uow import SqlTransaction
from crm_procedures.errors import ConcurrencyConflict, NotFound


class _Definitions:
    def __init__(self, uow: SqlTransaction) -> None:
        self._uow = uow

    def put(self, key: str, data: dict[str, Any]) -> int:
        """Store a new version of ``key``; returns it (1, 2, ...).

        Raises ConcurrencyConflict when another unit of work stored the same version.
        """
        self._uow.refuse_writes("definitions.put")
        payload = definition_text(key, data)
        d = s.definitions.c
        latest = self._uow.execute(select(func.max(d.version)).where(d.key == key)).scalar()
        version = int(latest or 0) + 1
        self._uow._last = ("definition", key, version - 1)
        try:
            with self._uow.savepoint():
                self._uow.execute(
                    s.definitions.insert().values(key=key, version=version, data=payload)
                )
        except IntegrityError:
            raise ConcurrencyConflict("definition", key, version - 1, None) from None
        return version

    def get(self, key: str, version: int | None = None) -> dict[str, Any]:
        """The data at ``version`` (latest when None). Raises NotFound."""
        if some_unstorable(key):
            raise NotFound("definition", "(a key no store can hold)")
        d = s.definitions.c
        statement = select(d.data).where(d.key == key)
        if version is None:
            statement = statement.order_by(d.version.desc()).limit(1)
        else:
            statement = statement.where(d.version == version)
        row = self._uow.execute(statement).first()
        if row is None:
            raise NotFound("definition", key if version is None else f"{key}@{version}")
        data: dict[str, Any] = json.loads(row[0])
        return data

    def versions(self, key: str) -> list[int]:
        """The stored versions of ``key``, ascending."""
        if some_unstorable(key):
            return []
        # Driver SQL: a step reads the rule set's versions every time (the note rule, A3).
        sql = "SELECT version FROM definitions WHERE key = ? ORDER BY version"
        rows = self._uow.fast(sql.replace("?", self._uow._placeholder), (key,)).fetchall()
        return [int(row[0]) for row in rows]
