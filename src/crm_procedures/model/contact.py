"""Contact persons at a relation."""

from __future__ import annotations

import enum
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.ids import ContactId, RelationId
from crm_procedures.model._checks import (
    language_code,
    non_empty,
    non_negative_int,
    one_line,
    to_enum,
)
from crm_procedures.model._email import email_address

__all__ = ["Contact", "Gender"]


class Gender(enum.StrEnum):
    """A person's gender as used in salutations (``unknown`` when not recorded)."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


def _to_gender(value: Any) -> Gender:
    if type(value) is Gender:
        return value
    return to_enum(Gender, "gender", value)


def _zone_name(_inst: Any, _attribute: Any, value: Any) -> None:
    if value is None:
        return
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise InvalidInput(
            "time_zone", "must be a time zone name such as 'Europe/Amsterdam'", value
        ) from None


@attrs.frozen
class Contact:
    """A person at a relation.

    ``name_prefix`` holds Dutch prefixes such as "van der" separately, so lists
    sort on ``last_name``. ``language`` (an ISO 639-1 code such as ``nl``, or
    ``None`` when not recorded) picks the variant of a multi-language e-mail
    template; ``time_zone`` is the zone of the contact's wall clock (automatic
    e-mails keep to its send window there). Raises
    :class:`~crm_procedures.errors.InvalidInput` for an empty last name, a
    malformed language code, an unknown time zone or an e-mail address that a
    mail header would not carry unchanged (``jan@mill.example:evil``,
    ``a@[b.c``; see :func:`~crm_procedures.model._email.is_sendable_email`).
    """

    id: ContactId = attrs.field(validator=non_empty)
    relation_id: RelationId = attrs.field(validator=non_empty)
    last_name: str = attrs.field(validator=non_empty)
    initials: str = attrs.field(default="", validator=one_line)
    first_name: str = attrs.field(default="", validator=one_line)
    name_prefix: str = attrs.field(default="", validator=one_line)
    gender: Gender = attrs.field(default=Gender.UNKNOWN, converter=_to_gender)
    email: str | None = attrs.field(default=None, validator=email_address)
    phone: str | None = attrs.field(default=None, validator=one_line)
    function: str = attrs.field(default="", validator=one_line)
    version: int = attrs.field(default=0, validator=non_negative_int)
    language: str | None = attrs.field(default=None, validator=language_code)
    time_zone: str | None = attrs.field(default=None, validator=_zone_name)

    @property
    def full_name(self) -> str:
        """First name (or initials), prefix and last name, as one would write them."""
        given = self.first_name or self.initials
        return " ".join(p for p in (given, self.name_prefix, self.last_name) if p)

    @property
    def sort_name(self) -> str:
        """The name lists sort on: last name first, prefix after ("Berg, van den")."""
        tail = f", {self.name_prefix}" if self.name_prefix else ""
        return f"{self.last_name}{tail}"
