"""Building records whose fields are already known to be valid, without re-checking each.

The suspect import builds a relation, its address and its contact from
normalised cells, 100,000 times in a file. The attrs constructors run one
validator per field (about 30 calls a row), each re-checking what one test
over the joined texts already answers. The builders here take the same
arguments as the classes; they make one cheap test (every one-line text is a
``str``, all of them together are printable and no longer than one line may
be, the required ones are not blank, the enums are members, the e-mail
address passes the class's own check) and, when it passes, set the fields
without the per-field validators. Anything else (a ``str`` subclass, a line
break, a long text, an unknown kind, a time zone) goes to the class's own
constructor, which accepts or refuses it exactly as always. So a builder gives
a record equal to the constructor's, or the constructor's own error
(``tests/unit/test_trusted_builders.py`` holds them to that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import attrs

from crm_procedures.model._checks import LANGUAGE_CODE, MAX_LINE, is_email
from crm_procedures.model._email import is_sendable_email
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.prospect import (
    Prospect,
    ProspectStatus,
    RelationStage,
    _keep_history,
    _new_prospect,
)
from crm_procedures.model.relation import Address, Relation, RelationKind, RelationType

__all__ = ["new_suspect", "trusted_address", "trusted_contact", "trusted_relation"]

_type = type  # the builders' parameters named "type" hide the builtin
_TEXT_TYPES = frozenset({str, type(None)})


def _lines(values: tuple[Any, ...]) -> bool:
    """True when every value is None or a ``str`` and ``one_line`` would pass them all.

    Printable text holds no line break or control character; the joined
    length bounds each one's.
    """
    if not _TEXT_TYPES.issuperset(map(_type, values)):
        return False
    joined = "".join([v for v in values if v is not None])
    return len(joined) <= MAX_LINE and joined.isprintable()


def _filled(a: Any, b: Any, c: Any = "-") -> bool:
    """True when each value is a ``str`` that is not blank (``non_empty``'s own test)."""
    return (
        _type(a) is str
        and _type(b) is str
        and _type(c) is str
        and bool(a.strip() and b.strip() and c.strip())
    )


_KIND_TYPE = frozenset({RelationKind})
_ADDRESS_TYPE = frozenset({Address})


def _builder(cls: type[Any]) -> Callable[..., Any]:
    """A function of the field values (in the class's order) giving a ``cls`` without checks.

    Written out field by field, as attrs writes its ``__init__``: no loop, no
    validators, no converters.
    """
    names = [a.name for a in attrs.fields(cls)]
    params = ", ".join(f"v{i}" for i in range(len(names)))
    lines = [f"def build({params}):", "    r = _new(cls)"]
    lines += [f"    _set(r, {name!r}, v{i})" for i, name in enumerate(names)]
    lines.append("    return r")
    scope: dict[str, Any] = {"_new": object.__new__, "_set": object.__setattr__, "cls": cls}
    exec("\n".join(lines), scope)
    return cast("Callable[..., Any]", scope["build"])


_address = cast("Callable[..., Address]", _builder(Address))
_relation = cast("Callable[..., Relation]", _builder(Relation))
_contact = cast("Callable[..., Contact]", _builder(Contact))


def trusted_address(
    street: str = "",
    postcode: str = "",
    city: str = "",
    country: str = "NL",
    kind: str = "visit",
) -> Address:
    """``Address(...)`` of the same arguments, without the validators when they surely pass."""
    values = (street, postcode, city, country, kind)
    if _lines(values):
        return _address(*values)
    return Address(street, postcode, city, country, kind)


def trusted_relation(
    id: str,
    name: str,
    type: Any = RelationType.COMPANY,
    industry_code: str | None = None,
    kinds: Any = frozenset(),
    addresses: Any = (),
    email: str | None = None,
    phone: str | None = None,
    website: str | None = None,
    account_manager: str | None = None,
    region: str | None = None,
    source: str | None = None,
    notes: str = "",
    merged_into: str | None = None,
    version: int = 0,
) -> Relation:
    """``Relation(...)`` of the same arguments, without the validators when they surely pass."""
    values = (
        id,
        name,
        type,
        industry_code,
        kinds,
        addresses,
        email,
        phone,
        website,
        account_manager,
        region,
        source,
        notes,
        merged_into,
        version,
    )
    if (
        _type(type) is RelationType
        and _type(kinds) is frozenset
        and _KIND_TYPE.issuperset(map(_type, kinds))
        and _type(addresses) is tuple
        and _ADDRESS_TYPE.issuperset(map(_type, addresses))
        and (email is None or (_type(email) is str and is_email(email)))
        and _type(notes) is str
        and (not notes or (len(notes) <= MAX_LINE and notes.isprintable()))
        and _type(version) is int
        and version >= 0
        and _filled(id, name)
        and _lines(
            (id, name, industry_code, phone, website, account_manager, region, source, merged_into)
        )
    ):
        return _relation(*values)
    return Relation(*values)


def trusted_contact(
    id: str,
    relation_id: str,
    last_name: str,
    initials: str = "",
    first_name: str = "",
    name_prefix: str = "",
    gender: Any = Gender.UNKNOWN,
    email: str | None = None,
    phone: str | None = None,
    function: str = "",
    version: int = 0,
    language: str | None = None,
    time_zone: str | None = None,
) -> Contact:
    """``Contact(...)`` of the same arguments, without the validators when they surely pass."""
    values = (
        id,
        relation_id,
        last_name,
        initials,
        first_name,
        name_prefix,
        gender,
        email,
        phone,
        function,
        version,
        language,
        time_zone,
    )
    if (
        _type(gender) is Gender
        and _type(version) is int
        and version >= 0
        and time_zone is None
        and (language is None or (_type(language) is str and LANGUAGE_CODE.fullmatch(language)))
        and (email is None or (_type(email) is str and is_sendable_email(email)))
        and _filled(id, relation_id, last_name)
        and _lines((id, relation_id, last_name, initials, first_name, name_prefix, phone, function))
    ):
        return _contact(*values)
    return Contact(*values)


def new_suspect(id: str, project_id: str, relation_id: str, contact_id: str | None) -> Prospect:
    """``Prospect(id, project_id, relation_id, contact_id)``: a new suspect, preparing.

    Its ids are checked by the one test of the builders above; the other
    fields are the class's defaults, set as ``Prospect.copy`` sets them.
    """
    if not (
        _filled(id, project_id, relation_id) and _lines((id, project_id, relation_id, contact_id))
    ):
        return Prospect(id, project_id, relation_id, contact_id)
    new: Prospect = _new_prospect(Prospect)
    new.id = id
    new.project_id = project_id
    new.relation_id = relation_id
    new.contact_id = contact_id
    new.status = ProspectStatus.PREPARING
    new.close_reason = None
    new.stage = RelationStage.SUSPECT
    new.became_prospect_at = None
    new.became_prospect_by = None
    new.last_step = None
    _keep_history(new, [], 0)
    new.next_action_at = None
    new.owner = None
    new.version = 0
    new.next_due_at = None
    new.due_step = None
    new.due_role = None
    new.due_automatic = False
    new.paused_until = None
    new.sequence_exit = None
    new.paused_at = None
    return new
