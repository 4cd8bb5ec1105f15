"""Invitations: our full path against building the same events with bare icalendar.

``invitations_vs_icalendar`` is the time to make 1,000 invitation e-mails the
way :func:`crm_procedures.services.agenda.book_appointment` does (subject and
text, the iCalendar object with VTIMEZONE, the MIME message with the
``text/calendar`` part and the ``invite.ics`` attachment, and its RFC 5322
text as stored in the outbox) divided by the time to build the same 1,000
VEVENTs with the ``icalendar`` package (VCALENDAR with METHOD, the same
properties and attendees, zone-aware start/end, a VTIMEZONE made once per zone
and reused, ``to_ical()``), measured in the same run.

``invitations_ics_vs_icalendar`` is the same ratio for the iCalendar bytes
alone, and ``invitations_email_part_vs_icalendar`` shows how much of the full
path is e-mail assembly.

Run: ``python benchmarks/run.py --only invitations`` (or
``python benchmarks/bench_invitations.py``).
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, best_of

from crm_procedures.formats.ical import invitation_email, invitation_ics
from crm_procedures.ids import AppointmentId, UserId
from crm_procedures.model.appointment import Appointment, Attendee

ZONES = (ZoneInfo("Europe/Amsterdam"), ZoneInfo("Europe/Warsaw"))
STAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SENDER = ("Acme CRM", "crm@crm.example.com")


def appointments(n: int) -> list[Appointment]:
    """``n`` varied appointments: two zones, two attendees, text needing escapes."""
    out = []
    for i in range(n):
        zone = ZONES[i % 2]
        start = datetime(2026, 3, 2, 9, tzinfo=zone) + timedelta(days=i % 300, hours=i % 8)
        out.append(
            Appointment(
                id=AppointmentId(f"a{i}"),
                employee=UserId("anna"),
                start=start,
                end=start + timedelta(minutes=45),
                title=f"Demo {i}: product, prices; next steps",
                uid=f"a{i}@crm.example.com",
                location="Keizersgracht 1, Amsterdam",
                description=f"Agenda for meeting {i}:\n- introduction\n- demo, questions\n",
                attendees=(
                    Attendee(f"contact{i}@acme.example.nl", f"Contact Nummer {i}"),
                    Attendee("piet@acme.example.nl", "Piet Jansen", required=False),
                ),
                organizer_email="anna@crm.example.com",
                rrule="FREQ=WEEKLY;COUNT=4" if i % 5 == 0 else None,
            )
        )
    return out


def _baseline_factory() -> Any:
    import icalendar

    zones: dict[str, Any] = {}

    def vtimezone(tz: ZoneInfo, year: int) -> Any:
        key = f"{tz.key}:{year}"
        if key not in zones:
            zones[key] = icalendar.Timezone.from_tzinfo(
                tz, first_date=date(year, 1, 1), last_date=date(year + 2, 1, 1)
            )
        return zones[key]

    def build(a: Appointment) -> bytes:
        cal = icalendar.Calendar()
        cal.add("prodid", "-//bench//icalendar//EN")
        cal.add("version", "2.0")
        cal.add("method", "REQUEST")
        assert isinstance(a.start.tzinfo, ZoneInfo)
        cal.add_component(vtimezone(a.start.tzinfo, a.start.year))
        ev = icalendar.Event()
        ev.add("uid", a.uid)
        ev.add("sequence", a.sequence)
        ev.add("dtstamp", STAMP)
        ev.add("dtstart", a.start)
        ev.add("dtend", a.end)
        if a.rrule:
            ev.add("rrule", icalendar.vRecur.from_ical(a.rrule))
        ev.add("summary", a.title)
        ev.add("location", a.location)
        ev.add("description", a.description)
        organizer = icalendar.vCalAddress(f"mailto:{a.organizer_email}")
        ev.add("organizer", organizer)
        for att in a.attendees:
            address = icalendar.vCalAddress(f"mailto:{att.email}")
            address.params["cn"] = att.name
            address.params["role"] = "REQ-PARTICIPANT" if att.required else "OPT-PARTICIPANT"
            address.params["partstat"] = "NEEDS-ACTION"
            address.params["rsvp"] = "TRUE"
            ev.add("attendee", address)
        ev.add("status", "CONFIRMED")
        cal.add_component(ev)
        result: bytes = cal.to_ical()
        return result

    return build


def run(quick: bool) -> list[Figure]:
    """The invitation figures (see the module documentation)."""
    n = 200 if quick else 1_000
    repeat = 3 if quick else 5
    items = appointments(n)
    baseline_build = _baseline_factory()

    def baseline() -> None:
        for a in items:
            baseline_build(a)

    def ours_ics() -> None:
        for a in items:
            invitation_ics(a, "REQUEST", STAMP)

    def ours_email_only() -> None:
        for a in items:
            invitation_email(a, sender=SENDER, date=STAMP)

    def ours_full() -> None:
        for a in items:
            invitation_email(a, sender=SENDER, date=STAMP).as_string()

    # Warm caches on both sides (VTIMEZONEs, header classes) before timing.
    baseline()
    ours_full()
    t_base = best_of(baseline, repeat=repeat)
    t_ics = best_of(ours_ics, repeat=repeat)
    t_msg = best_of(ours_email_only, repeat=repeat)
    t_full = best_of(ours_full, repeat=repeat)
    scale = 1_000 / n
    full_ratio = t_full / t_base
    ics_ratio = t_ics / t_base
    return [
        Figure(
            name="invitations_vs_icalendar",
            value=t_full * scale,
            unit="s per 1,000 invitation e-mails",
            target="<= 1.5 (goal 1.2)",
            met=full_ratio <= 1.5,
            baseline=t_base * scale,
            ratio=full_ratio,
            note=(
                "full path: subject/text, RFC 5545 object with VTIMEZONE, MIME message with "
                "text/calendar part and invite.ics, as_string(); baseline: bare icalendar "
                "VEVENT with tz + to_ical()"
                + ("" if full_ratio <= 1.2 else f"; {full_ratio / 1.2:.2f}x from the 1.2 goal")
            ),
        ),
        Figure(
            name="invitations_ics_vs_icalendar",
            value=t_ics * scale,
            unit="s per 1,000 calendar objects",
            target="<= 1.0",
            met=ics_ratio <= 1.0,
            baseline=t_base * scale,
            ratio=ics_ratio,
            note="iCalendar bytes only (no e-mail)",
        ),
        Figure(
            name="invitations_email_part_vs_icalendar",
            value=(t_full - t_ics) * scale,
            unit="s per 1,000 messages",
            target="informational",
            met=True,
            baseline=t_base * scale,
            ratio=(t_full - t_ics) / t_base,
            note=f"e-mail assembly and serialisation; of which as_string(): "
            f"{(t_full - t_msg) * scale:.3f} s",
        ),
    ]


if __name__ == "__main__":
    for figure in run(quick="--quick" in sys.argv):
        print(f"{figure.name}: {figure.value:.3f} {figure.unit}; ratio {figure.ratio:.2f}")
        print(f"    baseline {figure.baseline:.3f} s; {figure.note}")
