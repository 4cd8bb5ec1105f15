"""attrs converters for mapping fields that come from outside (a dict, TOML, JSON).

``dict(value)`` of a string, a list of the wrong shape or a number raises a raw
``ValueError`` or ``TypeError``; these converters refuse such values with
:class:`~crm_procedures.errors.InvalidInput` naming the field instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from crm_procedures.errors import InvalidInput

__all__ = ["any_map", "count_map", "mapping_of", "str_map"]

V = TypeVar("V")


def mapping_of(
    field: str, value: Any, item: Callable[[str, Any, Any], tuple[Any, V]]
) -> dict[Any, V]:
    """``value`` as a dict, each pair passed through ``item(field, key, value)``.

    Raises:
        InvalidInput: ``value`` is not a mapping (or a sequence of pairs), or
            ``item`` refuses a pair.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise InvalidInput(field, "must be a mapping (a table of names and values)", value)
    try:
        pairs = dict(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            field, "must be a mapping (a table of names and values)", value
        ) from None
    return dict(item(field, k, v) for k, v in pairs.items())


def _str_pair(field: str, key: Any, value: Any) -> tuple[str, str]:
    if not isinstance(key, str) or not isinstance(value, str):
        raise InvalidInput(f"{field}[{key!r}]", "names and values must be text", value)
    return key, value


def _count_pair(field: str, key: Any, value: Any) -> tuple[str, int]:
    if not isinstance(key, str):
        raise InvalidInput(field, "names must be text", key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{field}[{key!r}]", "must be a whole number >= 0", value)
    return key, value


def _any_pair(_field: str, key: Any, value: Any) -> tuple[Any, Any]:
    return key, value


def any_map(field: str, value: Any) -> dict[Any, Any]:
    """``value`` as a dict (its values unchecked), or InvalidInput naming ``field``."""
    return mapping_of(field, value, _any_pair)


def str_map(field: str, value: Any) -> dict[str, str]:
    """A mapping of text to text, or InvalidInput naming ``field``."""
    return mapping_of(field, value, _str_pair)


def count_map(field: str, value: Any) -> dict[str, int]:
    """A mapping of text to whole numbers >= 0, or InvalidInput naming ``field``."""
    return mapping_of(field, value, _count_pair)
