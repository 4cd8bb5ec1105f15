"""The cadence on every store: due steps kept by moves, worklists, pauses, exits, the scheduler.

A campaign of the shape of the issue: a call; two business days later the
information e-mail goes out by itself (Dutch holidays, listed by hand so
the test does not depend on the optional package); three business days
after that the marketeer calls back.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm_procedures.errors import DefinitionError, InvalidInput
from crm_procedures.model.contact import Contact
from crm_procedures.model.relation import Relation, RelationKind
from crm_procedures.model.users import Group, User
from crm_procedures.ports import DuePages, Store
from crm_procedures.procedures.definitions import dump_definitions, load_definitions
from crm_procedures.procedures.validation import validate
from crm_procedures.services import cadence, campaigns, scheduler
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock

AMS = ZoneInfo("Europe/Amsterdam")
# Thursday before Easter 2026: Good Friday is no Dutch public holiday, Easter Monday is.
CALL = datetime(2026, 4, 2, 10, 0, tzinfo=AMS)

DEFINITIONS: dict[str, Any] = {
    "time_zone": "Europe/Amsterdam",
    "calendars": {"nl": {"holidays": ["2026-04-06", "2026-04-27", "2026-05-05"]}},
    "roles": {"marketeer": {"label": "Marketeer"}},
    "templates": {"info": {"subject": "Information", "text": "Hello {{contact.salutation}}"}},
    "steps": {
        "call": {"name": "Call"},
        "send_info": {
            "name": "Send information",
            "kind": "send_email",
            "template": "info",
            "automatic": True,
            "due": {"business_days": 2, "calendar": "nl"},
            "send_window": {
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "from": "09:00",
                "to": "17:00",
            },
        },
        "call_back": {"name": "Call back", "due": {"business_days": 3, "calendar": "nl"}},
        "won": {"name": "Won", "final": True, "outcome": "won"},
    },
    "procedures": {
        "cadence": {
            "name": "Cadence",
            "steps": ["call", "send_info", "call_back", "won"],
            "close_reasons": ["not_interested"],
            "exit_on": ["reply", "won"],
            "matrix": {
                "marketeer": {
                    "START": ["call"],
                    "call": ["send_info", "won"],
                    "send_info": ["call_back", "won"],
                    "call_back": ["won"],
                }
            },
        }
    },
    "dictionaries": {
        "close_reason": {
            "label": "Close reason",
            "choices": [{"key": "not_interested", "label": "Not interested"}],
        }
    },
}


def _world(store: Store, *, contact_email: str | None = "jan@acme.example") -> tuple[Context, str]:
    clock = FrozenClock(CALL - timedelta(hours=1))
    ctx = Context(store=store, clock=clock, definitions=load_definitions(DEFINITIONS))
    with store.unit_of_work() as uow:
        uow.groups.add(Group(id="admins", name="Admins", permissions={"admin"}))
        uow.groups.add(
            Group(
                id="marketing", name="Marketing", permissions={"prospect.write", "activity.write"}
            )
        )
        for uid in ("ann", "bas"):
            uow.users.add(
                User(
                    id=uid,
                    name=uid.title(),
                    email=f"{uid}@crm.example",
                    roles={"marketeer"},
                    groups={"marketing"},
                )
            )
        uow.users.add(User(id="boss", name="Boss", groups={"admins"}))
        uow.relations.add(Relation(id="client", name="Client", kinds={RelationKind.CLIENT}))
        uow.relations.add(Relation(id="acme", name="Acme"))
        uow.contacts.add(
            Contact(id="jan", relation_id="acme", last_name="Jansen", email=contact_email)
        )
        uow.commit()
    project = campaigns.start_campaign(
        ctx,
        "boss",
        relation_id="client",
        name="Spring",
        procedure="cadence",
        members={"marketeer": ["ann", "bas"]},
    )
    (prospect,) = campaigns.add_prospects(ctx, "boss", project.id, [("acme", "jan")])
    campaigns.release(ctx, "boss", project.id)
    return ctx, prospect.id


def _call(ctx: Context, pid: str) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(CALL - ctx.clock.now())
    campaigns.perform_step(ctx, "ann", pid, "call", role="marketeer")


def test_definitions_with_time_rules_load_and_dump_without_loss() -> None:
    defs = load_definitions(DEFINITIONS)
    step = defs.step("send_info")
    assert step.automatic
    assert step.due is not None
    assert step.send_window is not None
    assert defs.procedure("cadence").exit_on == ("reply", "won")
    assert load_definitions(dump_definitions(defs)) == defs


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"steps": {"call": {"name": "Call", "automatic": True}}}, "automatic-kind-not-unattended"),
        (
            {"steps": {"won": {"name": "Won", "final": True, "due": {"days": 1}}}},
            "due-on-final-step",
        ),
        ({"exit_on": ["replied"]}, "unknown-exit-event"),
        ({"calendar": "de"}, "unknown-calendar"),
        ({"time_zone": "Europe/Amsterdan"}, "unknown-time-zone"),
        ({"loop": True}, "automatic-loop"),
    ],
)
def test_each_time_problem_is_a_finding_with_its_code(change: dict[str, Any], code: str) -> None:
    data: dict[str, Any] = {
        **DEFINITIONS,
        "steps": {**DEFINITIONS["steps"], **change.get("steps", {})},
    }
    procedure = dict(DEFINITIONS["procedures"]["cadence"])
    if "exit_on" in change:
        procedure["exit_on"] = change["exit_on"]
    if "calendar" in change:
        info = dict(data["steps"]["send_info"])
        info["due"] = {"business_days": 2, "calendar": change["calendar"]}
        data["steps"]["send_info"] = info
    if "time_zone" in change:
        data["time_zone"] = change["time_zone"]
    if "loop" in change:
        data["steps"]["send_info"] = {**data["steps"]["send_info"], "due": {"minutes": 0}}
        procedure["matrix"] = {
            "marketeer": {**procedure["matrix"]["marketeer"], "send_info": ["send_info", "won"]}
        }
    data["procedures"] = {"cadence": procedure}
    defs = load_definitions(data, validate=False)
    assert code in {f.code for f in validate(defs)}
    with pytest.raises(DefinitionError) as refused:
        load_definitions(data)
    assert code in {f.code for f in refused.value.findings}


def test_a_call_makes_the_e_mail_due_two_business_days_later_in_the_send_window(
    store: Store,
) -> None:
    ctx, pid = _world(store)
    _call(ctx, pid)
    with store.unit_of_work(read_only=True) as uow:
        p = uow.prospects.get(pid)
    # Thursday 10:00 + 2 business days: Friday, then Tuesday (Easter Monday is off)
    assert p.next_due_at == datetime(2026, 4, 7, 10, 0, tzinfo=AMS)
    assert (p.due_step, p.due_role, p.due_automatic) == ("send_info", "marketeer", True)


def test_the_scheduler_sends_the_e_mail_once_and_the_call_back_falls_due(store: Store) -> None:
    ctx, pid = _world(store)
    _call(ctx, pid)
    early = scheduler.run_due(ctx, datetime(2026, 4, 7, 9, 59, tzinfo=AMS), worker="w1")
    assert early.claimed == 0
    at = datetime(2026, 4, 7, 10, 5, tzinfo=AMS)
    run = scheduler.run_due(ctx, at, worker="w1")
    assert run.performed == ((pid, "send_info"),)
    again = scheduler.run_due(ctx, at + timedelta(minutes=1), worker="w2")
    assert again.claimed == 0
    assert again.performed == ()
    with store.unit_of_work(read_only=True) as uow:
        p = uow.prospects.get(pid)
        mails = [m for m in uow.outbox.list() if m.channel == "mail"]
    assert [e.step for e in p.history if e.step] == ["call", "send_info"]
    assert [e.actor for e in p.history if e.step == "send_info"] == ["system"]
    assert len(mails) == 1
    # Tuesday 10:05 + 3 business days = Friday 10:05
    assert p.next_due_at == datetime(2026, 4, 10, 10, 5, tzinfo=AMS)
    assert (p.due_step, p.due_automatic) == ("call_back", False)


def test_a_closed_send_window_defers_the_step_to_its_opening(store: Store) -> None:
    ctx, pid = _world(store)
    _call(ctx, pid)
    with store.unit_of_work() as uow:
        p = uow.prospects.get(pid)
        p.next_due_at = datetime(2026, 4, 7, 7, 0, tzinfo=AMS)  # before the window opens
        uow.prospects.save(p)
        uow.commit()
    run = scheduler.run_due(ctx, datetime(2026, 4, 7, 7, 30, tzinfo=AMS), worker="w1")
    assert run.deferred == (pid,)
    assert run.performed == ()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.prospects.get(pid).next_due_at == datetime(2026, 4, 7, 10, 0, tzinfo=AMS)


def test_a_step_refused_midway_leaves_nothing_and_is_retried_later(store: Store) -> None:
    ctx, pid = _world(store, contact_email=None)
    _call(ctx, pid)
    at = datetime(2026, 4, 7, 10, 5, tzinfo=AMS)
    run = scheduler.run_due(ctx, at, worker="w1")
    assert run.performed == ()
    assert [f[0] for f in run.failed] == [pid]
    with store.unit_of_work(read_only=True) as uow:
        p = uow.prospects.get(pid)
        assert [e.step for e in p.history if e.step] == ["call"]
        assert uow.outbox.list() == []
    assert scheduler.run_due(ctx, at + timedelta(minutes=1), worker="w2").claimed == 0
    later = scheduler.run_due(ctx, at + scheduler.RETRY_AFTER + timedelta(seconds=1), worker="w2")
    assert later.claimed == 1


def test_a_lease_keeps_other_schedulers_away_until_it_runs_out(store: Store) -> None:
    ctx, pid = _world(store)
    _call(ctx, pid)
    at = datetime(2026, 4, 7, 10, 5, tzinfo=AMS)
    with store.unit_of_work() as uow:  # a scheduler that claimed and was then killed
        assert uow.prospects.claim_due(at, 10, "killed", 60) == [pid]
        uow.commit()
    assert scheduler.run_due(ctx, at + timedelta(seconds=30), worker="w2").claimed == 0
    run = scheduler.run_due(ctx, at + timedelta(seconds=61), worker="w2")
    assert run.performed == ((pid, "send_info"),)


def test_an_exit_event_stops_the_automatic_sequence(store: Store) -> None:
    ctx, pid = _world(store)
    _call(ctx, pid)
    cadence.exit_sequence(ctx, "ann", pid, "reply")
    with store.unit_of_work(read_only=True) as uow:
        p = uow.prospects.get(pid)
    assert p.sequence_exit == "reply"
    assert p.next_due_at is None
    assert scheduler.run_due(ctx, datetime(2026, 5, 1, 10, tzinfo=AMS)).claimed == 0
    with pytest.raises(InvalidInput):
        cadence.exit_sequence(ctx, "ann", pid, "replied")


def test_a_pause_moves_the_due_time_to_its_end_and_resume_restores_it(store: Store) -> None:
    ctx, pid = _world(store)
    _call(ctx, pid)  # Thursday 2 April 10:00: the e-mail is due Tuesday 7 April 10:00
    until = datetime(2026, 4, 20, 12, 0, tzinfo=AMS)
    p = cadence.pause_prospect(ctx, "ann", pid, until)
    # the clock stands still for 18 days 2 hours: Saturday 25 April 12:00, then the
    # send window's next opening
    assert p.next_due_at == datetime(2026, 4, 27, 9, 0, tzinfo=AMS)
    assert (p.paused_at, p.paused_until) == (CALL, until)
    p = cadence.resume_prospect(ctx, "ann", pid)  # resumed at once: no time was paused
    assert p.next_due_at == datetime(2026, 4, 7, 10, 0, tzinfo=AMS)


def test_defect_pause_resume_shifts_the_pending_due_date_by_the_paused_time(
    store: Store,
) -> None:
    ctx, pid = _world(store)
    _call(ctx, pid)
    assert isinstance(ctx.clock, FrozenClock)
    cadence.pause_prospect(ctx, "ann", pid, datetime(2026, 4, 20, 12, 0, tzinfo=AMS))
    ctx.clock.advance(timedelta(days=2, hours=3))
    p = cadence.resume_prospect(ctx, "ann", pid)
    # paused for 2 days 3 hours: Tuesday 7 April 10:00 becomes Thursday 9 April 13:00
    assert p.next_due_at == datetime(2026, 4, 9, 13, 0, tzinfo=AMS)
    with store.unit_of_work(read_only=True) as uow:
        stored = uow.prospects.get(pid)
    assert stored.next_due_at == p.next_due_at
    assert stored.paused_until == CALL + timedelta(days=2, hours=3)
    # a second pause after the first adds to it: one more day
    ctx.clock.advance(timedelta(hours=1))
    cadence.pause_prospect(ctx, "ann", pid, datetime(2026, 4, 20, 12, 0, tzinfo=AMS))
    ctx.clock.advance(timedelta(days=1))
    p = cadence.resume_prospect(ctx, "ann", pid)
    assert p.next_due_at == datetime(2026, 4, 10, 13, 0, tzinfo=AMS)
    # a pause that runs out by itself shifts by its whole length
    ctx.clock.advance(timedelta(minutes=30))
    until = ctx.clock.now() + timedelta(hours=2)
    p = cadence.pause_prospect(ctx, "ann", pid, until)
    assert p.next_due_at == datetime(2026, 4, 10, 15, 0, tzinfo=AMS)
    # the step is performed: the steps after it count from it, the pause is forgotten
    assert isinstance(p.next_due_at, datetime)
    scheduler.run_due(ctx, p.next_due_at + timedelta(minutes=1), worker="w1")
    with store.unit_of_work(read_only=True) as uow:
        done = uow.prospects.get(pid)
    assert done.last_step == "send_info"
    assert (done.paused_at, done.paused_until) == (None, None)


def test_worklists_per_owner_and_role_list_due_work_by_due_time(store: Store) -> None:
    ctx, pid = _world(store)
    _call(ctx, pid)
    at = datetime(2026, 4, 7, 10, 5, tzinfo=AMS)
    scheduler.run_due(ctx, at, worker="w1")
    with store.unit_of_work(read_only=True) as uow:
        project = uow.prospects.get(pid).project_id
    assert cadence.assign_owners(ctx, "boss", project, "marketeer") == 1
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(datetime(2026, 4, 10, 9, 0, tzinfo=AMS) - ctx.clock.now())
    today = cadence.due_worklist(ctx, "boss", which="today", project_id=project, role="marketeer")
    assert [p.id for p in today] == [pid]
    assert cadence.due_worklist(ctx, "boss", which="due_now", owner="ann") == []
    owner = today[0].owner
    ctx.clock.advance(timedelta(days=3))
    assert [p.id for p in cadence.due_worklist(ctx, "boss", which="overdue", owner=owner)] == [pid]
    assert cadence.due_worklist(ctx, "boss", which="overdue", owner="nobody") == []
    entries = cadence.due_page(ctx, "boss", which="overdue", owner=owner)
    assert [(e.prospect_id, e.owner, e.step, e.automatic) for e in entries] == [
        (pid, owner, "call_back", False)
    ]
    assert entries[0].due_at == today[0].next_due_at
    assert cadence.due_page(ctx, "boss", which="overdue", owner=owner, after=entries[0]) == []
    assert cadence.due_page(ctx, "boss", which="today", project_id=project, role="marketeer") == []
    assert scheduler.send_reminders(ctx) == 1
    assert scheduler.send_reminders(ctx) == 1
    with store.unit_of_work(read_only=True) as uow:
        reminders = [m for m in uow.outbox.list() if m.key.startswith("reminder:")]
    assert len(reminders) == 1
    with pytest.raises(InvalidInput):
        cadence.due_worklist(ctx, "boss", which="someday")
    with pytest.raises(InvalidInput):
        cadence.due_page(ctx, "boss", which="someday")
    with pytest.raises(InvalidInput):
        cadence.due_page(ctx, "boss", role="marketeer")
    with pytest.raises(InvalidInput):
        cadence.due_page(ctx, "boss", after="p-1")  # type: ignore[arg-type]


def test_holidays_listed_by_hand_move_the_due_date(store: Store) -> None:
    ctx, pid = _world(store)
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(datetime(2026, 4, 24, 10, 0, tzinfo=AMS) - ctx.clock.now())
    campaigns.perform_step(ctx, "ann", pid, "call", role="marketeer")
    with store.unit_of_work(read_only=True) as uow:
        p = uow.prospects.get(pid)
    # Friday 24 April + 2 business days: Monday 27 April is King's Day: Tuesday, Wednesday
    assert p.next_due_at is not None
    assert p.next_due_at.date() == date(2026, 4, 29)


class _WithoutPages:
    """A prospect repository as a host's store without ``due_page`` offers it."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "due_page":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_due_page_without_the_capability_is_served_from_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crm_procedures.adapters import memory

    store = memory.MemoryStore()
    ctx, pid = _world(store)
    _call(ctx, pid)
    scheduler.run_due(ctx, datetime(2026, 4, 7, 10, 5, tzinfo=AMS), worker="w1")
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(datetime(2026, 4, 20, 9, 0, tzinfo=AMS) - ctx.clock.now())
    with_capability = cadence.due_page(ctx, "boss", which="overdue")
    assert [e.prospect_id for e in with_capability] == [pid]
    start = memory.MemoryUnitOfWork.__init__

    def without_pages(uow: memory.MemoryUnitOfWork, *args: Any, **kwargs: Any) -> None:
        start(uow, *args, **kwargs)
        uow.prospects = _WithoutPages(uow.prospects)

    monkeypatch.setattr(memory.MemoryUnitOfWork, "__init__", without_pages)
    with store.unit_of_work(read_only=True) as uow:
        assert not isinstance(uow.prospects, DuePages)
    assert cadence.due_page(ctx, "boss", which="overdue") == with_capability
    assert cadence.due_page(ctx, "boss", which="overdue", after=with_capability[0]) == []
    assert cadence.due_page(ctx, "boss", which="overdue", limit=0) == []
