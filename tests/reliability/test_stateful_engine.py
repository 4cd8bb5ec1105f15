"""Item 1, ``stateful_engine``: generated programs over the services agree with a simple model.

Hypothesis writes programs of service calls (define a campaign, import
suspects, release, perform, correct, close, reopen, reschedule, cancel,
dispatch), legal or not, by every user in every role, against the in-memory
and the SQLite store. A plain model predicts each call's outcome - the named
error it must raise, or exactly what it changes - and after every call the
whole store is compared with the model: prospects (status, stage, history,
last step, version), worklists, outbox messages, appointments, activities,
relations and delivered mail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.memory_mail import MemoryMailer
from crm_procedures.adapters.sql import open_store
from crm_procedures.errors import (
    AccessDenied,
    CrmError,
    InvalidInput,
    ProspectClosed,
    ProspectNotReleased,
    TransitionNotAllowed,
)
from crm_procedures.model.outbox import OutboxStatus
from crm_procedures.model.prospect import EntryKind
from crm_procedures.ports import Store
from crm_procedures.procedures.procedure import Definitions
from crm_procedures.services import agenda, campaigns
from crm_procedures.services.context import Context
from crm_procedures.services.imports import import_suspects
from crm_procedures.services.outbox import dispatch_once, exponential_backoff
from crm_procedures.testing.clock import FrozenClock
from reliability.figures import hypothesis_settings, record, size
from reliability.world import (
    MAY_CORRECT,
    MEMBERS,
    SEES_PREPARING,
    T0,
    USERS,
    context,
    matrix,
    setup_people,
    standard,
    variant,
)

STEPS = ("call", "call_back", "send_info", "make_appointment", "client_call")
REASONS = ("not_interested", "no_budget", "has_supplier", "wrong_target")
WORDS = [
    "Alder",
    "Birch",
    "Cedar",
    "Dahlia",
    "Elm",
    "Fern",
    "Gorse",
    "Hazel",
    "Iris",
    "Juniper",
    "Kale",
    "Linden",
    "Maple",
    "Nettle",
    "Oak",
    "Poplar",
    "Quince",
    "Rowan",
    "Sorrel",
    "Tansy",
    "Ulmus",
    "Violet",
    "Willow",
    "Yarrow",
    "Zinnia",
]
STORES: dict[str, Callable[[], Store]] = {
    "memory": MemoryStore,
    "sqlite": lambda: open_store("sqlite://"),
}
PROGRAMS = {"memory": size(30, 1600), "sqlite": size(12, 400)}
"""Programs per store (2,000 in the full run; SQLite programs cost ten times more)."""
STEPS_PER_PROGRAM = size(25, 30)


@attrs.define
class ModelProspect:
    id: str
    project: str
    has_email: bool
    status: str = "preparing"
    close_reason: str | None = None
    stage: str = "suspect"
    entries: list[tuple[str, str | None, int | None]] = attrs.field(factory=list)
    version: int = 1

    @property
    def last_step(self) -> str | None:
        superseded = {s for kind, _step, s in self.entries if kind == "correction"}
        for seq in range(len(self.entries), 0, -1):
            kind, step, _ = self.entries[seq - 1]
            if kind in ("step", "correction") and seq not in superseded and step is not None:
                return step
        return None


def steps_done(entries: list[tuple[str, str | None, int | None]]) -> int:
    """Steps and corrections that count (not superseded, naming a step)."""
    superseded = {s for kind, _step, s in entries if kind == "correction"}
    return sum(
        1
        for seq, (kind, step, _) in enumerate(entries, 1)
        if kind in ("step", "correction") and seq not in superseded and step is not None
    )


@attrs.define
class ModelAppointment:
    id: str
    has_attendee: bool
    sequence: int = 0
    cancelled: bool = False


class EngineModel(RuleBasedStateMachine):
    """One program: a fresh store, a campaign or more, and calls checked against the model."""

    store_name = "memory"
    programs = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).programs += 1
        self.store = STORES[self.store_name]()
        setup_people(self.store)
        self.clock = FrozenClock(T0)
        self.ctx: Context = context(self.store, self.clock)
        self.mailer = MemoryMailer(failure_rate=0.3, seed=type(self).programs)
        self.projects: dict[str, dict[str, dict[str | None, frozenset[str]]]] = {}
        self.prospects: dict[str, ModelProspect] = {}
        self.appointments: dict[str, ModelAppointment] = {}
        self.emails: set[str] = set()
        self.relations = 1
        self.activities = 0
        self.outbox = 0
        self.rows = 0
        self.calls = 0

    def teardown(self) -> None:
        self.store.close()

    # -- helpers ---------------------------------------------------------------

    def tick(self) -> None:
        self.clock.advance(minutes=7)
        self.calls += 1

    def expect(
        self, error: type[CrmError] | None, call: Callable[[], Any], what: str
    ) -> Any | None:
        """Run ``call``; it must raise exactly ``error`` (or nothing when None)."""
        self.tick()
        refused: CrmError | None = None
        try:
            result = call()
        except CrmError as exc:
            refused = exc
        if refused is not None:
            got = f"got {type(refused).__name__}: {refused}"
            assert error is not None, f"{what}: expected success, {got}"
            assert type(refused) is error, f"{what}: expected {error.__name__}, {got}"
            return None
        assert error is None, f"{what}: expected {error.__name__}, but it succeeded"
        return result

    def visible(self, actor: str, p: ModelProspect) -> bool:
        return p.status != "preparing" or actor in SEES_PREPARING

    def pick_prospect(self, data: st.DataObject) -> ModelProspect:
        return self.prospects[data.draw(st.sampled_from(sorted(self.prospects)))]

    def load_error(self, actor: str, p: ModelProspect) -> type[CrmError] | None:
        # Every user is a member of the project, so one who may not see a prospect
        # in preparation may know it exists: it is "not released", not "not found".
        return None if self.visible(actor, p) else ProspectNotReleased

    def status_error(self, p: ModelProspect) -> type[CrmError] | None:
        if p.status == "preparing":
            return ProspectNotReleased
        if p.status == "closed":
            return ProspectClosed
        return None

    # -- rules -----------------------------------------------------------------

    @initialize(defs=st.sampled_from(["standard", "variant"]))
    def first_campaign(self, defs: str) -> None:
        self.define(defs)

    @precondition(lambda self: len(self.projects) < 3)
    @rule(defs=st.sampled_from(["standard", "variant"]))
    def define(self, defs: str) -> None:
        bundle: Definitions = standard() if defs == "standard" else variant()
        self.ctx.definitions = bundle
        project = self.expect(
            None,
            lambda: campaigns.start_campaign(
                self.ctx,
                "pia",
                relation_id="client",
                name=f"Campaign {len(self.projects) + 1}",
                procedure="standard",
                members={r: list(u) for r, u in MEMBERS.items()},
            ),
            "start_campaign",
        )
        assert project is not None
        self.projects[project.id] = matrix(bundle)

    @precondition(lambda self: len(self.prospects) < 14)
    @rule(
        data=st.data(),
        rows=st.lists(
            st.sampled_from(["email", "no_email", "no_contact", "dup", "bad"]), max_size=4
        ),
    )
    def import_rows(self, data: st.DataObject, rows: list[str]) -> None:
        project = data.draw(st.sampled_from(sorted(self.projects)))
        source: list[dict[str, str]] = []
        expect: list[bool] = []
        seen = set(self.emails)
        in_file: set[str] = set()
        for kind in rows:
            self.rows += 1
            n = self.rows
            name = f"{WORDS[n % len(WORDS)]} {WORDS[(n // len(WORDS)) % len(WORDS)]} Works {n}"
            row = {"name": name, "city": "Utrecht"}
            if kind == "bad":
                row["name"] = ""
            elif kind == "dup" and seen:
                row["contact"] = "Jan de Vries"
                row["contact_email"] = sorted(in_file or seen)[0]
            elif kind in ("email", "dup"):
                row["contact"] = "Jan de Vries"
                row["contact_email"] = f"jan{n}@example.nl"
            elif kind == "no_email":
                row["contact"] = "Piet Bakker"
            source.append(row)
            # Contact e-mail addresses count as duplicates within one file; against
            # the store only the relation's own e-mail, name and postcode count.
            email = row.get("contact_email")
            imported = bool(row["name"]) and (email is None or email not in in_file)
            if imported and email:
                in_file.add(email)
                seen.add(email)
            expect.append(imported)
        # An empty source has no name column: refused as a whole.
        error = None if source else InvalidInput
        report = self.expect(
            error, lambda: import_suspects(self.ctx, "pia", project, source), "import"
        )
        if error is not None:
            return
        assert report is not None
        assert report.imported == sum(expect), (report.summary(), rows)
        self.emails = seen
        with self.store.unit_of_work() as uow:
            made = [
                p
                for p in uow.prospects.of_project(project, Viewer.system())
                if p.id not in self.prospects
            ]
            for p in made:
                contact = uow.contacts.find(p.contact_id) if p.contact_id else None
                has_email = contact is not None and bool(contact.email)
                self.prospects[p.id] = ModelProspect(p.id, project, has_email)
        assert len(made) == sum(expect)
        self.relations += sum(expect)

    @precondition(lambda self: bool(self.prospects))
    @rule(data=st.data(), everything=st.booleans())
    def release(self, data: st.DataObject, everything: bool) -> None:
        project = data.draw(st.sampled_from(sorted(self.projects)))
        mine = sorted(p.id for p in self.prospects.values() if p.project == project)
        ids = None if everything or not mine else data.draw(st.lists(st.sampled_from(mine)))
        chosen = mine if ids is None else sorted(set(ids))
        todo = [self.prospects[i] for i in chosen if self.prospects[i].status == "preparing"]
        count = self.expect(
            None, lambda: campaigns.release(self.ctx, "pia", project, ids), "release"
        )
        assert count == len(todo)
        for p in todo:
            p.status = "running"
            p.entries.append(("status", None, None))
            p.version += 1

    @precondition(lambda self: bool(self.prospects))
    @rule(
        data=st.data(),
        role=st.sampled_from(sorted(MEMBERS)),
        step=st.sampled_from([*STEPS, "unknown"]),
        own=st.integers(0, 9),
    )
    def perform(self, data: st.DataObject, role: str, step: str, own: int) -> None:
        p = self.pick_prospect(data)
        members = MEMBERS[role]
        actor = members[own % len(members)] if own else data.draw(st.sampled_from(USERS))
        error = self.load_error(actor, p)
        if error is None and step not in STEPS:
            error = InvalidInput  # a step the procedure does not have, whoever asks
        if error is None and actor not in members:
            error = AccessDenied
        error = error or self.status_error(p)
        allowed = self.projects[p.project][role].get(p.last_step, frozenset())
        if error is None and step not in allowed:
            error = TransitionNotAllowed
        if error is None and step == "send_info" and not p.has_email:
            error = InvalidInput
        result = self.expect(
            error,
            lambda: campaigns.perform_step(
                self.ctx,
                actor,
                p.id,
                step,
                role=role,
                appointment_start=self.clock.now() + timedelta(days=2),
            ),
            f"{actor} as {role} performs {step} after {p.last_step} ({p.status})",
        )
        if error is not None:
            return
        assert result is not None
        p.entries.append(("step", step, None))
        if p.stage == "suspect":
            p.stage = "prospect"
            p.entries.append(("stage", None, None))
        p.version += 1
        self.activities += 1
        if step == "send_info":
            self.outbox += 1
        if step == "make_appointment":
            assert result.appointment is not None
            self.appointments[result.appointment.id] = ModelAppointment(
                result.appointment.id, p.has_email
            )
            self.outbox += 1 if p.has_email else 0

    @precondition(lambda self: bool(self.prospects))
    @rule(
        data=st.data(),
        actor=st.sampled_from(["pia", "pia", "pia", "ann"]),
        step=st.sampled_from([*STEPS, None, "bogus"]),
        seq=st.integers(1, 12),
    )
    def correct(self, data: st.DataObject, actor: str, step: str | None, seq: int) -> None:
        p = self.pick_prospect(data)
        error = self.load_error(actor, p)
        if error is None and actor not in MAY_CORRECT:
            error = AccessDenied
        error = error or self.status_error(p)
        if error is None and step is not None and step not in STEPS:
            error = InvalidInput
        if error is None:
            target = p.entries[seq - 1] if seq <= len(p.entries) else None
            superseded = any(k == "correction" and s == seq for k, _x, s in p.entries)
            if target is None or target[0] not in ("step", "correction") or superseded:
                error = InvalidInput
            elif step is None and target[1] is None:
                error = AccessDenied
        self.expect(
            error,
            lambda: campaigns.correct_step(self.ctx, actor, p.id, seq, step, role="project_leader"),
            f"{actor} corrects #{seq} to {step}",
        )
        if error is None:
            p.entries.append(("correction", step, seq))
            p.version += 1

    @precondition(lambda self: bool(self.prospects))
    @rule(
        data=st.data(),
        actor=st.sampled_from(USERS),
        reason=st.sampled_from([*REASONS, "made_up"]),
    )
    def close(self, data: st.DataObject, actor: str, reason: str) -> None:
        p = self.pick_prospect(data)
        error = self.load_error(actor, p)
        if error is None and reason not in REASONS:
            error = InvalidInput
        self.expect(
            error,
            lambda: campaigns.close_prospect(self.ctx, actor, p.id, reason),
            f"{actor} closes ({reason})",
        )
        if error is None:
            if not (p.status == "closed" and p.close_reason == reason):
                p.status, p.close_reason = "closed", reason
                p.entries.append(("status", None, None))
                if p.stage == "prospect" and steps_done(p.entries) <= 1:
                    p.stage = "suspect"  # the first contact closed it (W9)
                    p.entries.append(("stage", None, None))
            p.version += 1

    @precondition(lambda self: bool(self.prospects))
    @rule(data=st.data(), actor=st.sampled_from(USERS))
    def reopen(self, data: st.DataObject, actor: str) -> None:
        p = self.pick_prospect(data)
        error = self.load_error(actor, p)
        if error is None and p.status != "closed":
            error = InvalidInput
        self.expect(
            error, lambda: campaigns.reopen_prospect(self.ctx, actor, p.id), f"{actor} reopens"
        )
        if error is None:
            p.status, p.close_reason = "running", None
            p.entries.append(("status", None, None))
            p.version += 1

    @precondition(lambda self: bool(self.appointments))
    @rule(data=st.data(), actor=st.sampled_from(["cor", "cor", "ann"]), days=st.integers(1, 9))
    def reschedule(self, data: st.DataObject, actor: str, days: int) -> None:
        a = self.appointments[data.draw(st.sampled_from(sorted(self.appointments)))]
        error: type[CrmError] | None = AccessDenied if actor != "cor" else None
        if error is None and a.cancelled:
            error = InvalidInput
        start = self.clock.now() + timedelta(days=days)
        self.expect(
            error,
            lambda: agenda.reschedule(
                self.ctx, actor, a.id, start, start + timedelta(hours=1), allow_conflicts=True
            ),
            f"{actor} reschedules {a}",
        )
        if error is None:
            a.sequence += 1
            self.outbox += 1 if a.has_attendee else 0

    @precondition(lambda self: bool(self.appointments))
    @rule(data=st.data(), actor=st.sampled_from(["cor", "cor", "ann"]))
    def cancel(self, data: st.DataObject, actor: str) -> None:
        a = self.appointments[data.draw(st.sampled_from(sorted(self.appointments)))]
        error: type[CrmError] | None = AccessDenied if actor != "cor" else None
        self.expect(error, lambda: agenda.cancel(self.ctx, actor, a.id), f"{actor} cancels {a}")
        if error is None and not a.cancelled:
            a.cancelled = True
            a.sequence += 1
            self.outbox += 1 if a.has_attendee else 0

    @rule(limit=st.integers(1, 10))
    def dispatch(self, limit: int) -> None:
        self.tick()
        dispatch_once(
            self.store,
            self.clock,
            mailer=self.mailer,
            limit=limit,
            max_attempts=10_000,
            backoff=exponential_backoff(base_seconds=60, cap_seconds=600),
        )

    # -- the comparison --------------------------------------------------------

    @invariant()
    def store_agrees_with_model(self) -> None:
        system = Viewer.system()
        with self.store.unit_of_work() as uow:
            stored = {
                p.id: p
                for project in self.projects
                for p in uow.prospects.of_project(project, system)
            }
            assert sorted(stored) == sorted(self.prospects), "prospects lost or doubled"
            assert uow.prospects.count() == len(self.prospects)
            for pid, m in self.prospects.items():
                p = stored[pid]
                got = [(EntryKind(e.kind).value, e.step, e.supersedes) for e in p.history]
                assert [e.seq for e in p.history] == list(range(1, len(p.history) + 1))
                assert got == m.entries, f"{pid} history"
                assert (p.status.value, p.close_reason, p.stage.value) == (
                    m.status,
                    m.close_reason,
                    m.stage,
                ), pid
                assert p.last_step == m.last_step, pid
                assert p.version == m.version, f"{pid} version {p.version} != {m.version}"
            for aid, ma in self.appointments.items():
                a = uow.appointments.get(aid)
                assert (a.sequence, a.cancelled) == (ma.sequence, ma.cancelled), aid
            assert uow.appointments.count() == len(self.appointments)
            assert uow.activities.count() == self.activities
            assert uow.relations.count() == self.relations
            messages = uow.outbox.list(limit=100_000)
            assert len(messages) == self.outbox, "outbox messages lost or doubled"
            assert len({m.key for m in messages}) == len(messages)
            assert all(m.status is not OutboxStatus.FAILED for m in messages)
            delivered = {m.key for m in messages if m.status is OutboxStatus.DELIVERED}
        assert len(set(self.mailer.message_ids)) == len(self.mailer.sent) == len(delivered)
        assert self.mailer.duplicates == 0

    @invariant()
    def worklist_agrees_with_model(self) -> None:
        # One (project, role) worklist in turn (on SQL every third call: its
        # worklist query costs tens of milliseconds); every pair comes round.
        if self.store_name != "memory" and self.calls % 3:
            return
        pairs = [(project, role) for project in sorted(self.projects) for role in sorted(MEMBERS)]
        project, role = pairs[(self.calls // 3) % len(pairs)]
        rows = self.projects[project][role]
        expected = {
            p.id
            for p in self.prospects.values()
            if p.project == project and p.status == "running" and p.last_step in rows
        }
        got = campaigns.worklist(self.ctx, MEMBERS[role][0], project, role, limit=1000)
        assert {p.id for p in got} == expected, f"worklist of {role} in {project}"


@pytest.mark.parametrize("store_name", sorted(STORES))
def test_generated_programs_agree_with_the_model(store_name: str) -> None:
    machine: type[EngineModel] = type(
        f"EngineModel_{store_name}", (EngineModel,), {"store_name": store_name}
    )
    settings = hypothesis_settings(PROGRAMS[store_name], PROGRAMS[store_name])
    settings = type(settings)(settings, stateful_step_count=STEPS_PER_PROGRAM)
    violations = 0
    try:
        run_state_machine_as_test(machine, settings=settings)
    except AssertionError:
        violations = 1
        raise
    finally:
        programs = machine.programs
        record(
            "stateful_engine.programs", programs, f">= {sum(PROGRAMS.values())}", accumulate=True
        )
        record("stateful_engine.invariant_violations", violations, "== 0", accumulate=True)
    assert programs >= PROGRAMS[store_name], f"only {programs} programs ran"
