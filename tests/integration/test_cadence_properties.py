"""Due dates through the engine against an independent computation (Hypothesis).

A call is performed at a generated instant through the campaign service; the
prospect's stored ``next_due_at`` must equal what a plain day-by-day loop
says: two business days later (weekends and generated holidays skipped) at
the same wall-clock time in the contact's zone, a wall time the clocks skip
moved forward by the gap, then the next opening of the send window (weekdays
09:00-17:00 on that zone's wall clock, closed on holidays). Instants are
drawn around the changes of the clocks in Amsterdam and New York.

A pause stops the due step's clock: paused right after the call for a
generated length, the e-mail falls due that much later (then at the window's
next opening); resumed after a generated part of it, it falls due later by
that part only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.model.contact import Contact
from crm_procedures.model.relation import Relation, RelationKind
from crm_procedures.model.users import Group, User
from crm_procedures.procedures.definitions import load_definitions
from crm_procedures.services import cadence, campaigns
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock

ZONES = ["Europe/Amsterdam", "America/New_York"]
# Days around the changes of the clocks in 2026 (EU: 29 Mar, 25 Oct; US: 8 Mar, 1 Nov).
DST_DAYS = [date(2026, 3, 8), date(2026, 3, 29), date(2026, 10, 25), date(2026, 11, 1)]


def _definitions(holidays: list[date], zone_name: str) -> Any:
    return load_definitions(
        {
            "time_zone": zone_name,
            "calendars": {"cal": {"holidays": [d.isoformat() for d in holidays]}},
            "roles": {"marketeer": {"label": "Marketeer"}},
            "templates": {"info": {"subject": "Information", "text": "Hello"}},
            "steps": {
                "call": {"name": "Call"},
                "send_info": {
                    "name": "Send information",
                    "kind": "send_email",
                    "template": "info",
                    "automatic": True,
                    "due": {"business_days": 2, "calendar": "cal"},
                    "send_window": {
                        "days": ["mon", "tue", "wed", "thu", "fri"],
                        "from": "09:00",
                        "to": "17:00",
                        "calendar": "cal",
                    },
                },
                "won": {"name": "Won", "final": True, "outcome": "won"},
            },
            "procedures": {
                "p": {
                    "name": "P",
                    "steps": ["call", "send_info", "won"],
                    "close_reasons": ["no"],
                    "matrix": {
                        "marketeer": {
                            "START": ["call"],
                            "call": ["send_info", "won"],
                            "send_info": ["won"],
                        },
                    },
                }
            },
            "dictionaries": {
                "close_reason": {"label": "Reason", "choices": [{"key": "no", "label": "No"}]}
            },
        }
    )


def _world(holidays: list[date], zone_name: str, contact_zone: str | None) -> tuple[Context, str]:
    store = MemoryStore()
    ctx = Context(
        store=store,
        clock=FrozenClock(datetime(2025, 12, 1, tzinfo=UTC)),
        definitions=_definitions(holidays, zone_name),
    )
    with store.unit_of_work() as uow:
        uow.groups.add(Group(id="admins", name="Admins", permissions={"admin"}))
        uow.users.add(User(id="boss", name="Boss", groups={"admins"}, roles={"marketeer"}))
        uow.relations.add(Relation(id="client", name="Client", kinds={RelationKind.CLIENT}))
        uow.relations.add(Relation(id="acme", name="Acme"))
        uow.contacts.add(
            Contact(
                id="jan",
                relation_id="acme",
                last_name="Jansen",
                email="jan@acme.example",
                time_zone=contact_zone,
            )
        )
        uow.commit()
    project = campaigns.start_campaign(
        ctx, "boss", relation_id="client", name="S", procedure="p", members={"marketeer": ["boss"]}
    )
    (prospect,) = campaigns.add_prospects(ctx, "boss", project.id, [("acme", "jan")])
    campaigns.release(ctx, "boss", project.id)
    return ctx, prospect.id


# -- the independent computation --


def _wall(day: date, at: time, tz: tzinfo) -> datetime:
    """The instant of wall time ``at`` on ``day``: fold 0 for repeated times, and a
    skipped time read with the offset before the change (so moved forward by the gap)."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _off(day: date, holidays: set[date]) -> bool:
    return day.weekday() >= 5 or day in holidays


def _expected_due(call: datetime, tz: tzinfo, holidays: set[date]) -> datetime:
    local = call.astimezone(tz)
    day, counted = local.date(), 0
    while counted < 2:
        day += timedelta(days=1)
        counted += not _off(day, holidays)
    return _wall(day, local.time().replace(tzinfo=None), tz)


def _expected_opening(at: datetime, tz: tzinfo, holidays: set[date]) -> datetime:
    local = at.astimezone(tz)
    day = local.date()
    if not _off(day, holidays) and time(9) <= local.time().replace(tzinfo=None) < time(17):
        return at
    if _off(day, holidays) or local.time().replace(tzinfo=None) >= time(17):
        day += timedelta(days=1)
    while _off(day, holidays):
        day += timedelta(days=1)
    return _wall(day, time(9), tz)


@st.composite
def calls(draw: st.DrawFn) -> datetime:
    """Instants near the changes of the clocks, or anywhere in 2026."""
    if draw(st.booleans()):
        base = datetime.combine(draw(st.sampled_from(DST_DAYS)), time(0), tzinfo=UTC)
        minutes = draw(st.integers(-4 * 24 * 60, 2 * 24 * 60))
        return base + timedelta(minutes=minutes)
    return draw(st.datetimes(datetime(2026, 1, 5), datetime(2026, 12, 10), timezones=st.just(UTC)))


@st.composite
def holiday_sets(draw: st.DrawFn, near: datetime) -> list[date]:
    first = near.date() - timedelta(days=3)
    offsets = draw(st.sets(st.integers(0, 14), max_size=5))
    return sorted(first + timedelta(days=o) for o in offsets)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_engine_makes_the_e_mail_due_where_an_independent_loop_says(
    data: st.DataObject,
) -> None:
    call = data.draw(calls(), label="call")
    holidays = data.draw(holiday_sets(call), label="holidays")
    project_zone = data.draw(st.sampled_from(ZONES), label="project zone")
    contact_zone = data.draw(st.sampled_from([None, *ZONES]), label="contact zone")
    tz = ZoneInfo(contact_zone or project_zone)
    ctx, pid = _world(holidays, project_zone, contact_zone)
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.set(call)
    campaigns.perform_step(ctx, "boss", pid, "call", role="marketeer")
    with ctx.store.unit_of_work(read_only=True) as uow:
        p = uow.prospects.get(pid)
    off = set(holidays)
    due = _expected_due(call, tz, off)
    assert p.next_due_at == _expected_opening(due, tz, off)
    assert (p.due_step, p.due_automatic) == ("send_info", True)

    # A pause stops the clock: the due time moves later by the pause's length.
    length = data.draw(st.integers(1, 7 * 24 * 60), label="pause minutes")
    until = call + timedelta(minutes=length)
    paused = cadence.pause_prospect(ctx, "boss", pid, until)
    assert paused.next_due_at == _expected_opening(due + timedelta(minutes=length), tz, off)
    # Resumed after part of it (or after its end): later by the time it lasted.
    lasted = data.draw(st.integers(0, length + 60), label="minutes before the resume")
    ctx.clock.set(call + timedelta(minutes=lasted))
    resumed = cadence.resume_prospect(ctx, "boss", pid)
    shift = timedelta(minutes=min(lasted, length))
    assert resumed.next_due_at == _expected_opening(due + shift, tz, off)
    if lasted == 0:
        assert resumed.next_due_at == p.next_due_at
