"""A generated data set for the report tests, and the report numbers computed from it
independently of the library's report queries.

The expected numbers below follow the rules documented on
:mod:`crm_procedures.model.reports` and :mod:`crm_procedures.adapters.memory_reports`,
written out again over the raw records (plain loops, no store, no viewer object), so
a store that counts differently fails the comparison.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from crm_procedures.ids import (
    ActivityId,
    AppointmentId,
    GroupId,
    ProjectId,
    ProspectId,
    RelationId,
    UserId,
)
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.appointment import Appointment, AppointmentStatus
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import (
    EntryKind,
    HistoryEntry,
    Prospect,
    ProspectStatus,
    RelationStage,
)
from crm_procedures.model.relation import Relation
from crm_procedures.model.reports import AcquisitionRow, EmployeeRow, Funnel
from crm_procedures.model.users import Group, User
from crm_procedures.model.visit_report import VisitReport
from crm_procedures.ports import Store
from crm_procedures.testing.builders import a_visit_report

ZONES = (UTC, ZoneInfo("Europe/Amsterdam"), ZoneInfo("Europe/Warsaw"))
START = datetime(2026, 1, 1, tzinfo=UTC)
STEPS = ("call", "brochure", "visit", "offer")
REASONS = ("no_interest", "competitor", "")
OUTCOMES = ("reached", "no_answer", None)

# Who sees what: the rights each user gets through their groups.
GROUPS = (
    Group(GroupId("sales"), "Sales", permissions={"report.read", "activity.read_group"}),
    Group(
        GroupId("board"),
        "Board",
        permissions={
            "report.read",
            "activity.read_all",
            "project.read_all",
            "prospect.read_preparing",
        },
    ),
    Group(GroupId("solo"), "Solo", permissions={"report.read"}),
    Group(GroupId("guests"), "Guests", permissions=set()),
)
USERS = (
    User(UserId("anna"), "Anna", groups={"sales"}),
    User(UserId("bart"), "Bart", groups={"sales"}),
    User(UserId("cees"), "Cees", groups={"solo"}),
    User(UserId("dora"), "Dora", groups={"board"}),
    User(UserId("eva"), "Eva", groups={"guests"}),
)
READERS = ("anna", "bart", "cees", "dora")
EMPLOYEES = ("anna", "bart", "cees", "dora")


def shift(at: datetime, delta: timedelta) -> datetime:
    """``at + delta`` as elapsed time (never a wall time that a DST change skips)."""
    return (at.astimezone(UTC) + delta).astimezone(at.tzinfo)


def _moment(rng: random.Random, days: int = 90) -> datetime:
    at = START + timedelta(minutes=rng.randrange(days * 24 * 60))
    if rng.random() < 0.3:
        at = at.replace(microsecond=rng.randrange(1, 1_000_000))
    return at.astimezone(rng.choice(ZONES))


@attrs.define
class World:
    """The records of one generated data set."""

    relations: list[Relation] = attrs.field(factory=list)
    projects: list[Project] = attrs.field(factory=list)
    prospects: list[Prospect] = attrs.field(factory=list)
    activities: list[Activity] = attrs.field(factory=list)
    appointments: list[Appointment] = attrs.field(factory=list)
    visit_reports: list[VisitReport] = attrs.field(factory=list)

    def store_into(self, store: Store) -> None:
        """Write users, groups and every record into ``store``."""
        with store.unit_of_work() as uow:
            for g in GROUPS:
                uow.groups.add(g)
            for u in USERS:
                uow.users.add(u)
            for r in self.relations:
                uow.relations.add(r)
            for p in self.projects:
                uow.projects.add(p)
            for x in self.prospects:
                uow.prospects.add(x.copy())
            for a in self.activities:
                uow.activities.add(a)
            for ap in self.appointments:
                uow.appointments.add(ap)
            for v in self.visit_reports:
                uow.visit_reports.add(v)
            uow.commit()


def _prospect(rng: random.Random, pid: str, project: str, relation: str) -> Prospect:
    stage = rng.choice(list(RelationStage))
    status = rng.choice(list(ProspectStatus))
    if stage is RelationStage.SUSPECT and status is ProspectStatus.CLOSED:
        status = ProspectStatus.RUNNING
    history: list[HistoryEntry] = []
    at = _moment(rng)
    actor = UserId(rng.choice(EMPLOYEES))

    def entry(kind: EntryKind, **fields: object) -> HistoryEntry:
        nonlocal at
        at = shift(at, timedelta(hours=rng.randrange(1, 200)))
        found = HistoryEntry(len(history) + 1, kind, at, actor, **fields)  # type: ignore[arg-type]
        history.append(found)
        return found

    became: datetime | None = None
    close_reason: str | None = None
    if status is not ProspectStatus.PREPARING:
        entry(EntryKind.STATUS, detail="running")
    if stage is not RelationStage.SUSPECT:
        for n in range(rng.randrange(1, 4)):
            done = entry(EntryKind.STEP, step=rng.choice(STEPS), role="marketeer")
            if n == 0:
                became = done.at
                entry(EntryKind.STAGE, detail="prospect")
        if rng.random() < 0.4:
            replaced = rng.choice([e for e in history if e.kind is EntryKind.STEP])
            entry(
                EntryKind.CORRECTION,
                step=rng.choice([*STEPS, None]),
                supersedes=replaced.seq,
                note="corrected",
            )
        if stage is RelationStage.CUSTOMER:
            entry(EntryKind.STAGE, detail="customer")
    if status is ProspectStatus.CLOSED:
        close_reason = rng.choice(REASONS) or None
        entry(EntryKind.STATUS, detail=f"closed:{close_reason or ''}")
    return Prospect(
        ProspectId(pid),
        ProjectId(project),
        RelationId(relation),
        status=status,
        close_reason=close_reason,
        stage=stage,
        became_prospect_at=became,
        became_prospect_by=actor if became else None,
        last_step=next((e.step for e in reversed(history) if e.step), None),
        history=history,
    )


def generate(seed: int, relations: int = 12, activities: int = 60) -> World:
    """A data set of relations, two campaign projects (one restricted), prospects,
    activities and appointments, all decided by ``seed``."""
    rng = random.Random(seed)
    world = World()
    for i in range(relations):
        world.relations.append(
            Relation(
                RelationId(f"R{i:02d}"),
                f"Relation {i}",
                industry_code=rng.choice(["4711", "6201", "=SUM(A1)", None]),
                region=rng.choice(["north", "south", None]),
                source=rng.choice(["fair", "web", None]),
            )
        )
    world.projects.append(Project(ProjectId("P-open"), RelationId("R00"), "Open campaign"))
    world.projects.append(
        Project(
            ProjectId("P-closed"),
            RelationId("R00"),
            "Sales-only campaign",
            linked_groups={"sales"},
        )
    )
    for project in world.projects:
        for r in world.relations:
            if rng.random() < 0.7:
                pid = f"{project.id}-{r.id}"
                world.prospects.append(_prospect(rng, pid, project.id, r.id))
    project_ids: list[str | None] = [None, None, "P-open", "P-closed"]
    for i in range(activities):
        kind = rng.choice(list(ActivityKind))
        created = _moment(rng)
        start = (
            shift(created, timedelta(hours=rng.randrange(0, 48))) if rng.random() < 0.7 else None
        )
        completed = shift(created, timedelta(days=3)) if rng.random() < 0.4 else None
        world.activities.append(
            Activity(
                ActivityId(f"A{i:03d}"),
                kind,
                UserId(rng.choice(EMPLOYEES)),
                subject=f"Activity {i}",
                relation_id=rng.choice([r.id for r in world.relations] + [None]),
                project_id=rng.choice(project_ids),
                outcome=rng.choice(OUTCOMES),
                start=start,
                end=shift(start, timedelta(hours=1)) if start else None,
                created_at=created,
                completed_at=completed,
            )
        )
    for i in range(activities // 3):
        start = _moment(rng, days=100)
        world.appointments.append(
            Appointment(
                AppointmentId(f"M{i:03d}"),
                UserId(rng.choice(EMPLOYEES)),
                start,
                shift(start, timedelta(hours=1)),
                f"Meeting {i}",
                f"M{i:03d}@reports.test",
                relation_id=rng.choice([r.id for r in world.relations] + [None]),
                project_id=rng.choice(project_ids),
                status=rng.choice(list(AppointmentStatus)),
            )
        )
    for i in range(activities // 4):
        start = _moment(rng)
        world.visit_reports.append(
            a_visit_report(
                id=f"V{i:03d}",
                relation_id=rng.choice([r.id for r in world.relations]),
                account_manager=rng.choice(EMPLOYEES),
                start=start,
                end=shift(start, timedelta(hours=2)),
            )
        )
    return world


# -- the rules, written out over the raw records -----------------------------------


@attrs.frozen
class Rights:
    """What one user may see, worked out from USERS and GROUPS by hand."""

    user: str
    permissions: frozenset[str]
    groups: frozenset[str]
    colleagues: frozenset[str]

    @classmethod
    def of(cls, user_id: str) -> Rights:
        user = next(u for u in USERS if u.id == user_id)
        perms: set[str] = set()
        for g in GROUPS:
            if g.id in user.groups:
                perms |= g.permissions
        colleagues = {u.id for u in USERS if u.groups & user.groups} | {user.id}
        return cls(user_id, frozenset(perms), frozenset(user.groups), frozenset(colleagues))

    def sees_project(self, project: Project | None) -> bool:
        if project is None or "project.read_all" in self.permissions:
            return True
        if not project.linked_users and not project.linked_groups:
            return True
        return self.user in project.linked_users or bool(self.groups & project.linked_groups)

    def sees_prospect(self, p: Prospect, projects: dict[str, Project]) -> bool:
        if (
            p.status is ProspectStatus.PREPARING
            and "prospect.read_preparing" not in self.permissions
        ):
            return False
        return self.sees_project(projects[p.project_id])

    def sees_employee(self, employee: str) -> bool:
        if "activity.read_all" in self.permissions or employee == self.user:
            return True
        return "activity.read_group" in self.permissions and employee in self.colleagues


def _inside(at: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if at is None:
        return since is None  # a missing moment counts before every real one
    return (since is None or at >= since) and (until is None or at < until)


def expected_funnel(
    world: World,
    rights: Rights,
    project_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Funnel:
    projects = {p.id: p for p in world.projects}
    period = since is not None or until is not None
    population = [
        p
        for p in world.prospects
        if p.project_id == project_id and rights.sees_prospect(p, projects)
    ]
    steps: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    suspects = prospects = won = 0
    for p in population:
        if p.stage is RelationStage.SUSPECT:
            suspects += 1
        elif _inside(p.became_prospect_at, since, until):
            prospects += 1
        withdrawn = {e.supersedes for e in p.history if e.kind is EntryKind.CORRECTION}
        reached = set()
        for e in p.history:
            if e.kind not in (EntryKind.STEP, EntryKind.CORRECTION) or e.step is None:
                continue
            if e.seq in withdrawn or not _inside(e.at, since, until):
                continue
            reached.add(e.step)
        steps.update(reached)
        closing = [
            e
            for e in p.history
            if e.kind is EntryKind.STATUS and (e.detail or "").startswith("closed")
        ]
        if p.status is ProspectStatus.CLOSED and (
            not period or any(_inside(e.at, since, until) for e in closing)
        ):
            closed[p.close_reason or ""] += 1
        winning = [e for e in p.history if e.kind is EntryKind.STAGE and e.detail == "customer"]
        if p.stage is RelationStage.CUSTOMER and (
            not period or any(_inside(e.at, since, until) for e in winning)
        ):
            won += 1
    return Funnel(
        project_id,
        len(population),
        suspects,
        prospects,
        steps,
        closed,
        won,
        since,
        until,
    )


def _activity_moment(a: Activity) -> datetime | None:
    return a.start if a.start is not None else a.created_at


def expected_employee_rows(
    world: World,
    rights: Rights,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[EmployeeRow]:
    projects = {p.id: p for p in world.projects}

    def project_visible(pid: str | None) -> bool:
        return rights.sees_project(projects[pid] if pid else None)

    mine = [
        a
        for a in world.activities
        if rights.sees_employee(a.employee)
        and project_visible(a.project_id)
        and _inside(_activity_moment(a), since, until)
    ]
    booked = Counter(
        ap.employee
        for ap in world.appointments
        if ap.status is AppointmentStatus.CONFIRMED
        and rights.sees_employee(ap.employee)
        and project_visible(ap.project_id)
        and _inside(ap.start, since, until)
    )
    # Converted: any confirmed appointment with the relation (whoever's, whenever
    # booked) at or after the employee's first contact with it in the period.
    confirmed_starts: dict[str, list[datetime]] = defaultdict(list)
    for ap in world.appointments:
        if ap.status is AppointmentStatus.CONFIRMED and ap.relation_id:
            confirmed_starts[ap.relation_id].append(ap.start)
    rows = []
    for employee in sorted({a.employee for a in mine} | set(booked)):
        own = [a for a in mine if a.employee == employee]
        first: dict[str, datetime | None] = {}
        for a in own:
            if a.kind is ActivityKind.CONTACT and a.relation_id is not None:
                at = _activity_moment(a)
                held = first.get(a.relation_id, at)
                first[a.relation_id] = min(held, at) if held and at else (held or at)
        converted = 0
        for rel, at in first.items():
            if any(at is None or s >= at for s in confirmed_starts.get(rel, [])):
                converted += 1
        rows.append(
            EmployeeRow(
                employee,
                activities=len(own),
                contacts=sum(a.kind is ActivityKind.CONTACT for a in own),
                meetings=sum(a.kind is ActivityKind.MEETING for a in own),
                tasks=sum(a.kind is ActivityKind.TASK for a in own),
                completed=sum(a.completed_at is not None for a in own),
                outcomes=Counter(a.outcome for a in own if a.outcome is not None),
                relations_contacted=len(first),
                appointments_booked=booked[employee],
                converted=converted,
            )
        )
    return rows


def expected_acquisition(world: World, rights: Rights, group_by: str) -> list[AcquisitionRow]:
    projects = {p.id: p for p in world.projects}
    relations = {r.id: r for r in world.relations}
    approached: set[str] = set()
    won: set[str] = set()
    for p in world.prospects:
        if not rights.sees_prospect(p, projects):
            continue
        if p.stage is not RelationStage.SUSPECT:
            approached.add(p.relation_id)
        if p.stage is RelationStage.CUSTOMER:
            won.add(p.relation_id)
    counts: dict[str | None, list[int]] = {}
    for rid in approached:
        value = getattr(relations[rid], group_by)
        pair = counts.setdefault(value, [0, 0])
        pair[0] += 1
        pair[1] += rid in won
    order = sorted(counts, key=lambda g: (g is None, g or ""))
    return [AcquisitionRow(g, counts[g][0], counts[g][1]) for g in order]


def ids(records: Iterable[object]) -> list[str]:
    return [str(getattr(r, "id", "")) for r in records]
