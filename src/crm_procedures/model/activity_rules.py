"""The rules of activities (P5-P7): timer, completion, freezing, contacts, follow-ups.

Pure functions over :class:`~crm_procedures.model.activity.Activity`: each takes
an activity (and the time, when the rule needs one) and returns a new activity.
Nothing here reads a clock, a store or a random source; the service layer
passes ``at``/``now`` and new ids in.

* A completed activity is frozen: every function that would change it raises
  :class:`~crm_procedures.errors.ActivityFrozen`.
* The timer measures the duration of a contact: the accumulated seconds are
  exactly the sum of the intervals during which it ran.
* The contacts of an activity belong to its relation, and none can be set
  before the relation is (P6).
* A follow-up is the analogous next activity, N hours, days or weeks after the
  current one (or on a chosen date), never in the past.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import attrs
from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule

from crm_procedures.errors import ActivityFrozen, InvalidInput
from crm_procedures.ids import ActivityId, ContactId, RelationId
from crm_procedures.model._checks import require_aware
from crm_procedures.model.activity import Activity, ActivityKind, Timer
from crm_procedures.model.contact import Contact

__all__ = [
    "CHANGEABLE_FIELDS",
    "MAX_FOLLOW_UP",
    "REQUIRED_FIELDS",
    "change",
    "check_required",
    "complete",
    "duration",
    "follow_up",
    "missing_fields",
    "pause_timer",
    "resume_timer",
    "set_contacts",
    "set_note",
    "start_timer",
    "stop_timer",
]

REQUIRED_FIELDS: Mapping[ActivityKind, tuple[str, ...]] = {
    ActivityKind.CONTACT: ("relation_id", "contact_ids", "employee"),
    ActivityKind.MEETING: ("relation_id", "employee", "contact_ids"),
    ActivityKind.TASK: ("employee",),
}
"""What each kind needs before it can be saved (P5, P7). Kept to a minimum (L6)."""

_MANAGED = frozenset(
    {"id", "kind", "version", "timer", "completed_at", "created_at", "follow_up_of", "contact_ids"}
)
CHANGEABLE_FIELDS: frozenset[str] = frozenset(
    a.name for a in attrs.fields(Activity) if a.name not in _MANAGED
)
"""Fields :func:`change` accepts. The others have their own rule: the timer
functions, :func:`complete`, :func:`set_contacts`; ``id``, ``kind`` and
``created_at`` never change."""

_WORKDAYS = (MO, TU, WE, TH, FR)


# --- freezing and plain changes -------------------------------------------------


def _ensure_open(activity: Activity, field: str | None = None) -> None:
    if activity.completed:
        raise ActivityFrozen(activity.id, field)


def missing_fields(activity: Activity) -> tuple[str, ...]:
    """The required fields (see :data:`REQUIRED_FIELDS`) the activity leaves empty."""
    return tuple(
        name for name in REQUIRED_FIELDS[activity.kind] if getattr(activity, name) in (None, "", ())
    )


def check_required(activity: Activity) -> Activity:
    """Return ``activity`` when every field its kind requires is filled in.

    Raises:
        InvalidInput: naming the first missing field and listing all of them
            (a contact needs a relation, a contact person and an employee; a
            meeting the same; a task an employee).
    """
    missing = missing_fields(activity)
    if missing:
        names = ", ".join(_FIELD_WORDS.get(m, m) for m in missing)
        raise InvalidInput(
            missing[0],
            f"a {activity.kind.value} activity needs {names}; fill in: {', '.join(missing)}",
        )
    return activity


_FIELD_WORDS = {
    "relation_id": "a relation",
    "contact_ids": "at least one contact person",
    "employee": "an employee",
}


def change(activity: Activity, **fields: Any) -> Activity:
    """A copy of ``activity`` with ``fields`` changed, validated.

    Only :data:`CHANGEABLE_FIELDS` may be given. A field given with the value it
    already has is not a change, so resubmitting an unchanged form to a
    completed activity is harmless.

    Raises:
        ActivityFrozen: the activity is completed and a field would change.
        InvalidInput: an unknown or managed field, a value the model refuses
            (a float cost, a naive datetime, ...), a relation change that would
            strand the activity's contacts, or a required field left empty.
    """
    for name in fields:
        if name not in CHANGEABLE_FIELDS:
            if name in _MANAGED:
                raise InvalidInput(name, _MANAGED_HINT.get(name, "cannot be changed"), name)
            allowed = ", ".join(sorted(CHANGEABLE_FIELDS))
            raise InvalidInput(name, f"is not a field of an activity; allowed: {allowed}", name)
    changed = {k: v for k, v in fields.items() if getattr(activity, k) != v}
    if not changed:
        return activity
    if activity.completed:
        raise ActivityFrozen(activity.id, sorted(changed)[0])
    if "relation_id" in changed and activity.contact_ids:
        raise InvalidInput(
            "relation_id",
            "the activity's contacts belong to its current relation; "
            "use set_contacts to change the relation together with the contacts",
            changed["relation_id"],
        )
    return check_required(_evolve(activity, **changed))


_MANAGED_HINT = {
    "id": "an activity keeps its id",
    "kind": "an activity keeps its kind; create a new activity instead",
    "version": "is managed by the store",
    "timer": "changes through start_timer, pause_timer, resume_timer and stop_timer",
    "completed_at": "is set by complete()",
    "created_at": "is set when the activity is created",
    "follow_up_of": "is set by follow_up()",
    "contact_ids": "changes through set_contacts (the contacts must belong to the relation)",
}


def _evolve(activity: Activity, **fields: Any) -> Activity:
    try:
        return attrs.evolve(activity, **fields)
    except InvalidInput:
        raise
    except (TypeError, ValueError) as exc:
        # attrs converters raise builtins (an unknown enum value, a non-iterable);
        # the caller gets the named error instead of a bare ValueError.
        raise InvalidInput(None, f"invalid activity field: {exc}") from exc


def set_note(activity: Activity, note: str) -> Activity:
    """The activity with ``note`` as its note; the note stays editable until completion.

    Raises:
        ActivityFrozen: the activity is completed.
        InvalidInput: the note is not text or holds control characters.
    """
    return change(activity, note=note)


def complete(activity: Activity, at: datetime) -> Activity:
    """The activity completed at ``at``: from now on it is frozen.

    A running timer is stopped at ``at`` first, so its last interval counts.

    Raises:
        ActivityFrozen: the activity was completed already.
        InvalidInput: ``at`` is naive, or before the running timer's start.
    """
    require_aware(at, "at")
    _ensure_open(activity, "completed_at")
    stopped = _stop(activity, at)
    return attrs.evolve(activity, timer=stopped, completed_at=at)


# --- the timer --------------------------------------------------------------------


def _interval_end(timer: Timer, at: datetime) -> float:
    assert timer.running_since is not None
    if at < timer.running_since:
        raise InvalidInput(
            "at",
            f"{at.isoformat()} lies before the timer started running "
            f"({timer.running_since.isoformat()})",
            at,
        )
    return timer.accumulated + (at - timer.running_since).total_seconds()


def _stop(activity: Activity, at: datetime) -> Timer:
    if not activity.timer.running:
        return activity.timer
    return Timer(accumulated=_interval_end(activity.timer, at), running_since=None)


def start_timer(activity: Activity, at: datetime) -> Activity:
    """The activity with its timer started at ``at`` (the first interval).

    Raises:
        ActivityFrozen: the activity is completed.
        InvalidInput: ``at`` is naive; the timer runs already; or it ran before
            and is paused (resume it instead, so the earlier time is kept).
    """
    require_aware(at, "at")
    _ensure_open(activity, "timer")
    timer = activity.timer
    if timer.running:
        raise InvalidInput(
            "timer", f"is already running since {_show(timer.running_since)}; pause it first"
        )
    if timer.accumulated > 0:
        raise InvalidInput(
            "timer",
            f"was started before and is paused at {timer.accumulated:g} s; "
            "resume it to keep counting",
        )
    return attrs.evolve(activity, timer=Timer(accumulated=0.0, running_since=at))


def pause_timer(activity: Activity, at: datetime) -> Activity:
    """The activity with its running timer paused at ``at``; the interval is added.

    Raises:
        ActivityFrozen: the activity is completed.
        InvalidInput: ``at`` is naive or before the interval began; or the timer
            is not running (it is paused already, or was never started).
    """
    require_aware(at, "at")
    _ensure_open(activity, "timer")
    if not activity.timer.running:
        state = "is already paused" if activity.timer.accumulated > 0 else "was never started"
        raise InvalidInput("timer", f"{state}; only a running timer can be paused")
    return attrs.evolve(activity, timer=_stop(activity, at))


def resume_timer(activity: Activity, at: datetime) -> Activity:
    """The activity with its paused timer running again from ``at``.

    Raises:
        ActivityFrozen: the activity is completed.
        InvalidInput: ``at`` is naive, or the timer is running already.
    """
    require_aware(at, "at")
    _ensure_open(activity, "timer")
    timer = activity.timer
    if timer.running:
        raise InvalidInput(
            "timer",
            f"is already running since {_show(timer.running_since)}; only a paused timer "
            "can be resumed",
        )
    return attrs.evolve(activity, timer=Timer(accumulated=timer.accumulated, running_since=at))


def stop_timer(activity: Activity, at: datetime) -> Activity:
    """The activity with its timer stopped at ``at`` (a paused timer stays as it is).

    Raises:
        ActivityFrozen: the activity is completed.
        InvalidInput: ``at`` is naive or before the running interval began.
    """
    require_aware(at, "at")
    _ensure_open(activity, "timer")
    timer = _stop(activity, at)
    if timer == activity.timer:
        return activity
    return attrs.evolve(activity, timer=timer)


def duration(activity: Activity, now: datetime | None = None) -> timedelta:
    """How long the timer has measured; a running interval counts up to ``now``.

    Raises:
        InvalidInput: the timer runs and ``now`` is missing, naive or before its start.
    """
    timer = activity.timer
    if not timer.running:
        return timedelta(seconds=timer.accumulated)
    if now is None:
        raise InvalidInput("now", "is needed while the timer runs")
    require_aware(now, "now")
    return timedelta(seconds=_interval_end(timer, now))


def _show(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "?"


# --- contacts (P6) -----------------------------------------------------------------


def set_contacts(
    activity: Activity,
    contacts: Iterable[Contact],
    relation_id: RelationId | str | None = None,
) -> Activity:
    """The activity with ``contacts`` as its contact persons (P6).

    ``relation_id``, when given, sets the activity's relation at the same time;
    otherwise the activity's own relation is used. Every contact must belong to
    that relation; repeated contacts are kept once, in the given order.

    Raises:
        ActivityFrozen: the activity is completed.
        InvalidInput: a contact is given while no relation is set (set the
            relation first); a contact belongs to another relation (the
            message names the contact); or the kind's required fields end up
            empty (a contact activity without a contact person).
    """
    relation = relation_id if relation_id is not None else activity.relation_id
    items = list(contacts)
    ids: list[ContactId] = []
    for i, contact in enumerate(items):
        if not isinstance(contact, Contact):
            raise InvalidInput(f"contacts[{i}]", "must be a Contact", contact)
        if not relation:
            raise InvalidInput(
                "contact_ids",
                f"cannot add contact {contact.full_name!r} ({contact.id}) before the "
                "activity's relation is set; choose the relation first",
                contact.id,
            )
        if contact.relation_id != relation:
            raise InvalidInput(
                f"contact_ids[{i}]",
                f"contact {contact.full_name!r} ({contact.id}) belongs to relation "
                f"{contact.relation_id}, not to the activity's relation {relation}",
                contact.id,
            )
        if contact.id not in ids:
            ids.append(contact.id)
    new_ids = tuple(ids)
    new_relation = RelationId(relation) if relation else None
    if new_ids == activity.contact_ids and new_relation == activity.relation_id:
        return activity
    _ensure_open(activity, "contact_ids")
    return check_required(_evolve(activity, contact_ids=new_ids, relation_id=new_relation))


# --- follow-ups (P5 "schedule the next contact/meeting in N hours/days/weeks") ------


def follow_up(
    activity: Activity,
    *,
    in_hours: int | None = None,
    in_days: int | None = None,
    in_weeks: int | None = None,
    on: date | datetime | None = None,
    business_days: bool = False,
    now: datetime,
    new_id: str,
) -> Activity:
    """The analogous next activity, scheduled after ``activity``.

    The new activity has the same kind, relation, project, contacts, employee,
    subject, channel, priority, category and place; a fresh timer, an empty
    note and ``follow_up_of`` pointing back. It is scheduled relative to the
    activity's own time (its start, else its due date, else ``now``):

    * ``in_hours`` adds elapsed hours (so a DST change does not shift it);
    * ``in_days`` and ``in_weeks`` add calendar days on the wall clock of the
      activity's time zone, keeping the local time of day (10:00 stays 10:00
      across a DST change); with ``business_days=True`` ``in_days`` counts
      Monday-Friday only;
    * ``on`` picks a date (keeping the local time of day) or an aware datetime.

    With ``business_days=True`` a result on a Saturday or Sunday moves to the
    next Monday. A follow-up lies at most about a century ahead: ``in_hours``
    up to 876,600, ``in_days`` up to 36,525 (business days too) and
    ``in_weeks`` up to 5,218 (:data:`MAX_FOLLOW_UP`); larger amounts, and
    results beyond the year 9999, are refused at once. Contacts and meetings
    get the new time as ``start`` (an end keeps the original length); tasks
    get it as ``due``. Following up a completed activity is allowed: it is
    only read.

    Raises:
        InvalidInput: no interval or date given, ``on`` combined with an
            interval, a negative or non-integer amount, a naive datetime, or a
            resulting time before ``now`` (a follow-up in the past).
    """
    require_aware(now, "now")
    intervals = {"in_hours": in_hours, "in_days": in_days, "in_weeks": in_weeks}
    given = {k: v for k, v in intervals.items() if v is not None}
    if on is not None and given:
        raise InvalidInput(
            "on", f"give either a date or an interval ({', '.join(given)}), not both", on
        )
    if on is None and not given:
        raise InvalidInput(
            "follow_up", "give when: in_hours, in_days, in_weeks or on (a date or datetime)"
        )
    for name, amount in given.items():
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise InvalidInput(name, "must be a whole number >= 0", amount)
        if amount > MAX_FOLLOW_UP[name]:
            raise InvalidInput(
                name,
                f"must be at most {MAX_FOLLOW_UP[name]:,} (about a century); "
                "schedule far follow-ups with 'on'",
                amount,
            )

    base = activity.start or activity.due or now
    zone = base.tzinfo
    assert zone is not None
    try:
        target = _target(base, zone, on, in_hours, in_days, in_weeks, business_days)
        if target < now:
            raise InvalidInput(
                "follow_up",
                f"would be on {target.isoformat()}, in the past (now is {now.isoformat()}); "
                "choose a later date or a longer interval",
                target,
            )
        return _analogous(activity, target, now, new_id)
    except OverflowError as exc:
        raise InvalidInput(
            "follow_up", "would lie beyond the year 9999; choose a shorter interval", base
        ) from exc


MAX_FOLLOW_UP = {"in_hours": 876_600, "in_days": 36_525, "in_weeks": 5_218}
"""The largest amount each follow-up interval takes (about a century)."""


def _target(
    base: datetime,
    zone: tzinfo,
    on: date | datetime | None,
    in_hours: int | None,
    in_days: int | None,
    in_weeks: int | None,
    business_days: bool,
) -> datetime:
    if on is not None:
        target = _on(on, base, zone)
    else:
        target = base
        if in_weeks:
            target = _add_wall_days(target, 7 * in_weeks, zone)
        if in_days:
            if business_days:
                target = _add_business_days(target, in_days, zone)
            else:
                target = _add_wall_days(target, in_days, zone)
        if in_hours:
            target = (target.astimezone(UTC) + timedelta(hours=in_hours)).astimezone(zone)
    if business_days:
        target = _next_workday(target, zone)
    return target


def _analogous(activity: Activity, target: datetime, now: datetime, new_id: str) -> Activity:
    if activity.kind is ActivityKind.TASK:
        start, end, due = None, None, target
    else:
        length = (
            activity.end - activity.start
            if activity.start is not None and activity.end is not None
            else None
        )
        start, end, due = target, (target + length if length is not None else None), None
    return Activity(
        id=ActivityId(new_id),
        kind=activity.kind,
        employee=activity.employee,
        subject=activity.subject,
        relation_id=activity.relation_id,
        project_id=activity.project_id,
        contact_ids=activity.contact_ids,
        participants=activity.participants,
        channel=activity.channel,
        priority=activity.priority,
        category=activity.category,
        place=activity.place,
        start=start,
        end=end,
        due=due,
        follow_up_of=activity.id,
        created_at=now,
    )


def _normalise(moment: datetime, zone: tzinfo) -> datetime:
    # Wall-clock arithmetic can land on a time that does not exist (the hour
    # skipped in spring); a round trip through UTC makes it a real instant.
    return moment.astimezone(UTC).astimezone(zone)


def _add_wall_days(moment: datetime, days: int, zone: tzinfo) -> datetime:
    return _normalise(moment + timedelta(days=days), zone)


def _add_business_days(moment: datetime, days: int, zone: tzinfo) -> datetime:
    """The ``days``-th Monday-Friday after ``moment``'s date, same wall time; O(1)."""
    if days == 0:
        return moment
    local = moment.replace(tzinfo=None)
    # From a weekend day the next workdays are those after the Friday before.
    weekday = local.weekday()
    if weekday >= 5:
        local -= timedelta(days=weekday - 4)
        weekday = 4
    weeks, rest = divmod(days, 5)
    extra = 2 if weekday + rest > 4 else 0
    last = local + timedelta(days=7 * weeks + rest + extra)
    return _normalise(last.replace(tzinfo=zone, fold=moment.fold), zone)


def _next_workday(moment: datetime, zone: tzinfo) -> datetime:
    if moment.weekday() < 5:
        return moment
    local = moment.replace(tzinfo=None)
    nxt = rrule(DAILY, byweekday=_WORKDAYS, dtstart=local, count=1)[0]
    return _normalise(nxt.replace(tzinfo=zone), zone)


def _on(on: date | datetime, base: datetime, zone: tzinfo) -> datetime:
    if isinstance(on, datetime):
        return require_aware(on, "on")
    if not isinstance(on, date):
        raise InvalidInput("on", "must be a date or a timezone-aware datetime", on)
    local_time: time = base.timetz().replace(tzinfo=None)
    return _normalise(datetime.combine(on, local_time, tzinfo=zone), zone)
