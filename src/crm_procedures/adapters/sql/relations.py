"""The SQL repositories of relations, contacts and projects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, literal_column

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters._common import check_limit, some_unstorable, with_version
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._repo import _paged, _Repo
from crm_procedures.adapters.sql._visibility import _project_visible
from crm_procedures.errors import InvalidInput
from crm_procedures.model.contact import Contact
from crm_procedures.model.project import Project
from crm_procedures.model.relation import Relation

_MAX_NAME: Final = 10_000
"""Longer than any relation name a store holds: a longer search text finds nothing."""


class _RelationRepo(_Repo[Relation]):
    def _columns(self, record: Relation) -> tuple[Any, ...]:
        return (record.name, record.name.casefold(), record.account_manager)

    def _visibility(self, viewer: Viewer | None) -> list[ColumnElement[bool]]:
        if viewer is None or viewer.sees_relations:
            return []
        return [self._table.c.account_manager == viewer.user_id]

    def by_account_manager(self, user_id: str) -> list[Relation]:
        """Relations of one account manager, by name."""
        if some_unstorable(user_id):
            return []
        c = self._table.c
        return self._many(
            self._select_data().where(c.account_manager == user_id).order_by(c.name, c.id)
        )

    def search(
        self,
        name_contains: str,
        limit: int | None = 50,
        offset: int = 0,
        viewer: Viewer | None = None,
    ) -> list[Relation]:
        """Relations whose name contains the text (case-insensitive), by name, one page."""
        if not isinstance(name_contains, str):
            raise InvalidInput("name_contains", "must be text", name_contains)
        check_limit(limit, offset)
        if some_unstorable(name_contains) or len(name_contains) > _MAX_NAME:
            # Text no name can hold (or longer than any name) matches nothing, as on
            # every store; SQLite would refuse a LIKE pattern that long.
            return []
        c = self._table.c
        needle = name_contains.casefold()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = (
            self._select_data()
            .where(c.name_folded.like(f"%{escaped}%", escape="\\"), *self._visibility(viewer))
            .order_by(c.name, c.id)
        )
        return self._many(_paged(statement, limit, offset))

    def by_phone(self, phone: str, viewer: Viewer | None = None) -> list[Relation]:
        """Relations whose stored (normalised) phone equals ``phone``, by id.

        The phone lives in the record's JSON; an expression index on it
        (schema migration 7) keeps the lookup fast.
        """
        if not isinstance(phone, str):
            raise InvalidInput("phone", "must be text", phone)
        if some_unstorable(phone) or not phone:
            return []
        c = self._table.c
        # Written exactly as the index of migration 7 is, so that the index applies.
        stored: ColumnElement[Any] = literal_column(
            s.RELATION_PHONE_SQL.get(self._uow.dialect, s.RELATION_PHONE_SQL["sqlite"])
        )
        statement = (
            self._select_data().where(stored == phone, *self._visibility(viewer)).order_by(c.id)
        )
        return self._many(statement)


class _ContactRepo(_Repo[Contact]):
    def _columns(self, record: Contact) -> tuple[Any, ...]:
        return (record.relation_id, record.last_name, record.phone)

    def of_relation(self, relation_id: str) -> list[Contact]:
        """Contacts of one relation, by last name."""
        if some_unstorable(relation_id):
            return []
        c = self._table.c
        return self._many(
            self._select_data().where(c.relation_id == relation_id).order_by(c.last_name, c.id)
        )

    def by_phone(self, phone: str) -> list[Contact]:
        """Contacts whose stored phone equals ``phone``, by id."""
        if some_unstorable(phone):
            return []
        c = self._table.c
        return self._many(self._select_data().where(c.phone == phone).order_by(c.id))


class _ProjectRepo(_Repo[Project]):
    _side_tables = True

    def _handed_out(self, record: Project) -> Project:
        # Frozen, but ``members`` is a dict: each caller gets its own.
        copy = with_version(record, record.version)
        object.__setattr__(copy, "members", dict(record.members))
        return copy

    def _columns(self, record: Project) -> tuple[Any, ...]:
        return (record.relation_id, record.name, record.restricted)

    def _visibility(self, viewer: Viewer | None) -> list[ColumnElement[bool]]:
        return _project_visible(viewer)

    def _after_write(self, records: Sequence[Project], new: bool) -> None:
        links = s.project_links
        if not new:
            ids = [p.id for p in records]
            self._uow.execute(links.delete().where(links.c.project_id.in_(ids)))
        rows = [(p.id, "user", u) for p in records for u in sorted(p.linked_users)]
        rows += [(p.id, "group", g) for p in records for g in sorted(p.linked_groups)]
        rows += [(p.id, "deny_user", u) for p in records for u in sorted(p.denied_users)]
        rows += [(p.id, "deny_group", g) for p in records for g in sorted(p.denied_groups)]
        rows += [
            (p.id, "member", u)
            for p in records
            for u in sorted({u for users in p.members.values() for u in users})
        ]
        if rows:
            self._uow.driver(self._uow._store.insert_sql(links), rows)

    def of_relation(self, relation_id: str, viewer: Viewer | None = None) -> list[Project]:
        """Projects under one relation that the viewer may see, by name."""
        if some_unstorable(relation_id):
            return []
        c = self._table.c
        statement = self._select_data().where(
            c.relation_id == relation_id, *_project_visible(viewer)
        )
        return self._many(statement.order_by(c.name, c.id))

    def visible(self, viewer: Viewer | None = None) -> list[Project]:
        """Every project the viewer may see, by name."""
        c = self._table.c
        return self._many(
            self._select_data().where(*_project_visible(viewer)).order_by(c.name, c.id)
        )
