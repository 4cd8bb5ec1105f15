"""Validators shared by the model classes (attrs validators at the boundary)."""

from __future__ import annotations

import enum
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from crm_procedures.errors import InvalidInput

# Deliberately simple: one @, no spaces or control characters, a dot in the domain.
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f<>,;\"]+@[^@\s\x00-\x1f\x7f<>,;\"]+\.[^@\s\x00-\x1f\x7f<>,;\".]+$"
)
# Control characters other than TAB, LF and CR, and lone surrogates (half of a
# UTF-16 pair: no encoding can write them, so a store or a mailer would fail later).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x85]")

MAX_TEXT = 100_000
"""The longest free text (a note, a report's text), in characters."""
MAX_LINE = 1_000
"""The longest one-line text (a name, an id, a subject), in characters."""
MAX_NOTE = MAX_TEXT
"""The longest note, in characters: the same wherever a note enters."""


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, safe for any value.

    A whole number with thousands of digits cannot even be turned into text
    (Python refuses above 4,300 digits); it is described by its size instead.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        digits = int(value.bit_length() * 0.30103) + 1
        return f"a number of about {digits} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _name(attribute: Any) -> str:
    return str(getattr(attribute, "name", attribute))


def non_empty(_inst: Any, attribute: Any, value: Any) -> None:
    """attrs validator: a one-line text that is not blank."""
    if not isinstance(value, str):
        raise InvalidInput(_name(attribute), "must be text", value)
    if not value.strip():
        raise InvalidInput(_name(attribute), "must not be empty", value)
    one_line(_inst, attribute, value)


def one_line(_inst: Any, attribute: Any, value: Any) -> None:
    """attrs validator: text without line breaks or control characters."""
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidInput(_name(attribute), "must be text", value)
    if len(value) > MAX_LINE:
        raise InvalidInput(_name(attribute), f"is longer than {MAX_LINE} characters", value[:40])
    # Fast path: printable text holds no control characters and no line breaks
    # (str.isprintable is false for every character the patterns below find).
    if value.isprintable():
        return
    if _LINE_BREAK.search(value) or _CONTROL.search(value):
        raise InvalidInput(_name(attribute), "must be one line without control characters", value)


def text(_inst: Any, attribute: Any, value: Any) -> None:
    """attrs validator: free text (line breaks allowed, other control characters not)."""
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidInput(_name(attribute), "must be text", value)
    check_note(value, _name(attribute))


def check_note(value: Any, field: str = "note") -> str:
    """Return ``value`` if it is an acceptable note; raise InvalidInput otherwise.

    The one rule for notes wherever they enter (activities, history entries of
    steps, corrections and status changes): text of at most :data:`MAX_NOTE`
    characters; line breaks (LF, CR) and TAB are allowed, every other control
    character (NUL, ESC, DEL, ...) and lone surrogates are refused.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text", value)
    if len(value) > MAX_NOTE:
        raise InvalidInput(field, f"is longer than {MAX_NOTE} characters", value[:40])
    if _CONTROL.search(value):
        raise InvalidInput(
            field, "must not contain control characters other than tab and line breaks", value
        )
    return value


def email(_inst: Any, attribute: Any, value: Any) -> None:
    """attrs validator: an optional e-mail address."""
    if value is None:
        return
    if not isinstance(value, str) or not _EMAIL.match(value) or len(value) > 254:
        raise InvalidInput(_name(attribute), f"{value!r} is not an e-mail address", value)


LANGUAGE_CODE = re.compile(r"[a-z]{2}")
"""An ISO 639-1 language code: two lower-case letters (``en``, ``nl``, ``pl``)."""


def language_code(_inst: Any, attribute: Any, value: Any) -> None:
    """Validator: ``None`` or an ISO 639-1 code (two lower-case letters)."""
    if value is None:
        return
    if not isinstance(value, str) or not LANGUAGE_CODE.fullmatch(value):
        raise InvalidInput(
            _name(attribute),
            "must be an ISO 639-1 language code: two lower-case letters such as 'en' or 'nl'",
            value,
        )


def is_email(value: str) -> bool:
    """True when ``value`` looks like an e-mail address."""
    return bool(_EMAIL.match(value)) and len(value) <= 254


def aware(_inst: Any, attribute: Any, value: Any) -> None:
    """attrs validator: an optional timezone-aware datetime."""
    if value is None:
        return
    require_aware(value, _name(attribute))


def require_aware(value: Any, field: str) -> datetime:
    """Return ``value`` if it is a timezone-aware datetime, else raise InvalidInput."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, "must be a datetime", value)
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidInput(
            field, "must be timezone-aware (naive datetimes are never guessed)", value
        )
    if value.tzinfo is not UTC:
        # A wall time in a daylight-saving gap (02:30 on the spring-forward night)
        # names no instant; zoneinfo would silently shift it. Refuse it instead.
        try:
            back = value.astimezone(UTC).astimezone(value.tzinfo)
        except OverflowError:
            # Year 1 east of Greenwich or 9999-12-31 late west of it: the
            # instant has no UTC reading within datetime's years 1..9999.
            raise InvalidInput(
                field,
                "is too close to year 1 or 9999 to be expressed in UTC; use a nearer date",
                value,
            ) from None
        if back.replace(tzinfo=None, fold=0) != value.replace(tzinfo=None, fold=0):
            raise InvalidInput(
                field, f"does not exist in {value.tzinfo} (the clocks skip it)", value
            )
    return value


def a_date(_inst: Any, attribute: Any, value: Any) -> None:
    """attrs validator: an optional calendar date (not a datetime)."""
    if value is None:
        return
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(_name(attribute), "must be a date", value)


def non_negative_int(_inst: Any, attribute: Any, value: Any) -> None:
    """attrs validator: an int >= 0 (bool refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(_name(attribute), "must be a whole number >= 0", value)


def decimal_amount(field: str, value: Any) -> Decimal:
    """Check a money amount: a finite Decimal (or int); floats are refused."""
    if isinstance(value, (bool, float)):
        raise InvalidInput(field, "must be a Decimal, not a float (floats lose cents)", value)
    if isinstance(value, int):
        value = Decimal(value)
    if not isinstance(value, Decimal):
        raise InvalidInput(field, "must be a Decimal", value)
    if not value.is_finite():
        raise InvalidInput(field, "must be a finite amount", value)
    return value


def order(start_field: str, end_field: str, start: Any, end: Any) -> None:
    """Raise InvalidInput when ``end`` lies before ``start`` (both optional)."""
    if start is not None and end is not None and end < start:
        raise InvalidInput(end_field, f"must not lie before {start_field}", end)


def tuple_of_str(value: Any) -> tuple[str, ...]:
    """attrs converter: any iterable of strings to a tuple (a lone str is one item)."""
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def frozenset_of(value: Any) -> frozenset[Any]:
    """attrs converter: any iterable to a frozenset (a lone str is one item).

    Raises InvalidInput (not TypeError) for a value that is not a collection.
    """
    if isinstance(value, str):
        return frozenset((value,))
    try:
        return frozenset(value)
    except TypeError:
        raise InvalidInput(
            None,
            f"expected a collection (list, set or tuple) of names, got {type(value).__name__}",
            value,
        ) from None


E = TypeVar("E", bound=enum.Enum)


def to_enum(cls: type[E], field: str, value: Any) -> E:
    """A value (or member) of enum ``cls``; anything else raises InvalidInput naming ``field``."""
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise InvalidInput(field, f"{value!r} is not one of {allowed}", value) from None
