"""The installation's note rule applied to the contact a procedure step records (A3).

"A short note of every customer contact": when the installation's rule set
(:mod:`crm_procedures.services.mandatory_rules`) has ``note_required`` rules,
the activity a step records through
:func:`~crm_procedures.services.campaigns.perform_step` is checked against
them exactly as completing a contact through the activity services is: a
blocking rule refuses the step (nothing is stored), a warning comes back with
the step's result. Only the note rules apply to a step's activity: the step
fills the activity itself and a form's other fields (a category, a priority)
are not asked of it.

The rule set is read from the store on every step (another process may adopt
a new one at any time): one read of the stored versions; the structured note
rules are kept per store and version, since a stored version never changes.
"""

from __future__ import annotations

import weakref
from typing import Any

from crm_procedures.errors import RuleViolation
from crm_procedures.model.activity import Activity
from crm_procedures.policies.rules import RecordKind, RuleSet, Violation, check, load_rules
from crm_procedures.ports import Store, UnitOfWork
from crm_procedures.services.mandatory_rules import RULES_KEY

__all__ = ["check_step_note"]

_NOTE_CHECK = "note_required"
_NOTHING: tuple[Violation, ...] = ()

# Per store: {stored rule-set version: its note rules, or None when it has none}.
_NOTE_RULES: weakref.WeakKeyDictionary[Any, dict[int, RuleSet | None]] = weakref.WeakKeyDictionary()


def _note_rules(store: Store, uow: UnitOfWork) -> RuleSet | None:
    versions = uow.definitions.versions(RULES_KEY)
    if not versions:
        return None
    version = versions[-1]
    per_store = _NOTE_RULES.setdefault(store, {})
    if version in per_store:
        return per_store[version]
    ruleset = load_rules(uow.definitions.get(RULES_KEY, version))
    notes = tuple(
        r
        for r in ruleset.rules
        if r.applies_to is RecordKind.ACTIVITY and r.condition["check"] == _NOTE_CHECK
    )
    found = RuleSet(ruleset.version, notes) if notes else None
    per_store[version] = found
    return found


def check_step_note(store: Store, uow: UnitOfWork, activity: Activity) -> tuple[Violation, ...]:
    """Apply the installation's note rules to the activity a step records.

    Returns the warnings (violations of non-blocking rules), empty when the
    installation adopted no note rule or the activity keeps them.

    Raises:
        RuleViolation: a blocking note rule is broken (every one is listed).
    """
    rules = _note_rules(store, uow)
    if rules is None:
        return _NOTHING
    found = check([activity], rules)
    blocking = [v for v in found if v.blocking]
    if blocking:
        raise RuleViolation(blocking)
    return tuple(found)
