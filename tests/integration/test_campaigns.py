"""The standard procedure (W7) driven through the campaign services, on every store.

Each test runs on the in-memory store and on a SQLite file (see conftest.py).
The expected matrix below is written out from DOMAIN.md W7, not read from the
shipped definitions, so a wrong definitions file fails these tests.
"""

from __future__ import annotations

import email
import tempfile
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures import (
    AccessDenied,
    ConcurrencyConflict,
    CrmError,
    EntryKind,
    InvalidInput,
    MemoryStore,
    NotFound,
    ProspectClosed,
    ProspectNotReleased,
    ProspectStatus,
    RelationStage,
    TransitionNotAllowed,
    dump_definitions,
    load_definitions,
    standard_definitions,
)
from crm_procedures.access.viewer import Viewer
from crm_procedures.model.relation import Relation
from crm_procedures.services import campaigns
from integration.campaign import (
    MEMBERS,
    START,
    Campaign,
    make_campaign,
    new_prospect,
    open_test_store,
    snapshot,
)

ROLES = ("marketeer", "client", "project_leader")
STEPS = ("call", "call_back", "send_info", "make_appointment", "client_call")
LEADER_STEPS = frozenset({"call", "call_back", "send_info", "make_appointment"})

# W7, written out: (role, last step or None for START) -> the steps that role may do next.
W7: dict[tuple[str, str | None], frozenset[str]] = {
    ("marketeer", None): frozenset({"call"}),
    ("marketeer", "call"): frozenset({"call_back", "send_info", "make_appointment"}),
    ("marketeer", "call_back"): frozenset({"call_back", "send_info", "make_appointment"}),
    ("marketeer", "send_info"): frozenset({"call_back"}),
    ("client", "make_appointment"): frozenset({"client_call"}),
    ("client", "client_call"): frozenset({"client_call"}),
    **{("project_leader", last): LEADER_STEPS for last in (None, *STEPS)},
}

# A legal way to reach each last step: (actor, role, step) moves from START.
PATHS: dict[str | None, list[tuple[str, str, str]]] = {
    None: [],
    "call": [("ann", "marketeer", "call")],
    "call_back": [("ann", "marketeer", "call"), ("ann", "marketeer", "call_back")],
    "send_info": [("ann", "marketeer", "call"), ("ann", "marketeer", "send_info")],
    "make_appointment": [("ann", "marketeer", "call"), ("ann", "marketeer", "make_appointment")],
    "client_call": [
        ("ann", "marketeer", "call"),
        ("ann", "marketeer", "make_appointment"),
        ("cor", "client", "client_call"),
    ],
}
ACTOR = {"marketeer": "ann", "client": "cor", "project_leader": "pia"}


def allowed(role: str, last: str | None) -> frozenset[str]:
    return W7.get((role, last), frozenset())


def do(c: Campaign, actor: str, role: str, step: str, prospect: str | None = None) -> Any:
    """Perform a step the way a user interface would, one simulated minute later."""
    c.clock.advance(minutes=1)
    return campaigns.perform_step(
        c.ctx,
        actor,
        prospect or c.acme,
        step,
        role=role,
        appointment_start=c.clock.now() + timedelta(days=2),
    )


def walk(c: Campaign, last: str | None, prospect: str | None = None) -> None:
    for actor, role, step in PATHS[last]:
        do(c, actor, role, step, prospect)


def parse(raw: str) -> EmailMessage:
    msg = email.message_from_string(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def stored(c: Campaign, prospect_id: str) -> Any:
    with c.store.unit_of_work() as uow:
        return uow.prospects.get(prospect_id, Viewer.system())


# -- set-up and pinning ---------------------------------------------------------------------------


def test_start_campaign_pins_the_stored_definitions_version(campaign: Campaign) -> None:
    c = campaign
    assert c.project.procedure == "standard"
    assert c.project.procedure_version == 1
    with c.store.unit_of_work() as uow:
        assert uow.definitions.versions(campaigns.DEFINITIONS_KEY) == [1]
        assert uow.projects.get(c.project.id).procedure_version == 1
    # Unchanged definitions: a second campaign reuses version 1.
    again = campaigns.start_campaign(
        c.ctx, "pia", relation_id="client", name="Autumn", procedure="standard"
    )
    assert again.procedure_version == 1


def test_a_changed_procedure_never_rewrites_a_running_campaign(campaign: Campaign) -> None:
    c = campaign
    data = dump_definitions(c.ctx.definitions)  # type: ignore[arg-type]
    data["procedures"]["standard"]["matrix"]["marketeer"]["START"] = ["call", "call_back"]
    c.ctx.definitions = load_definitions(data)
    newer = campaigns.start_campaign(
        c.ctx, "pia", relation_id="client", name="Autumn", procedure="standard"
    )
    assert newer.procedure_version == 2
    (fresh,) = campaigns.add_prospects(c.ctx, "pia", newer.id, [("acme", "c-acme")])
    campaigns.release(c.ctx, "pia", newer.id)
    # The new campaign follows version 2; the old one keeps version 1's rule.
    assert do(c, "ann", "marketeer", "call_back", fresh.id).prospect.last_step == "call_back"
    with pytest.raises(TransitionNotAllowed):
        do(c, "ann", "marketeer", "call_back")
    old = campaigns.definitions_of(c.ctx, c.project.id)
    assert old.procedure("standard").allowed("marketeer", None) == frozenset({"call"})


def test_start_campaign_refuses_a_role_the_procedure_does_not_know(campaign: Campaign) -> None:
    c = campaign
    before = snapshot(c.store, c.project.id)
    with pytest.raises(InvalidInput, match="salesman"):
        campaigns.start_campaign(
            c.ctx,
            "pia",
            relation_id="client",
            name="Bad",
            procedure="standard",
            members={"salesman": ["ann"]},
        )
    with pytest.raises(NotFound):
        campaigns.start_campaign(
            c.ctx, "pia", relation_id="nobody", name="Bad", procedure="standard"
        )
    with pytest.raises(AccessDenied):
        campaigns.start_campaign(
            c.ctx, "ann", relation_id="client", name="Bad", procedure="standard"
        )
    assert snapshot(c.store, c.project.id) == before
    with c.store.unit_of_work() as uow:
        assert [p.id for p in uow.projects.of_relation("client", Viewer.system())] == [c.project.id]


def test_added_prospects_are_preparing_suspects_until_released(campaign: Campaign) -> None:
    c = campaign
    with c.store.unit_of_work() as uow:
        uow.relations.add(Relation(id="cato", name="Cato Drukkerij"))
        uow.commit()
    (p,) = campaigns.add_prospects(c.ctx, "pia", c.project.id, [("cato", None)])
    assert p.status is ProspectStatus.PREPARING
    assert p.stage is RelationStage.SUSPECT
    assert p.version == 1
    before = snapshot(c.store, c.project.id)
    # W8: marketeers do not see a prospect in preparation, but they see the project,
    # so they are told it is not released yet; the engine refuses steps until it is.
    with pytest.raises(ProspectNotReleased):
        do(c, "ann", "marketeer", "call", p.id)
    with pytest.raises(ProspectNotReleased):
        do(c, "pia", "project_leader", "call", p.id)
    assert snapshot(c.store, c.project.id) == before
    assert p.id not in [w.id for w in campaigns.worklist(c.ctx, "ann", c.project.id, "marketeer")]
    assert campaigns.release(c.ctx, "pia", c.project.id) == 1
    assert campaigns.release(c.ctx, "pia", c.project.id) == 0
    assert stored(c, p.id).status is ProspectStatus.RUNNING
    assert p.id in [w.id for w in campaigns.worklist(c.ctx, "ann", c.project.id, "marketeer")]


def test_add_prospects_refuses_a_contact_of_another_relation_and_stores_none(
    campaign: Campaign,
) -> None:
    c = campaign
    before = snapshot(c.store, c.project.id)
    with pytest.raises(InvalidInput, match="c-bolt"):
        campaigns.add_prospects(
            c.ctx, "pia", c.project.id, [("acme", "c-acme"), ("acme", "c-bolt")]
        )
    with pytest.raises(NotFound):
        campaigns.add_prospects(c.ctx, "pia", c.project.id, [("nobody", None)])
    assert snapshot(c.store, c.project.id) == before


# -- the matrix, move by move ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("last", [None, *STEPS])
def test_every_w7_move_is_allowed_or_refused_as_the_seed_says(
    campaign: Campaign, role: str, last: str | None
) -> None:
    c = campaign
    walk(c, last)
    for step in STEPS:
        if step in allowed(role, last):
            continue
        before = snapshot(c.store, c.project.id)
        with pytest.raises(TransitionNotAllowed) as refused:
            do(c, ACTOR[role], role, step)
        assert refused.value.role == role
        assert refused.value.last_step == last
        assert set(refused.value.allowed) == allowed(role, last)
        assert snapshot(c.store, c.project.id) == before
    for step in sorted(allowed(role, last)):
        # Each allowed move from the same point, each on a prospect of its own.
        p = new_prospect(c)
        walk(c, last, p)
        before = stored(c, p)
        result = do(c, ACTOR[role], role, step, p)
        after = stored(c, p)
        assert result.prospect.last_step == after.last_step == step
        assert after.version > before.version
        assert after.history[: len(before.history)] == before.history
        entry = after.history[len(before.history)]
        assert (entry.kind, entry.step, entry.role, entry.actor) == (
            EntryKind.STEP,
            step,
            role,
            ACTOR[role],
        )


# -- who may act in a role ------------------------------------------------------------------------


def test_a_user_who_is_not_a_member_of_the_role_is_denied(campaign: Campaign) -> None:
    c = campaign
    before = snapshot(c.store, c.project.id)
    # olaf holds the marketeer role, but the project names its marketeers (ann, bas).
    with pytest.raises(AccessDenied, match="role:marketeer"):
        do(c, "olaf", "marketeer", "call")
    # ann is a marketeer of the project, not its client nor its project leader.
    with pytest.raises(AccessDenied, match="role:client"):
        do(c, "ann", "client", "client_call")
    with pytest.raises(AccessDenied, match="role:project_leader"):
        do(c, "ann", "project_leader", "call")
    # eve has no group granting prospect.write.
    with pytest.raises(AccessDenied, match=r"prospect\.write"):
        do(c, "eve", "marketeer", "call")
    with pytest.raises(AccessDenied):
        do(c, "nobody", "marketeer", "call")
    assert snapshot(c.store, c.project.id) == before
    assert do(c, "bas", "marketeer", "call").prospect.last_step == "call"


def test_without_members_for_a_role_any_user_holding_the_role_may_act(campaign: Campaign) -> None:
    c = campaign
    open_project = campaigns.start_campaign(
        c.ctx, "pia", relation_id="client", name="Open", procedure="standard"
    )
    (p,) = campaigns.add_prospects(c.ctx, "pia", open_project.id, [("acme", "c-acme")])
    campaigns.release(c.ctx, "pia", open_project.id)
    with pytest.raises(AccessDenied, match="role:client"):
        do(c, "ann", "client", "call", p.id)
    assert do(c, "olaf", "marketeer", "call", p.id).prospect.last_step == "call"


# -- side effects in the same transaction ---------------------------------------------------------


def test_send_email_step_records_its_message_in_the_outbox(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    assert snapshot(c.store, c.project.id)["outbox"] == []
    result = do(c, "ann", "marketeer", "send_info")
    (key,) = result.message_keys
    with c.store.unit_of_work() as uow:
        (message,) = uow.outbox.list()
    assert message.key == key
    assert message.channel == "mail"
    mail = parse(message.payload["message"])
    assert mail["To"].addresses[0].addr_spec == "jan@acme.example.nl"
    assert mail["From"].addresses[0].addr_spec == "campaigns@example.com"
    assert str(mail["Subject"]) == "Information about Spring campaign"
    assert mail["Message-ID"]
    body = mail.get_body(("plain",))
    assert body is not None
    assert "Installers in the Randstad." in body.get_content()
    # The work shows up as the marketeer's e-mail contact activity.
    activities = snapshot(c.store, c.project.id)["activities"]
    newest = activities[0]
    assert (newest.employee, newest.outcome, newest.channel) == (
        "ann",
        "send_info",
        "email",
    )


def test_send_email_step_without_an_address_stores_nothing(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call", c.bolt)
    before = snapshot(c.store, c.project.id)
    with pytest.raises(InvalidInput, match="no e-mail address"):
        do(c, "ann", "marketeer", "send_info", c.bolt)
    assert snapshot(c.store, c.project.id) == before
    assert stored(c, c.bolt).last_step == "call"


def test_make_appointment_books_with_the_client_and_records_the_invitation(
    campaign: Campaign,
) -> None:
    c = campaign
    walk(c, "call")
    at = START + timedelta(days=3, hours=5)
    result = campaigns.perform_step(
        c.ctx,
        "ann",
        c.acme,
        "make_appointment",
        role="marketeer",
        appointment_start=at,
        location="Main office",
    )
    appointment = result.appointment
    assert appointment is not None
    assert appointment.employee == "cor"  # the step's appointment_with role: client
    assert (appointment.start, appointment.end) == (at, at + timedelta(minutes=60))
    assert appointment.prospect_id == c.acme
    # The contact and the employee whose agenda holds it (issue 19).
    assert [a.email for a in appointment.attendees] == ["jan@acme.example.nl", "cor@example.com"]
    snap = snapshot(c.store, c.project.id)
    assert snap["appointments"][1] == [appointment]
    (message,) = snap["outbox"]
    assert (message.key,) == result.message_keys
    mail = parse(message.payload["message"])
    calendars = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert calendars
    ics = calendars[0].get_content()
    ics_text = ics.decode() if isinstance(ics, bytes) else ics
    assert "METHOD:REQUEST" in ics_text
    assert f"UID:{appointment.uid}" in ics_text.replace("\r\n ", "")


def test_make_appointment_with_a_chosen_employee(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    result = campaigns.perform_step(
        c.ctx,
        "ann",
        c.acme,
        "make_appointment",
        role="marketeer",
        appointment_start=START + timedelta(days=2),
        appointment_with="pia",
    )
    assert result.appointment is not None
    assert result.appointment.employee == "pia"


def test_make_appointment_without_a_start_stores_nothing(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    before = snapshot(c.store, c.project.id)
    with pytest.raises(InvalidInput, match="appointment_start"):
        campaigns.perform_step(c.ctx, "ann", c.acme, "make_appointment", role="marketeer")
    assert snapshot(c.store, c.project.id) == before


# -- corrections (W7: the project leader) ---------------------------------------------------------


def test_project_leader_corrects_a_wrong_entry_and_history_is_kept(campaign: Campaign) -> None:
    c = campaign
    walk(c, "send_info")
    history = campaigns.prospect_history(c.ctx, "pia", c.acme)
    wrong = next(e for e in history if e.step == "send_info")
    fixed = campaigns.correct_step(
        c.ctx, "pia", c.acme, wrong.seq, "call_back", role="project_leader", note="was a call"
    )
    assert fixed.last_step == "call_back"
    after = campaigns.prospect_history(c.ctx, "pia", c.acme)
    assert after[: len(history)] == history
    (correction,) = after[len(history) :]
    assert (correction.kind, correction.supersedes, correction.step, correction.actor) == (
        EntryKind.CORRECTION,
        wrong.seq,
        "call_back",
        "pia",
    )
    # The procedure continues from the corrected step, and nothing was e-mailed again.
    assert len(snapshot(c.store, c.project.id)["outbox"]) == 1
    assert do(c, "ann", "marketeer", "make_appointment").prospect.last_step == "make_appointment"


def test_corrections_are_refused_to_others_and_for_bad_entries(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call_back")
    history = campaigns.prospect_history(c.ctx, "pia", c.acme)
    call_back = next(e for e in history if e.step == "call_back")
    status = next(e for e in history if e.kind is EntryKind.STATUS)
    before = snapshot(c.store, c.project.id)
    with pytest.raises(AccessDenied):  # marketeers lack prospect.correct
        campaigns.correct_step(c.ctx, "ann", c.acme, call_back.seq, "call", role="marketeer")
    with pytest.raises(InvalidInput, match="not a step or correction"):
        campaigns.correct_step(c.ctx, "pia", c.acme, status.seq, "call", role="project_leader")
    with pytest.raises(InvalidInput):
        campaigns.correct_step(c.ctx, "pia", c.acme, call_back.seq, "fax", role="project_leader")
    assert snapshot(c.store, c.project.id) == before
    campaigns.correct_step(c.ctx, "pia", c.acme, call_back.seq, None, role="project_leader")
    assert stored(c, c.acme).last_step == "call"
    with pytest.raises(InvalidInput, match="already superseded"):
        campaigns.correct_step(c.ctx, "pia", c.acme, call_back.seq, "call", role="project_leader")


# -- status: close, reopen, won -------------------------------------------------------------------


def test_close_refuses_steps_until_reopened(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    before = snapshot(c.store, c.project.id)
    with pytest.raises(InvalidInput, match="not a close reason"):
        campaigns.close_prospect(c.ctx, "ann", c.acme, "bankrupt")
    assert snapshot(c.store, c.project.id) == before
    closed = campaigns.close_prospect(c.ctx, "ann", c.acme, "no_budget", note="next year")
    assert (closed.status, closed.close_reason) == (ProspectStatus.CLOSED, "no_budget")
    assert c.acme not in [p.id for p in campaigns.worklist(c.ctx, "ann", c.project.id, "marketeer")]
    before = snapshot(c.store, c.project.id)
    with pytest.raises(ProspectClosed):
        do(c, "ann", "marketeer", "call_back")
    with pytest.raises(ProspectClosed):
        campaigns.mark_won(c.ctx, "pia", c.acme)
    assert snapshot(c.store, c.project.id) == before
    reopened = campaigns.reopen_prospect(c.ctx, "pia", c.acme)
    assert (reopened.status, reopened.close_reason, reopened.last_step) == (
        ProspectStatus.RUNNING,
        None,
        "call",
    )
    with pytest.raises(InvalidInput, match="only a closed prospect"):
        campaigns.reopen_prospect(c.ctx, "pia", c.acme)
    assert do(c, "ann", "marketeer", "call_back").prospect.last_step == "call_back"
    details = [e.detail for e in stored(c, c.acme).history if e.kind is EntryKind.STATUS]
    assert details == ["running", "closed:no_budget", "running"]


def test_first_step_makes_a_prospect_and_mark_won_a_customer(campaign: Campaign) -> None:
    c = campaign
    assert stored(c, c.acme).stage is RelationStage.SUSPECT
    do(c, "ann", "marketeer", "call")
    p = stored(c, c.acme)
    assert (p.stage, p.became_prospect_by, p.became_prospect_at) == (
        RelationStage.PROSPECT,
        "ann",
        c.clock.now(),
    )
    won = campaigns.mark_won(c.ctx, "pia", c.acme, note="signed")
    assert won.stage is RelationStage.CUSTOMER
    assert stored(c, c.acme).stage is RelationStage.CUSTOMER
    stages = [e.detail for e in stored(c, c.acme).history if e.kind is EntryKind.STAGE]
    assert stages == ["prospect", "customer"]


# -- worklists, concurrency, history --------------------------------------------------------------


def test_worklist_lists_what_a_role_may_do_ordered_by_next_action(campaign: Campaign) -> None:
    c = campaign
    others = [new_prospect(c) for _ in range(4)]
    due = [START + timedelta(days=d) for d in (3, 1, 4, 2)]
    for pid, at in zip(others, due, strict=True):
        c.clock.advance(minutes=1)
        campaigns.perform_step(c.ctx, "ann", pid, "call", role="marketeer", next_action_at=at)
    walk(c, "make_appointment", c.bolt)
    marketeer = campaigns.worklist(c.ctx, "ann", c.project.id, "marketeer")
    # Nothing due yet first (acme, untouched), then by due time; bolt waits for the client.
    by_due = [pid for _, pid in sorted(zip(due, others, strict=True))]
    assert [p.id for p in marketeer] == [c.acme, *by_due]
    assert [p.id for p in campaigns.worklist(c.ctx, "cor", c.project.id, "client")] == [c.bolt]
    assert [p.id for p in campaigns.worklist(c.ctx, "ann", c.project.id, "marketeer", limit=2)] == [
        c.acme,
        by_due[0],
    ]


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(campaign: Campaign) -> None:
    c = campaign
    seen = stored(c, c.acme).version
    campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer", expected_version=seen)
    before = snapshot(c.store, c.project.id)
    with pytest.raises(ConcurrencyConflict) as conflict:
        campaigns.perform_step(
            c.ctx, "bas", c.acme, "call_back", role="marketeer", expected_version=seen
        )
    assert (conflict.value.expected, conflict.value.actual) == (seen, stored(c, c.acme).version)
    assert snapshot(c.store, c.project.id) == before


def test_prospect_history_tells_the_whole_story_oldest_first(campaign: Campaign) -> None:
    c = campaign
    walk(c, "client_call")
    history = campaigns.prospect_history(c.ctx, "ann", c.acme)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert [(e.kind, e.step or e.detail) for e in history] == [
        (EntryKind.STATUS, "running"),
        (EntryKind.STEP, "call"),
        (EntryKind.STAGE, "prospect"),
        (EntryKind.STEP, "make_appointment"),
        (EntryKind.STEP, "client_call"),
    ]
    assert [e.at for e in history] == sorted(e.at for e in history)
    with c.store.unit_of_work() as uow:
        audit = uow.audit.of_record("prospect", c.acme)
    assert [a.action for a in audit] == ["perform", "perform", "perform"]
    with pytest.raises(NotFound):
        campaigns.prospect_history(c.ctx, "ann", "no-such-prospect")


# -- property: refused moves never change stored data ---------------------------------------------

MEMBERS_OF = {"ann": "marketeer", "bas": "marketeer", "cor": "client", "pia": "project_leader"}
ACTORS = ["ann", "bas", "olaf", "cor", "pia", "eve"]
Move = tuple[str, ...]


def draw_move(data: st.DataObject, last: dict[str, str | None]) -> Move:
    """A random move: often a legal one (so scripts go deep), else anything at all."""
    target = data.draw(st.sampled_from(["acme", "acme", "bolt"]))
    kind = data.draw(st.sampled_from(["legal"] * 4 + ["perform"] * 3 + ["close", "reopen"]))
    if kind == "legal":
        actor = data.draw(st.sampled_from(sorted(MEMBERS_OF)))
        role = MEMBERS_OF[actor]
        options = sorted(allowed(role, last[target])) or list(STEPS)
        return ("perform", target, actor, role, data.draw(st.sampled_from(options)))
    if kind == "perform":
        actor = data.draw(st.sampled_from(ACTORS))
        role = data.draw(st.sampled_from(ROLES))
        return ("perform", target, actor, role, data.draw(st.sampled_from([*STEPS, "fax"])))
    if kind == "close":
        reason = data.draw(st.sampled_from(["not_interested", "no_budget", "bankrupt"]))
        return ("close", target, reason)
    return ("reopen", target)


def expect_perform(last: str | None, closed: bool, target: str, move: Move) -> bool:
    """Whether the services must accept this perform move (the model of W7 and its roles)."""
    _, _, actor, role, step = move
    if closed or MEMBERS_OF.get(actor) != role:
        return False
    if step == "send_info" and target == "bolt":
        return False  # bolt's contact has no e-mail address
    return step in allowed(role, last)


def play(store: Any, data: st.DataObject, length: int) -> None:
    c = make_campaign(store)
    ids = {"acme": c.acme, "bolt": c.bolt}
    last: dict[str, str | None] = {"acme": None, "bolt": None}
    closed = {"acme": False, "bolt": False}
    for _ in range(length):
        move = draw_move(data, last)
        kind, target = move[0], move[1]
        pid = ids[target]
        before = snapshot(c.store, c.project.id)
        c.clock.advance(minutes=1)
        if kind == "perform":
            accept = expect_perform(last[target], closed[target], target, move)
            try:
                do(c, move[2], move[3], move[4], pid)
            except CrmError:
                assert not accept, f"{move} was refused after {last[target]!r}"
                assert snapshot(c.store, c.project.id) == before
            else:
                assert accept, f"{move} was accepted after {last[target]!r}"
                last[target] = move[4]
        elif kind == "close":
            try:
                campaigns.close_prospect(c.ctx, "pia", pid, move[2])
            except InvalidInput:
                assert move[2] == "bankrupt"
                assert snapshot(c.store, c.project.id) == before
            else:
                closed[target] = True
        else:
            try:
                campaigns.reopen_prospect(c.ctx, "pia", pid)
            except InvalidInput:
                assert not closed[target]
                assert snapshot(c.store, c.project.id) == before
            else:
                closed[target] = False
        p = stored(c, pid)
        assert p.last_step == last[target]
        assert (p.status is ProspectStatus.CLOSED) == closed[target]


@given(data=st.data(), length=st.integers(min_value=1, max_value=30))
def test_property_refused_moves_never_change_the_memory_store(
    data: st.DataObject, length: int
) -> None:
    play(MemoryStore(), data, length)


@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_property_refused_moves_never_change_the_sqlite_store(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = open_test_store("sqlite", Path(folder))
        try:
            play(store, data, 15)
        finally:
            store.close()


def test_worklist_orders_due_times_of_different_zones_by_the_instant(
    campaign: Campaign,
) -> None:
    c = campaign
    # Local wall-clock order (05:00, 09:30, 11:00) is not the order in time.
    due = {
        new_prospect(c): datetime(2026, 3, 4, 11, 0, tzinfo=ZoneInfo("Europe/Warsaw")),  # 10:00Z
        new_prospect(c): datetime(2026, 3, 4, 9, 30, tzinfo=UTC),  # 09:30Z
        new_prospect(c): datetime(2026, 3, 4, 5, 0, tzinfo=ZoneInfo("America/New_York")),  # 10:00Z
    }
    for pid, at in due.items():
        campaigns.perform_step(c.ctx, "ann", pid, "call", role="marketeer", next_action_at=at)
    listed = [p.id for p in campaigns.worklist(c.ctx, "ann", c.project.id, "marketeer")]
    expected = sorted(due, key=lambda pid: (due[pid], pid))
    assert listed == [c.acme, c.bolt, *expected]


def test_naive_times_are_refused_and_store_nothing(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    before = snapshot(c.store, c.project.id)
    naive = datetime(2026, 3, 5, 10, 0)
    with pytest.raises(InvalidInput, match="next_action_at"):
        campaigns.perform_step(
            c.ctx, "ann", c.acme, "call_back", role="marketeer", next_action_at=naive
        )
    with pytest.raises(InvalidInput, match="appointment_start"):
        campaigns.perform_step(
            c.ctx, "ann", c.acme, "make_appointment", role="marketeer", appointment_start=naive
        )
    assert snapshot(c.store, c.project.id) == before


def test_send_email_step_greets_in_the_language_of_its_template(store: Any) -> None:
    # Regression: the salutation followed the installation's language, not the template's.
    standard = standard_definitions()
    dutch = attrs.evolve(standard.templates["info"], language="nl")
    definitions = attrs.evolve(standard, templates={**standard.templates, "info": dutch})
    c = make_campaign(store)
    c.ctx.definitions = definitions
    project = campaigns.start_campaign(
        c.ctx,
        "pia",
        relation_id="client",
        name="Voorjaarscampagne",
        procedure="standard",
        members=MEMBERS,
    )
    (prospect,) = campaigns.add_prospects(c.ctx, "pia", project.id, [("acme", "c-acme")])
    campaigns.release(c.ctx, "pia", project.id)
    do(c, "ann", "marketeer", "call", prospect.id)
    (key,) = do(c, "ann", "marketeer", "send_info", prospect.id).message_keys
    with c.store.unit_of_work() as uow:
        (message,) = [m for m in uow.outbox.list() if m.key == key]
    body = parse(message.payload["message"]).get_body(("plain",))
    assert body is not None
    assert body.get_content().startswith("Geachte Jan de Vries,")
