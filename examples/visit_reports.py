"""Visit reports: record, search on their own, follow up the action, hand them over.

Run with ``python examples/visit_reports.py``. Everything lives in memory and
the clock is frozen, so the output is the same on every run.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from crm_procedures.adapters.blobs import MemoryBlobStore
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.errors import InvalidInput
from crm_procedures.model.contact import Contact
from crm_procedures.model.relation import Address, Relation
from crm_procedures.model.users import Group, User
from crm_procedures.services import visits
from crm_procedures.services.context import Context
from crm_procedures.services.record_settings import RecordSettings, standard_dictionaries
from crm_procedures.testing.clock import FrozenClock

AMS = ZoneInfo("Europe/Amsterdam")
clock = FrozenClock(datetime(2026, 3, 9, 17, 0, tzinfo=AMS))
store = MemoryStore()
with store.unit_of_work() as uow:
    uow.groups.add(Group("field", "Account managers", permissions={"visit_report.write"}))
    uow.groups.add(Group("mgmt", "Sales management", permissions={"admin"}))
    uow.users.add(User("theo", "Theo", groups={"field"}))
    uow.users.add(User("ria", "Ria", groups={"field"}))
    uow.users.add(User("boss", "Sales manager", groups={"mgmt"}))
    uow.relations.add(
        Relation(
            "acme",
            "Acme Metaal BV",
            account_manager="theo",
            addresses=(Address("Industrieweg 12", "3542 AD", "Utrecht"),),
        )
    )
    uow.contacts.add(Contact("kees", "acme", "Kok", first_name="Kees", function="buyer"))
    uow.contacts.add(Contact("lotte", "acme", "Smit", first_name="Lotte", function="CFO"))
    uow.relations.add(Relation("delta", "Delta Techniek", account_manager="theo"))
    uow.contacts.add(Contact("henk", "delta", "Hendriks", first_name="Henk"))
    uow.commit()

settings = RecordSettings(dictionaries=standard_dictionaries(), max_document_bytes=1_000_000)
ids = iter(f"id{n}" for n in range(1, 1000))
blobs = MemoryBlobStore()
ctx = Context(store=store, clock=clock, new_id=lambda: next(ids), blobs=blobs)

visit = visits.create_visit_report(
    ctx,
    "theo",
    designation="Acme - first visit",
    relation_id="acme",
    contact_ids=["kees", "lotte"],
    start=datetime(2026, 3, 9, 10, 0, tzinfo=AMS),
    end=datetime(2026, 3, 9, 11, 30, tzinfo=AMS),
    subject="Replacing the press line",
    visit_type="first",
    keywords=["persstraat", "financiële lease"],
    text="Two presses at end of life. CFO prefers a lease over buying.",
    action="Send a lease proposal for two presses",
    attachments=[visits.Attachment("whiteboard.jpg", b"\xff\xd8 photo bytes", "image/jpeg")],
    settings=settings,
)
print(f"report {visit.id} at {visit.address}, {visit.postcode} {visit.city} (from the relation)")
print(f"  contacts {', '.join(visit.contact_ids)}; {len(visit.attachments)} attachment(s)")

visits.create_visit_report(
    ctx,
    "theo",
    designation="Delta - revisit",
    relation_id="delta",
    contact_ids=["henk"],
    start=datetime(2026, 3, 5, 14, 0, tzinfo=AMS),
    end=datetime(2026, 3, 5, 15, 0, tzinfo=AMS),
    visit_type="revisit",
    keywords=["service contract"],
    settings=settings,
)

for bad, why in [
    ({"visit_type": "courtesy"}, "visit type outside the dictionary"),
    ({"contact_ids": ["henk"]}, "contact of another relation"),
]:
    try:
        visits.create_visit_report(
            ctx,
            "theo",
            designation="x",
            relation_id="acme",
            start=clock.now(),
            end=clock.now(),
            settings=settings,
            **bad,  # type: ignore[arg-type]
        )
    except InvalidInput as refused:
        print(f"refused ({why}): {refused}")

# V2/V3: reports on their own, without going through the relations.
for label, found in [
    ("all of theo", visits.search_reports(ctx, "boss", account_manager="theo")),
    ("keyword 'FINANCIELE'", visits.search_reports(ctx, "boss", keyword="FINANCIELE")),
    ("revisits", visits.search_reports(ctx, "boss", visit_type="revisit")),
    (
        "since 7 March",
        visits.search_reports(ctx, "boss", since=datetime(2026, 3, 7, tzinfo=AMS)),
    ),
]:
    print(f"search {label}: {[r.designation for r in found]}")

# V4: the action becomes a task, linked on the report.
follow = visits.action_to_follow_up(ctx, "theo", visit.id, clock.now() + timedelta(days=2))
task = follow.activity
print(f"follow-up task {task.id} {task.subject!r} due {task.due:%d %b}, linked on the report")

# V5: Theo leaves; his relations and reports go to Ria, with history.
clock.advance(days=30)
moved = visits.reassign(ctx, "boss", "theo", "ria")
print(f"reassigned {len(moved.relations)} relations and {len(moved.reports)} reports to ria")
for change in visits.report_history(ctx, "ria", visit.id):
    what = "" if change.action == "create" else dict(change.changes)
    print(f"  {change.at:%d %b} {change.actor}: {change.action} {what}")
