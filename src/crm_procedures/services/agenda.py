"""The agenda: booking, rescheduling and cancelling appointments (W10, P5).

Every change is one unit of work: the appointment is stored and the
invitation e-mail (an iCalendar ``REQUEST`` or ``CANCEL`` for the attendees)
is recorded in the outbox in the same transaction, so an invitation is never
sent for an appointment that was not stored, nor lost for one that was (X4).

* :func:`book_appointment` creates an appointment with a new UID and
  SEQUENCE 0. Appointments of the same employee, or of a participant, that
  overlap are reported; they are refused with :class:`AppointmentConflict`
  unless the caller passes ``allow_conflicts=True`` (double booking is the
  caller's decision).
* :func:`reschedule` keeps the UID and raises the SEQUENCE, so calendar
  clients update the entry they have instead of adding a second one.
* :func:`cancel` marks the appointment cancelled, raises the SEQUENCE,
  sends ``METHOD:CANCEL`` with the same UID and raises the event
  ``appointment_cancelled`` (stored, and handed to ``on_event`` after the
  commit).

With ``Context.calendar_channel`` (a ``CrmApp`` with a calendar) each of
these also records a ``calendar`` outbox message (key UID + SEQUENCE) that
the dispatcher hands to the configured calendar: publish, or cancel.
* :func:`agenda` lists an employee's occurrences in a window (their own
  appointments and those they take part in as a participant), recurring
  appointments expanded (``dateutil.rrule``, in the appointment's own time
  zone, so a weekly 10:00 stays at 10:00 across daylight-saving changes;
  ``exdates`` taken out).

Times are compared as instants (UTC), never by wall clock. An occurrence
whose wall time falls in a daylight-saving gap is read as RFC 5545 says (with
the offset before the gap, so 02:30 on the spring-forward night in Amsterdam
is 03:30 CEST), and every occurrence lasts exactly as long as the first; the
invitation, the agenda and the conflict check all use that reading.
Recurrence rules are checked against RFC 5545's ranges and must have an
occurrence within ten years of the start, so expanding one costs a bounded
amount whatever the rule.

Who may do what: an employee reads and changes their own agenda. Another
user reads it when their activity scope covers the employee (``group`` scope
and a shared group, or ``activity.read_all``) and changes it when they also
hold ``activity.write``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import attrs

from crm_procedures.access.viewer import ActivityScope, Viewer
from crm_procedures.errors import (
    AccessDenied,
    CrmError,
    InvalidInput,
    NotFound,
    StaleCalendarReply,
)
from crm_procedures.ids import AppointmentId, ContactId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.inbound.kinds import CalendarReply
from crm_procedures.model._checks import is_email, require_aware
from crm_procedures.model.appointment import (
    EARLIEST,
    FIRST_OCCURRENCE_YEARS,
    LATEST,
    Appointment,
    AppointmentStatus,
    Attendee,
    AttendeeReply,
    CalendarChange,
    ChangeAction,
    PartStat,
    check_moment,
    check_recurrence,
    first_occurrence,
    recurrence_rule,
)
from crm_procedures.model.audit import Change, diff
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.model.prospect import HistoryEntry
from crm_procedures.model.users import User
from crm_procedures.ports import ChangeFeed, InboundUnitOfWork, UnitOfWork
from crm_procedures.procedures.events import APPOINTMENT_CANCELLED, APPOINTMENT_DECLINED, Event
from crm_procedures.services.context import SYSTEM_USER, Context, resolve_viewer

__all__ = [
    "AppointmentConflict",
    "BookingResult",
    "ChangeOutcome",
    "Occurrence",
    "agenda",
    "apply_calendar_changes",
    "appointment_lost_in",
    "book_appointment",
    "book_appointment_in",
    "calendar_key",
    "cancel",
    "conflicts",
    "occurrences",
    "project_agenda",
    "record_attendee_reply",
    "record_attendee_reply_in",
    "reschedule",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CONFLICT_HORIZON = timedelta(days=366)
"""How far ahead the occurrences of a new recurring appointment are checked for conflicts."""
_MAX_OCCURRENCES = 5_000
"""The most occurrences one appointment contributes to one agenda query."""
_DAY = timedelta(days=1)


def _u(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


@attrs.frozen
class Occurrence:
    """One occurrence of an appointment in an agenda.

    For a one-off appointment ``start``/``end`` are its own; for a recurring
    one they are this occurrence's, in the appointment's time zone.
    """

    appointment: Appointment
    start: datetime
    end: datetime

    @property
    def recurring(self) -> bool:
        """True when the appointment repeats."""
        return self.appointment.rrule is not None

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """True when this occurrence shares time with [start, end) (compared as instants)."""
        return _u(self.start) < _u(end) and _u(start) < _u(self.end)


@attrs.frozen
class BookingResult:
    """What booking or rescheduling did.

    ``conflicts`` are the other occurrences of the employee or of a
    participant that overlap (empty when none; only non-empty when
    ``allow_conflicts=True``).
    ``invitation`` is the outbox message recorded for the attendees, or
    ``None`` when nobody had to be invited.
    """

    appointment: Appointment
    conflicts: tuple[Occurrence, ...] = ()
    invitation: OutboxMessage | None = None


class AppointmentConflict(CrmError):
    """The appointment overlaps others of its employee or of a participant.

    Pass ``allow_conflicts=True`` to book anyway.

    Attributes:
        employee: whose agenda the appointment is in.
        conflicts: the overlapping occurrences.
        busy: who of the employee and the participants has one of them
            (the employee alone when not given).
    """

    def __init__(
        self, employee: str, conflicts: Sequence[Occurrence], busy: Sequence[str] = ()
    ) -> None:
        self.employee = employee
        self.conflicts = tuple(conflicts)
        self.busy = tuple(busy) or (employee,)
        named = [f"employee {employee}"] if employee in self.busy else []
        named += [f"participant {p}" for p in self.busy if p != employee]
        who = " and ".join(named) + (" already has" if len(named) == 1 else " already have")
        shown = "; ".join(
            f"{o.appointment.title!r} {o.start.isoformat()}..{o.end.isoformat()}"
            for o in self.conflicts[:3]
        )
        more = f" and {len(self.conflicts) - 3} more" if len(self.conflicts) > 3 else ""
        super().__init__(
            f"{who} an appointment then ({shown}{more}); "
            "choose another time or pass allow_conflicts=True to book anyway"
        )


def _check_rrule(rrule: str | None, start: datetime) -> str | None:
    if rrule is None:
        return None
    value = check_recurrence(rrule)
    if first_occurrence(value, start) is None:
        raise InvalidInput(
            "rrule",
            f"has no occurrence within {FIRST_OCCURRENCE_YEARS} years of the start "
            "(e.g. BYMONTH=2;BYMONTHDAY=30 never happens); check the rule",
            rrule,
        )
    return value


def _window(value: datetime, field: str) -> datetime:
    """A window bound as a UTC instant, clamped to [EARLIEST, LATEST]."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, "must be a datetime", value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            field, "must be timezone-aware (naive datetimes are never guessed)", value
        )
    try:
        instant = value.astimezone(UTC)
    except OverflowError:
        # Beyond what datetime can hold in UTC: the window reaches past every
        # appointment on that side.
        return EARLIEST if value.year < 5000 else LATEST
    require_aware(value, field)
    return min(max(instant, EARLIEST), LATEST)


def occurrences(appointment: Appointment, start: datetime, end: datetime) -> list[Occurrence]:
    """The occurrences of ``appointment`` that overlap [start, end), by start.

    A cancelled appointment has none. Recurring appointments are expanded in
    their own time zone (wall time kept across DST changes; a wall time in a
    daylight-saving gap read with the offset before the gap, as RFC 5545
    says); each occurrence lasts exactly as long as the first. Occurrences
    whose start equals one of ``exdates`` (as instants) are left out. At most
    5,000 occurrences are returned per appointment. A rule without an
    occurrence within ten years of its start has none.

    Raises:
        InvalidInput: a naive ``start``/``end``, or a malformed ``rrule``.
    """
    lo = _window(start, "start")
    hi = _window(end, "end")
    if appointment.cancelled or hi <= lo:
        return []
    a_start, a_end = _u(appointment.start), _u(appointment.end)
    if not appointment.rrule:
        if a_start < hi and lo < a_end:
            return [Occurrence(appointment, appointment.start, appointment.end)]
        return []
    value = check_recurrence(appointment.rrule)
    if first_occurrence(value, appointment.start) is None:
        return []
    zone = appointment.start.tzinfo
    duration = a_end - a_start
    excluded = {_u(ex) for ex in appointment.exdates}
    # dateutil walks wall times in the appointment's zone; begin a day early
    # so that no offset difference hides an occurrence, then compare instants.
    begin = a_start - _DAY if lo - a_start <= duration + _DAY else lo - duration - _DAY
    out: list[Occurrence] = []
    rule = recurrence_rule(value, appointment.start)
    for occ in rule.xafter(begin.astimezone(zone), inc=True):
        # fold=0 (as dateutil gives) is RFC 5545's reading: the first of two
        # equal wall times, and the offset before a gap.
        occ_start = _u(occ.replace(fold=0))
        if occ_start >= hi + _DAY:
            break
        if occ_start >= hi or occ_start in excluded:
            continue
        occ_end = occ_start + duration
        if occ_end > lo:
            out.append(
                Occurrence(appointment, occ_start.astimezone(zone), occ_end.astimezone(zone))
            )
            if len(out) >= _MAX_OCCURRENCES:
                break
    out.sort(key=lambda o: _u(o.start))
    return out


def _viewer(uow: UnitOfWork, actor: str | Viewer) -> Viewer:
    if isinstance(actor, Viewer):
        return actor
    return resolve_viewer(uow, actor)


def _may_read(viewer: Viewer, employee: str) -> bool:
    if viewer.user_id == employee:
        return True
    scope = viewer.activity_scope
    if scope is ActivityScope.ALL:
        return True
    return scope is ActivityScope.GROUP and employee in viewer.group_members


def _require_manage(viewer: Viewer, employee: str) -> None:
    if viewer.user_id == employee:
        return
    if not (_may_read(viewer, employee) and viewer.has("activity.write")):
        raise AccessDenied(viewer.user_id, "activity.write", f"the agenda of {employee}")


def _candidates(uow: UnitOfWork, employee: str, end: datetime) -> list[Appointment]:
    # A recurring appointment that started long ago still has occurrences in
    # the window, so the query reaches back to the epoch; the store returns
    # masters only, and this side expands them.
    return uow.appointments.agenda(employee, _EPOCH, end)


def _occurrences_in(
    appointments: Iterable[Appointment], start: datetime, end: datetime
) -> list[Occurrence]:
    out: list[Occurrence] = []
    for a in appointments:
        out.extend(occurrences(a, start, end))
    out.sort(key=lambda o: (_u(o.start), _u(o.end), o.appointment.id))
    return out


def _people(appointment: Appointment) -> list[str]:
    """The employee and the participants of ``appointment``, each once."""
    out = [str(appointment.employee)]
    out.extend(p for p in appointment.participants if p not in out)
    return out


def _busy(appointment: Appointment, found: Sequence[Occurrence]) -> list[str]:
    """Who of ``appointment``'s people has one of the ``found`` occurrences."""
    taken: set[str] = set()
    for occ in found:
        taken.update(_people(occ.appointment))
    return [p for p in _people(appointment) if p in taken]


def _find_conflicts(uow: UnitOfWork, appointment: Appointment) -> list[Occurrence]:
    if appointment.rrule:
        window_end = appointment.start + _CONFLICT_HORIZON
        mine = occurrences(appointment, appointment.start, window_end)
    else:
        window_end = appointment.end
        mine = [Occurrence(appointment, appointment.start, appointment.end)]
    if not mine:
        return []
    window_start = min(_u(o.start) for o in mine)
    window_end = max(_u(o.end) for o in mine)
    # The employee's agenda and each participant's: a participant who is busy
    # then is a conflict as much as the employee is.
    held: dict[str, Appointment] = {}
    for person in _people(appointment):
        for a in _candidates(uow, person, window_end):
            held.setdefault(a.id, a)
    others = [
        a
        for a in held.values()
        if a.id != appointment.id and a.uid != appointment.uid and not a.cancelled
    ]
    theirs = _occurrences_in(others, window_start, window_end)
    found: list[Occurrence] = []
    seen: set[tuple[str, datetime]] = set()
    # Both lists are sorted by start: a sweep keeps this linear in practice.
    j = 0
    ends = [_u(o.end) for o in theirs]
    starts = [_u(o.start) for o in theirs]
    longest = max((e - b for b, e in zip(starts, ends)), default=timedelta(0))
    for occ in mine:
        occ_start, occ_end = _u(occ.start), _u(occ.end)
        # theirs is sorted by start: skip those that start too early to reach occ.
        while j < len(theirs) and starts[j] + longest <= occ_start:
            j += 1
        k = j
        while k < len(theirs) and starts[k] < occ_end:
            other = theirs[k]
            if other.overlaps(occ.start, occ.end):
                tag = (other.appointment.id, other.start)
                if tag not in seen:
                    seen.add(tag)
                    found.append(other)
            k += 1
    found.sort(key=lambda o: (_u(o.start), o.appointment.id))
    return found


def _attendees(values: Iterable[Attendee | str | tuple[str, str]]) -> list[Attendee]:
    out: list[Attendee] = []
    for i, value in enumerate(values):
        try:
            if isinstance(value, Attendee):
                out.append(value)
            elif isinstance(value, str):
                out.append(Attendee(value))
            elif isinstance(value, tuple) and len(value) == 2:
                out.append(Attendee(value[1], value[0]))
            else:
                raise InvalidInput(None, "must be an Attendee, an address or (name, address)")
        except InvalidInput as exc:
            raise exc.at(f"attendees[{i}]") from None
    return out


def _dedupe(attendees: Iterable[Attendee]) -> tuple[Attendee, ...]:
    seen: set[str] = set()
    out = []
    for a in attendees:
        if a.email.lower() not in seen:
            seen.add(a.email.lower())
            out.append(a)
    return tuple(out)


def _staff(uow: UnitOfWork, user: User, participants: Sequence[str]) -> list[Attendee]:
    """The employee and the named participants as attendees (those with an address)."""
    out = []
    if user.email:
        out.append(Attendee(user.email, user.name))
    for participant in participants:
        found = uow.users.find(participant)
        if found is None:
            raise NotFound("user", participant)
        if found.email:
            out.append(Attendee(found.email, found.name))
    return out


def _addresses(uow: UnitOfWork, users: Iterable[str]) -> set[str]:
    """The e-mail addresses (lower case) of ``users`` that have one."""
    out = set()
    for user_id in users:
        found = uow.users.find(user_id)
        if found is not None and found.email:
            out.add(found.email.lower())
    return out


def _participants(values: Iterable[str], employee: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise InvalidInput("participants", "must be a list of user ids, not one text", values)
    try:
        items = list(values)
    except TypeError:
        raise InvalidInput("participants", "must be a list of user ids", values) from None
    out: list[str] = []
    for i, value in enumerate(items):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"participants[{i}]", "must be a user id", value)
        if value != employee and value not in out:
            out.append(value)
    return tuple(out)


def _invitation(
    ctx: Context, uow: UnitOfWork, appointment: Appointment, method: str, now: datetime
) -> OutboxMessage | None:
    if not appointment.attendees:
        return None
    from crm_procedures.formats.ical import invitation_email, invitation_key
    from crm_procedures.services.messages import outbox_message_for_email

    organizer = appointment.organizer_email
    reply_to = organizer if organizer and organizer != ctx.sender_email else None
    key = invitation_key(appointment) + ("" if method == "REQUEST" else f":{method.lower()}")
    msg = invitation_email(
        appointment,
        sender=(ctx.sender_name, ctx.sender_email),
        method=method,
        date=now,
        key=key,
    )
    if reply_to is not None:
        msg["Reply-To"] = reply_to
    message = outbox_message_for_email(msg, key, now, ctx.new_id)
    uow.outbox.add(message)
    return message


def calendar_key(appointment: Appointment) -> str:
    """The outbox key of the ``calendar`` message for this UID and SEQUENCE."""
    return f"calendar:{appointment.uid}:{appointment.sequence}"


def _calendar(
    ctx: Context, uow: UnitOfWork, appointment: Appointment, action: str, now: datetime
) -> OutboxMessage | None:
    """Record the ``calendar`` channel message that publishes or cancels ``appointment``.

    Only when the installation has a calendar (``ctx.calendar_channel``); the
    key is UID + SEQUENCE, so recording it again adds nothing.
    """
    if not ctx.calendar_channel:
        return None
    from crm_procedures.serialization import unstructure

    message = OutboxMessage(
        id=ctx.new_id(),
        key=calendar_key(appointment),
        channel="calendar",
        payload={"action": action, "appointment": unstructure(appointment)},
        created_at=now,
        due_at=now,
    )
    uow.outbox.add(message)
    return message


def _audit(
    uow: UnitOfWork,
    actor: str,
    old: Appointment | None,
    new: Appointment,
    now: datetime,
    action: str,
) -> None:
    uow.audit.record(
        Change(
            record_kind="appointment",
            record_id=new.id,
            version=new.version,
            at=now,
            actor=actor,
            action=action,
            changes=diff(old, new),
        )
    )


def _uid(ctx: Context, appointment_id: str) -> str:
    domain = ctx.sender_email.rsplit("@", 1)[-1] if is_email(ctx.sender_email) else "localhost"
    return f"{appointment_id}@{domain}"


def book_appointment(
    ctx: Context,
    actor: str,
    *,
    employee: str,
    start: datetime,
    end: datetime,
    title: str,
    relation_id: str | None = None,
    contact_id: str | None = None,
    project_id: str | None = None,
    prospect_id: str | None = None,
    location: str = "",
    description: str = "",
    attendees: Iterable[Attendee | str | tuple[str, str]] = (),
    rrule: str | None = None,
    exdates: Iterable[datetime] = (),
    allow_conflicts: bool = False,
    invite_contact: bool = True,
    participants: Iterable[str] = (),
) -> BookingResult:
    """Book an appointment in ``employee``'s agenda and invite the attendees (W10, P5).

    ``attendees`` are :class:`~crm_procedures.model.appointment.Attendee`\\ s,
    addresses or ``(name, address)`` pairs; with ``invite_contact`` the
    contact (``contact_id``) is invited too when they have an e-mail
    address. ``participants`` names other employees on a meeting (user
    ids). Every attendee gets the invitation: the contact, the named
    addresses, the employee and each participant (those with an e-mail
    address); the organizer is the employee (their e-mail address, else the
    installation's sender). ``rrule`` is an RFC 5545 rule (``FREQ=WEEKLY;
    COUNT=6``; daily at most often, UNTIL in UTC). The invitation e-mail is
    recorded in the outbox in the same unit of work.

    Raises:
        InvalidInput: naive or reversed times, an empty title, a malformed
            rule or attendee address.
        NotFound: unknown employee or contact.
        AccessDenied: the actor may not change the employee's agenda.
        AppointmentConflict: it overlaps other appointments of the employee or
            of a participant, and ``allow_conflicts`` is false.
    """
    with ctx.store.unit_of_work() as uow:
        result = book_appointment_in(
            uow,
            ctx,
            actor,
            employee=employee,
            start=start,
            end=end,
            title=title,
            relation_id=relation_id,
            contact_id=contact_id,
            project_id=project_id,
            prospect_id=prospect_id,
            location=location,
            description=description,
            attendees=attendees,
            rrule=rrule,
            exdates=exdates,
            allow_conflicts=allow_conflicts,
            invite_contact=invite_contact,
            participants=participants,
        )
        uow.commit()
    return result


def book_appointment_in(
    uow: UnitOfWork,
    ctx: Context,
    actor: str | Viewer,
    *,
    employee: str,
    start: datetime,
    end: datetime,
    title: str,
    relation_id: str | None = None,
    contact_id: str | None = None,
    project_id: str | None = None,
    prospect_id: str | None = None,
    location: str = "",
    description: str = "",
    attendees: Iterable[Attendee | str | tuple[str, str]] = (),
    rrule: str | None = None,
    exdates: Iterable[datetime] = (),
    allow_conflicts: bool = False,
    invite_contact: bool = True,
    participants: Iterable[str] = (),
) -> BookingResult:
    """:func:`book_appointment` inside a unit of work the caller opened and commits.

    For services that book as part of a larger change (a "make appointment"
    procedure step): the appointment, its audit entry and its invitation
    become durable together with the caller's own changes. Raises what
    :func:`book_appointment` raises.
    """
    now = ctx.now()
    check_moment(start, "start")
    check_moment(end, "end")
    checked_rule = _check_rrule(rrule, start)
    people = _attendees(attendees)
    others = _participants(participants, employee)
    viewer = _viewer(uow, actor)
    user = uow.users.find(employee)
    if user is None:
        raise NotFound("user", employee)
    _require_manage(viewer, employee)
    people.extend(_staff(uow, user, others))
    if contact_id is not None:
        contact = uow.contacts.find(contact_id)
        if contact is None:
            raise NotFound("contact", contact_id)
        if relation_id is None:
            relation_id = contact.relation_id
        if invite_contact and contact.email:
            people.insert(0, Attendee(contact.email, contact.full_name))
    appointment_id = AppointmentId(ctx.new_id())
    appointment = Appointment(
        id=appointment_id,
        employee=UserId(employee),
        start=start,
        end=end,
        title=title,
        uid=_uid(ctx, appointment_id),
        relation_id=RelationId(relation_id) if relation_id else None,
        contact_id=ContactId(contact_id) if contact_id else None,
        project_id=ProjectId(project_id) if project_id else None,
        prospect_id=ProspectId(prospect_id) if prospect_id else None,
        location=location,
        description=description,
        attendees=_dedupe(people),
        organizer_email=user.email or ctx.sender_email,
        rrule=checked_rule,
        exdates=tuple(exdates),
        participants=others,
    )
    found = _find_conflicts(uow, appointment)
    if found and not allow_conflicts:
        raise AppointmentConflict(employee, found, _busy(appointment, found))
    stored = uow.appointments.add(appointment)
    _audit(uow, viewer.user_id, None, stored, now, "create")
    invitation = _invitation(ctx, uow, stored, "REQUEST", now)
    _calendar(ctx, uow, stored, "publish", now)
    return BookingResult(stored, tuple(found), invitation)


def reschedule(
    ctx: Context,
    actor: str,
    appointment_id: str,
    start: datetime,
    end: datetime,
    *,
    title: str | None = None,
    location: str | None = None,
    description: str | None = None,
    attendees: Iterable[Attendee | str | tuple[str, str]] | None = None,
    allow_conflicts: bool = False,
    participants: Iterable[str] | None = None,
) -> BookingResult:
    """Move an appointment (and optionally change its details); attendees get an update.

    The UID stays, the SEQUENCE rises by one, and an updated ``REQUEST`` is
    recorded in the outbox. For a recurring appointment the whole series
    moves; its ``exdates`` move by the same amount.

    ``participants`` (user ids), when given, replace the appointment's
    participants: the appointment leaves the agendas of those taken off
    (they get ``METHOD:CANCEL``) and enters the agendas of those added
    (invited with the others); the conflict check covers the new ones.

    Raises:
        NotFound: no such appointment, or a participant who is no user.
        InvalidInput: the appointment is cancelled, or naive/reversed times,
            or a participant that is no user id.
        AccessDenied: the actor may not change the employee's agenda.
        AppointmentConflict: as for :func:`book_appointment`.
    """
    now = ctx.now()
    check_moment(start, "start")
    check_moment(end, "end")
    people = _attendees(attendees) if attendees is not None else None
    with ctx.store.unit_of_work() as uow:
        viewer = _viewer(uow, actor)
        old = uow.appointments.find(appointment_id)
        if old is None:
            raise NotFound("appointment", appointment_id)
        _require_manage(viewer, old.employee)
        if old.cancelled:
            raise InvalidInput(
                "appointment", f"appointment {appointment_id} is cancelled; book a new one", None
            )
        staff = old.participants
        if participants is not None:
            staff = tuple(UserId(p) for p in _participants(participants, old.employee))
            for added in staff:
                if added not in old.participants and uow.users.find(added) is None:
                    raise NotFound("user", added)
            if people is None and staff != old.participants:
                # Those taken off leave the attendees (and get a CANCEL below).
                gone = _addresses(uow, [p for p in old.participants if p not in staff])
                people = [a for a in old.attendees if a.email.lower() not in gone]
        if people is not None:
            # The employee and the participants stay invited whatever list is given.
            user = uow.users.find(old.employee)
            if user is not None:
                people.extend(_staff(uow, user, staff))
        # Answers were to the old times: a move asks everyone again.
        same_times = _u(start) == _u(old.start) and _u(end) == _u(old.end)
        shift = start - old.start
        try:
            moved = tuple(ex + shift for ex in old.exdates)
        except OverflowError as exc:
            raise InvalidInput(
                "start", "moves an excluded date beyond the years a calendar holds", start
            ) from exc
        new = attrs.evolve(
            old,
            start=start,
            end=end,
            sequence=old.sequence + 1,
            exdates=moved,
            title=old.title if title is None else title,
            location=old.location if location is None else location,
            description=old.description if description is None else description,
            attendees=old.attendees if people is None else _dedupe(people),
            replies=old.replies if same_times else (),
            participants=staff,
        )
        if new.rrule:
            _check_rrule(new.rrule, new.start)
        found = _find_conflicts(uow, new)
        if found and not allow_conflicts:
            raise AppointmentConflict(old.employee, found, _busy(new, found))
        stored = uow.appointments.save(new)
        _audit(uow, viewer.user_id, old, stored, now, "reschedule")
        invitation = _invitation(ctx, uow, stored, "REQUEST", now)
        _calendar(ctx, uow, stored, "publish", now)
        if people is not None:
            removed = {a.email.lower() for a in old.attendees} - {
                a.email.lower() for a in stored.attendees
            }
            if removed:
                dropped = attrs.evolve(
                    stored,
                    attendees=tuple(a for a in old.attendees if a.email.lower() in removed),
                    status=AppointmentStatus.CANCELLED,
                )
                _invitation(ctx, uow, dropped, "CANCEL", now)
        uow.commit()
    return BookingResult(stored, tuple(found), invitation)


def cancel(ctx: Context, actor: str, appointment_id: str) -> Appointment:
    """Cancel an appointment; attendees get ``METHOD:CANCEL`` with the same UID.

    The SEQUENCE rises by one. Cancelling a cancelled appointment changes
    nothing and sends nothing.

    Raises:
        NotFound: no such appointment.
        AccessDenied: the actor may not change the employee's agenda.
    """
    now = ctx.now()
    with ctx.store.unit_of_work() as uow:
        viewer = _viewer(uow, actor)
        old = uow.appointments.find(appointment_id)
        if old is None:
            raise NotFound("appointment", appointment_id)
        _require_manage(viewer, old.employee)
        if old.cancelled:
            return old
        new = attrs.evolve(old, status=AppointmentStatus.CANCELLED, sequence=old.sequence + 1)
        stored = uow.appointments.save(new)
        _audit(uow, viewer.user_id, old, stored, now, "cancel")
        _invitation(ctx, uow, stored, "CANCEL", now)
        _calendar(ctx, uow, stored, "cancel", now)
        events = _cancelled_event(uow, stored, viewer.user_id, now)
        appointment_lost_in(
            uow,
            ctx,
            stored,
            APPOINTMENT_CANCELLED,
            f"appointment {stored.title!r} of {stored.start.isoformat()} cancelled "
            f"by {viewer.user_id}",
            viewer.user_id,
        )
        uow.commit()
    if events:
        from crm_procedures.services.inbound import hand_out_events

        hand_out_events(ctx, events)
    return stored


def appointment_lost_in(
    uow: UnitOfWork,
    ctx: Context,
    appointment: Appointment,
    why: str,
    note: str,
    actor: str = SYSTEM_USER,
) -> HistoryEntry | None:
    """Feed a cancelled or declined appointment back into its prospect's procedure.

    Inside the caller's unit of work: when the appointment belongs to a
    prospect whose procedure names an ``on_appointment_lost`` step and the
    prospect is still right after that booking, a correction entry (``detail``
    = ``why``, ``note`` = what happened) withdraws the booking, so the matrix
    allows the step again (:func:`~crm_procedures.procedures.runtime.appointment_lost`).
    Returns the entry, or ``None`` when the procedure is not affected.
    """
    if appointment.prospect_id is None:
        return None
    prospect = uow.prospects.find(appointment.prospect_id)
    if prospect is None:
        return None
    project = uow.projects.find(prospect.project_id)
    if project is None or project.procedure is None or project.procedure_version is None:
        return None
    from crm_procedures.procedures import runtime
    from crm_procedures.services.campaigns import _procedure_of

    try:
        _defs, procedure = _procedure_of(ctx, uow, project)
    except (InvalidInput, NotFound):
        return None
    entry = runtime.appointment_lost(
        procedure, prospect, UserId(actor), ctx.now(), why, note[:2000]
    )
    if entry is not None:
        uow.prospects.save(prospect)
    return entry


def _cancelled_event(
    uow: UnitOfWork, appointment: Appointment, actor: str, now: datetime
) -> list[Event]:
    """Store the event ``appointment_cancelled`` (when the store keeps events)."""
    if not isinstance(uow, InboundUnitOfWork):
        return []
    event = Event(
        APPOINTMENT_CANCELLED,
        appointment.prospect_id,
        now,
        {
            "appointment_id": appointment.id,
            "uid": appointment.uid,
            "sequence": str(appointment.sequence),
            "actor": actor,
        },
        id=f"{APPOINTMENT_CANCELLED}:{appointment.uid}",
    )
    return [event] if uow.events.add(event) else []


def agenda(
    ctx: Context, viewer_or_actor: str | Viewer, employee: str, start: datetime, end: datetime
) -> list[Occurrence]:
    """``employee``'s occurrences overlapping [start, end), recurring ones expanded, by start.

    Their own appointments and those they take part in (a meeting's
    ``participants``): whoever may read ``employee``'s agenda sees both.
    Cancelled appointments are left out.

    Raises:
        InvalidInput: naive times, or ``end`` before ``start``.
        AccessDenied: the viewer may not see this employee's agenda.
    """
    lo, hi = _window(start, "start"), _window(end, "end")
    if hi < lo:
        raise InvalidInput("end", "must not lie before start", end)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = _viewer(uow, viewer_or_actor)
        if not _may_read(viewer, employee):
            raise AccessDenied(viewer.user_id, "activity.read_group", f"the agenda of {employee}")
        masters = _candidates(uow, employee, hi)
    return _occurrences_in(masters, lo, hi)


def project_agenda(
    ctx: Context, viewer_or_actor: str | Viewer, project_id: str, start: datetime, end: datetime
) -> list[Occurrence]:
    """A project's occurrences overlapping [start, end), recurring ones expanded, by start.

    The appointments booked for the project (``book_appointment(project_id=...)``,
    an activity of the project put in the agenda, a make-appointment step of a
    campaign), whoever's agenda each is in: the project's agenda tab (L5).
    Whoever may see the project sees them. Cancelled appointments are left out.

    Raises:
        InvalidInput: naive times, or ``end`` before ``start``.
        NotFound: no such project, or the viewer may not see it.
    """
    lo, hi = _window(start, "start"), _window(end, "end")
    if hi < lo:
        raise InvalidInput("end", "must not lie before start", end)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = _viewer(uow, viewer_or_actor)
        project = uow.projects.get(project_id, viewer)
        # As for an agenda: a series that started long ago still has occurrences here.
        masters = uow.appointments.of_project(project.id, _EPOCH, hi)
    return _occurrences_in(masters, lo, hi)


def conflicts(
    ctx: Context,
    employee: str,
    start: datetime,
    end: datetime,
    *,
    rrule: str | None = None,
    exclude: str | None = None,
    participants: Iterable[str] = (),
) -> list[Occurrence]:
    """The occurrences that a new appointment [start, end) would overlap.

    Those of the employee and of each of ``participants`` (user ids): their
    own appointments and those they take part in. With ``rrule`` every
    occurrence of the proposed series in its first year is checked.
    ``exclude`` names an appointment id to leave out (the one being moved).
    Reads without access checks: it is a planning aid for services and user
    interfaces that have checked access already.

    Raises:
        InvalidInput: naive or reversed times, a malformed rule, a
            participant that is no user id.
    """
    check_moment(start, "start")
    check_moment(end, "end")
    others = _participants(participants, employee)
    probe = Appointment(
        id=AppointmentId(exclude or "__probe__"),
        employee=UserId(employee),
        start=start,
        end=end,
        title="probe",
        uid="__probe__",
        rrule=_check_rrule(rrule, start),
        participants=others,
    )
    with ctx.store.unit_of_work(read_only=True) as uow:
        return _find_conflicts(uow, probe)


_ANSWERS = (PartStat.ACCEPTED, PartStat.DECLINED, PartStat.TENTATIVE)


def record_attendee_reply(
    ctx: Context, uid: str, sequence: int, attendee: str, partstat: str
) -> Appointment:
    """Store an attendee's answer (iTIP REPLY) on the appointment with this UID.

    ``partstat`` is ``accepted``, ``declined`` or ``tentative`` (any case, or
    the inbound classifier's ``PartStat``). The answer must name the current
    SEQUENCE: an answer to an older version (the appointment moved or was
    cancelled since) is refused, and so is one naming a version never sent.
    Recording the same answer again changes nothing (no new version, no audit
    entry); a different answer to the same version replaces the earlier one.
    The audit trail records the answer with the attendee as actor.

    Raises:
        InvalidInput: a malformed address, an answer other than the three, a
            negative or future SEQUENCE, or an address not invited.
        NotFound: no appointment has this UID.
        StaleCalendarReply: the answer is to an older version.
    """
    if not isinstance(uid, str) or not uid.strip():
        raise InvalidInput("uid", "must name the appointment's iCalendar UID", uid)
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        raise InvalidInput("sequence", "must be a whole number of 0 or more", sequence)
    reply = AttendeeReply(attendee, partstat, sequence)
    if reply.partstat not in _ANSWERS:
        raise InvalidInput("partstat", "must be accepted, declined or tentative", partstat)
    now = ctx.now()
    with ctx.store.unit_of_work() as uow:
        old = uow.appointments.by_uid(uid)
        if old is None:
            raise NotFound("appointment", uid)
        if sequence < old.sequence:
            raise StaleCalendarReply(uid, sequence, old.sequence)
        if sequence > old.sequence:
            raise InvalidInput(
                "sequence",
                f"names version {sequence} of {uid}, but only versions up to "
                f"{old.sequence} were sent",
                sequence,
            )
        if all(a.email.lower() != reply.attendee for a in old.attendees):
            raise InvalidInput(
                "attendee", f"{reply.attendee} is not invited to appointment {uid}", attendee
            )
        held = old.reply_of(reply.attendee)
        if held == reply:
            return old
        replies = (*(r for r in old.replies if r.attendee != reply.attendee), reply)
        stored = uow.appointments.save(attrs.evolve(old, replies=replies))
        _audit(uow, reply.attendee, old, stored, now, f"reply:{reply.partstat.value}")
        _declined_by_contact(uow, ctx, stored, reply)
        uow.commit()
    return stored


def record_attendee_reply_in(
    uow: UnitOfWork, ctx: Context, appointment: Appointment, reply: CalendarReply
) -> Appointment:
    """:func:`record_attendee_reply` inside the caller's unit of work, for :func:`process_inbox`.

    The default ``attendee_replies`` of
    :func:`~crm_procedures.services.inbound.process_inbox`: the answer is
    stored on ``appointment`` (as the store holds it) together with the
    inbound message's own changes. Never raises for what an attendee sent:
    an answer to an older version, to a version never sent, from an address
    not invited, or with another PARTSTAT than the three changes nothing
    (the calendar reply activity still records what came). Returns the
    appointment as stored afterwards.

    Raises:
        InvalidInput: ``appointment`` or ``reply`` is not what the names say.
    """
    if not isinstance(appointment, Appointment):
        raise InvalidInput("appointment", "must be an Appointment", type(appointment).__name__)
    if not isinstance(reply, CalendarReply):
        raise InvalidInput("reply", "must be a CalendarReply", type(reply).__name__)
    current = uow.appointments.by_uid(appointment.uid) or appointment
    try:
        answer = AttendeeReply(reply.attendee, reply.partstat, reply.sequence)
    except InvalidInput:
        return current
    if (
        answer.partstat not in _ANSWERS
        or current.cancelled
        or reply.sequence != current.sequence
        or all(a.email.lower() != answer.attendee for a in current.attendees)
        or current.reply_of(answer.attendee) == answer
    ):
        return current
    replies = (*(r for r in current.replies if r.attendee != answer.attendee), answer)
    stored = uow.appointments.save(attrs.evolve(current, replies=replies))
    _audit(uow, answer.attendee, current, stored, ctx.now(), f"reply:{answer.partstat.value}")
    _declined_by_contact(uow, ctx, stored, answer)
    return stored


def _declined_by_contact(
    uow: UnitOfWork, ctx: Context, appointment: Appointment, answer: AttendeeReply
) -> None:
    """A decline by the appointment's contact feeds back into the procedure."""
    if answer.partstat is not PartStat.DECLINED or appointment.contact_id is None:
        return
    contact = uow.contacts.find(appointment.contact_id)
    if contact is None or not contact.email or contact.email.lower() != answer.attendee:
        return
    appointment_lost_in(
        uow,
        ctx,
        appointment,
        APPOINTMENT_DECLINED,
        f"{answer.attendee} declined appointment {appointment.title!r} of "
        f"{appointment.start.isoformat()}",
    )


@attrs.frozen
class ChangeOutcome:
    """What :func:`apply_calendar_changes` did with one change found in a calendar.

    ``result`` is one of:

    * ``moved``: the appointment was rescheduled to the calendar's times
      (SEQUENCE + 1, attendees get an update);
    * ``cancelled``: the appointment was cancelled (attendees get CANCEL);
    * ``declined``: the entry was removed from a participant's calendar; their
      answer is recorded as declined;
    * ``unchanged``: the store already held these times, or the appointment
      was cancelled already (a cancellation is final);
    * ``ignored``: a move in a participant's calendar (the employee's agenda
      decides the times), or a UID the store does not know;
    * ``refused``: the calendar's times are not allowed (``error`` says why).

    ``appointment`` is the appointment as stored afterwards (None when unknown).
    """

    change: CalendarChange
    result: str
    appointment: Appointment | None
    error: str = ""


def apply_calendar_changes(ctx: Context, feed: ChangeFeed) -> list[ChangeOutcome]:
    """Apply the moves and cancellations made in calendars (e.g. CalDAV) to the store.

    Each change is applied in its own unit of work and then acknowledged to
    the feed with the SEQUENCE the store holds, so it is reported once and an
    older publication is not written back over it. Conflict policy: **the
    calendar wins** over a store change it has not seen (the adapter refused
    that publication with
    :class:`~crm_procedures.errors.CalendarConflict`); a cancellation on
    either side is final. The appointment's employee is the actor (their
    calendar changed). Changes in a participant's calendar: a removal records
    the participant's decline, a move is ignored and written over by the next
    publication. A ``refused`` or ``ignored`` change is acknowledged one
    version back, so publishing the stored appointment again restores the
    calendar.

    Raises:
        DeliveryError: the feed cannot be read (nothing was applied).
    """
    outcomes = []
    for change in feed.changes():
        outcome = _apply_change(ctx, change)
        held = outcome.appointment.sequence if outcome.appointment is not None else 0
        back = outcome.result in ("refused", "ignored") and held > 0
        feed.acknowledge(change, held - 1 if back else held)
        outcomes.append(outcome)
    return outcomes


def _apply_change(ctx: Context, change: CalendarChange) -> ChangeOutcome:
    with ctx.store.unit_of_work(read_only=True) as uow:
        current = uow.appointments.by_uid(change.uid)
    if current is None:
        return ChangeOutcome(change, "ignored", None)
    if current.cancelled:
        return ChangeOutcome(change, "unchanged", current)
    own = change.employee == current.employee
    if change.action is ChangeAction.CANCELLED:
        if own:
            return ChangeOutcome(change, "cancelled", cancel(ctx, current.employee, current.id))
        return _participant_declined(ctx, change, current)
    if not own:
        return ChangeOutcome(change, "ignored", current)
    if change.start is None or change.end is None:
        return ChangeOutcome(change, "refused", current, "the calendar entry has no times")
    if _u(change.start) == _u(current.start) and _u(change.end) == _u(current.end):
        return ChangeOutcome(change, "unchanged", current)
    # Keep the appointment's own zone, so invitations keep their TZID.
    zone = current.start.tzinfo
    try:
        moved = reschedule(
            ctx,
            current.employee,
            current.id,
            change.start.astimezone(zone),
            change.end.astimezone(zone),
            allow_conflicts=True,
        )
    except (InvalidInput, NotFound, AccessDenied) as exc:
        return ChangeOutcome(change, "refused", current, str(exc))
    return ChangeOutcome(change, "moved", moved.appointment)


def _participant_declined(
    ctx: Context, change: CalendarChange, current: Appointment
) -> ChangeOutcome:
    with ctx.store.unit_of_work(read_only=True) as uow:
        user = uow.users.find(change.employee)
    if user is None or not user.email:
        return ChangeOutcome(change, "ignored", current)
    try:
        stored = record_attendee_reply(
            ctx, current.uid, current.sequence, user.email, PartStat.DECLINED
        )
    except (InvalidInput, StaleCalendarReply) as exc:
        return ChangeOutcome(change, "refused", current, str(exc))
    return ChangeOutcome(change, "declined", stored)
