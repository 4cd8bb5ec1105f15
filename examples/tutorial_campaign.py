"""The tutorial's campaign, from zero to a report, on an SQLite file (docs/tutorial.md).

Run with ``python examples/tutorial_campaign.py`` (needs the ``sql`` extra).
Everything is written under a temporary folder and removed afterwards; the
clock is frozen, so the output is the same on every run.
"""

import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from crm_procedures import (
    CrmApp,
    Group,
    Relation,
    RelationKind,
    TransitionNotAllowed,
    User,
    load_definitions,
    open_store,
    validate,
)
from crm_procedures.adapters.files import FolderCalendar, FolderMailer
from crm_procedures.services import campaigns, reports
from crm_procedures.services.imports import import_suspects
from crm_procedures.services.outbox import dispatch_once
from crm_procedures.testing import FrozenClock

HERE = Path(__file__).resolve().parent
AMS = ZoneInfo("Europe/Amsterdam")

SUSPECTS_CSV = """\
Bedrijfsnaam;Postcode;Plaats;Branchecode;Voornaam;Voorletters;Tussenvoegsel;Achternaam;Geslacht;\
E-mail contactpersoon
bakkerij de vries;1012 ab;Amsterdam;1071;Piet;P.;de;Vries;M;piet@bakkerij-devries.example
Molen Jansen B.V.;3511AB;Utrecht;1061;Jan;J.;;Jansen;M;jan@molenjansen.example
E.T.B. Visser;8011 CD;Zwolle;4321;Sanne;S.;;Visser;V;sanne@etb-visser.example
;9711 EF;Groningen;4321;Kees;K.;;Bos;M;kees@example.nl
Molen Jansen B.V.;3511AB;Utrecht;1061;Jan;J.;;Jansen;M;jan@molenjansen.example
"""


def main(folder: Path) -> None:
    definitions = load_definitions(HERE / "standard_procedure.toml")
    findings = validate(definitions)
    print(f"loaded {len(definitions.procedures)} procedure(s); findings: {findings or 'none'}")

    clock = FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=AMS))  # SystemClock() in production
    app = CrmApp(
        store=open_store(f"sqlite:///{folder / 'crm.db'}"),
        clock=clock,
        definitions=definitions,
        sender_email="campaigns@example.com",
        sender_name="Spring campaign",
    )
    ctx = app.ctx

    with app.store.unit_of_work() as uow:
        uow.groups.add(
            Group("marketing", "Marketing", permissions={"prospect.write", "activity.write"})
        )
        uow.groups.add(
            Group(
                "leaders",
                "Project leaders",
                permissions={
                    "project.write",
                    "prospect.write",
                    "prospect.correct",
                    "prospect.read_preparing",
                    "report.read",
                    "activity.read_all",
                },
            )
        )
        uow.groups.add(Group("clients", "Client staff", permissions={"prospect.write"}))
        uow.users.add(User("ann", "Ann de Wit", email="ann@example.com", groups={"marketing"}))
        uow.users.add(User("cor", "Cor van Dam", email="cor@klant.example", groups={"clients"}))
        uow.users.add(User("pia", "Pia Nowak", email="pia@example.com", groups={"leaders"}))
        uow.relations.add(
            Relation("klant", "Klant B.V.", kinds={RelationKind.CLIENT}, industry_code="4321")
        )
        uow.commit()
    print("users ann (marketeer), cor (client), pia (project leader); client relation 'klant'")

    project = campaigns.start_campaign(
        ctx,
        "pia",
        relation_id="klant",
        name="Spring campaign 2026",
        procedure="standard",
        description="Bakers and millers in the Randstad, called on behalf of Klant B.V.",
        members={"marketeer": ["ann"], "client": ["cor"], "project_leader": ["pia"]},
    )
    print(f"campaign {project.name!r} pins definitions v{project.procedure_version}")

    csv_file = folder / "suspects.csv"
    csv_file.write_text(SUSPECTS_CSV, encoding="utf-8")
    report = import_suspects(ctx, "pia", project.id, csv_file)
    print(report.summary())
    released = campaigns.release(ctx, "pia", project.id)
    print(f"released {released} prospects")

    work = campaigns.worklist(ctx, "ann", project.id, "marketeer")
    print(f"ann's worklist: {len(work)} prospects, last steps {[p.last_step for p in work]}")
    first, second, third = work

    campaigns.perform_step(ctx, "ann", first.id, "call", role="marketeer", note="Interested")
    clock.advance(minutes=10)
    sent = campaigns.perform_step(ctx, "ann", first.id, "send_info", role="marketeer")
    print(f"send_info recorded e-mail {sent.message_keys[0]!r} in the outbox")

    clock.advance(minutes=10)
    campaigns.perform_step(ctx, "ann", second.id, "call", role="marketeer")
    booked = campaigns.perform_step(
        ctx,
        "ann",
        second.id,
        "make_appointment",
        role="marketeer",
        appointment_start=datetime(2026, 3, 5, 14, 0, tzinfo=AMS),
        location="At the mill",
    )
    appointment = booked.appointment
    assert appointment is not None
    print(
        f"appointment {appointment.title!r} for {appointment.employee} on "
        f"{appointment.start:%a %d %b %H:%M}, invitation {booked.message_keys[0]!r}"
    )

    try:
        campaigns.perform_step(ctx, "cor", first.id, "client_call", role="client")
    except TransitionNotAllowed as refused:
        print(f"refused: {refused}")
    campaigns.perform_step(ctx, "cor", second.id, "client_call", role="client")
    print("cor called the prospect with the appointment (allowed after make_appointment)")

    clock.advance(minutes=5)
    campaigns.perform_step(ctx, "ann", third.id, "call", role="marketeer")
    wrong = campaigns.perform_step(ctx, "ann", third.id, "call_back", role="marketeer")
    entry = wrong.prospect.history[-1]
    fixed = campaigns.correct_step(
        ctx,
        "pia",
        third.id,
        entry.seq,
        "send_info",
        role="project_leader",
        note="Registered as a call back; the information was sent",
    )
    print(
        f"pia corrected entry #{entry.seq}: last step now {fixed.last_step!r}, "
        f"{len(fixed.history)} history entries kept"
    )

    clock.advance(days=1)
    closed = campaigns.close_prospect(ctx, "ann", first.id, "no_budget", note="Next year")
    print(f"closed {closed.id[:8]}: status {closed.status.value}, reason {closed.close_reason}")

    mailer = FolderMailer(folder / "outbox")
    result = dispatch_once(app.store, clock, mailer=mailer)
    print(f"dispatched: {result.delivered} delivered, {result.failed} failed")
    for path in mailer.files():
        print(f"  outbox/{path.name}")
    agenda = FolderCalendar(folder / "agenda", clock=clock.now)
    agenda.publish(appointment)
    print(f"  agenda/{agenda.files()[0].name}")

    print(reports.render_table(reports.funnel(ctx, "pia", project.id)))
    print(reports.render_table(reports.employee_activity(ctx, "pia")))
    app.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(Path(tmp))
