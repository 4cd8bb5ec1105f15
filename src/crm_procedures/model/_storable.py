"""Text every store can hold: no NUL, no lone surrogate.

SQLite stores text as UTF-8, which has no encoding for a lone surrogate
(``"\\ud800"``, easily produced by ``json.loads``), and PostgreSQL's ``text``
cannot hold NUL. The memory store could keep both; so that every store
refuses alike, the stores check each record with :func:`unstorable` before
writing it, and an import checks each row the same way.
"""

from __future__ import annotations

import re
from typing import Any, Final

import attrs

__all__ = ["UNSTORABLE_REASON", "storable", "unstorable"]

_BAD: Final = re.compile("[\x00\ud800-\udfff]")

UNSTORABLE_REASON: Final = (
    "holds a character no store can keep (NUL or a lone surrogate); remove it"
)
"""The reason given when a value holds such a character."""


def storable(text: str) -> bool:
    """True when ``text`` holds neither NUL nor a lone surrogate."""
    return _BAD.search(text) is None


def unstorable(value: Any, path: str = "") -> str | None:
    """The dotted path of the first text in ``value`` no store can hold, or ``None``.

    Walks text, attrs instances, named tuples, sequences, sets and mappings
    (keys included); other values are fine. The path of a top-level text is
    ``path`` itself.
    """
    if isinstance(value, str):
        return path if _BAD.search(value) else None
    if isinstance(value, int | float | bool) or value is None:
        return None
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            found = unstorable(getattr(value, field.name), _join(path, field.name))
            if found is not None:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = _join(path, str(key) if isinstance(key, str) and storable(key) else "?")
            if isinstance(key, str) and not storable(key):
                return where
            found = unstorable(item, where)
            if found is not None:
                return found
        return None
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        for name, item in zip(value._fields, value, strict=True):
            found = unstorable(item, _join(path, name))
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            found = unstorable(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
