"""Invitations: book, move and cancel an appointment; the attendees' calendars follow.

Run with ``python examples/invitations.py``. Booking records an invitation
e-mail (``METHOD:REQUEST``) in the outbox; moving it records an update (same
UID, SEQUENCE + 1); cancelling records a ``METHOD:CANCEL``. The dispatcher
writes each e-mail as an ``.eml`` file, and a ``FolderCalendar`` keeps one
``.ics`` file per appointment, as a shared calendar folder would.
"""

import email
import email.policy
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from crm_procedures import Contact, Relation, User
from crm_procedures.adapters.files import FolderCalendar, FolderMailer
from crm_procedures.services import agenda
from crm_procedures.services.outbox import dispatch_once
from crm_procedures.testing import FrozenClock, in_memory_app

AMS = ZoneInfo("Europe/Amsterdam")
clock = FrozenClock(datetime(2026, 3, 23, 9, 0, tzinfo=AMS))
app = in_memory_app(clock=clock, sender_email="agenda@example.com", sender_name="Agenda")
with app.store.unit_of_work() as uow:
    uow.users.add(User("ann", "Ann de Wit", email="ann@example.com"))
    uow.relations.add(Relation("mill", "Molen Jansen B.V."))
    uow.contacts.add(Contact("jan", "mill", "Jansen", first_name="Jan", email="jan@mill.example"))
    uow.commit()

# Across the change to summer time (29 March): the VTIMEZONE carries both rules.
start = datetime(2026, 3, 30, 10, 0, tzinfo=AMS)
booked = agenda.book_appointment(
    app.ctx,
    "ann",
    employee="ann",
    start=start,
    end=start + timedelta(hours=1),
    title="Demo of the new mill control",
    contact_id="jan",
    location="Molenweg 1, Utrecht",
    description="Bring the quote.\nPark behind the mill, please.",
)
appointment = booked.appointment
print(f"booked {appointment.uid} with {[a.email for a in appointment.attendees]}")

clock.advance(days=1)
moved = agenda.reschedule(
    app.ctx, "ann", appointment.id, start + timedelta(days=1), start + timedelta(days=1, hours=1)
)
print(f"moved to {moved.appointment.start:%a %d %b %H:%M}, sequence {moved.appointment.sequence}")

clock.advance(days=1)
cancelled = agenda.cancel(app.ctx, "ann", appointment.id)
print(f"cancelled: status {cancelled.status.value}, sequence {cancelled.sequence}")

with tempfile.TemporaryDirectory() as tmp:
    folder = Path(tmp)
    mailer = FolderMailer(folder / "outbox")
    report = dispatch_once(app.store, clock, mailer=mailer)
    print(f"dispatched {report.delivered} e-mails:")
    seen = []
    for path in mailer.files():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.SMTP)
        parts = [p.get_content_type() for p in message.walk() if not p.is_multipart()]
        ics = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        lines = ics.get_content().splitlines()
        method = next(line for line in lines if line.startswith("METHOD:"))
        sequence = next(line for line in lines if line.startswith("SEQUENCE:"))
        seen.append((sequence, method, str(message["Subject"]), parts))
    for sequence, method, subject, parts in sorted(seen):
        print(f"  {subject!r}: {method}, {sequence}, parts {parts}")

    calendar = FolderCalendar(folder / "agenda", clock=clock.now)
    calendar.publish(moved.appointment)
    calendar.cancel(cancelled)
    held = calendar.held(appointment.uid)
    print(f"calendar folder: {[p.name for p in calendar.files()]}; (sequence, cancelled) {held}")
