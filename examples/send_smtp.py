"""Send e-mails and invitations through an SMTP server, with retries.

Run with ``python examples/send_smtp.py`` (needs ``pip install aiosmtpd``, a
small SMTP server used here as a stand-in for yours; it listens on 127.0.0.1
only). A make-appointment step records the invitation in the outbox; the
dispatcher hands it to :class:`SmtpMailer`. When the server is down the
message waits and is retried with backoff; it is never lost and never sent
twice.
"""

import email
import email.policy
import socket
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller

from crm_procedures import Contact, Group, Relation, User
from crm_procedures.adapters.smtp import SmtpMailer
from crm_procedures.services import campaigns
from crm_procedures.services.outbox import dispatch_once
from crm_procedures.testing import FrozenClock, in_memory_app


class Inbox:
    """What the test server received: (envelope recipients, message bytes)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.received.append((list(envelope.rcpt_tos), envelope.original_content))  # type: ignore[attr-defined]
        return "250 OK"


AMS = ZoneInfo("Europe/Amsterdam")
clock = FrozenClock(datetime(2026, 4, 13, 9, 0, tzinfo=AMS))
app = in_memory_app(clock=clock, sender_email="campaigns@example.com")
with app.store.unit_of_work() as uow:
    uow.groups.add(Group("staff", "Staff", permissions={"project.write", "prospect.write"}))
    uow.users.add(
        User("ann", "Ann de Wit", email="ann@example.com", groups={"staff"}, roles={"marketeer"})
    )
    uow.users.add(
        User("cor", "Cor van Dam", email="cor@client.example", groups={"staff"}, roles={"client"})
    )
    uow.relations.add(Relation("client", "Klant B.V."))
    uow.relations.add(Relation("mill", "Molen Jansen B.V."))
    uow.contacts.add(Contact("jan", "mill", "Jansen", first_name="Jan", email="jan@mill.example"))
    uow.commit()
project = campaigns.start_campaign(
    app.ctx,
    "ann",
    relation_id="client",
    name="Spring",
    procedure="standard",
    members={"marketeer": ["ann"], "client": ["cor"]},
)
(prospect,) = campaigns.add_prospects(app.ctx, "ann", project.id, [("mill", "jan")])
campaigns.release(app.ctx, "ann", project.id)
campaigns.perform_step(app.ctx, "ann", prospect.id, "call", role="marketeer")
campaigns.perform_step(
    app.ctx,
    "ann",
    prospect.id,
    "make_appointment",
    role="marketeer",
    appointment_start=datetime(2026, 4, 16, 14, 0, tzinfo=AMS),
)
print("recorded the invitation in the outbox")

# 1. The server is down: the message stays pending and waits for a retry.
with socket.socket() as probe:  # a free port on this machine, nobody listening yet
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
down = SmtpMailer("127.0.0.1", port, timeout=2)
report = dispatch_once(app.store, clock, mailer=down)
print(f"server down: delivered {report.delivered}, retried {report.retried}: {report.errors[0][1]}")

# 2. The server is back; after the backoff (30 s for the first retry) the message goes out.
inbox = Inbox()
controller = Controller(inbox, hostname="127.0.0.1", port=port)
controller.start()
try:
    # For your server: SmtpMailer("smtp.example.com", 587, starttls=True,
    #                             username="crm", password=secret)
    mailer = SmtpMailer("127.0.0.1", port, timeout=5)
    print(f"too early: delivered {dispatch_once(app.store, clock, mailer=mailer).delivered}")
    clock.advance(timedelta(seconds=31))
    print(
        f"after the backoff: delivered {dispatch_once(app.store, clock, mailer=mailer).delivered}"
    )
    again = dispatch_once(app.store, clock, mailer=mailer)
    print(f"again: delivered {again.delivered} (nothing left to send)")
finally:
    controller.stop()

for recipients, data in inbox.received:
    message = email.message_from_bytes(data, policy=email.policy.SMTP)
    ics = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    print(f"the server received {message['Message-ID']} for {recipients}")
    print(f"  subject: {message['Subject']}")
    print(f"  text/calendar part: {ics['Content-Type']}")
    print(f"  attachment: {[p.get_filename() for p in message.iter_attachments()]}")
