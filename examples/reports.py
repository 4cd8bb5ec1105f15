"""Reports on a small campaign: funnel, per employee, per industry, a negotiation timeline.

Run with ``python examples/reports.py``. Reports are counted by the store
(SQL ``GROUP BY`` on SQLite and PostgreSQL; the memory store counts the same)
and only over what the acting user may see. They come back as plain data,
print as a table (English, Dutch or Polish headings), export to CSV, and,
with the ``charts`` extra (matplotlib), draw as PNG or SVG.
"""

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from crm_procedures import Contact, Group, Relation, User
from crm_procedures.services import campaigns, reports
from crm_procedures.testing import FrozenClock, in_memory_app

AMS = ZoneInfo("Europe/Amsterdam")
clock = FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=AMS))
app = in_memory_app(clock=clock)
with app.store.unit_of_work() as uow:
    uow.groups.add(Group("sales", "Sales", permissions={"prospect.write", "project.write"}))
    uow.groups.add(Group("lead", "Leaders", permissions={"report.read", "activity.read_all"}))
    for uid, name in [("ann", "Ann de Wit"), ("bas", "Bas Kowalski")]:
        uow.users.add(User(uid, name, groups={"sales"}, roles={"marketeer"}))
    uow.users.add(User("cor", "Cor van Dam", groups={"sales"}, roles={"client"}))
    uow.users.add(User("pia", "Pia Nowak", groups={"sales", "lead"}))
    uow.relations.add(Relation("client", "Klant B.V."))
    for n, industry in enumerate(["1071", "1071", "1071", "4321", "4321", "6201"], start=1):
        uow.relations.add(Relation(f"r{n}", f"Relation {n} B.V.", industry_code=industry))
        uow.contacts.add(Contact(f"c{n}", f"r{n}", f"Person{n}", email=f"p{n}@r{n}.example"))
    uow.commit()

project = campaigns.start_campaign(
    app.ctx,
    "pia",
    relation_id="client",
    name="Spring",
    procedure="standard",
    members={"marketeer": ["ann", "bas"], "client": ["cor"]},
)
prospects = campaigns.add_prospects(
    app.ctx, "pia", project.id, [(f"r{n}", f"c{n}") for n in range(1, 7)]
)
campaigns.release(app.ctx, "pia", project.id)
p1, p2, p3, p4, p5, _p6 = (p.id for p in prospects)
plays = [
    ("ann", p1, "call"),
    ("ann", p1, "make_appointment"),
    ("cor", p1, "client_call"),
    ("ann", p2, "call"),
    ("ann", p2, "send_info"),
    ("bas", p3, "call"),
    ("bas", p3, "call_back"),
    ("bas", p3, "make_appointment"),
    ("bas", p4, "call"),
    ("bas", p5, "call"),
]
for user, prospect, step in plays:
    clock.advance(minutes=20)
    role = "client" if user == "cor" else "marketeer"
    start = clock.now() + timedelta(days=3) if step == "make_appointment" else None
    campaigns.perform_step(app.ctx, user, prospect, step, role=role, appointment_start=start)
campaigns.close_prospect(app.ctx, "bas", p4, "has_supplier")
campaigns.mark_won(app.ctx, "ann", p1)
campaigns.mark_won(app.ctx, "bas", p3)

funnel = reports.funnel(app.ctx, "pia", project.id)
print(reports.render_table(funnel))
print()
print(reports.render_table(reports.employee_activity(app.ctx, "pia"), language="nl"))
print()
by_industry = reports.acquisition(app.ctx, "pia", "industry_code")
print(reports.render_table(by_industry))
print()
for item in reports.negotiation_timeline(app.ctx, "pia", "r1"):
    print(f"{item.at:%d %b %H:%M}  {item.kind:<8} {item.actor:<4} {item.subject}  {item.detail}")
print()
print(reports.to_csv(by_industry), end="")

try:
    from crm_procedures.services import charts

    with tempfile.TemporaryDirectory() as tmp:
        drawn = charts.funnel_chart(funnel, Path(tmp) / "funnel.svg", title="Spring")
        print(f"drew {drawn.name}: {drawn.stat().st_size} bytes")
except ModuleNotFoundError as missing:
    print(f"no chart: {missing}")
