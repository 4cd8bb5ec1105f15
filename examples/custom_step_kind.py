"""A procedure of your own with a step kind of your own: text messages.

Run with ``python examples/custom_step_kind.py``. The procedure in
``examples/renewal_procedure.toml`` declares a step kind ``sms``. The
application registers what the kind does once (``CrmApp(step_kinds=...)``);
the handler gets one ``StepContext`` and records the text message with
``ctx.emit``, in the same unit of work as the step. The key it derives is in
the step's result, and your sender delivers the message after the commit.
"""

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from crm_procedures import (
    Contact,
    CrmApp,
    Group,
    InvalidInput,
    MemoryStore,
    Relation,
    StepContext,
    StepKind,
    User,
    load_definitions,
)
from crm_procedures.services import campaigns
from crm_procedures.testing import FrozenClock

HERE = Path(__file__).resolve().parent
SMS = "sms"  # the step kind, and the outbox channel its messages go to


def send_sms(ctx: StepContext) -> None:
    """What an ``sms`` step does: record the text for the contact's phone in the outbox."""
    contact = ctx.contact()
    if not contact.phone:
        raise InvalidInput("contact.phone", f"step {ctx.step.key!r} needs a phone number")
    ctx.emit(SMS, {"to": contact.phone, "text": str(ctx.params["text"])})


SMS_KIND = StepKind(SMS, send_sms, "Send a text message to the contact", requires=["text"])


def deliver_sms(app: CrmApp, clock: FrozenClock) -> None:
    """Your sender: claim due text messages, hand them to the SMS gateway, mark them."""
    store = app.store
    with store.unit_of_work() as uow:
        due = uow.outbox.claim_due(clock.now(), 100, 60.0, [SMS])
        uow.commit()
    for message in due:
        print(f"  SMS to {message.payload['to']}: {message.payload['text']}")  # the gateway
        with store.unit_of_work() as uow:
            uow.outbox.mark_delivered(message.id, clock.now())
            uow.commit()


definitions = load_definitions(HERE / "renewal_procedure.toml")
print("step kinds declared:", sorted(definitions.step_kinds))
clock = FrozenClock(datetime(2026, 5, 4, 9, 0, tzinfo=ZoneInfo("Europe/Warsaw")))
app = CrmApp(
    store=MemoryStore(),
    clock=clock,
    definitions=definitions,
    sender_name="Serwis Klimatyzacji",
    step_kinds=[SMS_KIND],  # registered once, for every step of the kind
)
print("step kinds registered:", sorted(app.ctx.step_kinds))
with app.store.unit_of_work() as uow:
    uow.groups.add(Group("sales", "Sales", permissions={"project.write", "prospect.write"}))
    uow.users.add(User("ewa", "Ewa Nowak", groups={"sales"}, roles={"account_manager"}))
    uow.relations.add(Relation("hotel", "Hotel Pod Lipami"))
    uow.relations.add(Relation("pension", "Pensjonat Zacisze"))
    uow.contacts.add(Contact("marta", "hotel", "Lis", first_name="Marta", phone="+48601234567"))
    uow.contacts.add(Contact("jan", "pension", "Kos", first_name="Jan"))
    uow.commit()

project = campaigns.start_campaign(
    app.ctx, "ewa", relation_id="hotel", name="Renewals 2026", procedure="renewal"
)
(hotel, pension) = campaigns.add_prospects(
    app.ctx, "ewa", project.id, [("hotel", "marta"), ("pension", "jan")]
)
campaigns.release(app.ctx, "ewa", project.id)

try:  # the handler refuses a contact without a phone number, and nothing is stored
    campaigns.perform_step(app.ctx, "ewa", pension.id, "remind", role="account_manager")
except InvalidInput as refused:
    print(f"refused: {refused}")

result = campaigns.perform_step(app.ctx, "ewa", hotel.id, "remind", role="account_manager")
print(f"performed 'remind': recorded {list(result.message_keys)}")

clock.advance(timedelta(minutes=1))
deliver_sms(app, clock)
