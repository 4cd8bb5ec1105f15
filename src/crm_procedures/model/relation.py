"""Relations (companies or private persons) and their addresses."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.ids import RelationId, UserId
from crm_procedures.model._checks import (
    email,
    frozenset_of,
    non_empty,
    non_negative_int,
    one_line,
    text,
    to_enum,
)

__all__ = ["Address", "Relation", "RelationKind", "RelationType"]


class RelationType(enum.StrEnum):
    """Whether a relation is a company or a private person."""

    COMPANY = "company"
    PERSON = "person"


class RelationKind(enum.StrEnum):
    """What a relation is to the organisation (A2: every relation states this)."""

    CUSTOMER = "customer"
    PROSPECT = "prospect"
    SUSPECT = "suspect"
    SUPPLIER = "supplier"
    PARTNER = "partner"
    COMPETITOR = "competitor"
    CLIENT = "client"
    OTHER = "other"


def _kinds(value: Any) -> frozenset[RelationKind]:
    if type(value) is frozenset and all(type(k) is RelationKind for k in value):
        return value  # already members: the usual case, and an immutable set
    try:
        members = frozenset_of(value)
    except InvalidInput as exc:
        raise InvalidInput("kinds", exc.reason, value) from None
    try:
        return frozenset(RelationKind(k) for k in members)
    except ValueError as exc:
        allowed = ", ".join(repr(k.value) for k in RelationKind)
        raise InvalidInput("kinds", f"{value!r} holds an unknown kind; allowed: {allowed}") from exc


def _to_relation_type(value: Any) -> RelationType:
    if type(value) is RelationType:
        return value
    return to_enum(RelationType, "type", value)


@attrs.frozen
class Address:
    """A postal address. ``country`` is an ISO 3166 alpha-2 code."""

    street: str = attrs.field(default="", validator=one_line)
    postcode: str = attrs.field(default="", validator=one_line)
    city: str = attrs.field(default="", validator=one_line)
    country: str = attrs.field(default="NL", validator=one_line)
    kind: str = attrs.field(default="visit", validator=one_line)


def _addresses(value: Iterable[Address]) -> tuple[Address, ...]:
    return tuple(value)


@attrs.frozen
class Relation:
    """A company or private person the organisation deals with.

    ``merged_into`` names the relation this one was merged into (its
    contacts, projects, activities, prospects and reports moved there); a
    merged relation stays stored for its history.

    Raises :class:`~crm_procedures.errors.InvalidInput` for an empty name or an
    invalid e-mail address.
    """

    id: RelationId = attrs.field(validator=non_empty)
    name: str = attrs.field(validator=non_empty)
    type: RelationType = attrs.field(default=RelationType.COMPANY, converter=_to_relation_type)
    industry_code: str | None = attrs.field(default=None, validator=one_line)
    kinds: frozenset[RelationKind] = attrs.field(
        default=frozenset(),
        converter=_kinds,
    )
    addresses: tuple[Address, ...] = attrs.field(default=(), converter=_addresses)
    email: str | None = attrs.field(default=None, validator=email)
    phone: str | None = attrs.field(default=None, validator=one_line)
    website: str | None = attrs.field(default=None, validator=one_line)
    account_manager: UserId | None = attrs.field(default=None, validator=one_line)
    region: str | None = attrs.field(default=None, validator=one_line)
    source: str | None = attrs.field(default=None, validator=one_line)
    notes: str = attrs.field(default="", validator=text)
    merged_into: RelationId | None = attrs.field(default=None, validator=one_line)
    version: int = attrs.field(default=0, validator=non_negative_int)

    @property
    def postcode(self) -> str:
        """The postcode of the first address ("" when there is none)."""
        return self.addresses[0].postcode if self.addresses else ""
