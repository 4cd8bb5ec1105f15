"""The SQL repositories of users and groups."""

from __future__ import annotations

from crm_procedures.adapters.sql._repo import _Repo
from crm_procedures.model.users import Group, User


class _UserRepo(_Repo[User]):
    def all(self) -> list[User]:
        """Every user, by id."""
        rows = self._uow.fast('SELECT data FROM "users" ORDER BY id').fetchall()
        return [self._load(row[0]) for row in rows]


class _GroupRepo(_Repo[Group]):
    def all(self) -> list[Group]:
        """Every group, by id."""
        rows = self._uow.fast('SELECT data FROM "groups" ORDER BY id').fetchall()
        return [self._load(row[0]) for row in rows]
