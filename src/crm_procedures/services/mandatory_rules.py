"""The installation's mandatory-data rules as stored data, applied at entry and to what is stored.

An installation adopts a rule set (:func:`adopt_rules`); it is stored with the
definitions under :data:`RULES_KEY`, versioned, so earlier versions stay. From
then on every service that enters data applies it: relations and contacts
(:mod:`crm_procedures.services.relations`), activities (completing a customer
contact without the note the rules ask for is refused, A3) and the import of
suspects (A2). :func:`check_stored_records` checks everything stored against a
rule set page by page and reports per rule and per record (A4).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from crm_procedures.access.permissions import require
from crm_procedures.errors import InvalidInput
from crm_procedures.model.activity import Activity
from crm_procedures.model.audit import Change
from crm_procedures.model.contact import Contact
from crm_procedures.model.relation import Relation
from crm_procedures.policies.rules import (
    RuleContext,
    RuleSet,
    Violation,
    check,
    dump_rules,
    load_rules,
)
from crm_procedures.ports import UnitOfWork
from crm_procedures.services._records import check_page
from crm_procedures.services.context import Context, resolve_viewer

__all__ = [
    "RULES_KEY",
    "RecordCheck",
    "adopt_rules",
    "check_stored_records",
    "installation_rules",
    "rules_in",
]

RULES_KEY = "mandatory_rules"
"""The definitions key the installation's rule set is stored under (versioned)."""


def rules_in(uow: UnitOfWork) -> RuleSet | None:
    """The installation's current rule set as stored in ``uow``, or ``None`` when none is."""
    if not uow.definitions.versions(RULES_KEY):
        return None
    return load_rules(uow.definitions.get(RULES_KEY))


def installation_rules(ctx: Context) -> RuleSet | None:
    """The installation's current mandatory-data rules, or ``None`` when none were adopted."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        return rules_in(uow)


def adopt_rules(ctx: Context, actor: str, rules: RuleSet) -> int:
    """Store ``rules`` as the installation's rule set; returns the stored version (1, 2, ...).

    From then on every service that enters relations, contacts and activities
    applies them (the import too). Earlier versions stay stored. Adopting the
    same rules again stores nothing and returns the current version.

    Raises:
        AccessDenied: the actor is not an administrator.
        InvalidInput: ``rules`` is not a RuleSet.
    """
    if not isinstance(rules, RuleSet):
        raise InvalidInput("rules", "must be a RuleSet (see policies.rules.load_rules)", rules)
    data = dump_rules(rules)
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "admin", "the mandatory-data rules")
        versions = uow.definitions.versions(RULES_KEY)
        if versions and uow.definitions.get(RULES_KEY, versions[-1]) == data:
            return versions[-1]
        version = uow.definitions.put(RULES_KEY, data)
        uow.audit.record(
            Change(
                "rules",
                RULES_KEY,
                version,
                ctx.now(),
                actor,
                "adopt",
                {"version": ("" if not versions else str(versions[-1]), str(rules.version))},
            )
        )
        uow.commit()
    return version


def _all_pages(fetch: Any) -> list[Any]:
    out: list[Any] = []
    while True:
        batch = fetch(500, len(out))
        out.extend(batch)
        if len(batch) < 500:
            return out


def _resolve(uow: UnitOfWork, rules: RuleSet | None) -> RuleSet | None:
    if rules is None:
        return rules_in(uow)
    if not isinstance(rules, RuleSet):
        raise InvalidInput("rules", "must be a RuleSet or None", rules)
    return rules


@attrs.frozen
class RecordCheck:
    """What :func:`check_stored_records` found, per rule and per record (A4).

    Attributes:
        rules_version: the version of the rule set checked against.
        relations, contacts, activities: how many records were checked.
        violations: every violation, by relation (its contacts and
            activities after it), then rule.
    """

    rules_version: int
    relations: int
    contacts: int
    activities: int
    violations: tuple[Violation, ...]

    @property
    def per_rule(self) -> dict[str, int]:
        """``{rule code: number of violations}``, for every rule with one, by code."""
        out: dict[str, int] = {}
        for v in self.violations:
            out[v.rule] = out.get(v.rule, 0) + 1
        return dict(sorted(out.items()))

    def of_record(self, record_kind: str, record_id: str) -> tuple[Violation, ...]:
        """The violations of one record."""
        return tuple(
            v
            for v in self.violations
            if v.record_kind.value == record_kind and v.record_id == record_id
        )


def _pages_of_records(
    uow: UnitOfWork, page_size: int
) -> Iterator[tuple[list[Relation], list[Contact], list[Activity]]]:
    offset = 0
    while True:
        relations = uow.relations.search("", limit=page_size, offset=offset)
        offset += len(relations)
        live = [r for r in relations if r.merged_into is None]
        contacts = [c for r in live for c in uow.contacts.of_relation(r.id)]
        activities: list[Activity] = []
        for r in live:
            activities.extend(
                _all_pages(lambda n, o, rid=r.id: uow.activities.of_relation(rid, None, n, o))
            )
        yield live, contacts, activities
        if len(relations) < page_size:
            return


def check_stored_records(
    ctx: Context, actor: str, rules: RuleSet | None = None, *, page_size: int = 500
) -> RecordCheck:
    """Check the stored relations, their contacts and activities against a rule set (A4).

    The store is read page by page (``page_size`` relations at a time, in one
    read-only unit of work), never all at once; ``min_contacts`` counts each
    relation's stored contacts. Without ``rules`` the installation's rules are
    used. Activities are reached through their relation (activities without
    one are not checked). Merged relations are skipped.

    Raises:
        AccessDenied: the actor lacks ``report.read``.
        InvalidInput: no rules given and none adopted, or a page size outside
            1..1000.
    """
    check_page(page_size, 0)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "report.read", "a check of the stored records")
        ruleset = _resolve(uow, rules)
        if ruleset is None:
            raise InvalidInput(
                "rules", "no rule set given and the installation has adopted none (adopt_rules)"
            )
        found: list[Violation] = []
        counts = [0, 0, 0]
        for relations, contacts, activities in _pages_of_records(uow, page_size):
            per_relation: dict[str, int] = {r.id: 0 for r in relations}
            for c in contacts:
                per_relation[c.relation_id] = per_relation.get(c.relation_id, 0) + 1
            records: list[Relation | Contact | Activity] = []
            for r in relations:
                records.append(r)
                records.extend(c for c in contacts if c.relation_id == r.id)
                records.extend(a for a in activities if a.relation_id == r.id)
            found.extend(check(records, ruleset, RuleContext(per_relation)))
            counts[0] += len(relations)
            counts[1] += len(contacts)
            counts[2] += len(activities)
    return RecordCheck(ruleset.version, counts[0], counts[1], counts[2], tuple(found))
