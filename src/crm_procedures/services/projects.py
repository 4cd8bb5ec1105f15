"""Project services (Logic4 L1-L6): the project record and what hangs around it.

Every function takes the :class:`~crm_procedures.services.context.Context` and
the acting user's id, opens one unit of work, checks what the actor may do,
records an audit :class:`~crm_procedures.model.audit.Change` for every record
it changes, and commits. Bad input raises a named error from
:mod:`crm_procedures.errors` and leaves the store unchanged.

Choice fields (kind, stage, chance, free choice fields 1-5) are checked
against the installation's dictionaries, given as ``settings``
(:class:`~crm_procedures.services.record_settings.RecordSettings`) or, when
omitted, taken from ``ctx.definitions``. A value newly chosen must be an
active choice; a value a record already holds stays valid after its choice is
deactivated.

Documents (e-mails, PDFs, photos) are metadata records whose content lives in
the context's :class:`~crm_procedures.ports.BlobStore`; the call log is fed by
a :class:`~crm_procedures.ports.CallFeed` through :func:`ingest_calls`.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.message import Message
from typing import Any

import attrs

from crm_procedures.access.permissions import (
    require,
    require_activity_write,
    require_project_write,
)
from crm_procedures.access.viewer import Viewer
from crm_procedures.errors import InvalidInput, NotFound
from crm_procedures.ids import ActivityId, ContactId, DocumentId, GroupId, ProjectId, UserId
from crm_procedures.model.activity import Activity, ActivityKind, Timer
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.contact import Contact
from crm_procedures.model.document import Document
from crm_procedures.model.money import Money
from crm_procedures.model.project import CUSTOM_CHOICE_FIELDS, CUSTOM_TEXT_FIELDS, Project
from crm_procedures.policies.normalise import normalise_phone
from crm_procedures.ports import BlobStore, CallFeed, CallRecord, UnitOfWork
from crm_procedures.services._records import (
    active_user,
    audit,
    evolve,
    load_contacts,
    require_contacts_of,
    settings_for,
)
from crm_procedures.services.context import SYSTEM_USER, Context, resolve_viewer
from crm_procedures.services.record_settings import (
    PROJECT_CHANCE_DICTIONARY,
    PROJECT_KIND_DICTIONARY,
    PROJECT_STAGE_DICTIONARY,
    RecordSettings,
    chance_fraction,
    custom_choice_dictionary,
)

__all__ = [
    "DOCUMENT_OWNERS",
    "PROJECT_FIELDS",
    "CallIngest",
    "ProjectSummary",
    "add_one_off_contact",
    "attach_document",
    "call_log",
    "create_project",
    "deny_project",
    "document_content",
    "documents_of",
    "get_project",
    "ingest_calls",
    "link_email",
    "link_project",
    "linked_emails",
    "pick_project_contacts",
    "project_summary",
    "projects_of_relation",
    "set_notepad",
    "update_project",
]

PROJECT_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "description",
        "start_date",
        "end_date",
        "end_date_expected",
        "responsible",
        "kind",
        "stage",
        "chance",
        "value",
        "custom_text",
        "custom_choices",
        "notepad",
    }
    | {f"custom_text_{i}" for i in range(1, CUSTOM_TEXT_FIELDS + 1)}
    | {f"custom_choice_{i}" for i in range(1, CUSTOM_CHOICE_FIELDS + 1)}
)
"""Fields :func:`update_project` accepts. ``custom_text_<n>`` (1-4) and
``custom_choice_<n>`` (1-5) change one free field; contacts, links and the
relation have their own functions."""

DOCUMENT_OWNERS: frozenset[str] = frozenset({"project", "visit_report", "activity"})
"""The record kinds documents can be attached to."""

_EMAIL_KIND = "email"
_CALL_WINDOW = timedelta(days=366)


# --- the project record ---------------------------------------------------------------


def _check_choices(settings: RecordSettings, old: Project | None, new: Project) -> None:
    pairs = [
        (PROJECT_KIND_DICTIONARY, "kind", new.kind, old.kind if old else None),
        (PROJECT_STAGE_DICTIONARY, "stage", new.stage, old.stage if old else None),
        (PROJECT_CHANCE_DICTIONARY, "chance", new.chance, old.chance if old else None),
    ]
    for i in range(CUSTOM_CHOICE_FIELDS):
        before = old.custom_choices[i] if old else None
        pairs.append(
            (
                custom_choice_dictionary(i + 1),
                f"custom_choices[{i}]",
                new.custom_choices[i],
                before,
            )
        )
    for dictionary, field, value, before in pairs:
        # An unchanged value is not chosen anew: a deactivated choice stays valid.
        if old is None or value != before:
            settings.require(dictionary, value, field, new=True)


def _check_people(uow: UnitOfWork, old: Project | None, new: Project) -> None:
    if new.responsible is not None and (old is None or new.responsible != old.responsible):
        active_user(uow, new.responsible, "responsible")
    for user in sorted(new.linked_users - (old.linked_users if old else frozenset())):
        active_user(uow, user, "linked_users")
    for group in sorted(new.linked_groups - (old.linked_groups if old else frozenset())):
        if uow.groups.find(group) is None:
            raise InvalidInput("linked_groups", f"there is no group {group!r}", group)


def create_project(
    ctx: Context,
    actor: str,
    *,
    relation_id: str,
    name: str,
    description: str = "",
    start_date: date | None = None,
    end_date: date | None = None,
    end_date_expected: bool = False,
    responsible: str | None = None,
    kind: str | None = None,
    stage: str | None = None,
    chance: str | None = None,
    value: Money | None = None,
    custom_text: Iterable[str] = (),
    custom_choices: Iterable[str | None] = (),
    notepad: str = "",
    contact_ids: Iterable[str] = (),
    linked_users: Iterable[str] = (),
    linked_groups: Iterable[str] = (),
    settings: RecordSettings | None = None,
) -> Project:
    """Create a project under a relation (L1-L3); it appears under that relation.

    ``contact_ids`` are picked from the relation's contacts. With
    ``linked_users``/``linked_groups`` only they may see the project (L5).

    Raises:
        AccessDenied: the actor lacks ``project.write`` (or is unknown).
        NotFound: the relation does not exist.
        InvalidInput: an empty name, end before start, a float or negative
            value, a choice not in (or deactivated in) its dictionary, a contact
            of another relation, an unknown user or group.
    """
    cfg = settings_for(ctx, settings)
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "project.write", "a new project")
        relation = uow.relations.get(relation_id)
        contacts = load_contacts(uow, contact_ids)
        project = Project(
            id=ProjectId(ctx.new_id()),
            relation_id=relation.id,
            name=name,
            description=description,
            start_date=start_date,
            end_date=end_date,
            end_date_expected=end_date_expected,
            responsible=UserId(responsible) if responsible is not None else None,
            kind=kind,
            stage=stage,
            chance=chance,
            value=value,
            custom_text=tuple(custom_text),
            custom_choices=tuple(custom_choices),
            notepad=notepad,
            contact_ids=require_contacts_of(contacts, relation.id),
            linked_users=frozenset(UserId(u) for u in _ids(linked_users)),
            linked_groups=frozenset(GroupId(g) for g in _ids(linked_groups)),
        )
        _check_choices(cfg, None, project)
        _check_people(uow, None, project)
        stored = uow.projects.add(project)
        audit(uow, ctx, actor, "project", None, stored)
        uow.commit()
    return stored


def _ids(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        return (values,)
    return tuple(values)


def _load_for_write(uow: UnitOfWork, viewer: Viewer, project_id: str) -> Project:
    project = uow.projects.get(project_id, viewer)
    require_project_write(viewer, project)
    return project


def _save(uow: UnitOfWork, ctx: Context, actor: str, old: Project, new: Project) -> Project:
    if new == old:
        return old
    stored = uow.projects.save(new)
    audit(uow, ctx, actor, "project", old, stored)
    return stored


def update_project(
    ctx: Context,
    actor: str,
    project_id: str,
    *,
    settings: RecordSettings | None = None,
    **fields: Any,
) -> Project:
    """Change fields of a project (see :data:`PROJECT_FIELDS`).

    ``custom_text_2="..."`` or ``custom_choice_3="key"`` change one free field;
    ``custom_text``/``custom_choices`` replace them all.

    Raises:
        NotFound: no such project, or the actor may not see it.
        AccessDenied: the actor lacks ``project.write``.
        InvalidInput: an unknown field, or a value the project refuses (see
            :func:`create_project`).
    """
    for name in fields:
        if name not in PROJECT_FIELDS:
            allowed = ", ".join(sorted(PROJECT_FIELDS))
            raise InvalidInput(name, f"is not a changeable project field; allowed: {allowed}")
    cfg = settings_for(ctx, settings)
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        old = _load_for_write(uow, viewer, project_id)
        new = evolve(old, **_expand_custom(old, fields))
        _check_choices(cfg, old, new)
        _check_people(uow, old, new)
        stored = _save(uow, ctx, actor, old, new)
        uow.commit()
    return stored


def _expand_custom(project: Project, fields: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    texts = list(out.pop("custom_text", project.custom_text))
    choices = list(out.pop("custom_choices", project.custom_choices))
    texts += [""] * (CUSTOM_TEXT_FIELDS - len(texts))
    choices += [None] * (CUSTOM_CHOICE_FIELDS - len(choices))
    for name in list(out):
        if name.startswith("custom_text_"):
            texts[int(name.rsplit("_", 1)[1]) - 1] = out.pop(name)
        elif name.startswith("custom_choice_"):
            choices[int(name.rsplit("_", 1)[1]) - 1] = out.pop(name)
    out["custom_text"] = tuple(texts)
    out["custom_choices"] = tuple(choices)
    return out


def set_notepad(ctx: Context, actor: str, project_id: str, text: str) -> Project:
    """Replace the project's one notepad (L5) with ``text``.

    Raises:
        NotFound: no such project, or the actor may not see it.
        AccessDenied: the actor lacks ``project.write``.
        InvalidInput: ``text`` is not text or holds control characters.
    """
    return update_project(ctx, actor, project_id, notepad=text)


def pick_project_contacts(
    ctx: Context, actor: str, project_id: str, contact_ids: Iterable[str]
) -> Project:
    """Set the project's contacts, picked from its relation's contacts (L1).

    Raises:
        NotFound: no such project, or the actor may not see it.
        AccessDenied: the actor lacks ``project.write``.
        InvalidInput: an unknown contact, or a contact of another relation.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        old = _load_for_write(uow, viewer, project_id)
        contacts = load_contacts(uow, contact_ids)
        new = evolve(old, contact_ids=require_contacts_of(contacts, old.relation_id))
        stored = _save(uow, ctx, actor, old, new)
        uow.commit()
    return stored


def add_one_off_contact(
    ctx: Context,
    actor: str,
    project_id: str,
    *,
    last_name: str,
    first_name: str = "",
    initials: str = "",
    name_prefix: str = "",
    email: str | None = None,
    phone: str | None = None,
    function: str = "",
) -> Contact:
    """Create a contact for this project only (L1); it is not stored on the relation.

    The contact can be used on the project's activities like a relation contact.

    Raises:
        NotFound: no such project, or the actor may not see it.
        AccessDenied: the actor lacks ``project.write``.
        InvalidInput: an empty last name or an invalid e-mail address.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        old = _load_for_write(uow, viewer, project_id)
        contact = Contact(
            id=ContactId(ctx.new_id()),
            relation_id=old.relation_id,
            last_name=last_name,
            first_name=first_name,
            initials=initials,
            name_prefix=name_prefix,
            email=email,
            phone=phone,
            function=function,
        )
        new = evolve(old, one_off_contacts=(*old.one_off_contacts, contact))
        _save(uow, ctx, actor, old, new)
        uow.commit()
    return contact


def link_project(
    ctx: Context,
    actor: str,
    project_id: str,
    *,
    users: Iterable[str] | None = None,
    groups: Iterable[str] | None = None,
) -> Project:
    """Set the users and/or groups linked to a project; when any, only they see it (L5).

    ``None`` leaves that side as it is; an empty collection clears it.

    Raises:
        NotFound: no such project, or the actor may not see it.
        AccessDenied: the actor lacks ``project.write``.
        InvalidInput: an unknown or deactivated user, or an unknown group.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        old = _load_for_write(uow, viewer, project_id)
        changes: dict[str, Any] = {}
        if users is not None:
            changes["linked_users"] = frozenset(UserId(u) for u in _ids(users))
        if groups is not None:
            changes["linked_groups"] = frozenset(GroupId(g) for g in _ids(groups))
        new = evolve(old, **changes)
        _check_people(uow, old, new)
        stored = _save(uow, ctx, actor, old, new)
        uow.commit()
    return stored


def deny_project(
    ctx: Context,
    actor: str,
    project_id: str,
    *,
    users: Iterable[str] | None = None,
    groups: Iterable[str] | None = None,
) -> Project:
    """Set the users and/or groups who may NOT see a project (deny entries, L5).

    A deny entry wins over links, ``project.read_all`` and membership; only
    ``admin`` passes. ``None`` leaves that side as it is; an empty collection
    clears it. The actor cannot deny themselves (nobody locks themselves out).

    Raises:
        NotFound: no such project, or the actor may not see it.
        AccessDenied: the actor lacks ``project.write``.
        InvalidInput: an unknown user or group, or the actor among the users.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        old = _load_for_write(uow, viewer, project_id)
        changes: dict[str, Any] = {}
        if users is not None:
            denied = frozenset(UserId(u) for u in _ids(users))
            for user in sorted(denied - old.denied_users):
                if uow.users.find(user) is None:
                    raise InvalidInput("users", f"there is no user {user!r}", user)
            if viewer.user_id in denied and not viewer.has("admin"):
                raise InvalidInput("users", "you cannot deny yourself", viewer.user_id)
            changes["denied_users"] = denied
        if groups is not None:
            denied_groups = frozenset(GroupId(g) for g in _ids(groups))
            for group in sorted(denied_groups - old.denied_groups):
                if uow.groups.find(group) is None:
                    raise InvalidInput("groups", f"there is no group {group!r}", group)
            if viewer.groups & denied_groups and not viewer.has("admin"):
                own = sorted(viewer.groups & denied_groups)
                raise InvalidInput("groups", "you cannot deny a group of your own", own)
            changes["denied_groups"] = denied_groups
        new = evolve(old, **changes)
        stored = _save(uow, ctx, actor, old, new)
        uow.commit()
    return stored


def get_project(ctx: Context, actor: str, project_id: str) -> Project:
    """The project, if the actor may see it.

    Raises:
        NotFound: no such project, or the actor may not see it.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        return uow.projects.get(project_id, viewer)


def projects_of_relation(ctx: Context, actor: str, relation_id: str) -> list[Project]:
    """The projects under one relation that the actor may see, by name (L1)."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        return uow.projects.of_relation(relation_id, viewer)


# --- documents and linked e-mails -----------------------------------------------------


def _check_owner(uow: UnitOfWork, viewer: Viewer, owner_kind: str, owner_id: str) -> None:
    """Raise unless the viewer may attach documents to the owner record."""
    if owner_kind == "project":
        _load_for_write(uow, viewer, owner_id)
    elif owner_kind == "visit_report":
        report = uow.visit_reports.get(owner_id, viewer)
        require(viewer, "visit_report.write", f"visit report {report.id}")
    elif owner_kind == "activity":
        activity = uow.activities.get(owner_id, viewer)
        project = uow.projects.find(activity.project_id) if activity.project_id else None
        require_activity_write(viewer, activity, project)
    else:
        kinds = ", ".join(sorted(DOCUMENT_OWNERS))
        raise InvalidInput("owner_kind", f"documents attach to: {kinds}", owner_kind)


def _check_readable(uow: UnitOfWork, viewer: Viewer, owner_kind: str, owner_id: str) -> None:
    if owner_kind == "project":
        uow.projects.get(owner_id, viewer)
    elif owner_kind == "visit_report":
        uow.visit_reports.get(owner_id, viewer)
    elif owner_kind == "activity":
        uow.activities.get(owner_id, viewer)
    else:
        kinds = ", ".join(sorted(DOCUMENT_OWNERS))
        raise InvalidInput("owner_kind", f"documents attach to: {kinds}", owner_kind)


def _blobs(ctx: Context) -> BlobStore:
    if ctx.blobs is None:
        raise InvalidInput(
            "blobs", "this installation has no blob store; give the Context a BlobStore"
        )
    return ctx.blobs


def check_document(
    settings: RecordSettings, name: Any, content: Any, field: str = "content"
) -> bytes:
    """Check a document's content before anything is stored; returns it as bytes.

    Raises:
        InvalidInput: content that is not bytes, or is over the installation's
            ``max_document_bytes``.
    """
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise InvalidInput(field, "must be bytes", type(content).__name__)
    data = bytes(content)
    if len(data) > settings.max_document_bytes:
        raise InvalidInput(
            field,
            f"{name!r} is {len(data)} bytes, over the limit of {settings.max_document_bytes} bytes",
            len(data),
        )
    return data


def store_document(
    uow: UnitOfWork,
    ctx: Context,
    actor: str,
    *,
    owner_kind: str,
    owner_id: str,
    name: str,
    content: bytes,
    media_type: str,
    kind: str = "file",
) -> Document:
    """Put checked content in the blob store and add its Document in ``uow`` (internal)."""
    document = Document(
        id=DocumentId(ctx.new_id()),
        owner_kind=owner_kind,
        owner_id=owner_id,
        name=name,
        media_type=media_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        kind=kind,
        added_at=ctx.now(),
        added_by=UserId(actor),
    )
    # The metadata is validated first: a bad name must not leave content behind.
    digest = _blobs(ctx).put(content)
    if digest != document.sha256:
        raise InvalidInput("content", "the blob store returned another digest than SHA-256")
    stored = uow.documents.add(document)
    audit(uow, ctx, actor, "document", None, stored, "attach")
    return stored


def attach_document(
    ctx: Context,
    actor: str,
    owner_kind: str,
    owner_id: str,
    name: str,
    content: bytes,
    media_type: str = "application/octet-stream",
    *,
    kind: str = "file",
    settings: RecordSettings | None = None,
) -> Document:
    """Attach a document (an e-mail, a PDF, a photo) to a project, visit report or activity.

    The content goes to the context's BlobStore (addressed by SHA-256), the
    metadata into the store. Over the size limit nothing is stored at all.

    Raises:
        InvalidInput: an unknown owner kind, no blob store configured, content
            that is not bytes or over ``settings.max_document_bytes`` (or the
            blob store's own limit), an empty name.
        NotFound: the owner does not exist or the actor may not see it.
        AccessDenied: the actor may not change the owner.
    """
    cfg = settings_for(ctx, settings)
    data = check_document(cfg, name, content)
    _blobs(ctx)
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        _check_owner(uow, viewer, owner_kind, owner_id)
        stored = store_document(
            uow,
            ctx,
            actor,
            owner_kind=owner_kind,
            owner_id=owner_id,
            name=name,
            content=data,
            media_type=media_type,
            kind=kind,
        )
        uow.commit()
    return stored


def _subject(message: Message) -> str:
    raw = message.get("subject")
    text = re.sub(r"\s+", " ", str(raw)).strip() if raw is not None else ""
    return text[:200] or "(no subject)"


def link_email(
    ctx: Context,
    actor: str,
    project_id: str,
    message: bytes | Message,
    *,
    settings: RecordSettings | None = None,
) -> Document:
    """Link an e-mail to a project (L5): stored as a document of kind ``email``.

    ``message`` is the raw RFC 5322 message or an ``email.message.Message``;
    the document is named after its subject.

    Raises:
        InvalidInput: not a message, over the size limit, or no blob store.
        NotFound: no such project, or the actor may not see it.
        AccessDenied: the actor lacks ``project.write``.
    """
    if isinstance(message, Message):
        parsed = message
        raw = message.as_bytes(policy=email.policy.SMTP)
    elif isinstance(message, (bytes, bytearray)):
        raw = bytes(message)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
    else:
        raise InvalidInput("message", "must be bytes or an email.message.Message", message)
    return attach_document(
        ctx,
        actor,
        "project",
        project_id,
        _subject(parsed),
        raw,
        "message/rfc822",
        kind=_EMAIL_KIND,
        settings=settings,
    )


def documents_of(ctx: Context, actor: str, owner_kind: str, owner_id: str) -> list[Document]:
    """The documents attached to a record the actor may see, oldest first.

    Raises:
        InvalidInput: an unknown owner kind.
        NotFound: the owner does not exist or the actor may not see it.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        _check_readable(uow, viewer, owner_kind, owner_id)
        return uow.documents.of_owner(owner_kind, owner_id)


def linked_emails(ctx: Context, actor: str, project_id: str) -> list[Document]:
    """The e-mails linked to a project (documents of kind ``email``), oldest first.

    Raises:
        NotFound: no such project, or the actor may not see it.
    """
    return [d for d in documents_of(ctx, actor, "project", project_id) if d.kind == _EMAIL_KIND]


def document_content(ctx: Context, actor: str, document_id: str) -> bytes:
    """The content of a document whose owner the actor may see.

    Raises:
        NotFound: no such document, its owner is not visible, or its content
            is missing from the blob store.
        InvalidInput: no blob store configured.
    """
    blobs = _blobs(ctx)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        document = uow.documents.get(document_id)
        try:
            _check_readable(uow, viewer, document.owner_kind, document.owner_id)
        except NotFound:
            raise NotFound("document", document_id) from None
    return blobs.get(document.sha256)


# --- the call log -----------------------------------------------------------------------


@attrs.frozen
class CallIngest:
    """What :func:`ingest_calls` did.

    Attributes:
        recorded: the contact activities created, one per new matched call.
        unmatched: calls whose number matched no contact (or contacts of
            several relations), left for a person to look at.
        already_known: how many calls had been recorded before (ignored).
    """

    recorded: tuple[Activity, ...]
    unmatched: tuple[CallRecord, ...]
    already_known: int


def _call_activity_id(call: CallRecord) -> ActivityId:
    # Derived from the telephony id, so feeding the same call twice finds it again.
    return ActivityId("call-" + hashlib.sha256(call.call_id.encode()).hexdigest()[:32])


def _match(uow: UnitOfWork, phone: str, country: str) -> list[Contact]:
    candidates: list[str] = []
    with contextlib.suppress(InvalidInput):
        candidates.append(normalise_phone(phone, country))
    if phone not in candidates:
        candidates.append(phone)
    for number in candidates:
        if not number:
            continue
        found = uow.contacts.by_phone(number)
        if found:
            return sorted(found, key=lambda c: c.id)
    return []


def ingest_calls(
    ctx: Context,
    feed: CallFeed,
    *,
    since: datetime | None = None,
    actor: str = SYSTEM_USER,
    settings: RecordSettings | None = None,
) -> CallIngest:
    """Record the feed's calls as completed contact activities (channel ``phone``).

    Each call is matched to contacts by normalised phone number (the numbering
    plan of ``settings.phone_country`` reads national numbers). The activity
    gets the call's start, its duration (timer and end), the contacts with that
    number at one relation, and the project among that relation's projects
    that lists one of those contacts, when exactly one does. The employee is
    the call's user when known, else the relation's account manager, else the
    system user. Calls recorded before are recognised by their id and skipped,
    so a feed can be read again safely. All calls are recorded in one unit of
    work.

    Raises:
        AccessDenied: the actor is unknown or inactive.
        InvalidInput: ``since`` is naive, or the feed yields a malformed record.
    """
    cfg = settings_for(ctx, settings)
    recorded: list[Activity] = []
    unmatched: list[CallRecord] = []
    known = 0
    with ctx.store.unit_of_work() as uow:
        resolve_viewer(uow, actor)
        now = ctx.now()
        for call in feed.calls(since):
            activity_id = _call_activity_id(call)
            if uow.activities.find(activity_id) is not None:
                known += 1
                continue
            contacts = _match(uow, call.phone, cfg.phone_country)
            relations = {c.relation_id for c in contacts}
            if len(relations) != 1:
                unmatched.append(call)
                continue
            relation_id = next(iter(relations))
            activity = _call_record(uow, call, activity_id, relation_id, contacts, now)
            stored = uow.activities.add(activity)
            audit(uow, ctx, actor, "activity", None, stored, "call")
            recorded.append(stored)
        uow.commit()
    return CallIngest(tuple(recorded), tuple(unmatched), known)


def _call_record(
    uow: UnitOfWork,
    call: CallRecord,
    activity_id: ActivityId,
    relation_id: str,
    contacts: list[Contact],
    now: datetime,
) -> Activity:
    relation = uow.relations.find(relation_id)
    employee: str = SYSTEM_USER
    user = uow.users.find(call.user_id) if call.user_id else None
    if user is not None:
        employee = user.id
    elif relation is not None and relation.account_manager:
        employee = relation.account_manager
    ids = {c.id for c in contacts}
    projects = [p for p in uow.projects.of_relation(relation_id) if ids & set(p.contact_ids)]
    seconds = float(call.duration_seconds)
    end = call.start + timedelta(seconds=seconds)
    return Activity(
        id=activity_id,
        kind=ActivityKind.CONTACT,
        employee=UserId(employee),
        subject="Incoming call" if call.direction == "in" else "Outgoing call",
        relation_id=relation.id if relation is not None else None,
        project_id=projects[0].id if len(projects) == 1 else None,
        contact_ids=tuple(c.id for c in contacts),
        channel="phone",
        start=call.start,
        end=end,
        timer=Timer(accumulated=seconds),
        created_at=now,
        completed_at=end,
    )


def _is_call(activity: Activity) -> bool:
    # A planned phone contact is not a conversation yet; the log holds held calls.
    return activity.channel == "phone" and activity.completed


def call_log(
    ctx: Context, actor: str, project_id: str, *, limit: int = 50, offset: int = 0
) -> list[Activity]:
    """The held phone calls of a project the actor may see, newest first (L5 call log).

    The log holds the completed activities of channel ``phone``: the calls fed
    by :func:`ingest_calls` and the phone contacts recorded by hand.

    Raises:
        NotFound: no such project, or the actor may not see it.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        uow.projects.get(project_id, viewer)
        calls = [a for a in _all_activities(uow, project_id, viewer) if _is_call(a)]
    return calls[offset : offset + limit]


# --- the derived summary ----------------------------------------------------------------


@attrs.frozen
class ProjectSummary:
    """The derived summary of a project (L5), as the actor may see it.

    Attributes:
        project: the project.
        activity_counts: activities by kind (``contact``, ``meeting``, ``task``).
        open_activities: activities not completed yet.
        last_activity: the most recently completed activity, if any.
        next_activity: the earliest open activity planned from now on, if any.
        next_appointment: the earliest confirmed appointment of the project
            from now on, if any.
        weighted_value: value x chance (``"50%"`` -> half), when both are set
            and the chance reads as a percentage.
        documents: how many documents are attached (e-mails included).
        emails: how many e-mails are linked.
        calls: how many calls are in the call log (see :func:`call_log`).
    """

    project: Project
    activity_counts: Mapping[str, int]
    open_activities: int
    last_activity: Activity | None
    next_activity: Activity | None
    next_appointment: Appointment | None
    weighted_value: Money | None
    documents: int
    emails: int
    calls: int


def _all_activities(uow: UnitOfWork, project_id: str, viewer: Viewer) -> list[Activity]:
    out: list[Activity] = []
    page = 500
    while True:
        batch = uow.activities.of_project(project_id, viewer, limit=page, offset=len(out))
        out.extend(batch)
        if len(batch) < page:
            return out


def _when(activity: Activity) -> datetime | None:
    return activity.start or activity.due


def weighted_value(value: Money | None, fraction: Decimal | None) -> Money | None:
    """``value`` x ``fraction``, rounded to the value's own decimal places (None if either is)."""
    if value is None or fraction is None:
        return None
    exponent = value.amount.as_tuple().exponent
    places = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    return Money((value.amount * fraction).quantize(places), value.currency)


def project_summary(
    ctx: Context,
    actor: str,
    project_id: str,
    *,
    settings: RecordSettings | None = None,
) -> ProjectSummary:
    """The derived summary of a project: activity counts, last and next, value x chance.

    Only what the actor may see is counted.

    Raises:
        NotFound: no such project, or the actor may not see it.
    """
    cfg = settings_for(ctx, settings)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        now = ctx.now()
        project = uow.projects.get(project_id, viewer)
        activities = _all_activities(uow, project.id, viewer)
        documents = uow.documents.of_owner("project", project.id)
        appointment = _next_appointment(uow, project, activities, now)
    counts = {k.value: 0 for k in ActivityKind}
    for a in activities:
        counts[a.kind.value] += 1
    done = [a for a in activities if a.completed_at is not None]
    planned = [a for a in activities if not a.completed and (_when(a) or now) >= now]
    fraction = chance_fraction(project.chance, cfg.dictionaries.get(PROJECT_CHANCE_DICTIONARY))
    return ProjectSummary(
        project=project,
        activity_counts=counts,
        open_activities=sum(1 for a in activities if not a.completed),
        last_activity=max(done, key=lambda a: (a.completed_at, a.id), default=None),
        next_activity=min(planned, key=lambda a: (_when(a) or now, a.id), default=None),
        next_appointment=appointment,
        weighted_value=weighted_value(project.value, fraction),
        documents=len(documents),
        emails=sum(1 for d in documents if d.kind == _EMAIL_KIND),
        calls=sum(1 for a in activities if _is_call(a)),
    )


def _next_appointment(
    uow: UnitOfWork, project: Project, activities: list[Activity], now: datetime
) -> Appointment | None:
    # Appointments are found through the project's activities and through the
    # agendas of the people working on it (appointments booked from the project).
    found: dict[str, Appointment] = {}
    for a in activities:
        if a.appointment_id:
            appointment = uow.appointments.find(a.appointment_id)
            if appointment is not None:
                found[appointment.id] = appointment
    people = {a.employee for a in activities} | set(project.linked_users)
    if project.responsible:
        people.add(project.responsible)
    for person in sorted(people):
        for appointment in uow.appointments.agenda(person, now, now + _CALL_WINDOW):
            if appointment.project_id == project.id:
                found[appointment.id] = appointment
    upcoming = [ap for ap in found.values() if not ap.cancelled and ap.end > now]
    return min(upcoming, key=lambda ap: (ap.start, ap.id), default=None)
