"""Users (employees, operators) and the groups they belong to."""

from __future__ import annotations

import attrs

from crm_procedures.ids import GroupId, UserId
from crm_procedures.model._checks import frozenset_of, non_empty, non_negative_int, one_line
from crm_procedures.model._email import email_address

__all__ = ["Group", "User"]


@attrs.frozen
class Group:
    """A user group. ``permissions`` are names such as ``"activity.read"``."""

    id: GroupId = attrs.field(validator=non_empty)
    name: str = attrs.field(validator=non_empty)
    permissions: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset_of)
    version: int = attrs.field(default=0, validator=non_negative_int)


@attrs.frozen
class User:
    """Someone who acts in the system. ``roles`` are the project roles (W2) the
    user may act in; ``language`` picks labels and messages (en, nl, pl)."""

    id: UserId = attrs.field(validator=non_empty)
    name: str = attrs.field(validator=non_empty)
    email: str | None = attrs.field(default=None, validator=email_address)
    groups: frozenset[GroupId] = attrs.field(default=frozenset(), converter=frozenset_of)
    roles: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset_of)
    language: str = attrs.field(default="en", validator=one_line)
    active: bool = True
    version: int = attrs.field(default=0, validator=non_negative_int)
