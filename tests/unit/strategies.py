"""Hypothesis strategies for valid model records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from crm_procedures import model as m

ZONES = [ZoneInfo("Europe/Amsterdam"), ZoneInfo("Europe/Warsaw"), UTC, ZoneInfo("America/New_York")]

ids = st.text(alphabet="abcdef0123456789", min_size=1, max_size=12)
line = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30)
name = line.filter(lambda s: bool(s.strip()))
free_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),  # type: ignore[arg-type]
        blacklist_characters="\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f",
    ),
    max_size=60,
)
emails = st.builds(
    lambda a, b: f"{a}@{b}.nl",
    st.from_regex(r"[a-z][a-z0-9]{0,5}(\.[a-z0-9]{1,4}){0,2}", fullmatch=True),
    st.from_regex(r"[a-z]{1,10}", fullmatch=True),
)


def _existing(d: datetime, z: tzinfo) -> datetime:
    """``d`` in zone ``z``; a wall time the clocks skip becomes the instant it names."""
    local = d.replace(tzinfo=z)
    return local.astimezone(UTC).astimezone(local.tzinfo)


def _later(start: datetime, minutes: int) -> datetime:
    """The instant ``minutes`` after ``start``, in its zone (never a time the clocks skip)."""
    return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(start.tzinfo)


aware = st.builds(
    _existing,
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1)),
    st.sampled_from(ZONES),
)
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 1, 1))
money = st.builds(
    m.Money,
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    st.sampled_from(["EUR", "PLN", "USD", "GBP"]),
)

addresses = st.builds(m.Address, street=line, postcode=line, city=line)
relations = st.builds(
    m.Relation,
    id=ids,
    name=name,
    type=st.sampled_from(m.RelationType),
    industry_code=st.none() | line,
    kinds=st.frozensets(st.sampled_from(m.RelationKind)),
    addresses=st.lists(addresses, max_size=2).map(tuple),
    email=st.none() | emails,
    notes=free_text,
)
contacts = st.builds(
    m.Contact,
    id=ids,
    relation_id=ids,
    last_name=name,
    initials=line,
    first_name=line,
    name_prefix=st.sampled_from(["", "van", "van der", "de"]),
    gender=st.sampled_from(m.Gender),
    email=st.none() | emails,
)


@st.composite
def projects(draw: st.DrawFn) -> m.Project:
    start = draw(st.none() | dates)
    end = None if start is None else start + timedelta(days=draw(st.integers(0, 400)))
    return m.Project(
        id=draw(ids),
        relation_id=draw(ids),
        name=draw(name),
        description=draw(free_text),
        start_date=start,
        end_date=end,
        value=draw(st.none() | money),
        custom_text=draw(st.lists(line, max_size=4)),
        custom_choices=draw(st.lists(st.none() | line, max_size=5)),
        contact_ids=tuple(draw(st.lists(ids, max_size=3))),
        one_off_contacts=tuple(draw(st.lists(contacts, max_size=2))),
        linked_users=draw(st.frozensets(ids, max_size=3)),
        linked_groups=draw(st.frozensets(ids, max_size=3)),
    )


@st.composite
def activities(draw: st.DrawFn) -> m.Activity:
    start = draw(st.none() | aware)
    end = None if start is None else _later(start, minutes=draw(st.integers(0, 600)))
    return m.Activity(
        id=draw(ids),
        kind=draw(st.sampled_from(m.ActivityKind)),
        employee=draw(ids),
        subject=draw(line),
        relation_id=draw(st.none() | ids),
        contact_ids=tuple(draw(st.lists(ids, max_size=3))),
        note=draw(free_text),
        start=start,
        end=end,
        expected_cost=draw(st.none() | money),
        actual_cost=draw(st.none() | money),
        timer=m.Timer(draw(st.floats(0, 1e6)), draw(st.none() | aware)),
        completed_at=draw(st.none() | aware),
    )


@st.composite
def appointments(draw: st.DrawFn) -> m.Appointment:
    start = draw(aware)
    return m.Appointment(
        id=draw(ids),
        employee=draw(ids),
        start=start,
        end=_later(start, minutes=draw(st.integers(1, 600))),
        title=draw(name),
        uid=draw(ids),
        location=draw(line),
        description=draw(free_text),
        attendees=tuple(draw(st.lists(st.builds(m.Attendee, emails, line), max_size=2))),
        sequence=draw(st.integers(0, 50)),
        status=draw(st.sampled_from(m.AppointmentStatus)),
        rrule=draw(st.none() | st.just("FREQ=WEEKLY;COUNT=3")),
        exdates=tuple(draw(st.lists(aware, max_size=2))),
    )


@st.composite
def visit_reports(draw: st.DrawFn) -> m.VisitReport:
    start = draw(aware)
    return m.VisitReport(
        id=draw(ids),
        designation=draw(name),
        relation_id=draw(ids),
        account_manager=draw(ids),
        start=start,
        end=_later(start, minutes=draw(st.integers(0, 600))),
        contact_ids=tuple(draw(st.lists(ids, max_size=3))),
        city=draw(line),
        keywords=tuple(draw(st.lists(name, max_size=3))),
        text=draw(free_text),
        action=draw(free_text),
    )


@st.composite
def prospects(draw: st.DrawFn) -> m.Prospect:
    n = draw(st.integers(0, 3))
    at = draw(aware)
    history = [
        m.HistoryEntry(
            seq=i + 1,
            kind=m.EntryKind.STEP,
            at=at,
            actor="u1",
            role="marketeer",
            step=draw(st.sampled_from(["call", "call_back"])),
        )
        for i in range(n)
    ]
    return m.Prospect(
        id=draw(ids),
        project_id=draw(ids),
        relation_id=draw(ids),
        status=draw(st.sampled_from(m.ProspectStatus)),
        stage=draw(st.sampled_from(m.RelationStage)),
        last_step=history[-1].step if history else None,
        history=history,
        next_action_at=draw(st.none() | aware),
    )


users = st.builds(
    m.User, id=ids, name=name, email=st.none() | emails, groups=st.frozensets(ids, max_size=3)
)
groups = st.builds(m.Group, id=ids, name=name, permissions=st.frozensets(ids, max_size=3))
choices = st.builds(
    m.Choice, key=ids, label=name, sort_order=st.integers(-5, 5), active=st.booleans()
)
dictionaries = st.builds(
    m.Dictionary,
    key=ids,
    choices=st.lists(choices, max_size=4, unique_by=lambda c: c.key).map(tuple),
)
outbox_messages = st.builds(
    m.OutboxMessage,
    id=ids,
    key=ids,
    channel=st.sampled_from(["mail", "calendar"]),
    payload=st.dictionaries(ids, line, max_size=3),
    created_at=st.none() | aware,
    status=st.sampled_from(m.OutboxStatus),
    attempts=st.integers(0, 10),
)

ALL = {
    m.Relation: relations,
    m.Contact: contacts,
    m.Project: projects(),
    m.Prospect: prospects(),
    m.Activity: activities(),
    m.Appointment: appointments(),
    m.VisitReport: visit_reports(),
    m.User: users,
    m.Group: groups,
    m.Dictionary: dictionaries,
    m.Money: money,
    m.OutboxMessage: outbox_messages,
}
