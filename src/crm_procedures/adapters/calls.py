"""Telephony feeds: where the call log of projects and relations comes from (L5).

Two adapters of :class:`~crm_procedures.ports.CallFeed`:

* :class:`MemoryCallFeed` holds calls added by the host (or a test).
* :class:`CsvCallFeed` reads a telephony system's CSV export.

Each yields :class:`Call` records, which satisfy
:class:`~crm_procedures.ports.CallRecord`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, tzinfo
from typing import Any

import attrs

from crm_procedures._paths import usable_path
from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import non_empty, one_line, require_aware

__all__ = ["CSV_COLUMNS", "DIRECTIONS", "Call", "CsvCallFeed", "MemoryCallFeed"]

DIRECTIONS = frozenset({"in", "out"})
"""Call directions: ``in`` (the relation called us) or ``out`` (we called)."""

_DIRECTION_WORDS = {
    "in": "in",
    "inbound": "in",
    "incoming": "in",
    "out": "out",
    "outbound": "out",
    "outgoing": "out",
}


def _direction(value: Any) -> str:
    word = str(value).strip().lower()
    if word not in _DIRECTION_WORDS:
        raise InvalidInput(
            "direction", f"{value!r} is not a call direction; use 'in' or 'out'", value
        )
    return _DIRECTION_WORDS[word]


def _aware(_inst: Any, attribute: Any, value: Any) -> None:
    require_aware(value, attribute.name)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput("duration_seconds", "must be a number of seconds", value)
    seconds = float(value)
    if not seconds >= 0 or seconds == float("inf"):
        raise InvalidInput("duration_seconds", "must be a finite number >= 0", value)
    return seconds


@attrs.define
class Call:
    """One call reported by a telephony system (a :class:`~crm_procedures.ports.CallRecord`).

    Mutable only because the port declares plain attributes; an assignment is
    converted and validated like a constructor argument.

    ``phone`` is the other party's number as the telephony system reports it;
    ``user_id`` the employee on our side, when the system knows. Directions
    such as ``inbound``/``outgoing`` are read as ``in``/``out``. Raises
    :class:`InvalidInput` for an empty id or phone, a naive start or a negative
    duration.
    """

    call_id: str = attrs.field(validator=non_empty)
    phone: str = attrs.field(validator=non_empty)
    direction: str = attrs.field(converter=_direction)
    start: datetime = attrs.field(validator=_aware)
    duration_seconds: float = attrs.field(converter=_seconds)
    user_id: str | None = attrs.field(default=None, validator=one_line)


class MemoryCallFeed:
    """A :class:`~crm_procedures.ports.CallFeed` over calls held in memory."""

    def __init__(self, calls: Iterable[Call] = ()) -> None:
        self._calls: list[Call] = []
        for call in calls:
            self.add(call)

    def add(self, call: Call) -> None:
        """Report one more call. Raises InvalidInput when ``call`` is not a Call."""
        if not isinstance(call, Call):
            raise InvalidInput("call", "must be a Call", call)
        self._calls.append(call)

    def calls(self, since: datetime | None = None) -> Iterator[Call]:
        """Calls that started at or after ``since`` (all when ``None``), oldest first.

        Raises:
            InvalidInput: ``since`` is naive.
        """
        if since is not None:
            require_aware(since, "since")
        ordered = sorted(self._calls, key=lambda c: (c.start, c.call_id))
        return iter([c for c in ordered if since is None or c.start >= since])


CSV_COLUMNS: Mapping[str, str] = {
    "call_id": "call_id",
    "phone": "phone",
    "direction": "direction",
    "start": "start",
    "duration_seconds": "duration",
    "user_id": "user",
}
"""The default column names of a CSV export, by :class:`Call` field."""


class CsvCallFeed:
    """A :class:`~crm_procedures.ports.CallFeed` reading a telephony CSV export.

    The file has a header row. ``columns`` maps each :class:`Call` field to
    the export's column name (defaults in :data:`CSV_COLUMNS`; the
    ``user_id`` column may be absent). ``start`` is ISO 8601; a start without
    an offset is read in ``timezone`` when one is given, and refused otherwise
    (a naive time is never guessed). ``duration`` is seconds, or
    ``[h:]mm:ss``.
    The file is read anew on every :meth:`calls`, so a growing export is fine.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        columns: Mapping[str, str] | None = None,
        delimiter: str = ",",
        timezone: tzinfo | None = None,
        encoding: str = "utf-8-sig",
    ) -> None:
        self.path = usable_path("path", path)
        self.columns = {**CSV_COLUMNS, **(columns or {})}
        unknown = set(self.columns) - set(CSV_COLUMNS)
        if unknown:
            raise InvalidInput(
                "columns", f"unknown Call fields: {', '.join(sorted(unknown))}", sorted(unknown)
            )
        self.delimiter = delimiter
        self.timezone = timezone
        self.encoding = encoding

    def calls(self, since: datetime | None = None) -> Iterator[Call]:
        """Calls of the export that started at or after ``since``, oldest first.

        Raises:
            InvalidInput: ``since`` is naive; the file lacks a required column;
                or a row is malformed (the message gives the line number).
            FileNotFoundError: the export does not exist.
        """
        if since is not None:
            require_aware(since, "since")
        read = self._read()
        ordered = sorted(read, key=lambda c: (c.start, c.call_id))
        return iter([c for c in ordered if since is None or c.start >= since])

    def _read(self) -> list[Call]:
        out: list[Call] = []
        with self.path.open(newline="", encoding=self.encoding) as fh:
            reader = csv.DictReader(fh, delimiter=self.delimiter)
            header = set(reader.fieldnames or ())
            for field in ("call_id", "phone", "direction", "start", "duration_seconds"):
                if self.columns[field] not in header:
                    raise InvalidInput(
                        "columns",
                        f"{self.path.name} has no column {self.columns[field]!r} "
                        f"(for {field}); it has: {', '.join(sorted(header))}",
                        self.columns[field],
                    )
            for row in reader:
                line = reader.line_num
                try:
                    out.append(self._call(row))
                except InvalidInput as exc:
                    raise exc.at(f"{self.path.name}:{line}") from None
        return out

    def _call(self, row: Mapping[str, str | None]) -> Call:
        def cell(field: str) -> str:
            return (row.get(self.columns[field]) or "").strip()

        user = cell("user_id") if self.columns["user_id"] in row else ""
        return Call(
            call_id=cell("call_id"),
            phone=cell("phone"),
            direction=cell("direction"),
            start=self._start(cell("start")),
            duration_seconds=_duration(cell("duration_seconds")),
            user_id=user or None,
        )

    def _start(self, text: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput("start", f"{text!r} is not an ISO 8601 date-time", text) from None
        if moment.tzinfo is None and self.timezone is not None:
            moment = moment.replace(tzinfo=self.timezone)
        return require_aware(moment, "start")


def _duration(text: str) -> float:
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) > 3:
                raise ValueError(text)
            seconds = 0.0
            for part in parts:
                seconds = seconds * 60 + part
            return seconds
        return float(text)
    except ValueError:
        raise InvalidInput(
            "duration_seconds", f"{text!r} is not a duration (seconds or h:mm:ss)", text
        ) from None
