"""A procedure of your own with a step kind of your own: text messages.

Run with ``python examples/custom_step_kind.py``. The procedure in
``examples/renewal_procedure.toml`` declares a step kind ``sms``. Performing
such a step gives a ``CustomEffect``; the handler you pass to
``perform_step`` records the text message in the outbox, in the same unit of
work as the step, and your own sender delivers it after the commit.
"""

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from crm_procedures import (
    Contact,
    CrmApp,
    CustomEffect,
    Group,
    InvalidInput,
    OutboxMessage,
    Prospect,
    Relation,
    User,
    load_definitions,
)
from crm_procedures.ports import UnitOfWork
from crm_procedures.services import campaigns
from crm_procedures.services.context import Context
from crm_procedures.testing import FrozenClock, in_memory_app

HERE = Path(__file__).resolve().parent
SMS = "sms"  # the outbox channel for text messages: the library's dispatcher leaves it alone


def send_sms(uow: UnitOfWork, ctx: Context, prospect: Prospect, effect: CustomEffect) -> None:
    """The handler of the ``sms`` step kind: record the text in the outbox."""
    contact = uow.contacts.get(prospect.contact_id) if prospect.contact_id else None
    if contact is None or not contact.phone:
        raise InvalidInput("contact.phone", f"step {effect.step!r} needs a phone number")
    uow.outbox.add(
        OutboxMessage(
            id=ctx.new_id(),
            key=f"prospect:{prospect.id}:entry:{len(prospect.history)}:sms",
            channel=SMS,
            payload={"to": contact.phone, "text": str(effect.params["text"])},
            created_at=ctx.now(),
            due_at=ctx.now(),
        )
    )


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
app = in_memory_app(definitions, clock)
with app.store.unit_of_work() as uow:
    uow.groups.add(Group("sales", "Sales", permissions={"project.write", "prospect.write"}))
    uow.users.add(User("ewa", "Ewa Nowak", groups={"sales"}, roles={"account_manager"}))
    uow.relations.add(Relation("hotel", "Hotel Pod Lipami"))
    uow.contacts.add(Contact("marta", "hotel", "Lis", first_name="Marta", phone="+48601234567"))
    uow.commit()

project = campaigns.start_campaign(
    app.ctx, "ewa", relation_id="hotel", name="Renewals 2026", procedure="renewal"
)
(prospect,) = campaigns.add_prospects(app.ctx, "ewa", project.id, [("hotel", "marta")])
campaigns.release(app.ctx, "ewa", project.id)

try:  # without a handler for its kind the step is refused, and nothing is stored
    campaigns.perform_step(app.ctx, "ewa", prospect.id, "remind", role="account_manager")
except InvalidInput as refused:
    print(f"refused: {refused}")

handlers = {SMS: send_sms}
result = campaigns.perform_step(
    app.ctx, "ewa", prospect.id, "remind", role="account_manager", handlers=handlers
)
print(f"performed 'remind': effects {list(result.effects)}")

clock.advance(timedelta(minutes=1))
deliver_sms(app, clock)
