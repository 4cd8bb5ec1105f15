"""Helpers shared by the project, activity and visit-report services (internal)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.ids import ContactId
from crm_procedures.model.audit import Change, diff
from crm_procedures.model.contact import Contact
from crm_procedures.model.project import Project
from crm_procedures.model.users import User
from crm_procedures.ports import UnitOfWork
from crm_procedures.services.context import Context
from crm_procedures.services.record_settings import RecordSettings


def settings_for(ctx: Context, settings: RecordSettings | None) -> RecordSettings:
    """``settings``, or settings built from the context's definitions (their dictionaries)."""
    if settings is not None:
        if not isinstance(settings, RecordSettings):
            raise InvalidInput("settings", "must be RecordSettings", settings)
        return settings
    dictionaries = getattr(ctx.definitions, "dictionaries", None) or ()
    return RecordSettings(dictionaries={d.key: d for d in dictionaries})


def audit(
    uow: UnitOfWork,
    ctx: Context,
    actor: str,
    kind: str,
    old: Any,
    new: Any,
    action: str | None = None,
) -> None:
    """Append the change from ``old`` to ``new`` (``old=None``: a creation) to the audit log."""
    changes = diff(old, new)
    if old is not None and not changes:
        return
    uow.audit.record(
        Change(
            record_kind=kind,
            record_id=new.id,
            version=new.version,
            at=ctx.now(),
            actor=actor,
            action=action or ("create" if old is None else "update"),
            changes=changes,
        )
    )


def active_user(uow: UnitOfWork, user_id: Any, field: str) -> User:
    """The stored, active user ``user_id``. Raises InvalidInput naming ``field``."""
    if not isinstance(user_id, str) or not user_id:
        raise InvalidInput(field, "must be a user id", user_id)
    user = uow.users.find(user_id)
    if user is None:
        raise InvalidInput(field, f"there is no user {user_id!r}", user_id)
    if not user.active:
        raise InvalidInput(field, f"user {user_id!r} is deactivated; pick an active user", user_id)
    return user


def load_contacts(
    uow: UnitOfWork,
    contact_ids: Iterable[str],
    project: Project | None = None,
    field: str = "contact_ids",
) -> list[Contact]:
    """The contacts with ``contact_ids``, in order; a project's one-off contacts count too.

    Raises:
        InvalidInput: an id names no contact (the message gives the id).
    """
    if isinstance(contact_ids, str):
        contact_ids = (contact_ids,)
    one_off = {c.id: c for c in project.one_off_contacts} if project is not None else {}
    out: list[Contact] = []
    for i, cid in enumerate(contact_ids):
        found = one_off.get(ContactId(cid)) if isinstance(cid, str) else None
        if found is None and isinstance(cid, str) and cid:
            found = uow.contacts.find(cid)
        if found is None:
            raise InvalidInput(f"{field}[{i}]", f"there is no contact {cid!r}", cid)
        out.append(found)
    return out


def require_contacts_of(
    contacts: Sequence[Contact], relation_id: str, field: str = "contact_ids"
) -> tuple[ContactId, ...]:
    """The ids of ``contacts`` after checking each belongs to ``relation_id`` (P6, L1).

    Raises:
        InvalidInput: a contact belongs to another relation (named in the message).
    """
    ids: list[ContactId] = []
    for i, c in enumerate(contacts):
        if c.relation_id != relation_id:
            raise InvalidInput(
                f"{field}[{i}]",
                f"contact {c.full_name!r} ({c.id}) belongs to relation {c.relation_id}, "
                f"not to relation {relation_id}",
                c.id,
            )
        if c.id not in ids:
            ids.append(c.id)
    return tuple(ids)


def evolve(record: Any, **fields: Any) -> Any:
    """``attrs.evolve`` whose builtin errors (from converters) become InvalidInput."""
    try:
        return attrs.evolve(record, **fields)
    except InvalidInput:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidInput(None, f"invalid value: {exc}") from exc


def check_page(limit: Any, offset: Any) -> None:
    """Raise InvalidInput unless ``limit`` is 1..1000 and ``offset`` >= 0."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput("limit", "must be a whole number from 1 to 1000", limit)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput("offset", "must be a whole number >= 0", offset)
