"""The CRM project record (Logic4 L1-L3), also the container of a campaign."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.ids import ContactId, GroupId, ProjectId, RelationId, UserId
from crm_procedures.model._checks import (
    a_date,
    frozenset_of,
    non_empty,
    non_negative_int,
    one_line,
    order,
    text,
    tuple_of_str,
)
from crm_procedures.model.contact import Contact
from crm_procedures.model.money import Money, non_negative_money

__all__ = ["CUSTOM_CHOICE_FIELDS", "CUSTOM_TEXT_FIELDS", "Project"]

CUSTOM_TEXT_FIELDS = 4
CUSTOM_CHOICE_FIELDS = 5


def _custom_text(value: Any) -> tuple[str, ...]:
    items = tuple(value)
    if len(items) > CUSTOM_TEXT_FIELDS:
        raise InvalidInput("custom_text", f"has at most {CUSTOM_TEXT_FIELDS} fields", items)
    return items + ("",) * (CUSTOM_TEXT_FIELDS - len(items))


def _custom_choices(value: Any) -> tuple[str | None, ...]:
    items = tuple(value)
    if len(items) > CUSTOM_CHOICE_FIELDS:
        raise InvalidInput("custom_choices", f"has at most {CUSTOM_CHOICE_FIELDS} fields", items)
    return items + (None,) * (CUSTOM_CHOICE_FIELDS - len(items))


def _principal_ids(inst: Any, attribute: Any, value: frozenset[Any]) -> None:
    # Each is a user or group id: one line of text, no longer than any id may be
    # (stores index them; PostgreSQL refuses an index row over 8 kB).
    for item in value:
        non_empty(inst, attribute, item)


def _all_text(_inst: Any, attribute: Any, value: tuple[Any, ...]) -> None:
    for i, item in enumerate(value):
        if item is None:
            continue
        one_line(None, f"{attribute.name}[{i}]", item)


def _contacts(value: Iterable[Contact]) -> tuple[Contact, ...]:
    return tuple(value)


def _members(value: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for role, users in dict(value).items():
        one_line(None, "members", role)
        out[role] = tuple_of_str(users)
    return out


@attrs.frozen
class Project:
    """A project under a relation (L1-L3).

    ``relation_id`` is the relation the project appears under (for a campaign,
    the client it is run for). ``kind``, ``stage`` and ``chance`` are keys of
    choices in the installation's dictionaries. ``custom_text`` holds free text
    fields 1-4 and ``custom_choices`` free choice fields 1-5; their labels are
    configured per installation. ``one_off_contacts`` are contacts created for
    this project only, not stored on the relation. When ``linked_users`` or
    ``linked_groups`` is non-empty, only they may see the project (L5).
    ``denied_users`` and ``denied_groups`` may never see it, whatever else
    allows them (Logic4's "who does not have access"); only ``admin`` passes.
    ``members`` maps a project role (W2: ``marketeer``, ``client``, ...) to the
    users who act in it on this project. ``procedure`` and ``procedure_version``
    pin the procedure a campaign runs (the version of the stored definitions).

    Raises :class:`~crm_procedures.errors.InvalidInput` for an empty name, an end
    date before the start date, or a negative value.
    """

    id: ProjectId = attrs.field(validator=non_empty)
    relation_id: RelationId = attrs.field(validator=non_empty)
    name: str = attrs.field(validator=non_empty)
    description: str = attrs.field(default="", validator=text)
    start_date: date | None = attrs.field(default=None, validator=a_date)
    end_date: date | None = attrs.field(default=None, validator=a_date)
    end_date_expected: bool = False
    responsible: UserId | None = attrs.field(default=None, validator=one_line)
    kind: str | None = attrs.field(default=None, validator=one_line)
    stage: str | None = attrs.field(default=None, validator=one_line)
    chance: str | None = attrs.field(default=None, validator=one_line)
    value: Money | None = attrs.field(default=None, validator=non_negative_money)
    custom_text: tuple[str, ...] = attrs.field(
        default=("",) * CUSTOM_TEXT_FIELDS, converter=_custom_text, validator=_all_text
    )
    custom_choices: tuple[str | None, ...] = attrs.field(
        default=(None,) * CUSTOM_CHOICE_FIELDS, converter=_custom_choices, validator=_all_text
    )
    notepad: str = attrs.field(default="", validator=text)
    contact_ids: tuple[ContactId, ...] = attrs.field(default=(), converter=tuple_of_str)
    one_off_contacts: tuple[Contact, ...] = attrs.field(default=(), converter=_contacts)
    linked_users: frozenset[UserId] = attrs.field(
        default=frozenset(), converter=frozenset_of, validator=_principal_ids
    )
    linked_groups: frozenset[GroupId] = attrs.field(
        default=frozenset(), converter=frozenset_of, validator=_principal_ids
    )
    denied_users: frozenset[UserId] = attrs.field(
        default=frozenset(), converter=frozenset_of, validator=_principal_ids
    )
    denied_groups: frozenset[GroupId] = attrs.field(
        default=frozenset(), converter=frozenset_of, validator=_principal_ids
    )
    members: Mapping[str, tuple[UserId, ...]] = attrs.field(
        factory=dict, converter=_members, hash=False
    )
    procedure: str | None = attrs.field(default=None, validator=one_line)
    procedure_version: int | None = None
    version: int = attrs.field(default=0, validator=non_negative_int)

    def __attrs_post_init__(self) -> None:
        order("start_date", "end_date", self.start_date, self.end_date)

    @property
    def restricted(self) -> bool:
        """True when only linked users and groups may see the project."""
        return bool(self.linked_users or self.linked_groups)
