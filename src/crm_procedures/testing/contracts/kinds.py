"""The record kinds every store keeps alike: how to build, change and reach each one.

The contract tests run the common repository operations (add, get, find,
save, count, add_many) once per kind listed here. Prospects, the one mutable
aggregate, have tests of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from crm_procedures.model.document import Document
from crm_procedures.ports import UnitOfWork
from crm_procedures.testing.builders import (
    BUILDER_TIME,
    a_contact,
    a_group,
    a_project,
    a_relation,
    a_user,
    a_visit_report,
    an_activity,
    an_appointment,
    next_id,
)


def a_document(**overrides: Any) -> Document:
    """The metadata of a PDF attached to a relation."""
    fields: dict[str, Any] = {
        "id": next_id("document"),
        "owner_kind": "relation",
        "owner_id": "relation-1",
        "name": "offer.pdf",
        "media_type": "application/pdf",
        "size": 1234,
        "added_at": BUILDER_TIME,
    }
    fields.update(overrides)
    return Document(**fields)


@attrs.frozen
class Kind:
    """One record kind: its name in errors, its repository, a builder and a change."""

    name: str
    attribute: str
    """The unit of work's attribute that holds the kind's repository."""
    build: Callable[[], Any]
    field: str
    """A text field that :meth:`changed` rewrites."""

    def repository(self, uow: UnitOfWork) -> Any:
        """The kind's repository in ``uow``."""
        return getattr(uow, self.attribute)

    def changed(self, record: Any, text: str) -> Any:
        """A copy of ``record`` with ``field`` set to ``text`` (same version)."""
        return attrs.evolve(record, **{self.field: text})


KINDS = [
    Kind("relation", "relations", a_relation, "name"),
    Kind("contact", "contacts", a_contact, "last_name"),
    Kind("project", "projects", a_project, "name"),
    Kind("activity", "activities", an_activity, "subject"),
    Kind("appointment", "appointments", an_appointment, "title"),
    Kind("visit_report", "visit_reports", a_visit_report, "subject"),
    Kind("document", "documents", a_document, "name"),
    Kind("user", "users", a_user, "name"),
    Kind("group", "groups", a_group, "name"),
]

KIND_PARAMS = [pytest.param(k, id=k.name) for k in KINDS]
