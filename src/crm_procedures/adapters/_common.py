"""What every store adapter shares: record kinds, sort keys, text folding, checks.

The memory store and the SQL store must agree on ordering, keyword matching
and validation to the last detail (the contract suite compares them), so the
rules live here once.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import require_aware
from crm_procedures.model._storable import UNSTORABLE_REASON, storable, unstorable
from crm_procedures.model.activity import Activity
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.contact import Contact
from crm_procedures.model.document import Document
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import BulkStatusChange, Prospect
from crm_procedures.model.relation import Relation
from crm_procedures.model.users import Group, User
from crm_procedures.model.visit_report import VisitReport

__all__ = [
    "KINDS",
    "NULL_KEY",
    "check_bulk_change",
    "check_limit",
    "check_prospect",
    "check_prospect_texts",
    "check_storable",
    "db_count",
    "definition_text",
    "fold",
    "keyword_words",
    "matches_words",
    "search_text",
    "some_unstorable",
    "sort_key",
    "utc_us",
    "with_version",
    "words",
]

T = TypeVar("T")

KINDS: Final[dict[type[Any], str]] = {
    Relation: "relation",
    Contact: "contact",
    Project: "project",
    Prospect: "prospect",
    Activity: "activity",
    Appointment: "appointment",
    VisitReport: "visit_report",
    Document: "document",
    User: "user",
    Group: "group",
}
"""The kind name of each record class, as used in errors and the audit log."""

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)

NULL_KEY: Final = -(2**62)
"""The sort key of a missing datetime: before every real instant.

Stores sort on integer keys so that "missing first" (ascending) and "missing
last" (descending) come out the same in SQLite, PostgreSQL and memory, whose
own NULL orderings differ.
"""


def utc_us(value: datetime) -> int:
    """Microseconds since the epoch (UTC) of an aware datetime: a sortable instant."""
    return (value - EPOCH) // _US


def sort_key(value: datetime | None) -> int:
    """:func:`utc_us`, or :data:`NULL_KEY` for ``None``."""
    return NULL_KEY if value is None else (value - EPOCH) // _US


def with_version(record: T, version: int) -> T:
    """A copy of a record with another ``version`` (no validators re-run).

    ``attrs.evolve`` would re-validate an already valid record; a shallow copy
    with the one field replaced is an order of magnitude cheaper on bulk paths.
    """
    if isinstance(record, Prospect):
        p = record.copy()
        p.version = version
        return p  # type: ignore[return-value]
    cls = type(record)
    names = _SLOTTED_FIELDS.get(cls)
    if names is None:
        names = _SLOTTED_FIELDS[cls] = _slotted_fields(cls)
    if not names:
        out = copy.copy(record)
    else:
        # What copy.copy does for a slotted attrs class (a new instance, every
        # field set), without the pickle protocol round trip.
        out = object.__new__(cls)
        for name in names:
            object.__setattr__(out, name, getattr(record, name))
    object.__setattr__(out, "version", version)
    return out


_SLOTTED_FIELDS: dict[type, tuple[str, ...]] = {}


def _slotted_fields(cls: type) -> tuple[str, ...]:
    """The attrs field names of a slotted attrs class; empty for any other class."""
    if not attrs.has(cls) or "__slots__" not in cls.__dict__:
        return ()
    return tuple(a.name for a in attrs.fields(cls))


def check_limit(limit: int | None, offset: int) -> None:
    """Raise InvalidInput for a negative page size or offset."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidInput("limit", "must be a whole number >= 0", limit)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput("offset", "must be a whole number >= 0", offset)


DB_COUNT_MAX: Final = 2**62
"""The largest count a database takes as LIMIT/OFFSET (both take a signed 64-bit integer)."""


def db_count(value: int) -> int:
    """A checked page size or offset as a database takes it: beyond any table's size, capped.

    A LIMIT or OFFSET of ``10**30`` means "all of them" or "none of them"
    just as ``2**62`` does, which SQLite and PostgreSQL can hold (they refuse
    the former with a raw overflow error).
    """
    return min(value, DB_COUNT_MAX)


def check_storable(record: Any, kind: str) -> None:
    """Raise InvalidInput when any text of ``record`` is one no store can hold.

    NUL and lone surrogates: SQLite cannot encode a lone surrogate and
    PostgreSQL's text cannot hold NUL, so every store refuses both, alike.
    """
    path = unstorable(record)
    if path is not None:
        raise InvalidInput(path or kind, UNSTORABLE_REASON)


def some_unstorable(*values: Any) -> bool:
    """True when one of ``values`` is text no store can hold: a query for it finds nothing."""
    return any(isinstance(v, str) and not storable(v) for v in values)


def check_prospect(prospect: Prospect, stored_history: int, *, texts: bool = True) -> None:
    """Check what a store cannot take from a prospect before writing it.

    ``Prospect`` is mutable and carries no validators of its own, so the store
    is the boundary: ids must be text, datetimes aware, and the history
    append-only (at least ``stored_history`` entries, new ones numbered on).
    Without ``texts`` its texts (and those of its new history entries) are
    not walked for characters no store can hold: the caller scans the rows
    it writes for them and calls :func:`check_prospect_texts` on a find.

    Raises:
        InvalidInput: naming the offending field.
    """
    if not isinstance(prospect, Prospect):
        raise InvalidInput("prospect", "must be a Prospect", type(prospect).__name__)
    for name in ("id", "project_id", "relation_id"):
        value = getattr(prospect, name)
        if not isinstance(value, str) or not value:
            raise InvalidInput(name, "must be a non-empty id", value)
    if prospect.next_action_at is not None:
        require_aware(prospect.next_action_at, "next_action_at")
    if prospect.became_prospect_at is not None:
        require_aware(prospect.became_prospect_at, "became_prospect_at")
    if prospect.next_due_at is not None:
        require_aware(prospect.next_due_at, "next_due_at")
    if prospect.paused_until is not None:
        require_aware(prospect.paused_until, "paused_until")
    if prospect.paused_at is not None:
        require_aware(prospect.paused_at, "paused_at")
    history = prospect.history
    if len(history) < stored_history:
        raise InvalidInput(
            "history",
            f"is append-only: the stored prospect has {stored_history} entries, "
            f"this copy only {len(history)}",
        )
    seen_seq = history[stored_history - 1].seq if stored_history else 0
    for i in range(stored_history, len(history)):
        entry = history[i]
        require_aware(entry.at, f"history[{i}].at")
        if not isinstance(entry.seq, int) or entry.seq <= seen_seq:
            raise InvalidInput(
                f"history[{i}].seq", "must rise: entries are numbered in order", entry.seq
            )
        seen_seq = entry.seq
    if texts:
        check_prospect_texts(prospect, stored_history)


def check_prospect_texts(prospect: Prospect, stored_history: int) -> None:
    """Raise InvalidInput naming the first text of ``prospect`` no store can hold.

    The prospect's own fields and its history entries from ``stored_history`` on.
    """
    history = prospect.history
    for i in range(stored_history, len(history)):
        path = unstorable(history[i], f"history[{i}]")
        if path is not None:
            raise InvalidInput(path, UNSTORABLE_REASON)
    for field in attrs.fields(Prospect):
        if field.name != "history":
            path = unstorable(getattr(prospect, field.name), field.name)
            if path is not None:
                raise InvalidInput(path, UNSTORABLE_REASON)


_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Case- and accent-folded text: ``"Café Ärger"`` -> ``"cafe arger"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The folded words of a text (letters and digits; everything else separates)."""
    return _WORD.findall(fold(text))


def search_text(report: VisitReport) -> str:
    """The folded words a visit report is found by: keywords, subject and text."""
    parts: list[str] = []
    for piece in (*report.keywords, report.subject, report.text):
        parts.extend(words(piece))
    return " ".join(parts)


def keyword_words(keyword: str | None) -> list[str]:
    """The words of a keyword query (empty: no keyword filter)."""
    if keyword is None:
        return []
    if not isinstance(keyword, str):
        raise InvalidInput("keyword", "must be text", keyword)
    return list(dict.fromkeys(words(keyword)))


def matches_words(tokens: Iterable[str], query: list[str]) -> bool:
    """True when every query word starts some token (the keyword rule of every store)."""
    tokens = tuple(tokens)
    return all(any(t.startswith(q) for t in tokens) for q in query)


def definition_text(key: str, data: Any) -> str:
    """Definition data as canonical JSON text. Raises InvalidInput for non-JSON data."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput("key", "must be a non-empty text", key)
    if not storable(key):
        raise InvalidInput("key", UNSTORABLE_REASON)
    if not isinstance(data, dict):
        raise InvalidInput("data", "must be a mapping of plain data", type(data).__name__)
    try:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("data", f"is not plain JSON-compatible data: {exc}") from None


BULK_MAX: Final = 10_000
"""The most prospects one ``change_status_many`` call changes."""


def check_bulk_change(change: BulkStatusChange, after: str, limit: int) -> None:
    """Raise InvalidInput for a bulk status change a store cannot apply as given."""
    if not isinstance(change, BulkStatusChange):
        raise InvalidInput("change", "must be a BulkStatusChange", type(change).__name__)
    if not isinstance(after, str):
        raise InvalidInput("after", "must be a prospect id (text)", after)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= BULK_MAX:
        raise InvalidInput("limit", f"must be a whole number from 1 to {BULK_MAX:,}", limit)
    check_storable(change, "change")
