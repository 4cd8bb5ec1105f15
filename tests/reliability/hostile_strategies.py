"""Hostile values per parameter type, for the ``hostile_api`` suite.

Every strategy draws a :class:`Hostile`: the value and a label naming its class
("str:lone-surrogate", "datetime:dst-fold", "int:huge"), so that a finding
names the class of input that caused it rather than one random example.
:func:`strategy_for` picks the strategy from a parameter's type annotation (and
its name, for ids and paths).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import strategies as st

from reliability.figures import size

__all__ = [
    "ID_NAMES",
    "LONG",
    "Hostile",
    "hostile_bytes",
    "hostile_date",
    "hostile_datetime",
    "hostile_decimal",
    "hostile_float",
    "hostile_id",
    "hostile_int",
    "hostile_path",
    "hostile_text",
    "hostile_timedelta",
    "strategy_for",
]

LONG = size(20_000, 1_000_000)
"""The length of the "very long" strings: 1 MB in full mode, smaller when bounded."""

ID_NAMES = frozenset(
    {
        "actor",
        "employee",
        "user",
        "from_user",
        "to_user",
        "responsible",
        "account_manager",
        "viewer_or_actor",
        "owner_id",
        "exclude",
        "uid",
        "key",
        "id",
        "user_id",
    }
)
"""Parameter names (besides ``*_id`` and ``*_ids``) that hold ids."""


@attrs.frozen
class Hostile:
    """One hostile value and the label of its class."""

    label: str
    value: Any

    def __repr__(self) -> str:
        try:
            text = repr(self.value)
        except ValueError:  # an int past the digit limit of int -> str
            text = f"<int of {self.value.bit_length()} bits>"
        if len(text) > 80:
            text = f"{text[:60]}...<{len(text)} chars>"
        return f"{self.label}={text}"


def _tagged(label: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Hostile]:
    return values.map(lambda v: Hostile(label, v))


def _just(label: str, *values: Any) -> st.SearchStrategy[Hostile]:
    return _tagged(label, st.sampled_from(values))


_CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\x7f"]
_BREAKS = ["\r\n", "\n", "\r", "\x85", "\u2028", "\u2029", "\x0b", "\x0c"]
_BIDI = ["\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f", "\u061c"]
_SURROGATES = ["\ud800", "\udfff", "\udc80", "\ud83d"]


def _embedded(label: str, pieces: list[str]) -> st.SearchStrategy[Hostile]:
    return _tagged(
        label,
        st.tuples(st.sampled_from(pieces), st.sampled_from(["Evil", "", "Jan ", "a@b.nl"])).map(
            lambda t: f"{t[1]}{t[0]}Co"
        ),
    )


def hostile_text() -> st.SearchStrategy[Hostile]:
    """Strings: control characters, lone surrogates, bidi overrides, line breaks, long ..."""
    return st.one_of(
        _embedded("str:control", _CONTROLS),
        _embedded("str:lone-surrogate", _SURROGATES),
        _embedded("str:bidi", _BIDI),
        _embedded("str:line-break", _BREAKS),
        _just("str:empty", ""),
        _just("str:whitespace", " ", "\t", " \u00a0 ", "\u3000"),
        _tagged(
            "str:long",
            st.sampled_from(["x", "é", "\U0001f600", "a b "]).map(lambda c: c * (LONG // len(c))),
        ),
        _just(
            "str:injection",
            "{x}",
            "{0.__class__}",
            "%s%n",
            "=cmd|' /C calc'!A0",
            "'; DROP TABLE users; --",
            "\\",
            "--=_boundary\r\nContent-Type: text/html\r\n\r\n<b>x</b>",
            "x\r\nBcc: evil@example.com",
            "BEGIN:VEVENT\r\nEND:VCALENDAR",
        ),
        _tagged("str:any", st.text(st.characters(codec=None, categories=None), max_size=40)),
    )


def hostile_id() -> st.SearchStrategy[Hostile]:
    """Ids: NUL, path separators, dot-dot, 10,000 characters, surrogates, empty."""
    return st.one_of(
        _just("id:nul", "a\x00b", "\x00"),
        _just("id:path", "/", "..", "../../etc/passwd", "a/b", "a\\b", "2026/1@x"),
        _just("id:long", "i" * 10_000),
        _just("id:lone-surrogate", "Evil\ud800Co", "\udfff"),
        _just("id:empty", "", " "),
        _just("id:unknown", "no-such-record", "system", "SYSTEM", "Pia", "pia "),
    )


_ZONES = [
    ZoneInfo(name)
    for name in (
        "Europe/Amsterdam",
        "America/New_York",
        "Asia/Jerusalem",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "Australia/Lord_Howe",
    )
]
_AMS, _NY, _JER = _ZONES[0], _ZONES[1], _ZONES[2]


def hostile_datetime() -> st.SearchStrategy[Hostile]:
    """Datetimes: naive, year 1 and 9999 in several zones, DST gaps and folds, ordinary ones."""
    zones = st.sampled_from([UTC, *_ZONES])
    return st.one_of(
        _tagged("datetime:naive", st.datetimes(min_value=datetime(1, 1, 2))),
        _tagged(
            "datetime:year-1",
            st.tuples(st.integers(0, 23), st.integers(0, 59), zones).map(
                lambda t: datetime(1, 1, 1, t[0], t[1], tzinfo=t[2])
            ),
        ),
        _tagged(
            "datetime:year-9999",
            st.tuples(st.integers(0, 23), st.integers(0, 59), zones).map(
                lambda t: datetime(9999, 12, 31, t[0], t[1], tzinfo=t[2])
            ),
        ),
        _just(
            "datetime:dst-gap",
            datetime(2026, 3, 29, 2, 30, tzinfo=_AMS),
            datetime(2026, 3, 8, 2, 30, tzinfo=_NY),
            datetime(2026, 3, 27, 2, 30, tzinfo=_JER),
        ),
        _just(
            "datetime:dst-fold",
            datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=_AMS),
            datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=_NY),
            datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=_JER),
        ),
        _tagged(
            "datetime:ordinary",
            st.tuples(st.integers(-400, 400), st.integers(0, 24 * 60), zones).map(
                lambda t: datetime(2026, 3, 2, 9, tzinfo=t[2]) + timedelta(days=t[0], minutes=t[1])
            ),
        ),
    )


def hostile_date() -> st.SearchStrategy[Hostile]:
    """Dates: the first and last day there is, and ordinary ones."""
    return st.one_of(
        _just("date:extreme", date.min, date.max, date(1, 1, 2), date(9999, 12, 30)),
        _tagged("date:ordinary", st.dates(date(2020, 1, 1), date(2030, 12, 31))),
    )


def hostile_int() -> st.SearchStrategy[Hostile]:
    """Integers: 0, negative, 10**30, 64-bit edges, numbers with thousands of digits."""
    return st.one_of(
        _just("int:zero", 0),
        _just("int:negative", -1, -(10**30), -(2**63)),
        _just("int:huge", 10**30, 2**63, 2**63 - 1, 2**31, 10**7, 10**12, 3_000_000),
        _just("int:digits", 10**5000),
        _tagged("int:any", st.integers()),
    )


def hostile_float() -> st.SearchStrategy[Hostile]:
    """Floats: NaN, infinities, negative zero, the largest and tiniest."""
    return _just("float:special", float("nan"), float("inf"), -float("inf"), -0.0, 1e308, 5e-324)


def hostile_decimal() -> st.SearchStrategy[Hostile]:
    """Decimals: NaN, sNaN, infinity, negative, 10**30, many places."""
    return st.one_of(
        _just("decimal:special", Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity")),
        _just("decimal:edge", Decimal("0"), Decimal("-1"), Decimal("1E+30"), Decimal("1E-30")),
        _just("decimal:huge", Decimal(10**30), Decimal("9" * 5000)),
    )


def hostile_timedelta() -> st.SearchStrategy[Hostile]:
    """Durations: zero, negative, the largest and the smallest."""
    return _just(
        "timedelta:edge",
        timedelta(0),
        timedelta(seconds=-1),
        timedelta.max,
        timedelta.min,
        timedelta(days=10**6),
    )


def hostile_bytes() -> st.SearchStrategy[Hostile]:
    """Bytes: empty, NUL, invalid UTF-8, mixed encodings, long."""
    return st.one_of(
        _just("bytes:empty", b""),
        _just(
            "bytes:encoding",
            b"\xff\xfe\x00",
            b"name\r\nJ\xc3\xa9r\xf4me\r\n",
            b"\x00\x00\x00",
            b'"unterminated,\r\nrow',
            b"\xef\xbb\xbfname,name\r\nx,y\r\n",
        ),
        _tagged("bytes:long", st.just(b"x" * LONG)),
        _tagged("bytes:any", st.binary(max_size=64)),
    )


def hostile_path(base: Path) -> st.SearchStrategy[Hostile]:
    """Paths inside ``base`` with hostile names (never anywhere else on the machine)."""
    return _tagged(
        "path:name",
        st.sampled_from(["", "..", "a\x00b", "n" * 1000, "Evil\ud800", "missing/dir/f", "."]).map(
            lambda name: base / name
        ),
    )


_ATOMS: dict[Any, Callable[[], st.SearchStrategy[Hostile]]] = {
    datetime: hostile_datetime,
    date: hostile_date,
    int: hostile_int,
    float: hostile_float,
    Decimal: hostile_decimal,
    timedelta: hostile_timedelta,
    bytes: hostile_bytes,
}

_SEQUENCES = (Iterable, Sequence, list, tuple, frozenset, set)


def _is_id(name: str) -> bool:
    return name in ID_NAMES or name.endswith(("_id", "_ids")) or name in {"ids", "contact_ids"}


def _listed(inner: st.SearchStrategy[Hostile]) -> st.SearchStrategy[Hostile]:
    return st.lists(inner, min_size=1, max_size=3).map(
        lambda items: Hostile("list[" + items[0].label + "]", [i.value for i in items])
    )


def strategy_for(
    annotation: Any, name: str, base: Path | None = None
) -> st.SearchStrategy[Hostile] | None:
    """The hostile strategy for a parameter ``name: annotation``, or None for other types.

    A union draws from each member that has a strategy; ``str`` parameters whose
    name says they hold an id draw ids and strings; path parameters draw names
    inside ``base``.
    """
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [strategy_for(a, name, base) for a in typing.get_args(annotation)]
        members = [p for p in parts if p is not None]
        return st.one_of(*members) if members else None
    if annotation is bool:
        return None
    if annotation is str:
        if _is_id(name):
            return st.one_of(hostile_id(), hostile_text())
        return hostile_text()
    if annotation in (Path, PathLike) or origin is PathLike:
        return hostile_path(base) if base is not None else None
    if annotation in _ATOMS:
        return _ATOMS[annotation]()
    if origin in _SEQUENCES:
        args = typing.get_args(annotation)
        if args and args[0] is not Ellipsis:
            inner = strategy_for(args[0], name, base)
            if inner is not None:
                return st.one_of(_listed(inner), _just("list:empty", []))
        return None
    if origin in (Mapping, dict):
        args = typing.get_args(annotation)
        if len(args) == 2 and args[0] is str:
            inner = strategy_for(args[1], name, base)
            value = inner if inner is not None else _just("valid", "x")
            return st.tuples(hostile_text(), value).map(
                lambda kv: Hostile("mapping-key:" + kv[0].label, {kv[0].value: kv[1].value})
            )
        return None
    return None
