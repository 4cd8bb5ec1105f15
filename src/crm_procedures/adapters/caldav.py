"""A CalDAV adapter of the Calendar port (RFC 4791): the employees' own calendars.

:class:`CalDavCalendar` writes each appointment into the calendar of its
employee and of every participant (``appointment.participants``), reads
their free/busy time, and reports changes made in those calendars by
their owners (a move in Outlook, a deletion on a phone).

* **Publishing** is a conditional ``PUT`` of the calendar object
  (:func:`~crm_procedures.formats.ical.calendar_object_ics`: the
  invitation's VEVENT without ``METHOD``) at ``<calendar>/<uid>.ics``:
  ``If-None-Match: *`` when the adapter has not written it before,
  ``If-Match: <ETag>`` on the ETag it last wrote or saw. Publishing a
  SEQUENCE the calendar holds already (or an older one) does nothing, so
  outbox retries do no harm.
* **Cancelling** is a ``DELETE`` (``If-Match`` when the ETag is known; a
  cancellation wins over an edit made in the calendar, and an entry already
  gone is fine). The adapter remembers the cancelled SEQUENCE, so an older
  publication arriving late does not bring the entry back.
* **Free/busy** (:meth:`CalDavCalendar.busy`) is a ``calendar-query`` with a
  time range; recurring entries are expanded, cancelled and transparent
  ones left out.
* **Changes** (:meth:`CalDavCalendar.changes`) compare the ETags of the
  calendar (one ``PROPFIND``) with those the adapter wrote: a different ETag
  is read and reported as a move (or a cancellation when the entry says
  ``STATUS:CANCELLED``), a missing entry as a cancellation.
  :func:`~crm_procedures.services.agenda.apply_calendar_changes` applies
  them to the store and acknowledges them.

**Conflicts.** A conditional write refused with 412 (or a 404 for an entry
the adapter wrote) means the calendar changed since the adapter last saw
it. Nothing is written and :class:`~crm_procedures.errors.CalendarConflict`
(a temporary :class:`~crm_procedures.errors.DeliveryError`) is raised: the
calendar wins. Apply its changes, which gives the store a new SEQUENCE with
the calendar's times; the outbox's retry of the refused publication is then
older than what the calendar holds and is skipped.

What the adapter knows (ETag and SEQUENCE per calendar and UID) lives in
memory, or in a JSON file when ``state_path`` is given (written after every
change, atomically). Without it a restarted adapter adopts what it finds:
an entry with the same or a higher SEQUENCE counts as written.

Network errors, time-outs and 5xx replies raise a temporary DeliveryError;
other refusals (403, 415...) a permanent one.
"""

from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import attrs
import icalendar

from crm_procedures.adapters.files import uid_file_name
from crm_procedures.errors import CalendarConflict, DeliveryError, InvalidInput
from crm_procedures.formats.ical import calendar_object_ics
from crm_procedures.ids import UserId
from crm_procedures.model.appointment import Appointment, CalendarChange, ChangeAction

__all__ = ["CalDavCalendar", "HeldEntry"]

_DAV = "{DAV:}"
_CALDAV = "{urn:ietf:params:xml:ns:caldav}"
_PROPFIND_ETAGS = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
)
_XML = {"Content-Type": "application/xml; charset=utf-8"}
_ICS = {"Content-Type": "text/calendar; charset=utf-8"}


@attrs.define
class HeldEntry:
    """What the adapter knows of one appointment in one calendar.

    ``employee`` owns the calendar; ``etag`` is the ETag last written or
    seen (``""`` once deleted); ``sequence`` the store's SEQUENCE the
    calendar holds; ``cancelled`` true once deleted by a cancellation.
    """

    employee: str
    href: str
    etag: str
    sequence: int
    cancelled: bool = False


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _as_instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return None  # a floating time names no instant
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


class CalDavCalendar:
    """The Calendar port on a CalDAV server (also a BusyCalendar and a ChangeFeed).

    Args:
        url: the server's base URL (``https://dav.example.com/``).
        calendars: the calendar collection URL of each employee (user id ->
            URL, absolute or relative to ``url``), or a function giving it;
            by default ``<url>/<user id>/crm/``.
        username: the HTTP user name, if the server asks for credentials.
        password: the HTTP password, if the server asks for credentials.
        organizer: the ORGANIZER when an appointment has no organizer address.
        create: make a missing calendar collection (``MKCOL`` of the parent,
            ``MKCALENDAR``) on first use.
        state_path: a JSON file keeping what the adapter wrote across restarts.
        clock: gives DTSTAMP (defaults to now).
        timeout: seconds per HTTP request.
        client: a ready ``caldav.DAVClient`` (made from ``url`` otherwise).

    Raises InvalidInput for a URL that is not http(s).
    """

    def __init__(
        self,
        url: str,
        *,
        calendars: Mapping[str, str] | Callable[[str], str] | None = None,
        username: str | None = None,
        password: str | None = None,
        organizer: str | None = None,
        create: bool = True,
        state_path: str | os.PathLike[str] | None = None,
        clock: Callable[[], datetime] | None = None,
        timeout: int = 30,
        client: Any = None,
    ) -> None:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise InvalidInput("url", "must be an http:// or https:// URL", url)
        self.url = url if url.endswith("/") else url + "/"
        self._calendars = calendars
        self.organizer = organizer
        self.create = create
        self._clock = clock or (lambda: datetime.now(UTC))
        if client is None:
            from caldav.davclient import DAVClient

            client = DAVClient(self.url, username=username, password=password, timeout=timeout)
        self._client = client
        self._state_path = Path(state_path) if state_path is not None else None
        self._held: dict[tuple[str, str], HeldEntry] = {}
        self._ready: set[str] = set()
        if self._state_path is not None and self._state_path.exists():
            self._load()

    # --- where things are -------------------------------------------------------------

    def calendar_url(self, employee: str) -> str:
        """The calendar collection URL of ``employee`` (ends with ``/``)."""
        if not isinstance(employee, str) or not employee.strip():
            raise InvalidInput("employee", "must be a user id", employee)
        if self._calendars is None:
            found: str | None = f"{quote(employee, safe='')}/crm/"
        elif callable(self._calendars):
            found = self._calendars(employee)
        else:
            found = self._calendars.get(employee)
        if not found:
            raise InvalidInput("employee", f"no calendar is configured for {employee!r}", employee)
        absolute = urljoin(self.url, found)
        return absolute if absolute.endswith("/") else absolute + "/"

    def href_for(self, employee: str, uid: str) -> str:
        """The URL of the calendar object of ``uid`` in ``employee``'s calendar."""
        # uid_file_name keeps UIDs apart (case, unsafe characters); its "%"
        # must itself be escaped in a URL.
        name = quote(uid_file_name(uid), safe="@._+-~")
        return f"{self.calendar_url(employee)}{name}.ics"

    def held(self, employee: str, uid: str) -> HeldEntry | None:
        """What the adapter knows of ``uid`` in ``employee``'s calendar, or None."""
        return self._held.get((self.calendar_url(employee), uid))

    # --- HTTP -------------------------------------------------------------------------

    def _request(
        self, url: str, method: str, body: str | bytes = "", headers: Mapping[str, str] = {}
    ) -> Any:
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
            response = self._client.request(url, method, text, dict(headers))
        except Exception as exc:  # the client raises its own and its transport's errors
            raise DeliveryError(
                f"the calendar server cannot be reached ({method} {url}): {exc}",
                permanent=False,
            ) from exc
        status = int(response.status)
        if status >= 500 or status in (408, 429):
            raise DeliveryError(
                f"the calendar server failed ({method} {url}): {status}", permanent=False
            )
        if status in (401, 403):
            raise DeliveryError(
                f"the calendar server refused access ({method} {url}): {status}; "
                "check the user name, password and the calendar's rights",
                permanent=True,
            )
        return response

    @staticmethod
    def _text(response: Any) -> str:
        raw = response.raw
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")

    @staticmethod
    def _etag(response: Any) -> str:
        headers = response.headers or {}
        return str(headers.get("ETag") or headers.get("etag") or "")

    def _ensure(self, calendar: str) -> None:
        if calendar in self._ready or not self.create:
            return
        found = self._request(calendar, "PROPFIND", _PROPFIND_ETAGS, {**_XML, "Depth": "0"})
        if int(found.status) == 404:
            parent = urljoin(calendar, "..")
            if parent != self.url and parent.startswith(self.url):
                probe = self._request(parent, "PROPFIND", _PROPFIND_ETAGS, {**_XML, "Depth": "0"})
                if int(probe.status) == 404:
                    self._request(parent, "MKCOL")
            made = self._request(calendar, "MKCALENDAR")
            if int(made.status) not in (201, 405):
                raise DeliveryError(
                    f"cannot create the calendar {calendar}: {made.status}", permanent=True
                )
        self._ready.add(calendar)

    # --- the Calendar port ------------------------------------------------------------

    def _employees(self, appointment: Appointment) -> list[str]:
        out = [appointment.employee]
        out.extend(p for p in appointment.participants if p not in out)
        return out

    def publish(self, appointment: Appointment) -> None:
        """Create or update the appointment in every attendee employee's calendar.

        A participant taken off the appointment since the last publish has it
        deleted from their calendar. A cancelled appointment is removed
        instead. Raises CalendarConflict when a calendar changed since the
        adapter last saw it, DeliveryError when the server cannot be reached
        or refuses.
        """
        if appointment.cancelled:
            self.cancel(appointment)
            return
        employees = self._employees(appointment)
        for employee in employees:
            self._put(employee, appointment)
        for gone in self._held_by_others(appointment.uid, employees):
            self._delete(gone, appointment)

    def _held_by_others(self, uid: str, employees: list[str]) -> list[str]:
        """Employees outside ``employees`` whose calendar holds ``uid`` (not deleted)."""
        return sorted(
            {
                entry.employee
                for (_calendar, held_uid), entry in self._held.items()
                if held_uid == uid and not entry.cancelled and entry.employee not in employees
            }
        )

    def cancel(self, appointment: Appointment) -> None:
        """Delete the appointment from every attendee employee's calendar.

        Calendars the adapter wrote it to for a participant taken off since are
        cleared too.
        """
        employees = self._employees(appointment)
        for employee in employees + self._held_by_others(appointment.uid, employees):
            self._delete(employee, appointment)

    def _put(self, employee: str, appointment: Appointment) -> None:
        calendar = self.calendar_url(employee)
        key = (calendar, appointment.uid)
        entry = self._held.get(key)
        if entry is not None and appointment.sequence <= entry.sequence:
            return  # held already (or a newer version, or cancelled since)
        self._ensure(calendar)
        href = entry.href if entry is not None else self.href_for(employee, appointment.uid)
        body = calendar_object_ics(
            appointment, self._clock(), organizer=appointment.organizer_email or self.organizer
        )
        if entry is None or not entry.etag:
            condition = {"If-None-Match": "*"}
        else:
            condition = {"If-Match": entry.etag}
        response = self._request(href, "PUT", body, {**_ICS, **condition})
        status = int(response.status)
        if status == 412 and entry is None:
            # Written before by an adapter that lost its state (or someone
            # else): adopt a version as new as ours, replace an older one.
            self._adopt(employee, key, href, appointment)
            return
        if status in (404, 412):
            raise CalendarConflict(appointment.uid, calendar)
        if status not in (200, 201, 204):
            raise DeliveryError(
                f"the calendar {calendar} refused {appointment.uid}: {status}", permanent=True
            )
        etag = self._etag(response) or self._fetch_etag(href)
        self._remember(key, HeldEntry(employee, href, etag, appointment.sequence))

    def _adopt(
        self, employee: str, key: tuple[str, str], href: str, appointment: Appointment
    ) -> None:
        response = self._request(href, "GET")
        if int(response.status) != 200:
            raise CalendarConflict(appointment.uid, key[0])
        etag = self._etag(response)
        event = _first_event(self._text(response))
        sequence = int(event.get("SEQUENCE", 0)) if event is not None else -1
        self._remember(key, HeldEntry(employee, href, etag, max(sequence, -1)))
        if sequence < appointment.sequence:
            self._put_again(key, appointment)

    def _put_again(self, key: tuple[str, str], appointment: Appointment) -> None:
        entry = self._held[key]
        entry.sequence = -1
        employee_calendar = key[0]
        body = calendar_object_ics(
            appointment, self._clock(), organizer=appointment.organizer_email or self.organizer
        )
        response = self._request(entry.href, "PUT", body, {**_ICS, "If-Match": entry.etag})
        if int(response.status) in (404, 412):
            raise CalendarConflict(appointment.uid, employee_calendar)
        if int(response.status) not in (200, 201, 204):
            raise DeliveryError(
                f"the calendar {employee_calendar} refused {appointment.uid}: {response.status}",
                permanent=True,
            )
        etag = self._etag(response) or self._fetch_etag(entry.href)
        self._remember(key, HeldEntry(entry.employee, entry.href, etag, appointment.sequence))

    def _fetch_etag(self, href: str) -> str:
        response = self._request(href, "PROPFIND", _PROPFIND_ETAGS, {**_XML, "Depth": "0"})
        for _href, etag in _etags(self._text(response)):
            return etag
        return ""

    def _delete(self, employee: str, appointment: Appointment) -> None:
        calendar = self.calendar_url(employee)
        key = (calendar, appointment.uid)
        entry = self._held.get(key)
        if entry is not None and entry.cancelled and appointment.sequence <= entry.sequence:
            return
        href = entry.href if entry is not None else self.href_for(employee, appointment.uid)
        # A cancellation is final: it wins over an edit made in the calendar.
        response = self._request(href, "DELETE")
        status = int(response.status)
        if status not in (200, 204, 404, 410):
            raise DeliveryError(
                f"the calendar {calendar} refused to delete {appointment.uid}: {status}",
                permanent=True,
            )
        sequence = max(appointment.sequence, entry.sequence if entry is not None else 0)
        self._remember(key, HeldEntry(employee, href, "", sequence, cancelled=True))

    # --- free/busy --------------------------------------------------------------------

    def busy(
        self, employee: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The busy periods of ``employee`` overlapping [start, end), by start (UTC).

        Every entry of the calendar counts, not only the library's: what the
        employee put in it themselves makes them busy too.
        """
        lo, hi = _window(start, "start"), _window(end, "end")
        if hi <= lo:
            raise InvalidInput("end", "must lie after start", end)
        calendar = self.calendar_url(employee)
        query = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:prop><d:getetag/><c:calendar-data/></d:prop>"
            '<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
            f'<c:time-range start="{_fmt(lo)}" end="{_fmt(hi)}"/>'
            "</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"
        )
        response = self._request(calendar, "REPORT", query, {**_XML, "Depth": "1"})
        if int(response.status) == 404:
            return []
        if int(response.status) != 207:
            raise DeliveryError(
                f"the calendar {calendar} cannot be searched: {response.status}", permanent=False
            )
        import recurring_ical_events

        periods: list[tuple[datetime, datetime]] = []
        for data in _calendar_data(self._text(response)):
            try:
                parsed = icalendar.Calendar.from_ical(data)
                events = recurring_ical_events.of(parsed).between(lo, hi)
            except Exception:  # a foreign entry the parser cannot read: skip it, not the rest
                continue
            for event in events:
                if str(event.get("STATUS", "")).upper() == "CANCELLED":
                    continue
                if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
                    continue
                b = _as_instant(event.decoded("DTSTART", None))
                e = _as_instant(event.decoded("DTEND", None)) if "DTEND" in event else None
                if b is None:
                    continue
                if e is None:
                    duration = event.decoded("DURATION", None)
                    e = b + (duration if isinstance(duration, timedelta) else timedelta(0))
                if b < hi and lo < e:
                    periods.append((b, e))
        return sorted(set(periods))

    # --- changes made in the calendars ------------------------------------------------

    def changes(self) -> list[CalendarChange]:
        """Moves and cancellations made in the calendars the adapter wrote to.

        One PROPFIND per calendar; entries whose ETag differs from the one
        the adapter wrote are read. A change is reported until
        :meth:`acknowledge`\\ d.
        """
        by_calendar: dict[str, list[tuple[str, HeldEntry]]] = {}
        for (calendar, uid), entry in self._held.items():
            if not entry.cancelled:
                by_calendar.setdefault(calendar, []).append((uid, entry))
        found: list[CalendarChange] = []
        for calendar, entries in sorted(by_calendar.items()):
            response = self._request(calendar, "PROPFIND", _PROPFIND_ETAGS, {**_XML, "Depth": "1"})
            status = int(response.status)
            if status == 404:
                listed: dict[str, str] = {}
            elif status == 207:
                listed = {_path(href): etag for href, etag in _etags(self._text(response))}
            else:
                raise DeliveryError(
                    f"the calendar {calendar} cannot be listed: {status}", permanent=False
                )
            for uid, entry in sorted(entries, key=lambda e: e[0]):
                employee = UserId(entry.employee)
                etag = listed.get(_path(entry.href))
                if etag is None:
                    found.append(CalendarChange(employee, uid, ChangeAction.CANCELLED, token=""))
                elif etag != entry.etag:
                    change = self._read_change(employee, uid, entry, etag)
                    if change is not None:
                        found.append(change)
        return found

    def _read_change(
        self, employee: UserId, uid: str, entry: HeldEntry, etag: str
    ) -> CalendarChange | None:
        response = self._request(entry.href, "GET")
        if int(response.status) == 404:
            return CalendarChange(employee, uid, ChangeAction.CANCELLED, token="")
        event = _first_event(self._text(response))
        token = self._etag(response) or etag
        if event is None:
            return None
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            return CalendarChange(employee, uid, ChangeAction.CANCELLED, token=token)
        start = _as_instant(event.decoded("DTSTART", None))
        end = _as_instant(event.decoded("DTEND", None)) if "DTEND" in event else None
        if start is not None and end is None:
            duration = event.decoded("DURATION", None)
            end = start + (duration if isinstance(duration, timedelta) else timedelta(0))
        return CalendarChange(employee, uid, ChangeAction.MOVED, start, end, token=token)

    def acknowledge(self, change: CalendarChange, sequence: int) -> None:
        """Record that the store holds ``change`` as version ``sequence``.

        A move keeps the calendar's ETag (later writes are conditional on
        it); a cancellation forgets the entry, except that an older
        publication is still not written back.
        """
        calendar = self.calendar_url(change.employee)
        key = (calendar, change.uid)
        entry = self._held.get(key)
        if entry is None:
            return
        if change.action is ChangeAction.CANCELLED:
            gone = not change.token
            if gone:
                self._remember(
                    key, HeldEntry(entry.employee, entry.href, "", max(sequence, 0), cancelled=True)
                )
            else:
                self._remember(
                    key, HeldEntry(entry.employee, entry.href, change.token, max(sequence, 0))
                )
            return
        self._remember(key, HeldEntry(entry.employee, entry.href, change.token, max(sequence, 0)))

    # --- state ------------------------------------------------------------------------

    def _remember(self, key: tuple[str, str], entry: HeldEntry) -> None:
        self._held[key] = entry
        if self._state_path is not None:
            self._save()

    def _save(self) -> None:
        assert self._state_path is not None
        data = [{"calendar": c, "uid": u, **attrs.asdict(e)} for (c, u), e in self._held.items()]
        path = self._state_path
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, path)
        except OSError as exc:
            raise DeliveryError(
                f"cannot keep the calendar state in {path}: {exc}", permanent=False
            ) from exc

    def _load(self) -> None:
        assert self._state_path is not None
        try:
            data = json.loads(self._state_path.read_text(encoding="utf-8"))
            for item in data:
                self._held[(str(item["calendar"]), str(item["uid"]))] = HeldEntry(
                    str(item["employee"]),
                    str(item["href"]),
                    str(item["etag"]),
                    int(item["sequence"]),
                    bool(item["cancelled"]),
                )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                "state_path", f"is not a calendar state file this adapter wrote: {exc}", None
            ) from exc


def _window(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "must be a timezone-aware datetime", value)
    return value.astimezone(UTC)


def _path(href: str) -> str:
    return unquote(urlsplit(href).path)


def _responses(text: str) -> Iterable[ET.Element]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise DeliveryError(f"the calendar server sent unreadable XML: {exc}") from exc
    return root.iter(f"{_DAV}response")


def _etags(text: str) -> list[tuple[str, str]]:
    out = []
    for response in _responses(text):
        href = response.findtext(f"{_DAV}href") or ""
        etag = response.findtext(f".//{_DAV}getetag")
        if href and etag and not href.endswith("/"):
            out.append((href, etag))
    return out


def _calendar_data(text: str) -> list[str]:
    return [
        data
        for response in _responses(text)
        if (data := response.findtext(f".//{_CALDAV}calendar-data"))
    ]


def _first_event(text: str) -> Any:
    try:
        parsed = icalendar.Calendar.from_ical(text)
    except Exception:
        return None
    for component in parsed.walk("VEVENT"):
        if "RECURRENCE-ID" not in component:
            return component
    return None
