"""The one cattrs converter of the library, configured here and nowhere else.

Every public record and definition turns into plain, JSON- and
TOML-compatible data and back without loss:

* datetimes as ISO 8601 text with their offset, and with the zone name in
  brackets when the zone is an IANA zone (``2026-03-29T10:00:00+02:00[Europe/Amsterdam]``,
  the RFC 9557 form), so the zone survives the round trip;
* dates as ``YYYY-MM-DD``; ``Decimal`` as a string; enums by value;
  frozensets as sorted lists; tuples as lists.

Structuring bad data raises :class:`~crm_procedures.errors.InvalidInput` whose
``field`` is the path to the bad value (``contacts[2].email``), never a raw
cattrs or ``KeyError`` traceback.
"""

from __future__ import annotations

import enum
import os
import re
import typing
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from crm_procedures.errors import InvalidInput

__all__ = ["converter", "structure", "unstructure"]

T = TypeVar("T")

_ZONED = re.compile(r"^(?P<iso>[^\[]+)\[(?P<zone>[A-Za-z0-9_+\-/]+)\]$")


def _dump_datetime(value: datetime) -> str:
    text = value.isoformat()
    zone = getattr(value.tzinfo, "key", None)
    return f"{text}[{zone}]" if zone else text


def _load_datetime(value: Any, _t: Any) -> datetime:
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, str):
        m = _ZONED.match(value)
        iso, zone = (m.group("iso"), m.group("zone")) if m else (value, None)
        try:
            result = datetime.fromisoformat(iso)
        except ValueError as exc:
            raise InvalidInput(None, f"{value!r} is not an ISO 8601 date-time") from exc
        if zone is not None:
            if result.tzinfo is None:
                raise InvalidInput(None, f"{value!r} has a zone name but no UTC offset")
            try:
                tz = ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise InvalidInput(None, f"unknown time zone {zone!r}") from exc
            result = result.astimezone(tz)
    else:
        raise InvalidInput(None, f"expected an ISO 8601 date-time string, got {value!r}")
    if result.tzinfo is None or result.utcoffset() is None:
        raise InvalidInput(None, f"{value!r} has no time zone (naive date-times are refused)")
    return result


def _load_date(value: Any, _t: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(None, f"{value!r} is not a date (YYYY-MM-DD)") from exc
    raise InvalidInput(None, f"expected a date string YYYY-MM-DD, got {value!r}")


def _load_decimal(value: Any, _t: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise InvalidInput(None, f"{value!r} is a float; give amounts as strings like '12.50'")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str):
        try:
            d = Decimal(value)
        except InvalidOperation as exc:
            raise InvalidInput(None, f"{value!r} is not a decimal number") from exc
        if not d.is_finite():
            raise InvalidInput(None, f"{value!r} is not a finite number")
        return d
    raise InvalidInput(None, f"expected a decimal string, got {value!r}")


def _load_str(value: Any, _t: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(None, f"expected text, got {type(value).__name__} {value!r}")
    return value


def _load_int(value: Any, _t: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(None, f"expected a whole number, got {value!r}")
    return value


def _load_float(value: Any, _t: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(None, f"expected a number, got {value!r}")
    return float(value)


def _load_bool(value: Any, _t: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(None, f"expected true or false, got {value!r}")
    return value


def _load_enum(value: Any, t: type[enum.Enum]) -> enum.Enum:
    try:
        return t(value)
    except ValueError as exc:
        allowed = ", ".join(repr(m.value) for m in t)
        raise InvalidInput(None, f"{value!r} is not one of {allowed}") from exc


def _dump_set(value: frozenset[Any]) -> list[Any]:
    items = [converter.unstructure(v) for v in value]
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)


def _is_set_type(t: Any) -> bool:
    return t in (frozenset, set) or typing.get_origin(t) in (frozenset, set, AbstractSet)


def _load_timedelta(value: Any, _t: Any) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(None, f"expected a number of seconds, got {value!r}")
    return timedelta(seconds=value)


def _make_converter() -> cattrs.Converter:
    c = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    c.register_unstructure_hook(datetime, _dump_datetime)
    c.register_structure_hook(datetime, _load_datetime)
    c.register_unstructure_hook(date, lambda d: d.isoformat())
    c.register_structure_hook(date, _load_date)
    c.register_unstructure_hook(Decimal, str)
    c.register_structure_hook(Decimal, _load_decimal)
    c.register_unstructure_hook(timedelta, lambda d: d.total_seconds())
    c.register_structure_hook(timedelta, _load_timedelta)
    c.register_structure_hook(str, _load_str)
    c.register_structure_hook(int, _load_int)
    c.register_structure_hook(float, _load_float)
    c.register_structure_hook(bool, _load_bool)
    # StrEnum derives from str, which comes before Enum in its MRO: register both.
    for base in (enum.Enum, enum.StrEnum, enum.IntEnum):
        c.register_unstructure_hook(base, lambda e: e.value)
        c.register_structure_hook(base, _load_enum)
    c.register_unstructure_hook(frozenset, _dump_set)
    c.register_unstructure_hook_func(_is_set_type, _dump_set)
    c.register_unstructure_hook(timezone, str)
    # Named tuples (a prospect's history entries) travel as tables keyed by field name.
    from cattrs.cols import (
        is_namedtuple,
        namedtuple_dict_structure_factory,
        namedtuple_dict_unstructure_factory,
    )

    def load_named_tuple(t: Any, conv: Any) -> Any:
        return namedtuple_dict_structure_factory(t, conv, "from_converter", True)

    def dump_named_tuple(t: Any, conv: Any) -> Any:
        return namedtuple_dict_unstructure_factory(t, conv)

    c.register_structure_hook_factory(is_namedtuple, load_named_tuple)
    c.register_unstructure_hook_factory(is_namedtuple, dump_named_tuple)
    return c


converter: cattrs.Converter = _make_converter()
"""The library's converter. Use :func:`structure` and :func:`unstructure`."""


def unstructure(value: Any) -> Any:
    """Turn a record, definition or collection of them into plain data."""
    return converter.unstructure(value)


def structure(data: Any, cls: type[T], *, path: str = "") -> T:
    """Build a ``cls`` from plain data.

    Only input errors become :class:`~crm_procedures.errors.InvalidInput`: a
    validator's refusal, a missing or unknown key, a value of the wrong shape
    (a number where a list belongs). An exception raised by the library's own
    code for another reason (a validator that crashes with ``TypeError``) is a
    bug and propagates as it is, instead of passing for bad input.

    Raises:
        InvalidInput: naming the path to the first bad field (``contacts[2].email``);
            the message lists every problem when there are several.
    """
    try:
        return converter.structure(data, cls)
    except InvalidInput as exc:
        raise exc.at(path) if path else exc from None
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        if not _input_errors_only(exc):
            raise
        _raise_problems(exc, path)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # Raised outside an exception group: the data's shape at the top level
        # (a list where a table belongs), or a validator's ValueError.
        if not _is_input_error(exc):
            raise
        _raise_problems(exc, path)


def _raise_problems(exc: BaseException, path: str) -> NoReturn:
    problems = list(_flatten(exc, path))
    if not problems:
        raise InvalidInput(path or None, str(exc)) from None
    first_field, first_reason, first_value = problems[0]
    if len(problems) == 1:
        raise InvalidInput(first_field or None, first_reason, first_value) from None
    listing = "; ".join(f"{f or '<root>'}: {r}" for f, r, _ in problems)
    raise InvalidInput(
        first_field or None, f"{first_reason} (all problems: {listing})", first_value
    ) from None


_CATTRS_HOME = os.path.dirname(cattrs.__file__)
_SHAPE = re.compile(r"'(\w+)' object (?:has no attribute|is not iterable)|argument of type '(\w+)'")


def _raised_by_converter(exc: BaseException) -> bool:
    """True when ``exc`` was raised by cattrs or the code it generates.

    There a ``TypeError`` or ``AttributeError`` means the data has the wrong
    shape (``'int' object is not iterable``); raised in the library's own code
    it means a bug.
    """
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    # Generated code is compiled under "" or "<cattrs generated ...>" / "<attrs generated ...>".
    return not filename or filename.startswith(("<cattrs", "<attrs", _CATTRS_HOME))


def _is_input_error(exc: BaseException) -> bool:
    if isinstance(exc, (InvalidInput, ForbiddenExtraKeysError)):
        return True
    if isinstance(exc, (KeyError, TypeError, AttributeError)):
        return _raised_by_converter(exc)
    # ValueError is how validators refuse a value (attrs' convention).
    return isinstance(exc, ValueError)


def _input_errors_only(exc: BaseException) -> bool:
    if isinstance(exc, ForbiddenExtraKeysError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_input_errors_only(sub) for sub in exc.exceptions)
    return _is_input_error(exc)


def _join(path: str, part: str) -> str:
    if part.startswith("["):
        return f"{path}{part}"
    return f"{path}.{part}" if path else part


def _flatten(exc: BaseException, path: str) -> Any:
    """Yield (field path, reason, value) for every leaf error in a cattrs exception tree."""
    if isinstance(exc, ForbiddenExtraKeysError):
        for key in sorted(exc.extra_fields):
            yield _join(path, key), f"unknown key {key!r}", key
        return
    if isinstance(exc, (ClassValidationError, IterableValidationError, BaseExceptionGroup)):
        for sub in exc.exceptions:
            note = _note(sub)
            yield from _flatten(sub, _join(path, note) if note else path)
        return
    if isinstance(exc, InvalidInput):
        field = _join(path, exc.field) if exc.field else path
        yield field, exc.reason, exc.value
        return
    if isinstance(exc, KeyError):
        yield path, f"required key {exc.args[0]!r} is missing" if exc.args else "missing key", None
        return
    if isinstance(exc, (TypeError, AttributeError)):
        m = _SHAPE.search(str(exc))
        if m:
            kind = "a table (key/value pairs)" if m.group(2) or "keys" in str(exc) else "a list"
            yield path, f"expected {kind}, got {m.group(1) or m.group(2)}", None
            return
    if isinstance(exc, (TypeError, ValueError)):
        reason = str(exc)
        if "missing" in reason and "required" in reason:
            reason = reason.split(") ", 1)[-1]
        yield path, reason or type(exc).__name__, None
        return
    yield path, f"{type(exc).__name__}: {exc}", None


def _note(exc: BaseException) -> str:
    """The attribute name or index cattrs attached to a sub-exception."""
    for note in getattr(exc, "__notes__", ()):
        m = re.match(r"Structuring class \S+ @ attribute (\S+)", note)
        if m:
            return m.group(1)
        m = re.search(r" @ index (\d+)$", note)
        if m:
            return f"[{m.group(1)}]"
        m = re.match(r"Structuring mapping value @ key (.+)$", note)
        if m:
            return f"[{m.group(1)}]"
    return ""


def structure_mapping(data: Any, what: str) -> Mapping[str, Any]:
    """Check that ``data`` is a mapping with text keys (top-level input guard)."""
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise InvalidInput(what, "must be a table/object with text keys", type(data).__name__)
    return cast(Mapping[str, Any], data)
