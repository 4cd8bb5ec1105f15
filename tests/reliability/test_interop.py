"""Item 7 of issue 16, ``interop``: what the library writes, other calendar and mail software reads.

For a generated set of zones (every IANA zone in the full run, a fixed
sample plus the zones that went wrong before in the bounded run) the agenda
books a one-off appointment (in the repeated hour of a fall-back night where
the zone has one), moves it, cancels it, and books and moves a recurring
series (weekly open-ended, monthly with COUNT, daily with UNTIL, with an
excluded date). Every ``.eml`` recorded in the outbox and every ``.ics`` in
it and in a FolderCalendar is read back:

* the ``.eml`` with the standard library's ``email.policy.strict`` (which
  raises on any defect);
* every ``.ics`` with ``icalendar`` and with ``vobject``;
* the start instant icalendar reads equals the appointment's;
* the offset of the VTIMEZONE (built by icalendar from the component
  itself, not looked up by its TZID) equals zoneinfo's at every occurrence
  through the documented horizon (the series' end, or
  ``OPEN_SERIES_YEARS + TAIL_YEARS`` years for an open series);
* vobject's own expansion of the rule gives the same instants as the
  agenda's for the first occurrences (wall times in a DST gap aside, where
  vobject does not follow RFC 5545's rule).

Figures: ``interop_documents`` (documents read) and ``interop_failures`` (0).
"""

from __future__ import annotations

import email
import random
import zoneinfo
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import icalendar
import vobject

from crm_procedures.adapters.files import FolderCalendar
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.formats.ical import OPEN_SERIES_YEARS, TAIL_YEARS
from crm_procedures.ids import ContactId, RelationId, UserId
from crm_procedures.model.appointment import Appointment, AppointmentStatus
from crm_procedures.model.contact import Contact
from crm_procedures.model.users import User
from crm_procedures.services import agenda
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock
from reliability.figures import FULL, record, size

NOTABLE = (
    "Asia/Jerusalem",
    "Asia/Gaza",
    "Africa/Casablanca",
    "America/Santiago",
    "America/Nuuk",
    "Europe/Amsterdam",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Africa/Cairo",
    "UTC",
)
SAMPLE = 8
"""Zones besides NOTABLE in the bounded run (all zones in the full run)."""
DOCUMENTS = size(400, 15_000)
"""At least this many documents are read back."""
RULES = ("FREQ=MONTHLY", "FREQ=WEEKLY;COUNT=60", "FREQ=DAILY;UNTIL={until}")
"""Open-ended, counted and bounded series (UNTIL: 120 days after the start)."""
Versions = dict[tuple[str, int], Appointment]
"""Every version of every appointment sent, by (UID, SEQUENCE)."""
COMPARED = 150
"""Occurrences per series compared with vobject's own expansion."""


def zones() -> list[str]:
    every = sorted(zoneinfo.available_timezones())
    if FULL:
        return every
    rest = [k for k in every if k not in NOTABLE]
    return [*NOTABLE, *random.Random(16).sample(rest, SAMPLE)]


def fall_back(zone: ZoneInfo, year: int) -> datetime | None:
    """The second of two equal wall times on the zone's first fall-back night of ``year``."""
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    while t < end:
        a, b = t.astimezone(zone), (t + step).astimezone(zone)
        before, after = a.utcoffset(), b.utcoffset()
        if before is not None and after is not None and after < before:
            lo, hi = t, t + step
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == before:
                    lo = mid
                else:
                    hi = mid
            second = (hi + timedelta(minutes=10)).astimezone(zone).replace(second=0, microsecond=0)
            return second if second.fold == 1 else None
        t += step
    return None


def later(moment: datetime, minutes: int) -> datetime:
    """``minutes`` of elapsed time after ``moment``, in its zone (not wall-clock arithmetic)."""
    return (moment.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(moment.tzinfo)


def wall(zone: ZoneInfo, rng: random.Random, year: int) -> datetime:
    """A random wall time that exists in ``zone`` (gaps are skipped)."""
    while True:
        naive = datetime(year, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), 0)
        moment = naive.replace(tzinfo=zone)
        if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
            return moment


def world(tmp: Path) -> Context:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        uow.users.add(User(UserId("anna"), "Anna Bakker", email="anna@crm.example.com"))
        uow.contacts.add(
            Contact(
                id=ContactId("c-jan"),
                relation_id=RelationId("r-acme"),
                last_name="Łukasiewicz",
                first_name="Zoë",
                email="zoe@acme.example.pl",
            )
        )
        uow.commit()
    counter = iter(range(1, 10**9))
    return Context(
        store=store,
        clock=FrozenClock(datetime(2026, 1, 2, 8, tzinfo=UTC)),
        new_id=lambda: f"id{next(counter):06d}",
        sender_email="crm@crm.example.com",
        sender_name="Acme CRM",
    )


def read_with_vobject(data: bytes) -> Any:
    """The calendar as vobject reads it, with this document's own VTIMEZONE.

    vobject keeps the first definition it saw per TZID for the whole process
    (another test's year-9899 America/New_York included); registering this
    document's definition first makes each document read by itself.
    """
    text = data.decode("utf-8")
    first = vobject.readOne(text)
    for component in first.contents.get("vtimezone", []):
        vobject.icalendar.registerTzid(component.tzid.value, component.gettzinfo())
    return vobject.readOne(text)


class Checker:
    """Reads documents back and counts them and what went wrong."""

    def __init__(self) -> None:
        self.documents = 0
        self.failures: list[str] = []
        self.checked: set[tuple[str, int, bytes]] = set()

    def fail(self, what: str) -> None:
        self.failures.append(what)

    def eml(self, text: str, appointments: Versions) -> None:
        self.documents += 1
        try:
            message = email.message_from_string(text, policy=policy.strict)
            parts = [
                p.get_payload(decode=True)
                for p in message.walk()
                if p.get_content_type() in ("text/calendar", "application/ics")
            ]
        except Exception as exc:
            self.fail(f"eml: {type(exc).__name__}: {exc}")
            return
        if len(parts) != 2:
            self.fail(f"eml: {len(parts)} calendar parts instead of 2")
        for data in parts:
            if not isinstance(data, bytes):
                self.fail("eml: calendar part without bytes")
                continue
            self.ics(data, appointments)

    def ics(self, data: bytes, appointments: Versions) -> None:
        self.documents += 1
        try:
            cal: Any = icalendar.Calendar.from_ical(data)
            (event,) = cal.walk("VEVENT")
            uid = str(event["UID"])
            theirs = read_with_vobject(data)
            appointment = appointments[(uid, int(event["SEQUENCE"]))]
            start = event["DTSTART"].dt
            if start.astimezone(UTC) != appointment.start.astimezone(UTC):
                self.fail(f"{uid}: DTSTART read as {start}, stored {appointment.start}")
            # The same version with the same VTIMEZONE (the .eml's two parts, the
            # folder's file) is expanded once.
            zones = cal.walk("VTIMEZONE")
            seen = (uid, appointment.sequence, zones[0].to_ical() if zones else b"")
            if seen in self.checked:
                return
            self.checked.add(seen)
            if zones:
                self._offsets(uid, zones[0].to_tz(lookup_tzid=False), appointment)
            if appointment.rrule and not appointment.cancelled:
                self._expansion(uid, theirs, appointment)
        except Exception as exc:
            self.fail(f"ics: {type(exc).__name__}: {exc}")

    def _offsets(self, uid: str, ours: Any, appointment: Appointment) -> None:
        horizon = appointment.start + timedelta(days=365 * (OPEN_SERIES_YEARS + TAIL_YEARS))
        live = appointment if not appointment.cancelled else _confirmed(appointment)
        for occ in agenda.occurrences(live, live.start, horizon):
            for moment in (occ.start, occ.end):
                # The wall time (fold included) read with the VTIMEZONE gives
                # zoneinfo's offset; the second of two equal wall times too.
                local = moment.astimezone(occ.start.tzinfo)
                if local.replace(tzinfo=ours).utcoffset() != local.utcoffset():
                    self.fail(f"{uid}: VTIMEZONE offset wrong at {moment.isoformat()}")
                    return

    def _expansion(self, uid: str, theirs: Any, appointment: Appointment) -> None:
        mine = agenda.occurrences(
            appointment, appointment.start, appointment.start + timedelta(days=366 * 40)
        )[:COMPARED]
        wall_time = appointment.start.time()
        expanded = iter(theirs.vevent.getrruleset())
        for occ in mine:
            other = next(expanded, None)
            if other is None:
                self.fail(f"{uid}: vobject gives fewer occurrences")
                return
            if occ.start.time() != wall_time:
                continue  # a DST gap: RFC 5545's reading, not dateutil's
            if other.astimezone(UTC) != occ.start.astimezone(UTC):
                self.fail(f"{uid}: vobject reads {other}, the agenda {occ.start.isoformat()}")
                return


def _confirmed(appointment: Appointment) -> Appointment:
    return attrs.evolve(appointment, status=AppointmentStatus.CONFIRMED)


def scenario(
    ctx: Context, folder: FolderCalendar, key: str, rng: random.Random, sent: Versions
) -> None:
    def keep(appointment: Appointment) -> Appointment:
        sent[(appointment.uid, appointment.sequence)] = appointment
        folder.publish(appointment)
        return appointment

    zone = ZoneInfo(key)
    year = rng.randint(2026, 2031)
    start = fall_back(zone, year) or wall(zone, rng, year)
    one = keep(
        agenda.book_appointment(
            ctx,
            "anna",
            employee="anna",
            start=start,
            end=later(start, 45),
            title=f'Demo in {key}, bring the price list; "quotes" \\ and commas',
            contact_id="c-jan",
            attendees=[("Żaneta Kowalska", "zaneta@example.pl"), "piet@example.nl"],
            location="Keizersgracht 1, Amsterdam",
            description="Agenda:\n1. prices\n2. dates",
            allow_conflicts=True,
        ).appointment
    )
    moved_to = wall(zone, rng, year)
    keep(
        agenda.reschedule(
            ctx, "anna", one.id, moved_to, moved_to + timedelta(hours=1), allow_conflicts=True
        ).appointment
    )
    keep(agenda.cancel(ctx, "anna", one.id))
    for rule in RULES:
        first = wall(zone, rng, year)
        series = keep(
            agenda.book_appointment(
                ctx,
                "anna",
                employee="anna",
                start=first,
                end=first + timedelta(minutes=rng.choice([30, 90, 600])),
                title="Weekly check-in",
                contact_id="c-jan",
                rrule=rule.format(
                    until=f"{later(first, 120 * 24 * 60).astimezone(UTC):%Y%m%dT%H%M%SZ}"
                ),
                exdates=[first + timedelta(days=7 if "WEEKLY" in rule else 1)],
                allow_conflicts=True,
            ).appointment
        )
        shifted = first + timedelta(days=1)
        if shifted.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == shifted.replace(
            tzinfo=None
        ):
            keep(
                agenda.reschedule(
                    ctx,
                    "anna",
                    series.id,
                    shifted,
                    shifted + (series.end - series.start),
                    allow_conflicts=True,
                ).appointment
            )


def test_every_document_reads_back_in_other_software(tmp_path: Path) -> None:
    ctx = world(tmp_path)
    folder = FolderCalendar(tmp_path / "agenda", organizer="anna@crm.example.com")
    rng = random.Random(5545)
    chosen = zones()
    sent: Versions = {}
    for key in chosen:
        scenario(ctx, folder, key, rng, sent)
    with ctx.store.unit_of_work() as uow:
        messages = list(uow.outbox.list())
    checker = Checker()
    for message in messages:
        checker.eml(message.payload["message"], sent)
    for path in folder.files():
        checker.ics(path.read_bytes(), sent)
    documents_met = record("interop_documents", checker.documents, f">= {DOCUMENTS}")
    failures_met = record("interop_failures", len(checker.failures), "== 0")
    assert checker.failures[:10] == []
    assert failures_met
    assert documents_met, checker.documents
