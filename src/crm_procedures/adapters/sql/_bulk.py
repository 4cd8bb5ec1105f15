"""New relations, contacts and prospects stored together: the suspect import's bulk path.

:func:`add_new_records` stores what ``uow.relations.add_many``,
``uow.contacts.add_many`` and ``uow.prospects.add_many`` would store, row for
row, with the same checks (record types, text no store can hold, the
prospect checks, a known project, ids that exist already) and the same
errors, but as one ``executemany`` per table on the driver's cursor inside
one savepoint: no copy of each record to give it its version (the version is
set in its plain data), one scan for unstorable text over the whole batch
(the record is walked to name the field only when that scan finds
something), and none of SQLAlchemy's execution context per statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError

from crm_procedures.adapters._common import check_prospect, check_storable
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._repo import _json, _surely_storable
from crm_procedures.errors import InvalidInput
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.prospect import Prospect, ProspectStatus, RelationStage
from crm_procedures.model.relation import Address, Relation, RelationKind, RelationType
from crm_procedures.serialization import unstructure

if TYPE_CHECKING:
    from crm_procedures.adapters.sql._repo import _Repo
    from crm_procedures.adapters.sql.prospects import _ProspectRepo
    from crm_procedures.adapters.sql.store import SqlUnitOfWork

__all__ = ["add_new_records", "holds_unstorable", "new_record_json"]

_BAD = "?"  # never a JSON text of a string (those start with a quote)
_RELATION_JSON = (
    '{"id":%s,"name":%s,"type":%s,"industry_code":%s,"kinds":[%s],"addresses":[%s],'
    '"email":%s,"phone":%s,"website":%s,"account_manager":%s,"region":%s,"source":%s,'
    '"notes":%s,"merged_into":%s,"version":1}'
)
_ADDRESS_JSON = '{"street":%s,"postcode":%s,"city":%s,"country":%s,"kind":%s}'
_CONTACT_JSON = (
    '{"id":%s,"relation_id":%s,"last_name":%s,"initials":%s,"first_name":%s,'
    '"name_prefix":%s,"gender":%s,"email":%s,"phone":%s,"function":%s,"version":1,'
    '"language":%s,"time_zone":%s}'
)


def _texts(values: tuple[Any, ...]) -> list[str]:
    """The JSON of each value (a ``str`` or None); ``_BAD`` for any other type."""
    # encode_basestring is the function the shared encoder (ensure_ascii off) uses.
    return [
        encode_basestring(v) if type(v) is str else "null" if v is None else _BAD for v in values
    ]


def _address_json(a: Any) -> str | None:
    if type(a) is not Address:
        return None
    out = _texts((a.street, a.postcode, a.city, a.country, a.kind))
    return None if _BAD in out else _ADDRESS_JSON % tuple(out)


def _relation_json(r: Relation) -> str | None:
    if (
        type(r.type) is not RelationType
        or type(r.kinds) is not frozenset
        or type(r.addresses) is not tuple
    ):
        return None
    out = _texts(
        (
            r.id,
            r.name,
            r.industry_code,
            r.email,
            r.phone,
            r.website,
            r.account_manager,
            r.region,
            r.source,
            r.notes,
            r.merged_into,
        )
    )
    kinds = []
    for kind in r.kinds:
        if type(kind) is not RelationKind:
            return None
        kinds.append(kind.value)
    addresses = [_address_json(a) for a in r.addresses]
    if _BAD in out or None in addresses:
        return None
    return _RELATION_JSON % (
        *out[:2],
        encode_basestring(r.type.value),
        out[2],
        ",".join([encode_basestring(k) for k in sorted(kinds)]),
        ",".join(cast("list[str]", addresses)),
        *out[3:],
    )


def _contact_json(c: Contact) -> str | None:
    if type(c.gender) is not Gender:
        return None
    out = _texts(
        (
            c.id,
            c.relation_id,
            c.last_name,
            c.initials,
            c.first_name,
            c.name_prefix,
            c.email,
            c.phone,
            c.function,
            c.language,
            c.time_zone,
        )
    )
    if _BAD in out:
        return None
    return _CONTACT_JSON % (*out[:6], encode_basestring(c.gender.value), *out[6:])


_JSON_WRITERS: dict[type[Any], Callable[[Any], str | None]] = {
    Relation: _relation_json,
    Contact: _contact_json,
}
_RECORD_FIELDS = {
    Relation: (
        "id name type industry_code kinds addresses email phone website account_manager "
        "region source notes merged_into version"
    ),
    Contact: (
        "id relation_id last_name initials first_name name_prefix gender email phone "
        "function version language time_zone"
    ),
    Address: "street postcode city country kind",
}
"""The fields the templates above write, in order (a test holds them to the classes)."""


def new_record_json(record: Any) -> str:
    """The JSON copy of a new relation or contact as version 1 (what ``add_many`` stores).

    Relations and contacts of the usual field types are written straight from
    their fields; anything else goes through ``unstructure`` and the shared
    encoder. Both give the same text (``tests/unit/test_bulk_json.py``).
    """
    writer = _JSON_WRITERS.get(type(record))
    written = None if writer is None else writer(record)
    if written is not None:
        return written
    data = unstructure(record)
    data["version"] = 1
    return _json(data)


def holds_unstorable(text: str) -> bool:
    """``_repo._UNSTORABLE_CHAR.search(text) is not None``, at a tenth of its time on a batch.

    NUL or its JSON escape, or a lone surrogate (the only code points UTF-8
    cannot encode). Two substring scans and one encoding of the batch's text
    instead of a regular expression's alternation tried at every character.
    """
    if "\x00" in text or "\\u0000" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _rows(
    repo: _Repo[Any], records: Sequence[Any], cls: type[Any], kind: str
) -> list[tuple[Any, ...]]:
    """The stored rows of new ``records`` as version 1 (what ``add_many`` writes)."""
    columns = repo._columns
    rows = []
    for record in records:
        if not isinstance(record, cls):
            raise InvalidInput(kind, f"must be a {cls.__name__}", type(record).__name__)
        rows.append((record.id, *columns(record), 1, new_record_json(record)))
    # The JSON copy holds every text of the row (the other columns repeat or
    # fold its fields): one scan of the batch, and a walk only when it finds something.
    if holds_unstorable("".join([row[-1] for row in rows])):
        for record, row in zip(records, rows, strict=True):
            if not _surely_storable(row):
                check_storable(record, kind)
    return rows


def _plain_new(p: Any) -> bool:
    """True for a new prospect with nothing ``check_prospect`` could refuse but its texts."""
    return (
        type(p) is Prospect
        and not p.history
        and type(p.status) is ProspectStatus
        and type(p.stage) is RelationStage
        and type(p.id) is str
        and type(p.project_id) is str
        and type(p.relation_id) is str
        and bool(p.id and p.project_id and p.relation_id)
        and p.next_action_at is None
        and p.became_prospect_at is None
        and p.next_due_at is None
        and p.paused_until is None
    )


def _check_prospects(prospects: Sequence[Prospect]) -> None:
    """``check_prospect(p, 0)`` of each, in order, raising the first problem as it would.

    New plain prospects (the import's: no history, no dates) are checked for
    their shape and, with one scan over all their texts, for text no store can
    hold; only when something is not plain, or the scan finds something, is
    each prospect walked by ``check_prospect``.
    """
    suspicious = not all(_plain_new(p) for p in prospects)
    if not suspicious:
        texts = [
            v
            for p in prospects
            for v in (
                p.id,
                p.project_id,
                p.relation_id,
                p.contact_id,
                p.close_reason,
                p.became_prospect_by,
                p.last_step,
                p.owner,
                p.due_step,
                p.due_role,
                p.sequence_exit,
            )
            if type(v) is str
        ]
        suspicious = holds_unstorable("".join(texts))
    if suspicious:
        for p in prospects:
            check_prospect(p, 0)


def add_new_records(
    uow: SqlUnitOfWork,
    relations: Sequence[Relation],
    contacts: Sequence[Contact],
    prospects: Sequence[Prospect],
) -> None:
    """Insert new relations, then contacts, then prospects, each as version 1 (all or none).

    Raises:
        ReadOnlyUnitOfWork: in a read-only unit of work.
        InvalidInput: a record of another type, text no store can hold
            (naming the field), an invalid prospect, an unknown project.
        ConcurrencyConflict: an id exists already (or repeats).
    """
    from crm_procedures.adapters.sql._prospect_rows import _history_rows, _prospect_row

    uow.refuse_writes("import")
    relation_repo = cast("_Repo[Relation]", uow.relations)
    contact_repo = cast("_Repo[Contact]", uow.contacts)
    prospect_repo = cast("_ProspectRepo", uow.prospects)
    relation_rows = _rows(relation_repo, relations, Relation, "relation")
    contact_rows = _rows(contact_repo, contacts, Contact, "contact")
    prospect_rows = []
    history: list[tuple[Any, ...]] = []
    _check_prospects(prospects)
    if prospects:
        prospect_repo._require_projects({p.project_id for p in prospects})
    for p in prospects:
        row = _prospect_row(p)
        prospect_rows.append((*row[:13], 1, *row[14:]))
        if p.history:
            history.extend(_history_rows(p, 0))
    steps: list[tuple[Table, list[tuple[Any, ...]], Sequence[Any], Any]] = [
        (s.relations, relation_rows, relations, relation_repo),
        (s.contacts, contact_rows, contacts, contact_repo),
        (s.prospects, prospect_rows, prospects, prospect_repo),
        (s.prospect_history, history, prospects, prospect_repo),
    ]
    steps = [step for step in steps if step[1]]
    if not steps:
        return
    store = uow._store
    failed: tuple[Any, Sequence[Any], IntegrityError] | None = None
    try:
        with uow.atomic(len(steps)):
            for table, rows, records, repo in steps:
                uow._last = (repo._kind, records[0].id, 0)
                try:
                    uow.fast_many(store.insert_sql(table), rows)
                except IntegrityError as exc:
                    failed = (repo, records, exc)
                    raise
    except IntegrityError:
        if failed is None:
            raise
        # After the savepoint is rolled back: naming the id reads the table.
        failed_repo, failed_records, error = failed
        raise failed_repo._insert_failed(failed_records, error) from None
    for p in prospects:
        uow._loaded[p.id] = (1, len(p.history))
        uow._project_of[p.id] = p.project_id
