"""Configurable choice lists (L6, "słowniki uniwersalne").

A dictionary is data: each choice has a key (stored on records), a label per
language, a sort order that decides its place in the list, and an active flag.
A deactivated choice stays valid on old records but cannot be chosen for new
ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import non_empty, one_line
from crm_procedures.model._mappings import str_map

__all__ = ["Choice", "Dictionary"]


def _labels(value: Any) -> Mapping[str, str]:
    return str_map("labels", value)


@attrs.frozen
class Choice:
    """One value of a dictionary.

    ``labels`` maps a language code (``en``, ``nl``, ``pl``) to a label; ``label``
    is the default one.
    """

    key: str = attrs.field(validator=non_empty)
    label: str = attrs.field(validator=non_empty)
    sort_order: int = 0
    active: bool = True
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_labels, eq=False, hash=False)

    def label_in(self, language: str | None) -> str:
        """The label in ``language``, falling back to the default label."""
        if language is None:
            return self.label
        return self.labels.get(language, self.label)


def _choices(value: Any) -> tuple[Choice, ...]:
    items = tuple(value)
    seen: set[str] = set()
    for i, c in enumerate(items):
        if not isinstance(c, Choice):
            raise InvalidInput(f"choices[{i}]", "must be a Choice", c)
        if c.key in seen:
            raise InvalidInput(f"choices[{i}].key", f"duplicate key {c.key!r}", c.key)
        seen.add(c.key)
    return tuple(sorted(items, key=lambda c: (c.sort_order, c.key)))


@attrs.frozen
class Dictionary:
    """A named choice list: kind, stage, chance, priority, category, channel, ...

    ``choices`` are kept in sort order. Raises
    :class:`~crm_procedures.errors.InvalidInput` for duplicate keys.
    """

    key: str = attrs.field(validator=non_empty)
    choices: tuple[Choice, ...] = attrs.field(default=(), converter=_choices)
    label: str = attrs.field(default="", validator=one_line)

    def get(self, key: str) -> Choice | None:
        """The choice with ``key`` (active or not), or ``None``."""
        for c in self.choices:
            if c.key == key:
                return c
        return None

    def active(self) -> tuple[Choice, ...]:
        """The choices that may be picked for new records, in sort order."""
        return tuple(c for c in self.choices if c.active)

    def require(self, key: str | None, field: str, *, new: bool = True) -> None:
        """Check that ``key`` is a choice of this dictionary.

        With ``new=True`` (a value being chosen now) an inactive choice is
        refused too. ``None`` is accepted (no choice made). Raises InvalidInput.
        """
        if key is None:
            return
        c = self.get(key)
        if c is None:
            keys = ", ".join(repr(x.key) for x in self.active())
            raise InvalidInput(field, f"{key!r} is not in the {self.key!r} list ({keys})", key)
        if new and not c.active:
            raise InvalidInput(
                field, f"{key!r} is deactivated in the {self.key!r} list; pick another", key
            )
