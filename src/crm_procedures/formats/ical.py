"""iCalendar invitations (RFC 5545 / iTIP RFC 5546) for appointments (W10).

:func:`invitation_ics` writes the ``VCALENDAR`` text of one appointment:
``METHOD:REQUEST`` to invite or update (same UID, higher SEQUENCE) and
``METHOD:CANCEL`` with ``STATUS:CANCELLED`` to call it off. Start and end keep
their IANA zone (``DTSTART;TZID=Europe/Amsterdam:...``) and the calendar
carries a matching ``VTIMEZONE``, so calendar clients show the right wall time
on both sides of a daylight-saving change, and recurring appointments stay at
the same local hour all year.

The text is written here rather than through a general iCalendar object model:
every user-supplied value passes one escaping function (backslash, ``;``,
``,``, newlines, a lone CR; other control characters are dropped), parameter
values are quoted, and lines are folded at 75 octets with CRLF endings. A
description containing ``"\\nATTENDEE:evil@x"`` therefore stays inside
DESCRIPTION. The tests read every invitation back with the ``icalendar``
package.

:func:`invitation_email` wraps the text into an e-mail with a
``text/calendar; method=...`` alternative part and an ``invite.ics``
attachment, which is what Outlook, Apple Calendar and Google Calendar need to
show accept/decline buttons. :class:`EmailCalendar` is a Calendar port that
sends those e-mails through any Mailer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from email.message import EmailMessage
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_procedures.errors import InvalidInput
from crm_procedures.formats.mime import Attachment, Recipient, build_email, check_header
from crm_procedures.model._checks import require_aware
from crm_procedures.model.appointment import (
    Appointment,
    ambiguous,
    check_recurrence,
    first_occurrence,
    recurrence_rule,
)
from crm_procedures.ports import Mailer

__all__ = [
    "MAX_SPAN_YEARS",
    "METHODS",
    "OPEN_SERIES_YEARS",
    "PRODID",
    "TAIL_YEARS",
    "EmailCalendar",
    "calendar_object_ics",
    "escape_text",
    "fold_line",
    "invitation_email",
    "invitation_ics",
    "invitation_key",
    "invitation_subject",
    "invitation_text",
    "vtimezone_lines",
]

PRODID = "-//crm_procedures//Invitations 1.0//EN"
"""The PRODID written into every calendar object."""

METHODS = frozenset({"REQUEST", "CANCEL", "PUBLISH"})
"""The iTIP methods :func:`invitation_ics` writes."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BREAKS = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_UTC_KEYS = frozenset({"UTC", "Etc/UTC", "Etc/Zulu", "Zulu", "Universal", "Etc/Universal"})


def escape_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11).

    Backslash, semicolon and comma are escaped; CRLF, a lone CR, LF and the
    Unicode line separators become ``\\n``; other control characters (which
    TEXT may not contain) are dropped. The result never contains a line break,
    so user text cannot start a property of its own.
    """
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    if not value.isprintable():
        value = _BREAKS.sub("\\\\n", value)
        value = _CONTROL.sub("", value)
    return value


def _param(value: str) -> str:
    # Parameter values cannot be escaped, only quoted: DQUOTE is not allowed
    # inside (RFC 5545 3.1), so it becomes an apostrophe; breaks become spaces.
    value = _CONTROL.sub("", _BREAKS.sub(" ", value)).replace('"', "'")
    return f'"{value}"'


def fold_line(line: str) -> str:
    """Fold one content line at 75 octets (RFC 5545 3.1); returns it with CRLF.

    Continuation lines start with one space. A multi-byte UTF-8 character is
    never split.
    """
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(
                "line",
                "holds a lone surrogate (not Unicode text); decode the input properly",
                line,
            ) from None
    if len(line) <= 75 and (line.isascii() or len(line.encode("utf-8")) <= 75):
        return line + "\r\n"
    if line.isascii():
        parts = [line[:75]]
        parts.extend(line[i : i + 74] for i in range(75, len(line), 74))
        return "\r\n ".join(parts) + "\r\n"
    parts = []
    current: list[str] = []
    size = 0
    limit = 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, 74
        current.append(ch)
        size += n
    parts.append("".join(current))
    return "\r\n ".join(parts) + "\r\n"


def _zone_key(tz: tzinfo | None) -> str | None:
    """The IANA key to write as TZID, or None to write UTC."""
    key = getattr(tz, "key", None)
    if not isinstance(key, str) or key in _UTC_KEYS:
        return None
    return key


def _local(dt: datetime) -> str:
    return f"{dt.year:04d}{dt.month:02d}{dt.day:02d}T{dt.hour:02d}{dt.minute:02d}{dt.second:02d}"


def _utc(dt: datetime) -> str:
    try:
        return _local(dt.astimezone(UTC)) + "Z"
    except OverflowError:
        raise InvalidInput(
            "datetime", "has no UTC reading (too close to year 1 or 9999)", None
        ) from None


def _offset(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "+" if seconds >= 0 else "-"
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")


def _state(tz: tzinfo, instant: datetime) -> tuple[timedelta, str, bool]:
    local = instant.astimezone(tz)
    dst = local.dst()
    return (local.utcoffset() or timedelta(0), local.tzname() or "", bool(dst))


_Transition = tuple[datetime, timedelta, timedelta, str, bool]

OPEN_SERIES_YEARS = 10
"""Years after the start through which an open-ended series' zone changes are listed one by one."""
MAX_SPAN_YEARS = 100
"""The most years of zone changes listed one by one for one appointment."""
TAIL_YEARS = 15
"""Years after the listed span that are checked (and written as a yearly rule, or listed)."""


def _transitions(tz: tzinfo, first_year: int, last_year: int) -> list[_Transition]:
    """Every offset change in [first_year, last_year]: (UTC instant, from, to, name, dst)."""
    out = []
    # Two changes of one zone lie at least ~4 days apart in the whole tz
    # database (Africa/Freetown 1939; Brazil 2000, Gaza 2040: 7 days), so a
    # 2-day step sees every change; each is then bisected to the second.
    day = timedelta(days=2)
    t = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    prev = _state(tz, t)
    seen: tuple[timedelta | None, str | None] = (prev[0], prev[1])
    while t < end:
        nxt = t + day
        # Offset and name first (cheap); the full state only where they change.
        local = nxt.astimezone(tz)
        quick = (local.utcoffset(), local.tzname())
        if quick == seen:
            t = nxt
            continue
        seen = quick
        state = _state(tz, nxt)
        if state != prev:
            lo, hi = t, nxt
            # Zone changes happen on whole seconds: bisect to one second.
            while hi - lo > timedelta(seconds=1):
                mid = (lo + (hi - lo) / 2).replace(microsecond=0)
                if mid <= lo:
                    break
                if _state(tz, mid) == prev:
                    lo = mid
                else:
                    hi = mid
            out.append((hi, prev[0], state[0], state[1], state[2]))
            prev = state
        t = nxt
    return out


def _days_in_month(year: int, month: int) -> int:
    nxt = datetime(year + month // 12, month % 12 + 1, 1)
    return (nxt - datetime(year, month, 1)).days


def _yearly_rule(onsets: Sequence[datetime]) -> str | None:
    """A yearly RRULE giving exactly ``onsets`` (one per consecutive year), if one does.

    The rule is "weekday W in a 7-day window of month M at time T" (the form
    of every rule in the tz database's footer): ``BYDAY=-1SU``, ``BYDAY=2SU``
    or ``BYDAY=FR;BYMONTHDAY=23,...,29``. The candidate is checked against
    every onset before it is returned, so nothing is guessed.
    """
    if len(onsets) < 2:
        return None
    first = onsets[0]
    if any(
        o.year != first.year + i
        or (o.month, o.weekday(), o.time()) != (first.month, first.weekday(), first.time())
        for i, o in enumerate(onsets)
    ):
        return None
    month, weekday = first.month, _WEEKDAYS[first.weekday()]
    days = [o.day for o in onsets]
    # The candidate days of the month, as (lowest, highest) or "the last seven".
    last_week = all(o.day > _days_in_month(o.year, month) - 7 for o in onsets)
    if last_week:
        rule = f"FREQ=YEARLY;BYMONTH={month};BYDAY=-1{weekday}"
    elif len({(d - 1) // 7 for d in days}) == 1 and (days[0] - 1) // 7 < 4:
        nth = (days[0] - 1) // 7 + 1
        rule = f"FREQ=YEARLY;BYMONTH={month};BYDAY={nth}{weekday}"
        low = 7 * (nth - 1) + 1
    elif max(days) - min(days) <= 6 and min(days) + 6 <= _days_in_month(2001, month):
        low = min(days)
        window = ",".join(str(d) for d in range(low, low + 7))
        rule = f"FREQ=YEARLY;BYMONTH={month};BYDAY={weekday};BYMONTHDAY={window}"
    else:
        return None
    # Check: in each year the rule gives exactly one day, and it is the onset.
    for o in onsets:
        size = _days_in_month(o.year, month)
        window_days = range(size - 6, size + 1) if last_week else range(low, low + 7)
        hits = [d for d in window_days if datetime(o.year, month, d).weekday() == first.weekday()]
        if hits != [o.day]:
            return None
    return rule


_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_Group = tuple[timedelta, timedelta, str, bool]


def _observance(kind_key: _Group, dtstart: datetime, extra: list[str], lines: list[str]) -> None:
    before, after, tzname, is_dst = kind_key
    kind = "DAYLIGHT" if is_dst else "STANDARD"
    lines.append(f"BEGIN:{kind}")
    lines.append(f"DTSTART:{_local(dtstart)}")
    lines.extend(extra)
    if tzname:
        lines.append(f"TZNAME:{escape_text(tzname)}")
    lines.append(f"TZOFFSETFROM:{_offset(before)}")
    lines.append(f"TZOFFSETTO:{_offset(after)}")
    lines.append(f"END:{kind}")


def _onset(t: _Transition) -> datetime:
    # DTSTART/RDATE of an observance: the local time before the change (RFC 5545 3.6.5).
    return (t[0] + t[1]).replace(tzinfo=None)


@functools.lru_cache(maxsize=512)
def vtimezone_lines(key: str, first_year: int, last_year: int) -> tuple[str, ...]:
    """The unfolded content lines of a VTIMEZONE for the IANA zone ``key``.

    Built from ``zoneinfo``'s own transitions, never from a guessed rule:
    every change in [first_year, last_year] is listed (one observance per
    kind of change, each further change as its own RDATE line). The :data:`TAIL_YEARS`
    years after ``last_year`` are computed too: when zoneinfo's changes there
    follow one yearly rule (the EU's "last Sunday of March"), checked against
    each of those years, the observances carry that RRULE so the definition
    also holds afterwards; otherwise every change up to
    :data:`MAX_SPAN_YEARS` after ``first_year`` is listed (zones whose
    changes follow no rule, such as Africa/Casablanca, have them tabulated
    that far).
    DTSTART of each observance is the local time before the change (RFC 5545
    3.6.5). Raises InvalidInput for an unknown zone or years outside
    1..9999.
    """
    try:
        tz = ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput("tzid", f"unknown time zone {key!r}", key) from exc
    if not 1 <= first_year <= last_year <= 9998:
        raise InvalidInput("years", "must satisfy 1 <= first_year <= last_year <= 9998", key)
    tail_last = min(last_year + TAIL_YEARS, 9998)
    span = _transitions(tz, first_year, last_year)
    tail = _transitions(tz, last_year + 1, tail_last) if tail_last > last_year else []
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    offset, name, dst = _state(tz, start)
    groups: dict[_Group, list[datetime]] = {
        (offset, offset, name, dst): [datetime(first_year, 1, 1)]
    }
    rules: list[tuple[_Group, datetime, str]] = []
    tail_groups: dict[_Group, list[datetime]] = {}
    for t in tail:
        tail_groups.setdefault((t[1], t[2], t[3], t[4]), []).append(_onset(t))
    years = tail_last - last_year
    for group, onsets in tail_groups.items():
        rule = _yearly_rule(onsets) if len(onsets) == years and years >= 2 else None
        if rule is None:
            rules = []
            break
        rules.append((group, onsets[0], rule))
    listed = span
    if tail and not rules:
        # No yearly rule (Morocco's and Gaza's changes follow Ramadan): list
        # the changes zoneinfo knows, up to MAX_SPAN_YEARS after the start.
        further = min(max(tail_last, first_year + MAX_SPAN_YEARS), 9998)
        listed = (
            span + tail + (_transitions(tz, tail_last + 1, further) if further > tail_last else [])
        )
    for t in listed:
        groups.setdefault((t[1], t[2], t[3], t[4]), []).append(_onset(t))
    lines = ["BEGIN:VTIMEZONE", f"TZID:{key}"]
    for group, onsets in groups.items():
        # One RDATE per change: vobject keeps only the first value of a list.
        extra = [f"RDATE:{_local(o)}" for o in onsets[1:]]
        _observance(group, onsets[0], extra, lines)
    for group, onset, rule in rules:
        _observance(group, onset, [f"RRULE:{rule}"], lines)
    lines.append("END:VTIMEZONE")
    return tuple(lines)


def check_rrule(rrule: str) -> str:
    """Return the RRULE value (without a ``RRULE:`` prefix) if RFC 5545 allows it.

    See :func:`crm_procedures.model.appointment.check_recurrence` for what
    is refused (unknown or repeated parts, values outside RFC 5545's ranges,
    ``UNTIL`` that is not UTC, ``UNTIL`` with ``COUNT``). Raises InvalidInput.
    """
    return check_recurrence(rrule)


def _zone_years(appointment: Appointment, tz: tzinfo) -> tuple[int, int]:
    """The years whose zone changes the invitation must describe exactly.

    From the start (or an earlier excluded date) to the end; for a series to
    its last occurrence (UNTIL, or COUNT expanded), or
    :data:`OPEN_SERIES_YEARS` after the start when it is open-ended; at most
    :data:`MAX_SPAN_YEARS`.
    """
    local_start = appointment.start.astimezone(tz)
    first = min([local_start.year, *(ex.astimezone(tz).year for ex in appointment.exdates)])
    last = appointment.end.astimezone(tz).year
    cap = local_start.year + MAX_SPAN_YEARS
    if appointment.rrule:
        value = check_recurrence(appointment.rrule)
        parts = dict(p.split("=", 1) for p in value.split(";"))
        duration = appointment.end.astimezone(UTC) - appointment.start.astimezone(UTC)
        if "UNTIL" in parts:
            until = datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            last = max(last, min((until + duration + timedelta(days=1)).year, cap))
        elif "COUNT" in parts:
            horizon = local_start.replace(tzinfo=None) + timedelta(days=366 * MAX_SPAN_YEARS)
            naive = local_start.replace(tzinfo=None)
            final = naive
            if first_occurrence(value, appointment.start) is not None:
                for occ in recurrence_rule(value, naive):
                    if occ > horizon:
                        break
                    final = occ
            last = max(last, min((final + duration + timedelta(days=1)).year, cap))
        else:
            last = max(last, local_start.year + OPEN_SERIES_YEARS)
    return first, min(last, cap, 9998)


def invitation_ics(
    appointment: Appointment,
    method: str = "REQUEST",
    dtstamp: datetime | None = None,
    *,
    organizer: str | None = None,
    organizer_name: str = "",
) -> bytes:
    """The iCalendar object (UTF-8 bytes) inviting to, updating or cancelling ``appointment``.

    ``method`` is ``REQUEST`` (invite or update; the appointment's
    ``sequence`` tells which), ``CANCEL`` (same UID, ``STATUS:CANCELLED``) or
    ``PUBLISH``. ``dtstamp`` is when the object was made (UTC; defaults to
    now). ``organizer`` defaults to ``appointment.organizer_email``. Start and
    end keep the start's IANA zone with a matching VTIMEZONE; other time zones
    are written in UTC.

    Raises:
        InvalidInput: an unknown method, a naive ``dtstamp``, an appointment
            without organizer, or a malformed recurrence rule.
    """
    method = method.upper() if isinstance(method, str) else method
    if method not in METHODS:
        raise InvalidInput("method", f"must be one of {', '.join(sorted(METHODS))}", method)
    dtstamp = datetime.now(UTC) if dtstamp is None else require_aware(dtstamp, "dtstamp")
    org_email = organizer or appointment.organizer_email
    if not org_email:
        raise InvalidInput(
            "organizer_email", "an invitation needs an organizer e-mail address", None
        )
    check_header("organizer", org_email)

    return _calendar_text(appointment, method, dtstamp, org_email, organizer_name)


def calendar_object_ics(
    appointment: Appointment,
    dtstamp: datetime | None = None,
    *,
    organizer: str | None = None,
    organizer_name: str = "",
) -> bytes:
    """The calendar object resource a CalDAV server stores for ``appointment``.

    The same VEVENT as :func:`invitation_ics` (UID, SEQUENCE, zone, attendees
    with their answers) but without a ``METHOD`` property, which RFC 4791
    (4.1) forbids in stored objects. A cancelled appointment has
    ``STATUS:CANCELLED``. Raises what :func:`invitation_ics` raises.
    """
    if dtstamp is None:
        dtstamp = datetime.now(UTC)
    elif dtstamp.tzinfo is None or dtstamp.utcoffset() is None:
        raise InvalidInput("dtstamp", "must be timezone-aware", dtstamp)
    org_email = organizer or appointment.organizer_email
    if not org_email:
        raise InvalidInput(
            "organizer_email", "a calendar object needs an organizer e-mail address", None
        )
    return _calendar_text(appointment, None, dtstamp, org_email, organizer_name)


def _calendar_text(
    appointment: Appointment,
    method: str | None,
    dtstamp: datetime,
    org_email: str,
    organizer_name: str,
) -> bytes:
    tz = appointment.start.tzinfo
    key = _zone_key(tz)

    def in_zone(dt: datetime) -> datetime | None:
        # The local time under TZID, or None when RFC 5545 would read it as
        # another instant (the second of two equal wall times: it always
        # takes the first).
        if key is None or tz is None:
            return None
        local = dt.astimezone(tz)
        return None if local.fold == 1 and ambiguous(local) else local

    def when(dt: datetime) -> str:
        local = in_zone(dt)
        if local is None:
            return f":{_utc(dt)}"
        return f";TZID={key}:{_local(local)}"

    cancel = method == "CANCEL" or appointment.cancelled
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
    ]
    if method is not None:
        lines.append(f"METHOD:{method}")
    if key is not None and tz is not None:
        lines.extend(vtimezone_lines(key, *_zone_years(appointment, tz)))
    lines.append("BEGIN:VEVENT")
    lines.append(f"UID:{escape_text(appointment.uid)}")
    lines.append(f"SEQUENCE:{appointment.sequence}")
    lines.append(f"DTSTAMP:{_utc(dtstamp)}")
    lines.append(f"DTSTART{when(appointment.start)}")
    lines.append(f"DTEND{when(appointment.end)}")
    if appointment.rrule:
        lines.append(f"RRULE:{check_rrule(appointment.rrule)}")
        local_ex = [in_zone(ex) for ex in appointment.exdates]
        zoned = [_local(x) for x in local_ex if x is not None]
        utc = [_utc(ex) for ex, x in zip(appointment.exdates, local_ex) if x is None]
        if zoned:
            lines.append(f"EXDATE;TZID={key}:{','.join(zoned)}")
        if utc:
            lines.append(f"EXDATE:{','.join(utc)}")
    lines.append(f"SUMMARY:{escape_text(appointment.title)}")
    if appointment.location:
        lines.append(f"LOCATION:{escape_text(appointment.location)}")
    if appointment.description:
        lines.append(f"DESCRIPTION:{escape_text(appointment.description)}")
    cn = f";CN={_param(organizer_name)}" if organizer_name else ""
    lines.append(f"ORGANIZER{cn}:mailto:{org_email}")
    for attendee in appointment.attendees:
        role = "REQ-PARTICIPANT" if attendee.required else "OPT-PARTICIPANT"
        name = f";CN={_param(attendee.name)}" if attendee.name else ""
        # The organizer takes part; everyone else shows their latest answer.
        is_organizer = attendee.email.lower() == org_email.lower()
        partstat = "ACCEPTED" if is_organizer else appointment.partstat(attendee.email).upper()
        ask = method == "REQUEST" and not cancel and not is_organizer
        rsvp = "TRUE" if ask and partstat == "NEEDS-ACTION" else "FALSE"
        lines.append(
            f"ATTENDEE{name};CUTYPE=INDIVIDUAL;ROLE={role};PARTSTAT={partstat};"
            f"RSVP={rsvp}:mailto:{attendee.email}"
        )
    lines.append(f"STATUS:{'CANCELLED' if cancel else 'CONFIRMED'}")
    lines.append("TRANSP:OPAQUE")
    lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold_line(line) for line in lines).encode("utf-8")


def invitation_key(appointment: Appointment) -> str:
    """The outbox key of the invitation for this UID and SEQUENCE (``invite:<uid>:<seq>``)."""
    return f"invite:{appointment.uid}:{appointment.sequence}"


def _fmt_when(appointment: Appointment) -> str:
    start, end = appointment.start, appointment.end.astimezone(appointment.start.tzinfo)
    zone = getattr(start.tzinfo, "key", None) or start.strftime("%z")
    day = start.strftime("%a %d %b %Y")
    if end.date() == start.date():
        return f"{day} {start:%H:%M}-{end:%H:%M} ({zone})"
    return f"{day} {start:%H:%M} - {end:%a %d %b %Y %H:%M} ({zone})"


def invitation_subject(appointment: Appointment, method: str = "REQUEST") -> str:
    """A default subject: ``Invitation: <title> @ <when>`` (``Updated``/``Cancelled``)."""
    if method.upper() == "CANCEL" or appointment.cancelled:
        head = "Cancelled"
    elif appointment.sequence > 0:
        head = "Updated invitation"
    else:
        head = "Invitation"
    return f"{head}: {appointment.title} @ {_fmt_when(appointment)}"


def invitation_text(appointment: Appointment, method: str = "REQUEST") -> str:
    """A default plain-text body: what, when, where and the description."""
    lines = [invitation_subject(appointment, method), ""]
    lines.append(f"When: {_fmt_when(appointment)}")
    if appointment.rrule:
        lines.append(f"Repeats: {appointment.rrule}")
    if appointment.location:
        lines.append(f"Where: {appointment.location}")
    if appointment.description:
        lines.extend(["", appointment.description])
    return "\n".join(lines) + "\n"


def invitation_email(
    appointment: Appointment,
    *,
    sender: Recipient,
    method: str = "REQUEST",
    date: datetime,
    to: Sequence[Recipient] | None = None,
    subject: str | None = None,
    text: str | None = None,
    html: str | None = None,
    organizer_name: str = "",
    key: str | None = None,
) -> EmailMessage:
    """The e-mail inviting the attendees to ``appointment`` (or cancelling it).

    The message is ``multipart/mixed``: a ``multipart/alternative`` with the
    text (and HTML) body and a ``text/calendar; method=...; charset=utf-8``
    part, followed by an ``invite.ics`` attachment with the same calendar
    object. ``to`` defaults to every attendee. The Message-ID is derived from
    UID + SEQUENCE + method (``key``, default :func:`invitation_key`), so a
    retry is recognisable and an update is a new message. ``date`` is the
    Date header and the DTSTAMP.

    Raises:
        InvalidInput: no recipient, an unsafe subject (CR/LF), an unknown
            method, or anything :func:`invitation_ics` refuses.
    """
    method = method.upper()
    if to is None:
        to = [(a.name, a.email) for a in appointment.attendees]
    if not to:
        raise InvalidInput("attendees", "an invitation needs at least one attendee", None)
    sender_addr = sender[1] if isinstance(sender, tuple) else sender
    if subject is None:
        # The title is one line already; the zone text is ours.
        subject = invitation_subject(appointment, method)
    check_header("subject", subject)
    ics = invitation_ics(
        appointment,
        method,
        date,
        organizer=appointment.organizer_email or sender_addr,
        organizer_name=organizer_name or (sender[0] if isinstance(sender, tuple) else ""),
    )
    if key is None:
        key = invitation_key(appointment) + ("" if method == "REQUEST" else f":{method.lower()}")
    return build_email(
        sender=sender,
        to=to,
        subject=subject,
        text=text if text is not None else invitation_text(appointment, method),
        html=html,
        key=key,
        date=date,
        alternatives=[
            Attachment(
                "invite.ics",
                ics,
                "text/calendar",
                {"method": method, "charset": "utf-8"},
            )
        ],
        attachments=[Attachment("invite.ics", ics, "application/ics")],
    )


class EmailCalendar:
    """A Calendar port that sends invitation e-mails through a Mailer.

    ``publish`` sends ``METHOD:REQUEST`` and ``cancel`` ``METHOD:CANCEL`` to
    the appointment's attendees (plus ``extra_recipients``, e.g. the
    employee's own mailbox). The Message-ID is derived from UID + SEQUENCE, so
    a mailer that remembers deliveries does not send one version twice; this
    adapter also remembers the highest SEQUENCE it sent per UID and ignores an
    older or equal one. ``clock`` gives the Date/DTSTAMP (defaults to now).
    Raises :class:`~crm_procedures.errors.DeliveryError` from the mailer and
    InvalidInput for an appointment without attendees.
    """

    def __init__(
        self,
        mailer: Mailer,
        sender: Recipient,
        *,
        extra_recipients: Sequence[Recipient] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.mailer = mailer
        self.sender = sender
        self.extra_recipients = tuple(extra_recipients)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sent: dict[tuple[str, str], int] = {}

    def _send(self, appointment: Appointment, method: str) -> None:
        seen = self._sent.get((appointment.uid, method))
        if seen is not None and seen >= appointment.sequence:
            return
        to = [(a.name, a.email) for a in appointment.attendees]
        to.extend((r if isinstance(r, tuple) else ("", r)) for r in self.extra_recipients)
        message = invitation_email(
            appointment, sender=self.sender, method=method, date=self._clock(), to=to
        )
        self.mailer.send(message)
        self._sent[(appointment.uid, method)] = appointment.sequence

    def publish(self, appointment: Appointment) -> None:
        """Send the invitation (or update) for this UID and SEQUENCE."""
        self._send(appointment, "CANCEL" if appointment.cancelled else "REQUEST")

    def cancel(self, appointment: Appointment) -> None:
        """Send the cancellation (METHOD:CANCEL, same UID)."""
        self._send(appointment, "CANCEL")
