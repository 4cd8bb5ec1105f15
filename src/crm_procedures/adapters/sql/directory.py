"""The SQL repositories of users and groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from crm_procedures.adapters.sql._repo import _Repo
from crm_procedures.model.users import Group, User

R = TypeVar("R")


class _UserRepo(_Repo[User]):
    def all(self) -> list[User]:
        """Every user, by id."""
        rows = self._uow.fast('SELECT data FROM "users" ORDER BY id').fetchall()
        return _remembered(self, rows)


class _GroupRepo(_Repo[Group]):
    def all(self) -> list[Group]:
        """Every group, by id."""
        rows = self._uow.fast('SELECT data FROM "groups" ORDER BY id').fetchall()
        return _remembered(self, rows)


def _remembered(repo: _Repo[R], rows: Sequence[Any]) -> list[R]:
    """The records of ``rows`` (``data`` first); a remembered one is handed out as it is.

    Every service call reads all users to resolve its viewer: a lookup per
    row instead of a call of ``_load`` per row.
    """
    memo = repo._memo
    if memo is None or type(repo)._handed_out is not _Repo._handed_out:
        return [repo._load(row[0]) for row in rows]
    out = []
    for row in rows:
        found = memo.get(row[0])
        out.append(repo._load(row[0]) if found is None else found)
    return out
