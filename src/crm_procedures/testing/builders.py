"""Builders: valid records with sensible defaults, for tests (X6).

Each builder returns a fresh, valid record; pass keyword arguments to
override any field. Ids come from one counter per kind (``relation-1``,
``relation-2``, ...), so two records built in one test never collide; call
:func:`reset_ids` to start the counters again (the pytest plugin does so
before every test). Datetimes default to :data:`BUILDER_TIME`, the moment the
kit's :class:`~crm_procedures.testing.clock.FrozenClock` starts at.

::

    acme = a_relation(name="Acme B.V.", industry_code="4711")
    jan = a_contact(relation_id=acme.id, last_name="Jansen")
    call = an_activity(relation_id=acme.id, contact_ids=[jan.id], outcome="reached")

Builders do not store anything; add the records through a unit of work or
the services. Invalid overrides raise what the record's constructor raises
(:class:`~crm_procedures.errors.InvalidInput`).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.appointment import Appointment, Attendee, check_moment
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.dictionaries import Choice, Dictionary
from crm_procedures.model.document import Document
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import Prospect
from crm_procedures.model.relation import Address, Relation, RelationKind
from crm_procedures.model.users import Group, User
from crm_procedures.model.visit_report import VisitReport

__all__ = [
    "BUILDER_TIME",
    "a_contact",
    "a_dictionary",
    "a_document",
    "a_group",
    "a_project",
    "a_prospect",
    "a_relation",
    "a_user",
    "a_visit_report",
    "an_activity",
    "an_appointment",
    "next_id",
    "reset_ids",
]

BUILDER_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""The default moment of built records: Monday 5 January 2026, 09:00 UTC."""

_counters: dict[str, Iterator[int]] = {}


def next_id(kind: str) -> str:
    """The next id of ``kind``: ``"<kind>-<n>"`` with n counting from 1."""
    counter = _counters.get(kind)
    if counter is None:
        counter = _counters[kind] = itertools.count(1)
    return f"{kind}-{next(counter)}"


def reset_ids() -> None:
    """Start every id counter at 1 again (the plugin does this before each test)."""
    _counters.clear()


def _number(record_id: str) -> str:
    return record_id.rsplit("-", 1)[-1]


def a_relation(**overrides: Any) -> Relation:
    """A company relation with a visiting address in Utrecht, kind prospect."""
    rid = overrides.pop("id", None) or next_id("relation")
    fields: dict[str, Any] = {
        "name": f"Relation {_number(rid)} B.V.",
        "kinds": frozenset({RelationKind.PROSPECT}),
        "industry_code": "6201",
        "addresses": (Address(street="Oudegracht 1", postcode="3511 AA", city="Utrecht"),),
        "email": f"info@relation{_number(rid)}.example",
        "phone": "+31301234567",
    }
    fields.update(overrides)
    return Relation(id=rid, **fields)


def a_contact(**overrides: Any) -> Contact:
    """A contact person (Jan Jansen, with e-mail and phone) at ``relation_id``.

    Without ``relation_id`` the contact points at a new relation id (build
    that relation with ``a_relation(id=contact.relation_id)``).
    """
    cid = overrides.pop("id", None) or next_id("contact")
    fields: dict[str, Any] = {
        "relation_id": overrides.pop("relation_id", None) or next_id("relation"),
        "last_name": "Jansen",
        "first_name": "Jan",
        "initials": "J.",
        "gender": Gender.MALE,
        "email": f"jan.jansen{_number(cid)}@example.com",
        "phone": "+31612345678",
    }
    fields.update(overrides)
    return Contact(id=cid, **fields)


def a_project(**overrides: Any) -> Project:
    """A project under ``relation_id`` (a new relation id when not given)."""
    pid = overrides.pop("id", None) or next_id("project")
    fields: dict[str, Any] = {
        "relation_id": overrides.pop("relation_id", None) or next_id("relation"),
        "name": f"Project {_number(pid)}",
        "start_date": BUILDER_TIME.date(),
    }
    fields.update(overrides)
    return Project(id=pid, **fields)


def a_prospect(**overrides: Any) -> Prospect:
    """A suspect in preparation: ``project_id`` and ``relation_id`` default to new ids."""
    pid = overrides.pop("id", None) or next_id("prospect")
    project_id = overrides.pop("project_id", None) or next_id("project")
    relation_id = overrides.pop("relation_id", None) or next_id("relation")
    return Prospect(id=pid, project_id=project_id, relation_id=relation_id, **overrides)


def an_activity(**overrides: Any) -> Activity:
    """An open contact activity by phone for ``employee`` (default ``user-1``).

    Starts at :data:`BUILDER_TIME` and was created then; ``relation_id``
    defaults to a new relation id.
    """
    aid = overrides.pop("id", None) or next_id("activity")
    fields: dict[str, Any] = {
        "kind": ActivityKind.CONTACT,
        "employee": "user-1",
        "subject": "Introduction call",
        "relation_id": overrides.pop("relation_id", None) or next_id("relation"),
        "channel": "phone",
        "start": BUILDER_TIME,
        "created_at": BUILDER_TIME,
    }
    fields.update(overrides)
    return Activity(id=aid, **fields)


def an_appointment(**overrides: Any) -> Appointment:
    """A one-hour appointment for ``employee`` (default ``user-1``) the day after
    :data:`BUILDER_TIME`, with one attendee and an organizer address."""
    aid = overrides.pop("id", None) or next_id("appointment")
    start = overrides.pop("start", None) or BUILDER_TIME + timedelta(days=1)
    end = overrides.pop("end", None)
    if end is None:
        # The default end is computed: check the start first, so a far or
        # naive one is InvalidInput rather than an overflow in the sum.
        end = check_moment(start, "start") + timedelta(hours=1)
    fields: dict[str, Any] = {
        "employee": "user-1",
        "start": start,
        "end": end,
        "title": "Introductory meeting",
        "uid": f"{aid}@crm-procedures.test",
        "attendees": (Attendee(email="jan.jansen@example.com", name="Jan Jansen"),),
        "organizer_email": "user-1@example.com",
    }
    fields.update(overrides)
    return Appointment(id=aid, **fields)


def a_visit_report(**overrides: Any) -> VisitReport:
    """A first-visit report by ``account_manager`` (default ``user-1``) of one hour."""
    vid = overrides.pop("id", None) or next_id("visit-report")
    start = overrides.pop("start", None) or BUILDER_TIME
    end = overrides.pop("end", None)
    if end is None:
        end = check_moment(start, "start") + timedelta(hours=1)
    fields: dict[str, Any] = {
        "designation": f"Visit {_number(vid)}",
        "relation_id": overrides.pop("relation_id", None) or next_id("relation"),
        "account_manager": "user-1",
        "start": start,
        "end": end,
        "city": "Utrecht",
        "subject": "Getting acquainted",
        "visit_type": "first",
        "keywords": ("introduction",),
        "text": "Met the purchasing manager; interested in a demonstration.",
    }
    fields.update(overrides)
    return VisitReport(id=vid, **fields)


def a_user(**overrides: Any) -> User:
    """An active user with an e-mail address, language English, no groups or roles."""
    uid = overrides.pop("id", None) or next_id("user")
    fields: dict[str, Any] = {
        "name": f"User {_number(uid)}",
        "email": f"{uid}@example.com",
    }
    fields.update(overrides)
    return User(id=uid, **fields)


def a_group(**overrides: Any) -> Group:
    """A user group without permissions (pass ``permissions={...}``)."""
    gid = overrides.pop("id", None) or next_id("group")
    fields: dict[str, Any] = {"name": f"Group {_number(gid)}"}
    fields.update(overrides)
    return Group(id=gid, **fields)


def a_document(content: bytes = b"%PDF-1.4 offer", **overrides: Any) -> Document:
    """The metadata of a PDF on ``owner_kind``/``owner_id`` (default: a new project id).

    ``size`` and ``sha256`` describe ``content``, so the record matches what a
    :class:`~crm_procedures.ports.BlobStore` holds after ``put(content)``.
    """
    did = overrides.pop("id", None) or next_id("document")
    fields: dict[str, Any] = {
        "owner_kind": "project",
        "owner_id": overrides.pop("owner_id", None) or next_id("project"),
        "name": f"offer-{_number(did)}.pdf",
        "media_type": "application/pdf",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "added_at": BUILDER_TIME,
        "added_by": "user-1",
    }
    fields.update(overrides)
    return Document(id=did, **fields)


def a_dictionary(
    key: str = "visit_type",
    choices: Iterable[str | Choice] = ("first", "follow_up", "complaint"),
    **overrides: Any,
) -> Dictionary:
    """A dictionary (a configured choice list) whose choices sort in the given order.

    A choice given as a key gets that key, a label made from it and the next
    sort order; pass :class:`~crm_procedures.model.dictionaries.Choice`
    objects for inactive choices or labels in other languages.
    """
    built = tuple(
        c if isinstance(c, Choice) else Choice(c, c.replace("_", " ").capitalize(), sort_order=i)
        for i, c in enumerate(choices)
    )
    fields: dict[str, Any] = {"label": key.replace("_", " ").capitalize()}
    fields.update(overrides)
    return Dictionary(key, built, **fields)
