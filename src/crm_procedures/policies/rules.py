"""Mandatory-data rules (A2, A3, A4) as versioned data, and the checks that apply them.

An installation agrees on what must be recorded ("every new relation has at
least one contact", "every relation has an industry code", ...). The rules
change over time, so they are data: a :class:`RuleSet` with a version, loaded
from TOML or a dict and dumped back without loss. A rule never holds code: its
``condition`` names one of the checks in :data:`CHECKS` with plain parameters::

    version = 2

    [[rules]]
    code = "relation-industry-code"
    description = "Every relation has an industry code"
    applies_to = "relation"
    blocking = true
    condition = { check = "required", field = "industry_code" }

:func:`check` lists every violation, :func:`enforce` raises
:class:`~crm_procedures.errors.RuleViolation` with all blocking ones and returns
the rest as warnings, and :func:`changed_rules_report` lists what a new rule set
would break among existing records before it is adopted (A4).
"""

from __future__ import annotations

import enum
import json
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput, RuleViolation
from crm_procedures.model._checks import to_enum
from crm_procedures.model.activity import Activity
from crm_procedures.model.contact import Contact
from crm_procedures.model.relation import Relation
from crm_procedures.policies.normalise import (
    normalise_email,
    normalise_initials,
    normalise_phone,
    normalise_postcode,
)

__all__ = [
    "CHECKS",
    "DEFAULT_RULES",
    "RecordKind",
    "Rule",
    "RuleChangeReport",
    "RuleContext",
    "RuleSet",
    "Violation",
    "changed_rules_report",
    "check",
    "dump_rules",
    "enforce",
    "load_rules",
    "rules_to_toml",
]


class RecordKind(enum.StrEnum):
    """The record kinds a rule can apply to."""

    RELATION = "relation"
    CONTACT = "contact"
    ACTIVITY = "activity"


_CLASSES: Mapping[RecordKind, type[Any]] = {
    RecordKind.RELATION: Relation,
    RecordKind.CONTACT: Contact,
    RecordKind.ACTIVITY: Activity,
}

_FIELDS: Mapping[RecordKind, frozenset[str]] = {
    kind: frozenset(a.name for a in attrs.fields(cls)) - {"id", "version"}
    | ({"postcode"} if kind is RecordKind.RELATION else set())
    for kind, cls in _CLASSES.items()
}

FORMATS: frozenset[str] = frozenset(
    {"nl_postcode", "pl_postcode", "phone_nl", "phone_pl", "initials", "email"}
)
"""The named formats the ``format`` check knows."""

CHECKS: Mapping[str, str] = {
    "required": "the field has a value: {field}",
    "required_if": "the field has a value when another one has (a given) value: "
    "{field, if_field, equals?}",
    "min_contacts": "a relation has at least `count` contacts: {count}",
    "note_required": "activities of the given kinds carry a note of at least `min_length` "
    "characters (completed ones only unless completed_only = false): "
    "{kinds, min_length?, completed_only?}",
    "one_of": "the field's value is one of the listed values: {field, values}",
    "format": "the field is written in a named format (" + ", ".join(sorted(FORMATS)) + "): "
    "{field, format}",
}
"""The checks a rule's condition may name, with their parameters (``?`` = optional)."""

_PARAMS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "required": (frozenset({"field"}), frozenset()),
    "required_if": (frozenset({"field", "if_field"}), frozenset({"equals"})),
    "min_contacts": (frozenset({"count"}), frozenset()),
    "note_required": (frozenset({"kinds"}), frozenset({"min_length", "completed_only"})),
    "one_of": (frozenset({"field", "values"}), frozenset()),
    "format": (frozenset({"field", "format"}), frozenset()),
}


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _condition(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("condition", "must be a table such as {check = 'required', ...}", value)
    return {str(k): _freeze(v) for k, v in value.items()}


def _text_list(field: str, value: Any) -> None:
    if not isinstance(value, tuple) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput(field, "must be a non-empty list of text", value)


def _validate_condition(rule: Rule, _attribute: Any, cond: Mapping[str, Any]) -> None:
    name = cond.get("check")
    if not isinstance(name, str) or name not in _PARAMS:
        known = ", ".join(sorted(_PARAMS))
        raise InvalidInput("condition.check", f"unknown check; known: {known}", name)
    required, optional = _PARAMS[name]
    given = set(cond) - {"check"}
    missing = required - given
    extra = given - required - optional
    if missing:
        raise InvalidInput("condition", f"check {name!r} needs {sorted(missing)}", dict(cond))
    if extra:
        raise InvalidInput("condition", f"check {name!r} takes no {sorted(extra)}", dict(cond))
    fields = _FIELDS[rule.applies_to]
    for key in ("field", "if_field"):
        if key in cond and cond[key] not in fields:
            raise InvalidInput(
                f"condition.{key}",
                f"{rule.applies_to.value} has no field {cond[key]!r}; fields: "
                + ", ".join(sorted(fields)),
                cond[key],
            )
    if name == "min_contacts":
        if rule.applies_to is not RecordKind.RELATION:
            raise InvalidInput("condition", "min_contacts applies to relations only", dict(cond))
        count = cond["count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidInput("condition.count", "must be a whole number >= 1", count)
    if name == "note_required":
        if rule.applies_to is not RecordKind.ACTIVITY:
            raise InvalidInput("condition", "note_required applies to activities only", dict(cond))
        _text_list("condition.kinds", cond["kinds"])
        length = cond.get("min_length", 1)
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise InvalidInput("condition.min_length", "must be a whole number >= 1", length)
        if not isinstance(cond.get("completed_only", True), bool):
            raise InvalidInput("condition.completed_only", "must be true or false")
    if name == "one_of":
        _text_list("condition.values", cond["values"])
    if name == "format" and cond["format"] not in FORMATS:
        raise InvalidInput(
            "condition.format", "unknown format; known: " + ", ".join(sorted(FORMATS)), cond
        )
    if name == "required_if" and "equals" in cond and not isinstance(cond["equals"], str):
        raise InvalidInput("condition.equals", "must be text", cond["equals"])


def _code(_inst: Any, _attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise InvalidInput("code", "must be a non-empty code without spaces", value)


def _description(_inst: Any, _attribute: Any, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidInput("description", "must be text", value)


def _record_kind(value: Any) -> RecordKind:
    return to_enum(RecordKind, "applies_to", value)


@attrs.frozen
class Rule:
    """One mandatory-data rule.

    Attributes:
        code: a stable identifier such as ``"relation-industry-code"``.
        description: the agreement in words (shown in every violation).
        applies_to: ``relation``, ``contact`` or ``activity``.
        condition: one named check from :data:`CHECKS` with its parameters,
            e.g. ``{"check": "required", "field": "industry_code"}``.
        blocking: ``True``: a violation stops the change (:func:`enforce`
            raises); ``False``: it is reported as a warning.

    Raises :class:`~crm_procedures.errors.InvalidInput` for an unknown check,
    missing or unknown parameters, a field the record kind does not have, or a
    description that is not text.
    """

    code: str = attrs.field(validator=_code)
    description: str = attrs.field(validator=_description)
    applies_to: RecordKind = attrs.field(converter=_record_kind)
    condition: Mapping[str, Any] = attrs.field(
        converter=_condition, validator=_validate_condition, hash=False
    )
    blocking: bool = True


def _rules(value: Any) -> tuple[Rule, ...]:
    items = tuple(value)
    seen: set[str] = set()
    for i, r in enumerate(items):
        if not isinstance(r, Rule):
            raise InvalidInput(f"rules[{i}]", "must be a Rule", r)
        if r.code in seen:
            raise InvalidInput(f"rules[{i}].code", f"duplicate rule code {r.code!r}", r.code)
        seen.add(r.code)
    return items


def _version(_inst: Any, _attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput("version", "must be a whole number >= 1", value)


@attrs.frozen
class RuleSet:
    """A versioned set of rules (A4). Rule codes are unique within a set.

    Raises :class:`~crm_procedures.errors.InvalidInput` for a duplicate code or
    a version below 1.
    """

    version: int = attrs.field(validator=_version)
    rules: tuple[Rule, ...] = attrs.field(converter=_rules)

    def rule(self, code: str) -> Rule:
        """The rule with ``code``.

        Raises:
            InvalidInput: no such rule in this set.
        """
        for r in self.rules:
            if r.code == code:
                return r
        raise InvalidInput("code", f"rule set version {self.version} has no such rule", code)


@attrs.frozen
class Violation:
    """One record breaking one rule.

    Attributes:
        rule: the rule's code.
        record_kind: ``relation``, ``contact`` or ``activity``.
        record_id: the record's id.
        field: the field at fault (``None`` for a rule about the whole record).
        message: what is wrong, with the agreement in words.
        blocking: whether the rule blocks the change.
    """

    rule: str
    record_kind: RecordKind
    record_id: str
    field: str | None
    message: str
    blocking: bool

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        """Identity of the violation across rule-set versions (rule, kind, id, field)."""
        return (self.rule, self.record_kind.value, self.record_id, self.field)


def _count_map(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(counts)


@attrs.frozen
class RuleContext:
    """Facts about stored data that the records alone do not carry.

    ``contacts_per_relation`` gives the number of stored contacts of
    relations; for a relation listed here the count is used as is, for any
    other relation the contacts among the checked records are counted.
    """

    contacts_per_relation: Mapping[str, int] = attrs.field(factory=dict, converter=_count_map)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, enum.Enum):
        return str(value.value) in ("", "unknown")
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (tuple, list, frozenset, set, dict)):
        return not value
    return False


def _kind_of(record: Any) -> RecordKind:
    if isinstance(record, Relation):
        return RecordKind.RELATION
    if isinstance(record, Contact):
        return RecordKind.CONTACT
    if isinstance(record, Activity):
        return RecordKind.ACTIVITY
    raise InvalidInput(
        "records", "holds something that is not a Relation, Contact or Activity", record
    )


def _as_text(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    return "" if value is None else str(value)


def _fits_format(value: str, fmt: str) -> bool:
    try:
        if fmt == "nl_postcode":
            return normalise_postcode(value, "NL") == value
        if fmt == "pl_postcode":
            return normalise_postcode(value, "PL") == value
        if fmt == "phone_nl":
            return normalise_phone(value, "NL") == value
        if fmt == "phone_pl":
            return normalise_phone(value, "PL") == value
        if fmt == "initials":
            return normalise_initials(value) == value
        return normalise_email(value) == value
    except InvalidInput:
        return False


def _evaluate(rule: Rule, record: Any, contact_count: int) -> tuple[str | None, str] | None:
    """``(field, problem)`` when ``record`` breaks ``rule``, else ``None``."""
    cond = rule.condition
    name = cond["check"]
    if name == "required":
        field = cond["field"]
        return (field, f"{field} is missing") if _missing(getattr(record, field)) else None
    if name == "required_if":
        field, if_field = cond["field"], cond["if_field"]
        trigger = getattr(record, if_field)
        applies = _as_text(trigger) == cond["equals"] if "equals" in cond else not _missing(trigger)
        if applies and _missing(getattr(record, field)):
            when = f"{if_field} is {cond['equals']!r}" if "equals" in cond else f"{if_field} is set"
            return field, f"{field} is missing while {when}"
        return None
    if name == "min_contacts":
        need = cond["count"]
        if contact_count < need:
            return None, f"has {contact_count} contact(s), needs at least {need}"
        return None
    if name == "note_required":
        if _as_text(record.kind) not in cond["kinds"]:
            return None
        if cond.get("completed_only", True) and record.completed_at is None:
            return None
        if len(record.note.strip()) < cond.get("min_length", 1):
            return "note", f"a {_as_text(record.kind)} activity has no note"
        return None
    if name == "one_of":
        field = cond["field"]
        value = getattr(record, field)
        if _missing(value):
            return None
        if _as_text(value) not in cond["values"]:
            allowed = ", ".join(cond["values"])
            return field, f"{field} {_as_text(value)!r} is not one of {allowed}"
        return None
    field = cond["field"]
    value = getattr(record, field)
    if _missing(value) or _fits_format(_as_text(value), cond["format"]):
        return None
    return field, f"{field} {_as_text(value)!r} is not in the {cond['format']} format"


def check(
    records: Iterable[Relation | Contact | Activity],
    rules: RuleSet,
    context: RuleContext | None = None,
) -> list[Violation]:
    """Every violation of ``rules`` among ``records``, in record order, then rule order.

    Relations are checked with the number of contacts among ``records`` (or
    given by ``context``) for ``min_contacts``.

    Raises:
        InvalidInput: a record is not a Relation, Contact or Activity.
    """
    items = list(records)
    context = context or RuleContext()
    counted: dict[str, int] = {}
    for r in items:
        if isinstance(r, Contact):
            counted[r.relation_id] = counted.get(r.relation_id, 0) + 1
    by_kind: dict[RecordKind, list[Rule]] = {k: [] for k in RecordKind}
    for rule in rules.rules:
        by_kind[rule.applies_to].append(rule)
    out: list[Violation] = []
    for record in items:
        kind = _kind_of(record)
        count = 0
        if kind is RecordKind.RELATION:
            count = context.contacts_per_relation.get(record.id, counted.get(record.id, 0))
        for rule in by_kind[kind]:
            found = _evaluate(rule, record, count)
            if found is not None:
                field, problem = found
                message = f"{kind.value} {record.id}: {problem} ({rule.description})"
                out.append(Violation(rule.code, kind, record.id, field, message, rule.blocking))
    return out


def enforce(
    records: Iterable[Relation | Contact | Activity],
    rules: RuleSet,
    context: RuleContext | None = None,
) -> list[Violation]:
    """Check ``records``; raise on blocking violations, return the non-blocking ones.

    Raises:
        RuleViolation: carrying every blocking violation (not just the first).
    """
    found = check(records, rules, context)
    blocking = [v for v in found if v.blocking]
    if blocking:
        raise RuleViolation(blocking)
    return found


@attrs.frozen
class RuleChangeReport:
    """What adopting a new rule set would change (A4).

    Attributes:
        old_version, new_version: the two rule-set versions compared.
        added_rules, removed_rules, changed_rules: rule codes, sorted.
        newly_broken: violations under the new set that the old set did not
            have (or had only as a warning where the new one blocks).
        no_longer_broken: violations of the old set that the new set drops.
        still_broken: how many violations both sets share.
    """

    old_version: int
    new_version: int
    added_rules: tuple[str, ...]
    removed_rules: tuple[str, ...]
    changed_rules: tuple[str, ...]
    newly_broken: tuple[Violation, ...]
    no_longer_broken: tuple[Violation, ...]
    still_broken: int

    @property
    def newly_blocking(self) -> tuple[Violation, ...]:
        """The newly broken violations that block."""
        return tuple(v for v in self.newly_broken if v.blocking)


def changed_rules_report(
    records: Iterable[Relation | Contact | Activity],
    old_rules: RuleSet,
    new_rules: RuleSet,
    context: RuleContext | None = None,
) -> RuleChangeReport:
    """List which existing records the new rule set breaks that the old did not (A4).

    Raises:
        InvalidInput: a record is not a Relation, Contact or Activity.
    """
    items = list(records)
    before = check(items, old_rules, context)
    after = check(items, new_rules, context)
    old_keys = {(v.key, v.blocking) for v in before}
    new_keys = {(v.key, v.blocking) for v in after}
    old_codes = {r.code: r for r in old_rules.rules}
    new_codes = {r.code: r for r in new_rules.rules}
    newly = tuple(v for v in after if (v.key, v.blocking) not in old_keys)
    after_plain = {v.key for v in after}
    gone = tuple(v for v in before if v.key not in after_plain)
    return RuleChangeReport(
        old_rules.version,
        new_rules.version,
        tuple(sorted(new_codes.keys() - old_codes.keys())),
        tuple(sorted(old_codes.keys() - new_codes.keys())),
        tuple(
            sorted(c for c in new_codes.keys() & old_codes.keys() if new_codes[c] != old_codes[c])
        ),
        newly,
        gone,
        len(old_keys & new_keys),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def dump_rules(rules: RuleSet) -> dict[str, Any]:
    """The rule set as plain data (JSON- and TOML-compatible); :func:`load_rules` reads it back."""
    return {
        "version": rules.version,
        "rules": [
            {
                "code": r.code,
                "description": r.description,
                "applies_to": r.applies_to.value,
                "blocking": r.blocking,
                "condition": _plain(dict(r.condition)),
            }
            for r in rules.rules
        ],
    }


def load_rules(source: Mapping[str, Any] | str) -> RuleSet:
    """A rule set from a dict or TOML text (as written by :func:`rules_to_toml`).

    Raises:
        InvalidInput: malformed TOML or data, naming the path of the bad value
            (``rules[2].condition.field``); every problem is listed.
    """
    from crm_procedures.serialization import structure

    if isinstance(source, str):
        try:
            data: Any = tomllib.loads(source)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput("rules", f"is not valid TOML: {exc}") from None
    else:
        data = source
    if not isinstance(data, Mapping):
        raise InvalidInput("rules", "must be a table with 'version' and 'rules'", data)
    return structure(dict(data), RuleSet)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # A JSON string with non-ASCII kept is a valid TOML basic string.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise InvalidInput("rules", "holds a value TOML cannot represent here", value)


def rules_to_toml(rules: RuleSet) -> str:
    """The rule set as TOML text; :func:`load_rules` reads it back unchanged."""
    data = dump_rules(rules)
    lines = [f"version = {data['version']}"]
    for r in data["rules"]:
        lines.append("")
        lines.append("[[rules]]")
        for key in ("code", "description", "applies_to", "blocking", "condition"):
            lines.append(f"{key} = {_toml_value(r[key])}")
    return "\n".join(lines) + "\n"


DEFAULT_RULES = RuleSet(
    1,
    (
        Rule(
            "relation-has-contact",
            "Every new relation is linked to at least one contact",
            RecordKind.RELATION,
            {"check": "min_contacts", "count": 1},
        ),
        Rule(
            "relation-industry-code",
            "Every relation has the agreed industry code",
            RecordKind.RELATION,
            {"check": "required", "field": "industry_code"},
        ),
        Rule(
            "relation-kinds",
            "Every relation states whether it is a customer, prospect, supplier, etc.",
            RecordKind.RELATION,
            {"check": "required", "field": "kinds"},
        ),
        Rule(
            "contact-initials",
            "Every person has initials",
            RecordKind.CONTACT,
            {"check": "required", "field": "initials"},
        ),
        Rule(
            "contact-gender",
            "Every person has a gender",
            RecordKind.CONTACT,
            {"check": "required", "field": "gender"},
        ),
        Rule(
            "contact-first-name",
            "Every person has a first name, as far as it is known",
            RecordKind.CONTACT,
            {"check": "required", "field": "first_name"},
            blocking=False,
        ),
        Rule(
            "activity-note",
            "Every customer contact (call, visit) gets a short note",
            RecordKind.ACTIVITY,
            {"check": "note_required", "kinds": ["contact", "meeting"]},
        ),
    ),
)
"""The agreements of the Alexion seed (A2, A3) as rule set version 1."""
