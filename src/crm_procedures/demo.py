"""The main job: a whole campaign on an embedded SQLite file, printing what happened.

``crm-procedures demo`` (or ``nox -s demo``) loads the standard procedure
(W7) from TOML, validates it, pictures it, creates a client and a campaign,
imports generated suspects from a CSV it writes, releases them, and plays
marketeers, a client and a project leader through the procedure over
simulated days: calls, call backs, information e-mails, appointments with
invitations, a client calling after an appointment, a project leader's
correction, closings with reasons, a refused move and a concurrent edit that
is detected. The campaign has a cadence: every prospect has an owner among
the marketeers, who work their own due lists; a call in which the contact
asked for information makes the scheduler send the information e-mail two
business days later (Dutch holidays), the call back falls due three business
days after that, and the report ends with the overdue work per marketeer.
It then dispatches the outbox into ``outbox/*.eml`` and
``agenda/*.ics``, lets answers come back through a folder inbox
(``inbox/*.eml``: an accepted and a declined invitation and one bounce) and
writes a report.

Re-running with ``resume`` continues the campaign for another simulated week
in the same database; without it the folder's demo files are replaced.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
import sqlite3
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from crm_procedures.errors import (
    ConcurrencyConflict,
    CrmError,
    InvalidInput,
    TransitionNotAllowed,
)
from crm_procedures.model.prospect import Prospect, ProspectStatus, RelationStage
from crm_procedures.model.relation import Relation, RelationKind
from crm_procedures.model.users import Group, User

__all__ = ["run_demo"]

ZONE = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 3, 2, 9, 0, tzinfo=ZONE)  # a Monday; DST starts on 29 March

_COMPANY_A = [
    "Van Dijk",
    "De Boer",
    "Jansen",
    "Visser",
    "Bakker",
    "Smit",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "Kowalski",
    "Nowak",
    "Wiśniewski",
]
_COMPANY_B = [
    "Installatietechniek",
    "Bouw",
    "Electro Technisch Bedrijf",
    "Transport",
    "Advies",
    "Metaal",
    "Automatisering",
    "Drukkerij",
    "Hoveniers",
    "Logistiek",
]
_COMPANY_C = ["B.V.", "BV", "V.O.F.", "Sp. z o.o.", "en Zonen", ""]
_FIRST = ["Jan", "Anna", "Piet", "Sanne", "Kees", "Eva", "Bram", "Lotte", "Marek", "Zofia"]
_PREFIX = ["", "", "", "van", "de", "van der", "van den", "ter"]
_LAST = ["Berg", "Vries", "Meer", "Wit", "Leeuw", "Graaf", "Linden", "Heuvel", "Kamp", "Broek"]
_CITIES = [
    ("Amsterdam", "1012"),
    ("Utrecht", "3511"),
    ("Rotterdam", "3011"),
    ("Zwolle", "8011"),
    ("Groningen", "9711"),
    ("Eindhoven", "5611"),
]
_INDUSTRY = ["4321", "4110", "4941", "7022", "2511", "6201", "1812", "8130"]


class _Printer:
    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet

    def say(self, text: str = "") -> None:
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()

    def always(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def progress(self, label: str, done: int, total: int) -> None:
        if self.quiet or total <= 0:
            return
        if not self.stream.isatty():
            # A log file gets one line per finished bar, not a carriage-return storm.
            if done >= total:
                self.stream.write(f"  {label:<24} {done}/{total} done\n")
                self.stream.flush()
            return
        width = 30
        filled = int(width * done / total)
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r  {label:<24} [{bar}] {done}/{total}{end}")
        self.stream.flush()


def _suspects_csv(n: int, rng: random.Random) -> str:
    """A CSV of generated companies with contacts: some bad rows and duplicates on purpose."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";")
    w.writerow(
        [
            "Bedrijfsnaam",
            "Postcode",
            "Plaats",
            "Branchecode",
            "Voornaam",
            "Voorletters",
            "Tussenvoegsel",
            "Achternaam",
            "Geslacht",
            "E-mail contactpersoon",
            "Mobiel",
        ]
    )
    rows: list[list[str]] = []
    for i in range(n):
        city, pc = rng.choice(_CITIES)
        name = f"{rng.choice(_COMPANY_A)} {rng.choice(_COMPANY_B)} {rng.choice(_COMPANY_C)}"
        first = rng.choice(_FIRST)
        last = rng.choice(_LAST)
        prefix = rng.choice(_PREFIX)
        slug = f"{first}.{last}{i}".lower()
        postcode = f"{pc}{rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')}"
        rows.append(
            [
                name.strip().lower() if i % 9 == 0 else name.strip(),
                postcode,
                city,
                rng.choice(_INDUSTRY),
                first,
                first[0],
                prefix,
                last,
                rng.choice(["M", "V"]),
                f"{slug}@example.nl",
                f"06{rng.randrange(10**7, 10**8)}",
            ]
        )
    # A few rows a person would have to look at: no name, a broken e-mail, a duplicate.
    if n >= 20:
        rows[5][0] = ""
        rows[11][9] = "not-an-address"
        rows.append(list(rows[3]))
    w.writerows(rows)
    return out.getvalue()


class _Tee:
    """A mailer that writes the .eml file and also sends through a second mailer."""

    def __init__(self, first: Any, second: Any) -> None:
        self.first = first
        self.second = second

    def send(self, message: Any) -> None:
        self.second.send(message)
        self.first.send(message)


def _reset(out: Path) -> None:
    for name in (
        "crm.db",
        "crm.db-wal",
        "crm.db-shm",
        "suspects.csv",
        "report.txt",
        "procedure.mmd",
        "procedure.dot",
        "matrix.md",
        "funnel.png",
        "employees.png",
    ):
        (out / name).unlink(missing_ok=True)
    for folder in ("outbox", "agenda"):
        shutil.rmtree(out / folder, ignore_errors=True)


def _setup_people(app: Any) -> None:
    perms_marketing = {"prospect.write", "activity.read_group", "activity.write"}
    perms_leaders = {
        "prospect.write",
        "prospect.correct",
        "prospect.read_preparing",
        "project.read_all",
        "project.write",
        "report.read",
        "activity.read_all",
    }
    with app.store.unit_of_work() as uow:
        if uow.users.find("ann") is not None:
            return
        uow.groups.add(Group(id="marketing", name="Marketing", permissions=perms_marketing))
        uow.groups.add(Group(id="leaders", name="Project leaders", permissions=perms_leaders))
        uow.groups.add(Group(id="clients", name="Client staff", permissions={"prospect.write"}))
        for uid, name, group, role in [
            ("ann", "Ann de Wit", "marketing", "marketeer"),
            ("bas", "Bas Kowalski", "marketing", "marketeer"),
            ("cor", "Cor van Dam", "clients", "client"),
            ("pia", "Pia Nowak", "leaders", "project_leader"),
        ]:
            uow.users.add(
                User(id=uid, name=name, email=f"{uid}@example.com", groups={group}, roles={role})
            )
        uow.relations.add(
            Relation(
                id="client",
                name="Installatiebedrijf Klant B.V.",
                kinds={RelationKind.CLIENT},
                industry_code="4321",
            )
        )
        uow.commit()


def run_demo(
    out: Path,
    *,
    fresh: bool = True,
    smtp: str | None = None,
    suspects: int = 200,
    seed: int = 7,
    quiet: bool = False,
    stream: TextIO | None = None,
    db: str | None = None,
) -> int:
    """Run the demo campaign into folder ``out``; returns the exit code (0 when it went well).

    The records go to ``db`` (a store URL, PostgreSQL too) when given, else to
    ``crm.db`` in ``out``. On a given store a fresh run starts a new campaign
    next to what is there; ``fresh=False`` continues the demo's campaign.
    """
    from crm_procedures.adapters.files import FolderCalendar, FolderMailer
    from crm_procedures.adapters.sql import open_store
    from crm_procedures.procedures import render, runtime
    from crm_procedures.procedures.definitions import load_definitions
    from crm_procedures.procedures.validation import validate
    from crm_procedures.services import campaigns
    from crm_procedures.services.app import CrmApp
    from crm_procedures.services.imports import import_suspects
    from crm_procedures.services.outbox import dispatch_once
    from crm_procedures.testing.clock import FrozenClock

    pr = _Printer(stream or sys.stdout, quiet)
    t0 = time.perf_counter()
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    db_file = out / "crm.db"
    url = db if db is not None else f"sqlite:///{db_file}"
    resuming = not fresh and (db is not None or db_file.exists())
    if not resuming:
        _reset(out)

    pr.always(f"crm_procedures demo -> {out}/ ({'continuing' if resuming else 'fresh start'})")

    # 1. The procedure, from TOML, validated and pictured.
    toml_file = resources.files("crm_procedures").joinpath("data/standard.toml")
    with resources.as_file(toml_file) as toml_path:
        defs = _with_cadence(load_definitions(toml_path))
    findings = validate(defs)
    errors = [f for f in findings if f.severity == "error"]
    proc = defs.procedure("standard")
    pr.say(
        f"\n1. Loaded the standard procedure from {toml_file.name}: "
        f"{len(proc.steps)} steps, roles {', '.join(proc.roles)}; "
        f"validation: {len(errors)} errors, {len(findings) - len(errors)} warnings"
    )
    pr.say(
        "   with a cadence: the information e-mail goes out by itself two business days "
        "after a call that asked for it, the call back is due three business days later "
        f"(Dutch holidays: {_HOLIDAY_SOURCE()})"
    )
    (out / "procedure.mmd").write_text(render.mermaid(proc), encoding="utf-8")
    (out / "procedure.dot").write_text(render.dot(proc), encoding="utf-8")
    (out / "matrix.md").write_text(render.matrix_table(proc), encoding="utf-8")
    pr.say("   wrote procedure.mmd, procedure.dot and matrix.md")
    if errors:
        for f in errors:
            pr.always(f"   {f}")
        return 1

    store = open_store(url)
    clock = FrozenClock(START)
    app = CrmApp(
        store=store,
        clock=clock,
        definitions=defs,
        sender_email="campaigns@example.com",
        sender_name="Klant B.V. campaigns",
    )
    ctx = app.ctx
    try:
        _setup_people(app)
        project_id = _campaign(
            app, ctx, pr, out, rng, suspects, resuming, import_suspects, campaigns
        )
        if resuming:
            latest = max((p.next_action_at or START for p in _all(app, project_id)), default=START)
            clock.set(max(clock.now(), latest.astimezone(ZONE) + timedelta(days=1)))
        stats = _simulate(app, ctx, pr, project_id, rng, campaigns, runtime, clock)

        # Deliver what the campaign recorded.
        pr.say("\n5. Dispatching the outbox")
        mailer: Any = FolderMailer(out / "outbox")
        if smtp:
            from crm_procedures.adapters.smtp import SmtpMailer

            host, _, port = smtp.partition(":")
            mailer = _Tee(mailer, SmtpMailer(host, int(port or 25)))
            pr.say(f"   delivering to {out}/outbox and through SMTP {smtp}")
        calendar = FolderCalendar(out / "agenda", clock=clock.now)
        delivered = 0
        rounds = 0
        while True:
            report = dispatch_once(store, clock, mailer=mailer, calendar=calendar, limit=500)
            rounds += 1
            delivered += report.delivered
            if report.claimed == 0 or rounds > 50:
                break
        _write_ics_from_outbox(out)
        emls = len(list((out / "outbox").glob("*.eml")))
        icss = len(list((out / "agenda").glob("*.ics")))
        pr.say(
            f"   delivered {delivered} messages: {emls} .eml files in outbox/, "
            f"{icss} .ics files in agenda/"
        )

        _inbound_answers(app, ctx, pr, out, stats)

        summary = _report(app, ctx, out, project_id, stats)
        pr.always("\n6. Summary")
        pr.always(summary)
    except CrmError as exc:
        pr.always(f"demo stopped: {exc}")
        return 2
    finally:
        app.close()
    if db is not None:
        where = db.split("://", 1)[0]
        pr.always(f"\nstored in the {where} database; finished in {time.perf_counter() - t0:.1f} s")
        return 0
    ok = sqlite3.connect(db_file).execute("PRAGMA integrity_check").fetchone()[0]
    pr.always(f"\ncrm.db integrity check: {ok}; finished in {time.perf_counter() - t0:.1f} s")
    return 0 if ok == "ok" else 1


# Dutch public holidays as the `holidays` package gives them: the demo's calendar
# lists them too, so that it runs the same without the optional package.
_NL_HOLIDAYS = [
    "2026-01-01", "2026-04-03", "2026-04-05", "2026-04-06", "2026-04-27", "2026-05-14",
    "2026-05-24", "2026-05-25", "2026-12-25", "2026-12-26", "2027-01-01", "2027-03-26",
    "2027-03-28", "2027-03-29", "2027-04-27", "2027-05-06", "2027-05-16", "2027-05-17",
    "2027-12-25", "2027-12-26",
]  # fmt: skip


def _HOLIDAY_SOURCE() -> str:
    try:
        import holidays  # noqa: F401
    except ModuleNotFoundError:
        return "listed in the definitions; the holidays package is not installed"
    return "the holidays package, and the same dates listed in the definitions"


def _with_cadence(defs: Any) -> Any:
    """The standard procedure with time in it (issue 18's demo).

    A marketeer's call that asked for information is registered as
    ``info_asked``; two business days later the scheduler sends the
    information e-mail (``send_info``, automatic, inside office hours), and
    the call back falls due three business days after the last step. Every
    released prospect is due for its first call at once. The campaign leaves
    the automatic sequence when it is won, closed or an appointment is booked.
    """
    from crm_procedures.procedures.definitions import dump_definitions, load_definitions

    data = dump_definitions(defs)
    data["time_zone"] = "Europe/Amsterdam"
    data["calendars"] = {"nl": {"country": "NL", "holidays": list(_NL_HOLIDAYS)}}
    steps = data["steps"]
    steps["call"]["due"] = {"after": "enrolment", "minutes": 0}
    steps["call_back"]["due"] = {"business_days": 3, "calendar": "nl"}
    steps["info_asked"] = {
        "name": "Call: information asked",
        "description": "A call in which the contact asked for the information e-mail.",
    }
    steps["send_info"].update(
        automatic=True,
        due={"business_days": 2, "calendar": "nl"},
        send_window={
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "from": "09:00",
            "to": "17:00",
            "calendar": "nl",
        },
    )
    proc = data["procedures"]["standard"]
    proc["steps"] = [
        "call",
        "info_asked",
        "call_back",
        "send_info",
        "make_appointment",
        "client_call",
    ]
    proc["exit_on"] = ["won", "closed", "appointment_booked"]
    marketeer = proc["matrix"]["marketeer"]
    for row, targets in list(marketeer.items()):
        marketeer[row] = sorted({"info_asked" if s == "send_info" else s for s in targets})
    marketeer["info_asked"] = ["call_back", "send_info"]
    # The project leader corrects (a correction right, not a move) and marks wins;
    # moves of theirs after every step would make work due for them all the time.
    proc["matrix"]["project_leader"] = {}
    return load_definitions(data)


def _run_scheduler(
    ctx: Any, campaigns: Any, project_id: str, stats: Counter[str], clock: Any
) -> None:
    """Perform the automatic steps due now; a refused e-mail becomes a call back."""
    from crm_procedures.services import scheduler

    while True:
        run = scheduler.run_due(ctx, clock.now(), limit=200, worker="demo")
        stats["send_info"] += len(run.performed)
        for pid, _reason in run.failed:
            # No e-mail address on file: the owner calls back instead.
            with ctx.store.unit_of_work() as uow:
                owner = uow.prospects.get(pid).owner or "ann"
            campaigns.perform_step(
                ctx,
                owner,
                pid,
                "call_back",
                role="marketeer",
                note="no e-mail address on file; called back instead",
            )
            stats["call_back"] += 1
        if run.claimed < 200:
            return


def _all(app: Any, project_id: str) -> list[Prospect]:
    from crm_procedures.access.viewer import Viewer

    with app.store.unit_of_work() as uow:
        return list(uow.prospects.of_project(project_id, Viewer.system()))


def _campaign(
    app: Any,
    ctx: Any,
    pr: _Printer,
    out: Path,
    rng: random.Random,
    suspects: int,
    resuming: bool,
    import_suspects: Any,
    campaigns: Any,
) -> str:
    with app.store.unit_of_work() as uow:
        existing = uow.projects.of_relation("client")
    if resuming and existing:
        project = existing[0]
        pr.say(f"\n2. Continuing campaign {project.name!r} ({project.id})")
        return str(project.id)
    project = campaigns.start_campaign(
        ctx,
        "pia",
        relation_id="client",
        name="Spring campaign 2026",
        procedure="standard",
        description="Installers in the Randstad, called on behalf of Klant B.V.",
        members={"marketeer": ["ann", "bas"], "client": ["cor"], "project_leader": ["pia"]},
    )
    pr.say(
        f"\n2. Created client relation and campaign {project.name!r} "
        f"(definitions v{project.procedure_version})"
    )
    csv_path = out / "suspects.csv"
    csv_path.write_text(_suspects_csv(suspects, rng), encoding="utf-8")
    report = import_suspects(ctx, "pia", project.id, csv_path)
    pr.say(f"   imported suspects.csv: {report.summary().splitlines()[0]}")
    for line in report.summary().splitlines()[1:6]:
        pr.say(f"   {line.strip()}")
    released = campaigns.release(ctx, "pia", project.id)
    pr.say(f"   released {released} prospects (preparing -> running)")
    from crm_procedures.services import cadence

    owned = cadence.assign_owners(ctx, "pia", project.id, "marketeer")
    pr.say(f"   gave {owned} prospects an owner, round robin between the marketeers")
    return str(project.id)


def _simulate(
    app: Any,
    ctx: Any,
    pr: _Printer,
    project_id: str,
    rng: random.Random,
    campaigns: Any,
    runtime: Any,
    clock: Any,
) -> Counter[str]:
    from crm_procedures.services import cadence

    stats: Counter[str] = Counter()
    days = 10
    pr.say(f"\n3. Playing the campaign over {days} working days")
    reasons = ["not_interested", "no_budget", "has_supplier", "wrong_target"]
    for day in range(days):
        today = clock.now()
        while today.weekday() >= 5:
            today = clock.advance(days=1)
        _run_scheduler(ctx, campaigns, project_id, stats, clock)
        done = 0
        for marketeer in ("ann", "bas"):
            work = cadence.due_worklist(
                ctx,
                marketeer,
                which="due_now",
                project_id=project_id,
                role="marketeer",
                owner=marketeer,
                limit=40,
            )
            for p in work:
                clock.advance(minutes=rng.randint(3, 9))
                _marketeer_move(ctx, campaigns, marketeer, p, rng, stats, reasons, clock)
                done += 1
                pr.progress(f"day {day + 1} ({today:%a %d %b})", done, 80)
        if done < 80:
            pr.progress(f"day {day + 1} ({today:%a %d %b})", 80, 80)
        _run_scheduler(ctx, campaigns, project_id, stats, clock)
        # The client calls prospects with an appointment, before and after it.
        for p in campaigns.worklist(ctx, "cor", project_id, "client", limit=6):
            try:
                campaigns.perform_step(
                    ctx,
                    "cor",
                    p.id,
                    "client_call",
                    role="client",
                    note="Client called to prepare the visit",
                )
                stats["client_call"] += 1
                if p.stage is not RelationStage.CUSTOMER and rng.random() < 0.3:
                    # The visit went well: the project leader records a new customer.
                    campaigns.mark_won(ctx, "pia", p.id, note="Signed after the visit")
                    stats["won"] += 1
            except CrmError:
                stats["refused"] += 1
        clock.set(today.replace(hour=9, minute=0) + timedelta(days=1))

    pr.say("\n4. Moments worth showing")
    _show_refusal(ctx, campaigns, project_id, pr, stats)
    _show_correction(ctx, campaigns, project_id, pr, stats)
    _show_conflict(app, ctx, campaigns, project_id, pr, stats)
    return stats


def _marketeer_move(
    ctx: Any,
    campaigns: Any,
    who: str,
    p: Prospect,
    rng: random.Random,
    stats: Counter[str],
    reasons: list[str],
    clock: Any,
) -> None:
    last = p.last_step
    roll = rng.random()
    try:
        if last is None:
            step = "call"
        elif roll < 0.18:
            campaigns.close_prospect(ctx, who, p.id, rng.choice(reasons))
            stats["closed"] += 1
            return
        elif roll < 0.45:
            step = "call_back"
        elif roll < 0.7:
            step = "info_asked"  # the scheduler sends the e-mail two business days later
        else:
            step = "make_appointment"
        kwargs: dict[str, Any] = {}
        if step == "make_appointment":
            day = clock.now() + timedelta(days=rng.randint(2, 9))
            kwargs["appointment_start"] = day.replace(
                hour=rng.choice([10, 11, 14, 15]), minute=0, second=0, microsecond=0
            )
            kwargs["location"] = "At the prospect's office"
        kwargs["next_action_at"] = clock.now() + timedelta(days=rng.randint(1, 4))
        campaigns.perform_step(
            ctx,
            who,
            p.id,
            step,
            role="marketeer",
            note=f"{step.replace('_', ' ')} by {who}",
            **kwargs,
        )
        stats[step] += 1
    except TransitionNotAllowed:
        stats["refused"] += 1
    except InvalidInput:
        # No e-mail address on file: the marketeer calls back instead.
        campaigns.perform_step(
            ctx,
            who,
            p.id,
            "call_back",
            role="marketeer",
            note="no e-mail address on file; called back instead",
        )
        stats["call_back"] += 1


def _running(ctx: Any, project_id: str) -> list[Prospect]:
    from crm_procedures.access.viewer import Viewer

    with ctx.store.unit_of_work() as uow:
        return list(
            uow.prospects.of_project(project_id, Viewer.system(), status=ProspectStatus.RUNNING)
        )


def _show_refusal(
    ctx: Any, campaigns: Any, project_id: str, pr: _Printer, stats: Counter[str]
) -> None:
    target = next((p for p in _running(ctx, project_id) if p.last_step == "call"), None)
    if target is None:
        return
    try:
        campaigns.perform_step(ctx, "cor", target.id, "client_call", role="client")
    except TransitionNotAllowed as refused:
        stats["refused"] += 1
        pr.say(f"   refused move: {refused}")


def _show_correction(
    ctx: Any, campaigns: Any, project_id: str, pr: _Printer, stats: Counter[str]
) -> None:
    target = next((p for p in _running(ctx, project_id) if p.last_step == "send_info"), None)
    if target is None:
        return
    entry = next(e for e in reversed(target.history) if e.step == "send_info")
    fixed = campaigns.correct_step(
        ctx,
        "pia",
        target.id,
        entry.seq,
        "call_back",
        role="project_leader",
        note="Registered as information sent; it was a call back",
    )
    stats["corrections"] += 1
    pr.say(
        f"   project leader corrected entry #{entry.seq} of prospect {target.id[:8]}: "
        f"send_info -> call_back (last step now {fixed.last_step!r}; "
        f"history kept, {len(fixed.history)} entries)"
    )


def _show_conflict(
    app: Any, ctx: Any, campaigns: Any, project_id: str, pr: _Printer, stats: Counter[str]
) -> None:
    target = next(
        (p for p in _running(ctx, project_id) if p.last_step in ("call", "call_back")), None
    )
    if target is None:
        return
    seen_by_bas = target.version
    campaigns.perform_step(
        ctx,
        "ann",
        target.id,
        "call_back",
        role="marketeer",
        expected_version=target.version,
        note="Ann calls back",
    )
    stats["call_back"] += 1
    try:
        campaigns.perform_step(
            ctx,
            "bas",
            target.id,
            "call_back",
            role="marketeer",
            expected_version=seen_by_bas,
            note="Bas calls back too",
        )
    except ConcurrencyConflict as conflict:
        stats["conflicts"] += 1
        pr.say(f"   concurrent edit detected: {conflict}")


def _inbound_answers(app: Any, ctx: Any, pr: _Printer, out: Path, stats: Counter[str]) -> None:
    """Answers come back: an accepted and a declined invitation and a bounce, via inbox/."""
    import email
    from email import policy

    from crm_procedures.adapters.inbox_folder import FolderInbox
    from crm_procedures.inbound.samples import bounce_of, calendar_reply_to
    from crm_procedures.services.inbound import inbound_of, process_inbox

    candidates: list[tuple[bool, str, int, str]] = []
    bounced: tuple[str, str] | None = None
    with app.store.unit_of_work(read_only=True) as uow:
        records = inbound_of(uow).inbound
        for message in uow.outbox.list(limit=100_000):
            if message.channel != "mail" or message.status.value != "delivered":
                continue
            mail = email.message_from_string(message.payload["message"], policy=policy.SMTP)
            ics = _calendar_text(mail)
            if ics is None:
                sent = records.sent(str(mail["Message-ID"]))
                if bounced is None and sent is not None and sent.recipients:
                    bounced = (sent.id, sent.recipients[0])
                continue
            appointment = uow.appointments.by_uid(_ics_value(ics, "UID"))
            if appointment is None or appointment.cancelled or not appointment.contact_id:
                continue
            contact = uow.contacts.find(appointment.contact_id)
            prospect = uow.prospects.find(appointment.prospect_id or "")
            if contact is None or not contact.email or prospect is None:
                continue
            waiting = prospect.last_step == "make_appointment"
            candidates.append((waiting, appointment.uid, appointment.sequence, contact.email))
    # The decline goes to an appointment whose prospect still waits for it, so
    # that the procedure feeds back (make the appointment again).
    unique = list({uid: (w, uid, seq, a) for w, uid, seq, a in candidates}.values())
    unique.sort(key=lambda c: not c[0])
    invited = [(uid, seq, address) for _w, uid, seq, address in unique[:2]][::-1]
    inbox = out / "inbox"
    inbox.mkdir(exist_ok=True)
    now = ctx.now()
    stamp = now.strftime("%Y%m%dT%H%M%S")
    answers = []
    for (uid, sequence, address), partstat in zip(invited, ("ACCEPTED", "DECLINED")):
        raw = calendar_reply_to(
            uid,
            sequence=sequence,
            attendee=address,
            organizer=ctx.sender_email,
            partstat=partstat,
            message_id=f"<{partstat.lower()}.{uid}>",
            date=now,
            comment="Sorry, that week is full" if partstat == "DECLINED" else None,
        )
        answers.append(raw)
    if bounced is not None:
        original, address = bounced
        answers.append(
            bounce_of(
                original,
                recipient=address,
                to=ctx.sender_email,
                message_id=f"<bounce.{original.strip('<>')}>",
                date=now,
            )
        )
    for n, raw in enumerate(answers, start=1):
        (inbox / f"{stamp}-{n:02d}.eml").write_bytes(raw)
    run = process_inbox(ctx, FolderInbox(inbox))
    pr.say(
        f"\n5b. Reading answers from inbox/: {run.fetched} messages, {run.applied} applied, "
        f"{run.already} seen before, {run.kept} kept for a person"
    )
    with app.store.unit_of_work(read_only=True) as uow:
        for uid, _sequence, address in invited:
            appointment = uow.appointments.by_uid(uid)
            reply = appointment.reply_of(address) if appointment is not None else None
            answer = reply.partstat.value if reply is not None else "no answer stored"
            pr.say(f"   {address} {answer} appointment {uid}")
        if bounced is not None:
            status = inbound_of(uow).inbound.address(bounced[1].lower())
            held = "undeliverable" if status is not None and status.suppressed else "counted"
            pr.say(f"   {bounced[1]} bounced ({held}); the bounce is linked to {bounced[0]}")
        for event in run.events:
            prospect = uow.prospects.find(event.prospect_id) if event.prospect_id else None
            where = f" (prospect now after {prospect.last_step!r})" if prospect else ""
            last = prospect.history[-1] if prospect is not None and prospect.history else None
            if last is not None and last.detail == event.name:
                # The lost appointment was taken back by a correction entry.
                stats["corrections"] += 1
                where += "; the appointment is to be made again"
            pr.say(f"   event {event.name} for prospect {event.prospect_id}{where}")


def _calendar_text(mail: Any) -> str | None:
    """The inline text/calendar part of an e-mail, decoded, or None."""
    for part in mail.walk():
        if part.get_content_type() == "text/calendar" and not part.get_filename():
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                return data.decode("utf-8", "replace")
    return None


def _ics_value(text: str, name: str) -> str:
    """The value of the first ``NAME:`` line of an iCalendar text (folded lines joined)."""
    unfolded = text.replace("\r\n ", "").replace("\n ", "")
    for line in unfolded.splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    return ""


def _write_ics_from_outbox(out: Path) -> None:
    """Save the calendar part of every invitation e-mail as agenda/<uid>.ics too."""
    import email
    from email import policy

    agenda = out / "agenda"
    agenda.mkdir(exist_ok=True)
    for eml in sorted((out / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=policy.SMTP)
        for part in msg.walk():
            if part.get_content_type() == "text/calendar" and not part.get_filename():
                data = part.get_payload(decode=True)
                if not isinstance(data, bytes):
                    continue
                uid = next(
                    (
                        line.split(":", 1)[1].strip()
                        for line in data.decode("utf-8").splitlines()
                        if line.startswith("UID:")
                    ),
                    None,
                )
                seq = next(
                    (
                        line.split(":", 1)[1].strip()
                        for line in data.decode("utf-8").splitlines()
                        if line.startswith("SEQUENCE:")
                    ),
                    "0",
                )
                if uid:
                    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in uid)
                    (agenda / f"{safe}-{seq}.ics").write_bytes(data)


def _report(app: Any, ctx: Any, out: Path, project_id: str, stats: Counter[str]) -> str:
    from crm_procedures.services import reports, service_level

    funnel = reports.funnel(ctx, "pia", project_id)
    employees = reports.employee_activity(ctx, "pia")
    overdue = service_level.overdue_work(ctx, "pia", project_id=project_id)
    overdue_lines = [
        f"{row.owner or '(nobody)'}: {row.count} x {row.step}, "
        f"oldest due {row.oldest.astimezone(ZONE):%a %d %b %H:%M}"
        for row in overdue
    ] or ["nothing overdue"]
    moves = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(stats.items()))
    text = "\n".join(
        [
            "Campaign moves: " + moves,
            "",
            "Funnel",
            reports.render_table(funnel),
            "",
            "Per employee",
            reports.render_table(employees),
            "",
            "Overdue work per marketeer",
            *overdue_lines,
        ]
    )
    (out / "report.txt").write_text(text + "\n", encoding="utf-8")
    try:
        from crm_procedures.services import charts

        charts.funnel_chart(funnel, out / "funnel.png", title="Funnel of the campaign")
        charts.employee_chart(employees, out / "employees.png")
    except ModuleNotFoundError:
        pass  # the charts extra is not installed: the text report is the whole report
    return text
