"""Activities on a project: a timed phone contact, its follow-up, the agenda, the summary.

Run with ``python examples/activities.py``. Everything lives in memory and the
clock is frozen, so the output is the same on every run.
"""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from crm_procedures.adapters.blobs import MemoryBlobStore
from crm_procedures.adapters.calls import Call, MemoryCallFeed
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.errors import ActivityFrozen, InvalidInput
from crm_procedures.model.activity_rules import duration
from crm_procedures.model.contact import Contact
from crm_procedures.model.money import Money
from crm_procedures.model.relation import Relation
from crm_procedures.model.users import Group, User
from crm_procedures.services import activities, projects
from crm_procedures.services.context import Context
from crm_procedures.services.record_settings import RecordSettings, standard_dictionaries
from crm_procedures.testing.clock import FrozenClock

AMS = ZoneInfo("Europe/Amsterdam")
clock = FrozenClock(datetime(2026, 3, 6, 10, 0, tzinfo=AMS))  # a Friday morning
store = MemoryStore()
with store.unit_of_work() as uow:
    uow.groups.add(Group("sales", "Sales", permissions={"project.write", "activity.read_group"}))
    uow.users.add(User("anna", "Anna de Boer", email="anna@example.com", groups={"sales"}))
    uow.users.add(User("sam", "Sam (secretariat)", groups={"sales"}))
    uow.relations.add(Relation("bakery", "Bakkerij de Vries", account_manager="anna"))
    uow.contacts.add(
        Contact(
            "piet", "bakery", "Vries", first_name="Piet", name_prefix="de", phone="+31201234567"
        )
    )
    uow.contacts.add(Contact("else", "bakery", "Bakker", first_name="Else"))
    uow.relations.add(Relation("mill", "Molen Jansen"))
    uow.contacts.add(Contact("jan", "mill", "Jansen", first_name="Jan"))
    uow.commit()

settings = RecordSettings(dictionaries=standard_dictionaries())
ids = iter(f"id{n}" for n in range(1, 1000))
ctx = Context(store=store, clock=clock, new_id=lambda: next(ids), blobs=MemoryBlobStore())

project = projects.create_project(
    ctx,
    "anna",
    relation_id="bakery",
    name="Two bread ovens",
    chance="40%",
    value=Money(Decimal("18000.00"), "EUR"),
    contact_ids=["piet"],
    settings=settings,
)
print(f"project {project.name!r} under relation {project.relation_id}")

# A phone contact, filled in from the project: relation, employee (the actor).
call = activities.create_contact(
    ctx,
    "anna",
    project_id=project.id,
    contact_ids=["piet"],
    subject="Quote for two ovens",
    channel="phone",
    priority="high",
    start=clock.now(),
    settings=settings,
)
print(f"contact {call.id}: relation {call.relation_id}, employee {call.employee}")

activities.start_activity_timer(ctx, "anna", call.id)
clock.advance(minutes=6)
activities.pause_activity_timer(ctx, "anna", call.id)  # Piet fetches his notes
clock.advance(minutes=3)
activities.resume_activity_timer(ctx, "anna", call.id)
clock.advance(minutes=4, seconds=30)
activities.edit_note(ctx, "anna", call.id, "Wants a quote incl. installation.")
done = activities.complete_activity(ctx, "anna", call.id, outcome="quote requested")
print(f"completed; the timer measured {duration(done)} (the 3-minute pause not counted)")

try:
    activities.edit_note(ctx, "anna", call.id, "changed afterwards")
except ActivityFrozen as refused:
    print("refused:", refused)

try:
    task = activities.create_task(ctx, "anna", subject="Prepare the demo")
    activities.set_activity_contacts(ctx, "anna", task.id, ["jan"])  # no relation set yet
except InvalidInput as refused:
    print("refused:", refused)

try:
    activities.create_contact(ctx, "anna", relation_id="bakery", contact_ids=["piet", "jan"])
except InvalidInput as refused:
    print("refused:", refused)

# Follow-ups: two business days later skips the weekend; a past date is refused.
follow = activities.schedule_follow_up(ctx, "anna", call.id, in_days=2, business_days=True)
assert follow.start is not None
print(
    f"follow-up {follow.id} on {follow.start:%A %d %B %H:%M} (follow-up of {follow.follow_up_of})"
)
try:
    activities.schedule_follow_up(ctx, "anna", call.id, on=date(2026, 3, 1))
except InvalidInput as refused:
    print("refused:", refused)

entry = activities.add_to_agenda(ctx, "anna", follow.id, settings=settings)
print(
    f"in Anna's agenda: {entry.appointment.title!r} "
    f"{entry.appointment.start:%d %b %H:%M}-{entry.appointment.end:%H:%M}"
)

# The secretariat sends the brochure (L4: activities for different employees).
activities.create_task(
    ctx, "sam", project_id=project.id, subject="Send oven brochure", due=clock.now()
)

# The telephony feed adds Piet's call back to the call log.
feed = MemoryCallFeed([Call("pbx-1", "020 123 4567", "in", clock.now(), 95, "anna")])
ingest = projects.ingest_calls(ctx, feed, settings=settings)
print(f"call log: {len(ingest.recorded)} call recorded, {len(ingest.unmatched)} unmatched")

for a in activities.my_activities(ctx, "anna"):
    state = "done" if a.completed else "open"
    print(f"  my activity {a.id}: {a.kind.value:8} {a.subject!r} [{state}]")

summary = projects.project_summary(ctx, "anna", project.id, settings=settings)
print("summary:", dict(summary.activity_counts), f"open {summary.open_activities},")
print(f"  last {summary.last_activity.subject if summary.last_activity else None!r},")
print(
    f"  next appointment {summary.next_appointment.start:%d %b %H:%M}"
    if summary.next_appointment
    else "  no appointment"
)
print(f"  value x chance = {summary.weighted_value}, calls {summary.calls}")

history = activities.activity_history(ctx, "anna", call.id)
print("history of the contact:", ", ".join(f"{c.action}@{c.at:%H:%M:%S}" for c in history))
