"""Relation and contact services (A1-A4, L1): enter, change, merge, check and find them.

Every write goes through the same path: the input is normalised (A1: the
relation name per the naming conventions, postcodes per country, phone
numbers in E.164, e-mail domains in lower case, Dutch name prefixes apart,
initials written "J.H."), checked against the installation's mandatory-data
rules (A2: a blocking rule raises
:class:`~crm_procedures.errors.RuleViolation` and stores nothing, a warning
comes back with the saved record), stored, and recorded in the audit log
(who, when, what changed). Writing needs the ``relation.write`` permission
and visibility of the relation.

The installation's rules are data stored with the definitions (see
:mod:`crm_procedures.services.mandatory_rules`); every service that enters
relations, contacts or activities applies them unless given another rule
set (the import included).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from crm_procedures.access.permissions import require
from crm_procedures.access.viewer import Viewer
from crm_procedures.errors import CrmError, InvalidInput, NotFound, RuleViolation
from crm_procedures.ids import ContactId, RelationId, UserId
from crm_procedures.model.activity import Activity
from crm_procedures.model.audit import Change
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.prospect import Prospect
from crm_procedures.model.relation import Address, Relation
from crm_procedures.policies.normalise import (
    DEFAULT_CONVENTIONS,
    NameConventions,
    normalise_email,
    normalise_gender,
    normalise_initials,
    normalise_phone,
    normalise_postcode,
    normalise_relation_name,
    split_dutch_name,
)
from crm_procedures.policies.rules import RuleContext, RuleSet, Violation, check
from crm_procedures.ports import UnitOfWork
from crm_procedures.services._records import active_user, audit, check_page, evolve
from crm_procedures.services.context import Context, resolve_viewer
from crm_procedures.services.mandatory_rules import rules_in
from crm_procedures.services.reports import report_queries

__all__ = [
    "CONTACT_FIELDS",
    "RELATION_FIELDS",
    "Merge",
    "NewContact",
    "SavedContact",
    "SavedRelation",
    "contacts_of",
    "create_contact",
    "create_relation",
    "get_relation",
    "merge_relations",
    "relation_history",
    "search_relations",
    "update_contact",
    "update_relation",
]

RELATION_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "type",
        "industry_code",
        "kinds",
        "addresses",
        "email",
        "phone",
        "website",
        "account_manager",
        "region",
        "source",
        "notes",
    }
)
"""Fields :func:`create_relation` and :func:`update_relation` accept."""

CONTACT_FIELDS: frozenset[str] = frozenset(
    {
        "last_name",
        "initials",
        "first_name",
        "name_prefix",
        "gender",
        "email",
        "phone",
        "function",
    }
)
"""Fields :func:`create_contact` and :func:`update_contact` accept."""

_PAGE = 500


def _rules(uow: UnitOfWork, rules: RuleSet | None) -> RuleSet | None:
    if rules is None:
        return rules_in(uow)
    if not isinstance(rules, RuleSet):
        raise InvalidInput("rules", "must be a RuleSet or None", rules)
    return rules


def _enforce(
    new: Sequence[Relation | Contact],
    old: Sequence[Relation | Contact],
    rules: RuleSet | None,
    context: RuleContext | None = None,
) -> tuple[Violation, ...]:
    """Raise for blocking violations the change brings; return the rest as warnings.

    A blocking violation the stored record had already does not stop an
    unrelated change (it comes back as a warning): a change may not make the
    data worse, and need not repair everything at once.
    """
    if rules is None:
        return ()
    found = check(new, rules, context)
    before = {v.key for v in check(old, rules, context)} if old else set()
    blocking = [v for v in found if v.blocking and v.key not in before]
    if blocking:
        raise RuleViolation(blocking)
    return tuple(found)


# -- normalising (A1) --


@attrs.frozen
class NewContact:
    """A contact person entered together with a new relation (:func:`create_relation`).

    The fields are those of :class:`~crm_procedures.model.contact.Contact`
    without id and relation; they are normalised like :func:`create_contact`'s.
    """

    last_name: str
    initials: str = ""
    first_name: str = ""
    name_prefix: str = ""
    gender: Gender | str = Gender.UNKNOWN
    email: str | None = None
    phone: str | None = None
    function: str = ""


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text", value)
    return " ".join(value.split())


def _optional(value: str) -> str | None:
    return value or None


def _country_of(addresses: Iterable[Address], default: str) -> str:
    for a in addresses:
        return a.country
    return default


def _check_country(country: Any) -> str:
    if not isinstance(country, str) or len(country) != 2 or not country.isalpha():
        raise InvalidInput("country", "give an ISO country code such as NL or PL", country)
    return country.upper()


def _normal_addresses(value: Any) -> tuple[Address, ...]:
    if isinstance(value, (Address, str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInput("addresses", "must be a list of Address", value)
    out: list[Address] = []
    for i, a in enumerate(value):
        if not isinstance(a, Address):
            raise InvalidInput(f"addresses[{i}]", "must be an Address", a)
        country = _check_country(a.country)
        out.append(
            Address(
                _text(a.street, f"addresses[{i}].street"),
                normalise_postcode(a.postcode, country),
                _text(a.city, f"addresses[{i}].city"),
                country,
                a.kind,
            )
        )
    return tuple(out)


def _normal_relation_fields(
    fields: Mapping[str, Any], country: str, conventions: NameConventions
) -> dict[str, Any]:
    out = dict(fields)
    if "name" in out:
        out["name"] = normalise_relation_name(out["name"], conventions)
    if "addresses" in out:
        out["addresses"] = _normal_addresses(out["addresses"])
        country = _country_of(out["addresses"], country)
    if "email" in out:
        out["email"] = _optional(normalise_email(_text(out["email"], "email")))
    if "phone" in out:
        out["phone"] = _optional(normalise_phone(_text(out["phone"], "phone"), country))
    for key in ("industry_code", "website", "region", "source"):
        if key in out:
            out[key] = _optional(_text(out[key], key))
    if "account_manager" in out and out["account_manager"] is not None:
        out["account_manager"] = UserId(out["account_manager"])
    return out


def _normal_contact_fields(fields: Mapping[str, Any], country: str) -> dict[str, Any]:
    out = dict(fields)
    if "last_name" in out:
        last = _text(out["last_name"], "last_name")
        if not last:
            raise InvalidInput("last_name", "must not be empty", fields["last_name"])
        if not _text(out.get("name_prefix"), "name_prefix") and " " in last:
            parts = split_dutch_name(last)
            if parts.prefix and parts.last_name:
                out["name_prefix"] = parts.prefix
                last = parts.last_name
        out["last_name"] = last[:1].upper() + last[1:]
    if "name_prefix" in out:
        out["name_prefix"] = _text(out["name_prefix"], "name_prefix").lower()
    if "first_name" in out:
        first = _text(out["first_name"], "first_name")
        out["first_name"] = " ".join(w[:1].upper() + w[1:] for w in first.split())
    if "initials" in out:
        out["initials"] = normalise_initials(_text(out["initials"], "initials"))
    if "initials" in out and not out["initials"] and out.get("first_name"):
        out["initials"] = normalise_initials(".".join(w[0] for w in out["first_name"].split()))
    if "gender" in out:
        gender = out["gender"]
        if isinstance(gender, str) and not isinstance(gender, Gender):
            text = gender.strip()
            out["gender"] = Gender(text) if text in set(Gender) else normalise_gender(text)
    if "email" in out:
        out["email"] = _optional(normalise_email(_text(out["email"], "email")))
    if "phone" in out:
        out["phone"] = _optional(normalise_phone(_text(out["phone"], "phone"), country))
    if "function" in out:
        out["function"] = _text(out["function"], "function")
    return out


def _only(fields: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    for name in fields:
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise InvalidInput(name, f"is not a {what} field; allowed: {known}")


def _build(cls: type[Any], **fields: Any) -> Any:
    try:
        return cls(**fields)
    except InvalidInput:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidInput(None, f"invalid value: {exc}") from exc


# -- results --


@attrs.frozen
class SavedRelation:
    """A relation as stored, with the contacts entered with it and the rule warnings."""

    relation: Relation
    contacts: tuple[Contact, ...] = ()
    warnings: tuple[Violation, ...] = ()


@attrs.frozen
class SavedContact:
    """A contact as stored, with the rule warnings (non-blocking violations)."""

    contact: Contact
    warnings: tuple[Violation, ...] = ()


# -- writes --


def _writer(uow: UnitOfWork, actor: str) -> Viewer:
    viewer = resolve_viewer(uow, actor)
    require(viewer, "relation.write", "relations and contacts")
    return viewer


def _manager(uow: UnitOfWork, fields: Mapping[str, Any]) -> None:
    if fields.get("account_manager") is not None:
        active_user(uow, fields["account_manager"], "account_manager")


def create_relation(
    ctx: Context,
    actor: str,
    *,
    name: str,
    contacts: Sequence[NewContact] = (),
    country: str = "NL",
    rules: RuleSet | None = None,
    conventions: NameConventions = DEFAULT_CONVENTIONS,
    **fields: Any,
) -> SavedRelation:
    """Enter a new relation, optionally with its contact persons, in one unit of work.

    ``fields`` are further relation fields (:data:`RELATION_FIELDS`). Input is
    normalised (A1); national phone numbers are read for the first address's
    country, else ``country``. The rules (the installation's unless ``rules``
    is given) are checked on the relation and its contacts together, so
    "every new relation has a contact" holds when ``contacts`` has one.

    Raises:
        AccessDenied: the actor lacks ``relation.write``.
        RuleViolation: a blocking rule is broken (every one is listed);
            nothing is stored.
        InvalidInput: an unknown field, a value that cannot be normalised
            (postcode, phone, e-mail), an unknown or deactivated account
            manager.
    """
    _only(fields, RELATION_FIELDS - {"name"}, "relation")
    country = _check_country(country)
    values = _normal_relation_fields({"name": name, **fields}, country, conventions)
    phone_country = _country_of(values.get("addresses", ()), country)
    if isinstance(contacts, NewContact) or not isinstance(contacts, Sequence):
        raise InvalidInput("contacts", "must be a list of NewContact", contacts)
    with ctx.store.unit_of_work() as uow:
        _writer(uow, actor)
        _manager(uow, values)
        relation = _build(Relation, id=RelationId(ctx.new_id()), **values)
        people: list[Contact] = []
        for i, c in enumerate(contacts):
            if not isinstance(c, NewContact):
                raise InvalidInput(f"contacts[{i}]", "must be a NewContact", c)
            values_c = _normal_contact_fields(attrs.asdict(c, recurse=False), phone_country)
            people.append(
                _build(Contact, id=ContactId(ctx.new_id()), relation_id=relation.id, **values_c)
            )
        warnings = _enforce([relation, *people], [], _rules(uow, rules))
        stored = uow.relations.add(relation)
        audit(uow, ctx, actor, "relation", None, stored)
        stored_people: list[Contact] = []
        for person in people:
            added = uow.contacts.add(person)
            audit(uow, ctx, actor, "contact", None, added)
            stored_people.append(added)
        uow.commit()
    return SavedRelation(stored, tuple(stored_people), warnings)


def _contact_count(uow: UnitOfWork, relation_id: str) -> RuleContext:
    return RuleContext({relation_id: len(uow.contacts.of_relation(relation_id))})


def update_relation(
    ctx: Context,
    actor: str,
    relation_id: str,
    *,
    rules: RuleSet | None = None,
    conventions: NameConventions = DEFAULT_CONVENTIONS,
    expected_version: int | None = None,
    **fields: Any,
) -> SavedRelation:
    """Change fields of a relation (:data:`RELATION_FIELDS`), normalised and checked.

    A blocking rule stops the change only when the change breaks it (a rule
    the stored relation broke already comes back as a warning). The change is
    recorded in the audit log; nothing changes when the values are the same.

    Raises:
        NotFound: no such relation, or not visible to the actor.
        AccessDenied: the actor lacks ``relation.write``.
        ConcurrencyConflict: ``expected_version`` is not the stored version.
        RuleViolation: the change breaks a blocking rule; nothing is stored.
        InvalidInput: an unknown field or a value that cannot be normalised.
    """
    _only(fields, RELATION_FIELDS, "relation")
    with ctx.store.unit_of_work() as uow:
        viewer = _writer(uow, actor)
        old = uow.relations.get(relation_id, viewer)
        _check_version("relation", old.id, old.version, expected_version)
        country = _country_of(old.addresses, "NL")
        values = _normal_relation_fields(fields, country, conventions)
        _manager(uow, values)
        new = evolve(old, **values)
        warnings = _enforce([new], [old], _rules(uow, rules), _contact_count(uow, old.id))
        if new == old:
            return SavedRelation(old, (), warnings)
        stored = uow.relations.save(new)
        audit(uow, ctx, actor, "relation", old, stored)
        uow.commit()
    return SavedRelation(stored, (), warnings)


def _check_version(kind: str, rid: str, stored: int, expected: int | None) -> None:
    from crm_procedures.errors import ConcurrencyConflict

    if expected is not None and expected != stored:
        raise ConcurrencyConflict(kind, rid, expected, stored)


def create_contact(
    ctx: Context,
    actor: str,
    relation_id: str,
    *,
    last_name: str,
    rules: RuleSet | None = None,
    **fields: Any,
) -> SavedContact:
    """Add a contact person to a relation (L1), normalised and checked (A1, A2).

    National phone numbers are read for the relation's country.

    Raises:
        NotFound: no such relation, or not visible to the actor.
        AccessDenied: the actor lacks ``relation.write``.
        RuleViolation: a blocking rule is broken; nothing is stored.
        InvalidInput: an unknown field or a value that cannot be normalised.
    """
    _only(fields, CONTACT_FIELDS - {"last_name"}, "contact")
    with ctx.store.unit_of_work() as uow:
        viewer = _writer(uow, actor)
        relation = uow.relations.get(relation_id, viewer)
        _refuse_merged(relation)
        country = _country_of(relation.addresses, "NL")
        values = _normal_contact_fields({"last_name": last_name, "initials": "", **fields}, country)
        contact = _build(Contact, id=ContactId(ctx.new_id()), relation_id=relation.id, **values)
        warnings = _enforce([contact], [], _rules(uow, rules))
        stored = uow.contacts.add(contact)
        audit(uow, ctx, actor, "contact", None, stored)
        uow.commit()
    return SavedContact(stored, warnings)


def update_contact(
    ctx: Context,
    actor: str,
    contact_id: str,
    *,
    rules: RuleSet | None = None,
    expected_version: int | None = None,
    **fields: Any,
) -> SavedContact:
    """Change fields of a contact (:data:`CONTACT_FIELDS`), normalised and checked.

    Raises:
        NotFound: no such contact, or its relation is not visible to the actor.
        AccessDenied: the actor lacks ``relation.write``.
        ConcurrencyConflict: ``expected_version`` is not the stored version.
        RuleViolation: the change breaks a blocking rule; nothing is stored.
        InvalidInput: an unknown field or a value that cannot be normalised.
    """
    _only(fields, CONTACT_FIELDS, "contact")
    with ctx.store.unit_of_work() as uow:
        viewer = _writer(uow, actor)
        old = uow.contacts.get(contact_id)
        relation = _relation_of(uow, old, viewer)
        _check_version("contact", old.id, old.version, expected_version)
        values = _normal_contact_fields(fields, _country_of(relation.addresses, "NL"))
        new = evolve(old, **values)
        warnings = _enforce([new], [old], _rules(uow, rules))
        if new == old:
            return SavedContact(old, warnings)
        stored = uow.contacts.save(new)
        audit(uow, ctx, actor, "contact", old, stored)
        uow.commit()
    return SavedContact(stored, warnings)


def _relation_of(uow: UnitOfWork, contact: Contact, viewer: Viewer) -> Relation:
    try:
        return uow.relations.get(contact.relation_id, viewer)
    except NotFound:
        raise NotFound("contact", contact.id) from None


def _refuse_merged(relation: Relation) -> None:
    if relation.merged_into is not None:
        raise InvalidInput(
            "relation_id",
            f"relation {relation.id} was merged into relation {relation.merged_into}; use that one",
            relation.id,
        )


# -- reads --


def get_relation(ctx: Context, actor: str, relation_id: str) -> Relation:
    """One relation. Raises NotFound (missing or invisible) or AccessDenied (unknown actor)."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        return uow.relations.get(relation_id, resolve_viewer(uow, actor))


def contacts_of(ctx: Context, actor: str, relation_id: str) -> list[Contact]:
    """The contacts of one relation, by last name. Raises NotFound for an invisible relation."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        relation = uow.relations.get(relation_id, resolve_viewer(uow, actor))
        return uow.contacts.of_relation(relation.id)


def relation_history(ctx: Context, actor: str, relation_id: str) -> list[Change]:
    """Every recorded change of a relation, oldest first. Raises NotFound when invisible."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        relation = uow.relations.get(relation_id, resolve_viewer(uow, actor))
        return uow.audit.of_record("relation", relation.id)


def search_relations(
    ctx: Context, actor: str, name_contains: str, *, limit: int = 50, offset: int = 0
) -> list[Relation]:
    """Relations whose name contains the text that the actor may see, by name, one page.

    Raises:
        InvalidInput: the text is not text, a page size outside 1..1000 or a
            negative offset.
    """
    check_page(limit, offset)
    if not isinstance(name_contains, str):
        raise InvalidInput("name_contains", "must be text", name_contains)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        return uow.relations.search(name_contains, limit=limit, offset=offset, viewer=viewer)


# -- merge --


@attrs.frozen
class Merge:
    """What :func:`merge_relations` moved from the absorbed relation to the kept one.

    Attributes:
        relation: the kept relation as stored after the merge.
        absorbed: the absorbed relation as stored (``merged_into`` set).
        contacts: the ids of the contacts that moved.
        projects: the ids of the projects that moved.
        activities: the ids of the activities that moved.
        prospects: the ids of the prospects that moved.
        visit_reports: the ids of the visit reports that moved.
        appointments: the ids of the appointments that moved.
        double_prospects: ``(project, kept prospect, moved prospect)`` for
            every project in which both relations were prospects; close one.
    """

    relation: Relation
    absorbed: Relation
    contacts: tuple[str, ...]
    projects: tuple[str, ...]
    activities: tuple[str, ...]
    prospects: tuple[str, ...]
    visit_reports: tuple[str, ...]
    appointments: tuple[str, ...]
    double_prospects: tuple[tuple[str, str, str], ...]


def _paged(fetch: Any) -> list[Any]:
    # Collected before any save, so that moving records does not disturb the paging.
    out: list[Any] = []
    while True:
        batch = fetch(_PAGE, len(out))
        out.extend(batch)
        if len(batch) < _PAGE:
            return out


def _prospects_of(uow: UnitOfWork, relation_id: str) -> list[Prospect]:
    try:
        queries = report_queries(uow)
    except CrmError:  # a host's store without report queries: walk the projects
        out: list[Prospect] = []
        for project in uow.projects.visible(None):
            out.extend(
                p
                for p in _paged(
                    lambda n, o, pid=project.id: uow.prospects.of_project(pid, None, None, n, o)
                )
                if p.relation_id == relation_id
            )
        return out
    return list(queries.prospects_of_relation(relation_id, None))


def _merged_fields(keep: Relation, gone: Relation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (
        "industry_code",
        "email",
        "phone",
        "website",
        "account_manager",
        "region",
        "source",
    ):
        if getattr(keep, name) is None and getattr(gone, name) is not None:
            out[name] = getattr(gone, name)
    if not gone.kinds <= keep.kinds:
        out["kinds"] = keep.kinds | gone.kinds
    extra = tuple(a for a in gone.addresses if a not in keep.addresses)
    if extra:
        out["addresses"] = keep.addresses + extra
    if gone.notes.strip() and gone.notes.strip() not in keep.notes:
        out["notes"] = "\n\n".join(n for n in (keep.notes.strip(), gone.notes.strip()) if n)
    return out


def merge_relations(ctx: Context, actor: str, keep_id: str, absorb_id: str) -> Merge:
    """Merge relation ``absorb_id`` into ``keep_id`` (two records of one company).

    Contacts, projects, activities (and their appointments), prospects and
    visit reports of the absorbed relation move to the kept one; the kept
    relation takes the absorbed one's values where it has none (kinds and
    addresses are joined, notes appended). The absorbed relation stays stored
    with ``merged_into`` set, so its history remains; every moved record gets
    an audit entry with action ``merge``. All in one unit of work.

    Raises:
        AccessDenied: the actor lacks ``relation.write``.
        NotFound: either relation is missing or not visible to the actor.
        InvalidInput: the two ids are the same, or either relation was merged
            already.
    """
    if keep_id == absorb_id:
        raise InvalidInput("absorb_id", "must differ from keep_id", absorb_id)
    with ctx.store.unit_of_work() as uow:
        viewer = _writer(uow, actor)
        keep = uow.relations.get(keep_id, viewer)
        gone = uow.relations.get(absorb_id, viewer)
        _refuse_merged(keep)
        _refuse_merged(gone)
        now = ctx.now()
        contacts = uow.contacts.of_relation(gone.id)
        projects = uow.projects.of_relation(gone.id, None)
        activities: list[Activity] = _paged(
            lambda n, o: uow.activities.of_relation(gone.id, None, n, o)
        )
        reports = _paged(
            lambda n, o: uow.visit_reports.search(relation_id=gone.id, limit=n, offset=o)
        )
        prospects = _prospects_of(uow, gone.id)
        kept_in = {p.project_id: p.id for p in _prospects_of(uow, keep.id)}
        for contact in contacts:
            stored_contact = uow.contacts.save(evolve(contact, relation_id=keep.id))
            audit(uow, ctx, actor, "contact", contact, stored_contact, "merge")
        for project in projects:
            stored_project = uow.projects.save(evolve(project, relation_id=keep.id))
            audit(uow, ctx, actor, "project", project, stored_project, "merge")
        appointments: list[str] = []
        for activity in activities:
            stored_activity = uow.activities.save(evolve(activity, relation_id=keep.id))
            audit(uow, ctx, actor, "activity", activity, stored_activity, "merge")
            booked = (
                uow.appointments.find(activity.appointment_id) if activity.appointment_id else None
            )
            if booked is not None and booked.relation_id == gone.id:
                moved = uow.appointments.save(evolve(booked, relation_id=keep.id))
                audit(uow, ctx, actor, "appointment", booked, moved, "merge")
                appointments.append(moved.id)
        for report in reports:
            stored_report = uow.visit_reports.save(evolve(report, relation_id=keep.id))
            audit(uow, ctx, actor, "visit_report", report, stored_report, "merge")
        doubles: list[tuple[str, str, str]] = []
        for prospect in prospects:
            if prospect.project_id in kept_in:
                doubles.append((prospect.project_id, kept_in[prospect.project_id], prospect.id))
            prospect.relation_id = keep.id
            stored_prospect = uow.prospects.save(prospect)
            uow.audit.record(
                Change(
                    "prospect",
                    prospect.id,
                    stored_prospect.version,
                    now,
                    actor,
                    "merge",
                    {"relation_id": (gone.id, keep.id)},
                )
            )
        new_keep = evolve(keep, **_merged_fields(keep, gone))
        stored_keep = uow.relations.save(new_keep)
        uow.audit.record(
            Change(
                "relation",
                keep.id,
                stored_keep.version,
                now,
                actor,
                "merge",
                {"merged": ("", gone.id), **_diff_of(keep, new_keep)},
            )
        )
        stored_gone = uow.relations.save(evolve(gone, merged_into=keep.id))
        audit(uow, ctx, actor, "relation", gone, stored_gone, "merge")
        uow.commit()
    return Merge(
        stored_keep,
        stored_gone,
        tuple(c.id for c in contacts),
        tuple(p.id for p in projects),
        tuple(a.id for a in activities),
        tuple(p.id for p in prospects),
        tuple(r.id for r in reports),
        tuple(appointments),
        tuple(doubles),
    )


def _diff_of(old: Relation, new: Relation) -> dict[str, tuple[str, str]]:
    from crm_procedures.model.audit import diff

    return diff(old, new)
