"""Moving a prospect through its procedure (W6-W9): perform, correct, status changes.

Every function here changes a :class:`~crm_procedures.model.prospect.Prospect`
in place and appends to its history; none does I/O. They check everything
first and change nothing when they raise, so a refused move leaves the
prospect exactly as it was.

The prospect's ``last_step`` is the prospect's, whoever performed it: the
matrix row used for the next move is that step's row of the *acting* role.
"""

from __future__ import annotations

from datetime import datetime

from crm_procedures.errors import (
    AccessDenied,
    InvalidInput,
    ProspectClosed,
    ProspectNotReleased,
    TransitionNotAllowed,
)
from crm_procedures.ids import UserId
from crm_procedures.model._checks import check_note, shown
from crm_procedures.model.prospect import (
    BulkStatusChange,
    EntryKind,
    HistoryEntry,
    Prospect,
    ProspectStatus,
    RelationStage,
)
from crm_procedures.procedures.effects import Effect
from crm_procedures.procedures.procedure import Procedure

__all__ = [
    "allowed_next",
    "appointment_lost",
    "close",
    "close_change",
    "correct",
    "mark_won",
    "perform",
    "release",
    "release_change",
    "reopen",
    "set_status",
    "worklist_last_steps",
]

_RUNNING = ProspectStatus.RUNNING
_PREPARING = ProspectStatus.PREPARING
_CLOSED = ProspectStatus.CLOSED
_SUSPECT = RelationStage.SUSPECT
_PROSPECT = RelationStage.PROSPECT
_PROSPECT_VALUE = _PROSPECT.value
_STEP = EntryKind.STEP
_STAGE = EntryKind.STAGE
_EMPTY: frozenset[str] = frozenset()
_NO_EFFECTS: tuple[Effect, ...] = ()


def _check_time(at: object) -> datetime:
    if not isinstance(at, datetime):
        raise InvalidInput("at", "must be a datetime", at)
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        raise InvalidInput("at", "must be timezone-aware (naive datetimes are never guessed)", at)
    return at


def _check_actor(actor: object, note: object = "") -> None:
    if not isinstance(actor, str) or not actor:
        raise InvalidInput("actor", "must be a user id", actor)
    if note != "":
        check_note(note)


def _refuse_status(prospect: Prospect) -> None:
    if prospect.status is _PREPARING:
        raise ProspectNotReleased(prospect.id)
    raise ProspectClosed(prospect.id, prospect.close_reason)


def _append(prospect: Prospect, entry: HistoryEntry) -> None:
    prospect.history.append(entry)


def _next_seq(prospect: Prospect) -> int:
    return len(prospect.history) + 1


def allowed_next(procedure: Procedure, prospect: Prospect, role: str) -> frozenset[str]:
    """The steps ``role`` may perform on ``prospect`` now.

    Empty unless the prospect is running (a preparing or closed prospect
    accepts no step).
    """
    if prospect.status is not _RUNNING:
        return _EMPTY
    return procedure._next.get((role, prospect.last_step), _EMPTY)


def worklist_last_steps(procedure: Procedure, role: str) -> frozenset[str | None]:
    """The last-step values after which ``role`` may do something (``None`` = START).

    A store's worklist query selects the running prospects whose ``last_step``
    is in this set.
    """
    return procedure.worklist_last_steps(role)


def perform(
    procedure: Procedure,
    prospect: Prospect,
    step: str,
    role: str,
    actor: UserId,
    at: datetime,
    note: str = "",
) -> tuple[Effect, ...]:
    """Record that ``actor``, acting as ``role``, completed ``step`` on ``prospect``.

    Appends a step entry to the history and makes ``step`` the last step. The
    first step on a suspect makes it a prospect (W9): the time and actor are
    recorded and a stage entry is appended; if the prospect is then closed
    before a second step, the first contact closed it and the stage goes back
    to suspect (see :func:`close`). Returns the effects of the step
    (an e-mail to send, an appointment to book), empty for a plain step.

    Raises:
        ProspectNotReleased: the prospect is still being prepared.
        ProspectClosed: the prospect is closed.
        TransitionNotAllowed: the matrix does not let ``role`` perform ``step``
            after the prospect's last step (the error names the allowed ones).
        InvalidInput: ``at`` is naive or not a datetime, ``actor`` is empty, or
            ``note`` breaks the note rule (at most 100,000 characters; no control
            characters but tab and line breaks).
    """
    if prospect.status is not _RUNNING:
        _refuse_status(prospect)
    try:
        if at.tzinfo is None:
            raise InvalidInput(
                "at", "must be timezone-aware (naive datetimes are never guessed)", at
            )
    except AttributeError:
        raise InvalidInput("at", "must be a datetime", at) from None
    if not actor:
        raise InvalidInput("actor", "must be a user id", actor)
    if note != "":
        # Notes follow one rule wherever they enter (the activity's note rule).
        check_note(note)
    last = prospect.last_step
    allowed = procedure._next.get((role, last))
    if allowed is None or step not in allowed:
        raise TransitionNotAllowed(step, role, last, allowed or ())
    # The entry goes in as a plain tuple in HistoryEntry's field order: reading
    # ``prospect.history`` names it (see Prospect), so a move builds no named tuple.
    entries = prospect._entries
    entries.append((len(entries) + 1, _STEP, at, actor, role, step, None, None, note))
    prospect.last_step = step
    if prospect.stage is _SUSPECT:
        _become_prospect(prospect, actor, at)
    maker = procedure._effects.get(step)
    if maker is None:
        return _NO_EFFECTS
    return maker(prospect)


def _become_prospect(prospect: Prospect, actor: UserId, at: datetime) -> None:
    prospect.stage = _PROSPECT
    prospect.became_prospect_at = at
    prospect.became_prospect_by = actor
    entries = prospect._entries
    entries.append((len(entries) + 1, _STAGE, at, actor, None, None, None, _PROSPECT_VALUE, ""))


def _recompute_last_step(prospect: Prospect) -> str | None:
    superseded = {
        e.supersedes
        for e in prospect.history
        if e.kind is EntryKind.CORRECTION and e.supersedes is not None
    }
    for e in reversed(prospect.history):
        if (
            e.kind in (EntryKind.STEP, EntryKind.CORRECTION)
            and e.seq not in superseded
            and e.step is not None
        ):
            return e.step
    return None


def correct(
    procedure: Procedure,
    prospect: Prospect,
    supersedes_seq: int,
    step: str | None,
    role: str,
    actor: UserId,
    at: datetime,
    note: str = "",
) -> HistoryEntry:
    """Register a correction (W7): entry ``supersedes_seq`` was registered wrongly.

    The correction is appended as a new entry that supersedes the earlier step
    (or correction) entry; nothing is deleted. ``step`` is what should have been
    registered, or ``None`` to withdraw the entry without a replacement. The
    role needs correction rights for the step it registers (and, when
    withdrawing, for the withdrawn step); corrections are not bound by the
    matrix, since they exist to go against its direction.

    A correction counts as the newest registration: afterwards ``last_step``
    is the step of the latest entry that is not superseded (this correction's
    step unless it withdraws), and the procedure continues from there.
    Returns the correction entry. Corrections yield no effects: nothing is
    e-mailed or booked again.

    Raises:
        ProspectNotReleased / ProspectClosed: the prospect is not running.
        AccessDenied: ``role`` has no correction right for that step.
        InvalidInput: ``supersedes_seq`` is not a step or correction entry, is
            already superseded, ``step`` is not in the procedure, ``at`` is naive,
            or ``note`` breaks the note rule.
    """
    if prospect.status is not _RUNNING:
        _refuse_status(prospect)
    _check_time(at)
    _check_actor(actor, note)
    if step is not None and step not in procedure.steps:
        raise InvalidInput("step", f"{step!r} is not a step of procedure {procedure.key!r}", step)
    target = next((e for e in prospect.history if e.seq == supersedes_seq), None)
    if target is None or target.kind not in (EntryKind.STEP, EntryKind.CORRECTION):
        raise InvalidInput(
            "supersedes_seq",
            f"entry {shown(supersedes_seq)} is not a step or correction entry of this prospect",
            supersedes_seq,
        )
    later = next(
        (
            e.seq
            for e in prospect.history
            if e.kind is EntryKind.CORRECTION and e.supersedes == supersedes_seq
        ),
        None,
    )
    if later is not None:
        raise InvalidInput(
            "supersedes_seq",
            f"entry {supersedes_seq} was already superseded by entry {later}; correct that one",
            supersedes_seq,
        )
    touched = step if step is not None else target.step
    if touched is None or not procedure.may_correct(role, touched):
        what = f"step {touched!r}" if touched else "a withdrawal"
        raise AccessDenied(actor, f"correct as {role!r}", f"{what} of procedure {procedure.key!r}")
    entry = HistoryEntry(
        _next_seq(prospect),
        EntryKind.CORRECTION,
        at,
        actor,
        role=role,
        step=step,
        supersedes=supersedes_seq,
        note=note,
    )
    _append(prospect, entry)
    prospect.last_step = _recompute_last_step(prospect)
    return entry


def appointment_lost(
    procedure: Procedure,
    prospect: Prospect,
    actor: UserId,
    at: datetime,
    why: str,
    note: str = "",
) -> HistoryEntry | None:
    """The appointment a step booked was cancelled or declined: make that step available again.

    When the procedure names an ``on_appointment_lost`` step and the
    prospect's last step is that step (nothing happened since the booking),
    a correction entry withdraws the booking entry: ``last_step`` returns to
    the step before it, from which the matrix allowed the booking, so it is
    allowed again. ``why`` (``appointment_cancelled``, ``appointment_declined``)
    is the entry's ``detail``, ``note`` says what happened. The role of the
    correction is the role that booked. Returns the entry, or ``None`` when
    nothing changed (no such step, the prospect is not running, or it moved
    on since the booking).

    Raises:
        InvalidInput: ``at`` is naive, ``actor`` or ``why`` is empty, or
            ``note`` breaks the note rule.
    """
    _check_time(at)
    _check_actor(actor, note)
    if not isinstance(why, str) or not why:
        raise InvalidInput("why", "must say why the appointment was lost", why)
    step = procedure.on_appointment_lost
    if step is None or prospect.status is not _RUNNING or prospect.last_step != step:
        return None
    superseded = {
        e.supersedes
        for e in prospect.history
        if e.kind is EntryKind.CORRECTION and e.supersedes is not None
    }
    booking = next(
        (
            e
            for e in reversed(prospect.history)
            if e.kind in (EntryKind.STEP, EntryKind.CORRECTION)
            and e.seq not in superseded
            and e.step == step
        ),
        None,
    )
    if booking is None:
        return None
    entry = HistoryEntry(
        _next_seq(prospect),
        EntryKind.CORRECTION,
        at,
        actor,
        role=booking.role,
        step=None,
        supersedes=booking.seq,
        detail=why,
        note=note,
    )
    _append(prospect, entry)
    prospect.last_step = _recompute_last_step(prospect)
    return entry


def _status_entry(prospect: Prospect, actor: UserId, at: datetime, detail: str, note: str) -> None:
    _append(
        prospect,
        HistoryEntry(_next_seq(prospect), EntryKind.STATUS, at, actor, detail=detail, note=note),
    )


def release(prospect: Prospect, actor: UserId, at: datetime, note: str = "") -> None:
    """Release a prepared prospect (W8): preparing -> running; marketeers now see it.

    Raises:
        InvalidInput: the prospect is not preparing, ``at`` is naive, or ``note``
            breaks the note rule.
    """
    _check_time(at)
    _check_actor(actor, note)
    if prospect.status is not _PREPARING:
        raise InvalidInput(
            "status", f"only a preparing prospect can be released; it is {prospect.status.value}"
        )
    prospect.status = _RUNNING
    _status_entry(prospect, actor, at, _RUNNING.value, note)


def close(
    procedure: Procedure,
    prospect: Prospect,
    reason: str,
    actor: UserId,
    at: datetime,
    note: str = "",
) -> None:
    """Close the prospect (W8) with one of the procedure's close reasons.

    Closing is possible at any moment, also while preparing. Closing an
    already closed prospect with another reason records the new reason; with
    the same reason it changes nothing. Closing after no more than the first
    step means the first contact closed the suspect: its stage goes back to
    suspect (W9, see :func:`_closed_by_first_contact`).

    Raises:
        InvalidInput: ``reason`` is not a close reason of the procedure, or
            ``at`` is naive, or ``note`` breaks the note rule.
    """
    _check_time(at)
    _check_actor(actor, note)
    if reason not in procedure.close_reasons:
        allowed = ", ".join(repr(r) for r in procedure.close_reasons) or "none configured"
        raise InvalidInput(
            "reason", f"{reason!r} is not a close reason of {procedure.key!r} ({allowed})", reason
        )
    if prospect.status is _CLOSED and prospect.close_reason == reason:
        return
    prospect.status = _CLOSED
    prospect.close_reason = reason
    _status_entry(prospect, actor, at, f"closed:{reason}", note)
    if prospect.stage is RelationStage.PROSPECT and _steps_done(prospect) <= 1:
        _closed_by_first_contact(prospect, actor, at)


def _steps_done(prospect: Prospect) -> int:
    """How many steps count on ``prospect`` (steps and corrections not superseded)."""
    superseded = {
        e.supersedes
        for e in prospect.history
        if e.kind is EntryKind.CORRECTION and e.supersedes is not None
    }
    return sum(
        1
        for e in prospect.history
        if e.kind in (EntryKind.STEP, EntryKind.CORRECTION)
        and e.seq not in superseded
        and e.step is not None
    )


def _closed_by_first_contact(prospect: Prospect, actor: UserId, at: datetime) -> None:
    """The first contact closed the suspect: it never became a prospect (W9).

    The seed: "a suspect that was approached, and whose first contact did not
    lead to closing it, is from then on called a prospect". The stage goes back
    to suspect (a stage entry records it) and the moment it became a prospect
    is cleared, so the funnel does not count it; a later step after reopening
    makes it a prospect again.
    """
    prospect.stage = _SUSPECT
    prospect.became_prospect_at = None
    prospect.became_prospect_by = None
    _append(
        prospect,
        HistoryEntry(_next_seq(prospect), EntryKind.STAGE, at, actor, detail=_SUSPECT.value),
    )


def release_change(actor: UserId, at: datetime, note: str = "") -> BulkStatusChange:
    """The change that releases every prepared prospect it is applied to (W8, in bulk).

    The same change as :func:`release` makes to one prospect: preparing ->
    running, with a status history entry.

    Raises:
        InvalidInput: ``at`` is naive, or ``note`` breaks the note rule.
    """
    _check_time(at)
    _check_actor(actor, note)
    return BulkStatusChange(
        frozenset({_PREPARING}), _RUNNING, None, _RUNNING.value, actor, at, note
    )


def close_change(
    procedure: Procedure, reason: str, actor: UserId, at: datetime, note: str = ""
) -> BulkStatusChange:
    """The change that closes every prospect it is applied to with ``reason`` (W8, in bulk).

    The same change as :func:`close` makes to one prospect: preparing and
    running prospects are closed, closed ones with another reason get the new
    one, closed ones with this reason are left alone.

    Raises:
        InvalidInput: ``reason`` is not a close reason of the procedure, or
            ``at`` is naive, or ``note`` breaks the note rule.
    """
    _check_time(at)
    _check_actor(actor, note)
    if not isinstance(reason, str) or reason not in procedure.close_reasons:
        allowed = ", ".join(repr(r) for r in procedure.close_reasons) or "none configured"
        raise InvalidInput(
            "reason", f"{reason!r} is not a close reason of {procedure.key!r} ({allowed})", reason
        )
    return BulkStatusChange(
        frozenset(ProspectStatus), _CLOSED, reason, f"closed:{reason}", actor, at, note
    )


def reopen(prospect: Prospect, actor: UserId, at: datetime, note: str = "") -> None:
    """Reopen a closed prospect: closed -> running, the close reason is cleared.

    The procedure continues after the last step, as before closing.

    Raises:
        InvalidInput: the prospect is not closed, ``at`` is naive, or ``note``
            breaks the note rule.
    """
    _check_time(at)
    _check_actor(actor, note)
    if prospect.status is not _CLOSED:
        raise InvalidInput(
            "status", f"only a closed prospect can be reopened; it is {prospect.status.value}"
        )
    prospect.status = _RUNNING
    prospect.close_reason = None
    _status_entry(prospect, actor, at, _RUNNING.value, note)


def set_status(
    procedure: Procedure,
    prospect: Prospect,
    status: ProspectStatus | str,
    actor: UserId,
    at: datetime,
    reason: str | None = None,
    note: str = "",
) -> None:
    """Change the status to any of the three (W8: at any moment of the procedure).

    ``closed`` needs a ``reason`` (see :func:`close`); leaving ``closed`` clears
    the reason. Setting the status a prospect already has changes nothing
    (except, for ``closed``, a different reason).

    Raises:
        InvalidInput: an unknown status, a missing or unknown close reason, a
            reason given for another status, a naive ``at``, or a ``note`` that
            breaks the note rule.
    """
    _check_time(at)
    _check_actor(actor, note)
    try:
        new = ProspectStatus(status)
    except ValueError:
        allowed = ", ".join(repr(s.value) for s in ProspectStatus)
        raise InvalidInput("status", f"{status!r} is not one of {allowed}", status) from None
    if new is _CLOSED:
        if reason is None:
            raise InvalidInput("reason", "closing needs a close reason")
        close(procedure, prospect, reason, actor, at, note)
        return
    if reason is not None:
        raise InvalidInput("reason", f"a close reason only goes with status closed, not {new}")
    if prospect.status is new:
        return
    prospect.status = new
    prospect.close_reason = None
    _status_entry(prospect, actor, at, new.value, note)


def mark_won(prospect: Prospect, actor: UserId, at: datetime, note: str = "") -> None:
    """Record that the prospect became a customer (stage customer).

    Raises:
        ProspectNotReleased / ProspectClosed: the prospect is not running.
        InvalidInput: ``at`` is naive, or ``note`` breaks the note rule.
    """
    if prospect.status is not _RUNNING:
        _refuse_status(prospect)
    _check_time(at)
    _check_actor(actor, note)
    if prospect.stage is RelationStage.CUSTOMER:
        return
    if prospect.stage is _SUSPECT:
        prospect.became_prospect_at = prospect.became_prospect_at or at
        prospect.became_prospect_by = prospect.became_prospect_by or actor
    prospect.stage = RelationStage.CUSTOMER
    _append(
        prospect,
        HistoryEntry(
            _next_seq(prospect),
            EntryKind.STAGE,
            at,
            actor,
            detail=RelationStage.CUSTOMER.value,
            note=note,
        ),
    )
