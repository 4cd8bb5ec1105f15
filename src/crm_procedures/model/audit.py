"""The append-only change history of records (who, when, what changed)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from crm_procedures.model._checks import aware, non_empty

__all__ = ["Change", "diff"]


def _changes(value: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    return dict(value)


@attrs.frozen
class Change:
    """One recorded change of a record.

    ``changes`` maps a field name to ``(old, new)`` as display strings.
    """

    record_kind: str = attrs.field(validator=non_empty)
    record_id: str = attrs.field(validator=non_empty)
    version: int
    at: datetime = attrs.field(validator=aware)
    actor: str = attrs.field(validator=non_empty)
    action: str = "update"
    changes: Mapping[str, tuple[str, str]] = attrs.field(factory=dict, converter=_changes)


def diff(old: Any, new: Any) -> dict[str, tuple[str, str]]:
    """Field-by-field difference of two attrs instances of one class (``version`` ignored).

    ``old`` may be ``None`` (a creation: every non-empty field of ``new``).
    """
    out: dict[str, tuple[str, str]] = {}
    for a in attrs.fields(type(new)):
        if a.name == "version":
            continue
        after = getattr(new, a.name)
        before = getattr(old, a.name) if old is not None else None
        if old is None and after in (None, "", (), frozenset()):
            continue
        if before != after:
            out[a.name] = (_show(before), _show(after))
    return out


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (tuple, list, frozenset, set)):
        return ", ".join(sorted(str(v) for v in value))
    return str(value)
