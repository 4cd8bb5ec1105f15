"""iTIP answers (RFC 5546): REPLY and COUNTER in a text/calendar part."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from zoneinfo import ZoneInfo

import attrs

from crm_procedures.inbound._read import (
    _CONTROL,
    _MAX_CALENDAR_CHARS,
    _MAX_HEADER_CHARS,
    _address,
    _content_type,
    _param,
    _part_text,
)
from crm_procedures.inbound.kinds import (
    CalendarCounter,
    CalendarReply,
    Envelope,
    PartStat,
    Unmatched,
)

# -- calendar answers ------------------------------------------------------------------------

_UNFOLD = re.compile(r"\r?\n[ \t]")
_PARTSTATS = {
    "ACCEPTED": PartStat.ACCEPTED,
    "DECLINED": PartStat.DECLINED,
    "TENTATIVE": PartStat.TENTATIVE,
}


@attrs.frozen
class _Property:
    name: str
    params: dict[str, str]
    value: str


def _calendar_parts(parts: list[Message]) -> Iterator[tuple[str, str]]:
    """(method from the MIME type, text) for every iCalendar part."""
    for part in parts:
        ctype = _content_type(part)
        filename = _param(part, "filename", "content-disposition") or _param(part, "name")
        if ctype in ("text/calendar", "application/ics") or filename.lower().endswith(".ics"):
            yield _param(part, "method").upper(), _part_text(part, _MAX_CALENDAR_CHARS)


def _calendar_answer(
    envelope: Envelope, parts: list[Message]
) -> CalendarReply | CalendarCounter | Unmatched | None:
    for mime_method, text in _calendar_parts(parts):
        props, event = _read_calendar(text)
        method = next((p.value.strip().upper() for p in props if p.name == "METHOD"), mime_method)
        if method not in ("REPLY", "COUNTER") or not event:
            continue
        first = {p.name: p for p in reversed(event)}
        uid = first["UID"].value.strip()[:_MAX_HEADER_CHARS] if "UID" in first else ""
        if not uid:
            return Unmatched(envelope, f"calendar {method} without a UID")
        sequence = _int(first["SEQUENCE"].value) if "SEQUENCE" in first else 0
        attendees = [p for p in event if p.name == "ATTENDEE"]
        attendee = _pick_attendee(attendees, envelope.sender)
        comment = _ical_text(first["COMMENT"].value) if "COMMENT" in first else None
        if method == "COUNTER":
            start = first.get("DTSTART")
            end = first.get("DTEND")
            return CalendarCounter(
                envelope,
                uid,
                sequence,
                _mailto(attendee.value) if attendee else envelope.sender,
                _ical_datetime(start),
                _ical_datetime(end),
                start.value.strip()[:100] if start else None,
                end.value.strip()[:100] if end else None,
                comment,
            )
        if attendee is None:
            return Unmatched(envelope, "calendar REPLY without an ATTENDEE")
        address = _mailto(attendee.value)
        partstat = attendee.params.get("PARTSTAT", "").upper()
        if address is None:
            return Unmatched(envelope, "calendar REPLY whose ATTENDEE has no e-mail address")
        if partstat not in _PARTSTATS:
            return Unmatched(
                envelope,
                f"calendar REPLY with PARTSTAT {partstat or '(none)'}"[:200]
                + " (only ACCEPTED, DECLINED, TENTATIVE are answers)",
            )
        return CalendarReply(envelope, uid, sequence, address, _PARTSTATS[partstat], comment)
    return None


def _read_calendar(text: str) -> tuple[list[_Property], list[_Property]]:
    """(every property, the properties of the first VEVENT), names upper case."""
    props: list[_Property] = []
    event: list[_Property] = []
    depth: list[str] = []
    in_first_event = False
    seen_event = False
    for line in _UNFOLD.sub("", text).splitlines()[:20_000]:
        prop = _parse_line(line)
        if prop is None:
            continue
        if prop.name == "BEGIN":
            depth.append(prop.value.strip().upper())
            if depth[-1] == "VEVENT" and not seen_event:
                seen_event = in_first_event = True
            continue
        if prop.name == "END":
            if depth and depth[-1] == "VEVENT":
                in_first_event = False
            if depth:
                depth.pop()
            continue
        props.append(prop)
        if in_first_event and depth and depth[-1] == "VEVENT":
            event.append(prop)
    return props, event


_NAME = re.compile(r"[A-Za-z0-9-]{1,100}")


def _parse_line(line: str) -> _Property | None:
    """One content line ``NAME;PARAM=VALUE;PARAM="QUOTED":VALUE`` (RFC 5545 3.1)."""
    i, n = 0, len(line)
    while i < n and line[i] not in ";:":
        i += 1
    name = line[:i].strip()
    if i >= n or not _NAME.fullmatch(name):
        return None
    params: dict[str, str] = {}
    while i < n and line[i] == ";":
        j = i + 1
        while j < n and line[j] not in "=;:":
            j += 1
        key = line[i + 1 : j].strip().upper()
        if j >= n:
            return None
        if line[j] != "=":
            i = j
            continue
        j += 1
        if j < n and line[j] == '"':
            end = line.find('"', j + 1)
            if end == -1:
                return None
            value = line[j + 1 : end]
            j = end + 1
        else:
            start = j
            while j < n and line[j] not in ";:":
                j += 1
            value = line[start:j]
        if key and key not in params:
            params[key] = value.strip()
        i = j
    if i >= n or line[i] != ":":
        return None
    return _Property(name.upper(), params, line[i + 1 :])


def _pick_attendee(attendees: list[_Property], sender: str | None) -> _Property | None:
    for prop in attendees:
        if sender is not None and _mailto(prop.value) == sender:
            return prop
    return attendees[0] if attendees else None


def _mailto(value: str) -> str | None:
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    return _address(value)


def _int(value: str) -> int:
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    return 0


_ESCAPES = re.compile(r"\\([\\;,nN])")


def _ical_text(value: str) -> str:
    text = _ESCAPES.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)
    return _CONTROL.sub("", text).strip()[:_MAX_HEADER_CHARS]


_DATETIME = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)")


def _ical_datetime(prop: _Property | None) -> datetime | None:
    if prop is None:
        return None
    found = _DATETIME.fullmatch(prop.value.strip())
    if not found:
        return None
    year, month, day, hour, minute, second = (int(g) for g in found.groups()[:6])
    try:
        if found.group(7):
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        zone = prop.params.get("TZID", "").strip().strip('"')
        if not zone:
            return None
        return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone))
    except Exception:  # unknown zone, out of range, a path in the zone name
        return None
