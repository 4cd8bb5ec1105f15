"""The scheduler: performs automatic steps when they fall due, and reminds owners (T1, T2).

:func:`run_due` claims due prospects with leases (one unit of work), then
performs each due automatic step in its own unit of work, as the configured
system actor, through the same path as a person's step (matrix, history,
outbox, activity). It is idempotent: the step's history entry is the fence.
Performing a step moves the prospect's due fields on to the next step in the
same transaction, and the prospect's version is checked on save, so a step
is never performed twice, whoever else runs at the same time; a scheduler
killed anywhere leaves either nothing (rolled back) or the whole step, and
its lease runs out so that another scheduler picks the prospect up.

:func:`send_reminders` records one reminder e-mail per overdue step to its
owner, keyed by prospect, step and due time: a retry or a second run finds
the key taken and adds nothing.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import cast

import attrs

from crm_procedures.errors import ConcurrencyConflict, CrmError, InvalidInput
from crm_procedures.model._checks import require_aware
from crm_procedures.model._storable import storable
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.ports import UnitOfWork
from crm_procedures.services.cadence import keep_due, zone_of
from crm_procedures.services.context import SYSTEM_USER, Context

__all__ = ["RETRY_AFTER", "SchedulerRun", "run_due", "send_reminders", "worker_name"]

RETRY_AFTER = timedelta(minutes=15)
"""How long a step that failed (no e-mail address, ...) waits before the next attempt."""


def worker_name() -> str:
    """A name for this scheduler process: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@attrs.frozen
class SchedulerRun:
    """What one :func:`run_due` call did.

    Attributes:
        claimed: how many due prospects it leased.
        performed: ``(prospect id, step)`` of each step it performed.
        deferred: prospects whose send window was closed (due again at its opening).
        skipped: prospects another worker or person got to first (nothing done).
        failed: ``(prospect id, reason)`` of steps that were refused; retried later.
    """

    claimed: int
    performed: tuple[tuple[str, str], ...] = ()
    deferred: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()


def run_due(
    ctx: Context,
    now: datetime | None = None,
    limit: int = 100,
    *,
    worker: str | None = None,
    lease_seconds: float = 300.0,
    actor: str = SYSTEM_USER,
) -> SchedulerRun:
    """Perform the automatic steps due at ``now`` (default: the clock's time), at most ``limit``.

    Args:
        ctx: the application's context.
        now: the time to run at (aware).
        limit: the most prospects to claim in this run.
        worker: this scheduler's name in the leases (default: host and pid).
        lease_seconds: how long a claim keeps other schedulers away.
        actor: the system actor the steps are performed as.

    Raises:
        InvalidInput: a naive ``now`` or a bad ``limit``.
    """
    from crm_procedures.services.campaigns import _perform_in, _procedure_of
    from crm_procedures.services.step_kinds import StepInputs, _StepUnitOfWork

    at = ctx.now() if now is None else require_aware(now, "now")
    if worker is not None and (not isinstance(worker, str) or not storable(worker)):
        raise InvalidInput("worker", "must be a one-line name without NUL or lone surrogates")
    name = worker or worker_name()
    try:
        with ctx.store.unit_of_work() as uow:
            ids = uow.prospects.claim_due(at, limit, name, lease_seconds)
            uow.commit()
    except ConcurrencyConflict:
        ids = []  # another scheduler's claim overlapped this one: the next run tries again
    performed: list[tuple[str, str]] = []
    deferred: list[str] = []
    skipped: list[str] = []
    failed: list[tuple[str, str]] = []
    for pid in ids:
        try:
            with ctx.store.unit_of_work() as uow:
                lease = uow.prospects.lease_of(pid)
                prospect = uow.prospects.find(pid)
                if (
                    lease is None
                    or lease[0] != name
                    or lease[1] <= at
                    or prospect is None
                    or not prospect.due_automatic
                    or prospect.next_due_at is None
                    or prospect.next_due_at > at
                    or prospect.due_step is None
                    or prospect.due_role is None
                ):
                    skipped.append(pid)
                    uow.prospects.release_lease(pid, name)
                    uow.commit()
                    continue
                project = uow.projects.get(prospect.project_id)
                defs, proc = _procedure_of(ctx, uow, project)
                step = defs.step(prospect.due_step)
                # The step reads through this view of the unit of work: the
                # contact (time zone, address, salutation) is read once.
                step_uow = _StepUnitOfWork(uow)
                window = step.send_window
                if window is not None:
                    tz = zone_of(cast(UnitOfWork, step_uow), defs, prospect)
                    cal = defs.calendars.get(window.calendar) if window.calendar else None
                    if not window.contains(at, tz, cal):
                        keep_due(uow, defs, proc, project, prospect)
                        uow.prospects.save(prospect)
                        uow.prospects.release_lease(pid, name)
                        uow.commit()
                        deferred.append(pid)
                        continue
                kind = ctx.step_kinds.get(step.kind)
                if kind is not None and not kind.unattended:
                    raise _Refused(f"step kind {step.kind!r} cannot run unattended")
                _perform_in(
                    attrs.evolve(ctx, clock=_Fixed(at)),
                    uow,
                    actor,
                    pid,
                    prospect.due_step,
                    prospect.due_role,
                    "",
                    StepInputs(),
                    ctx.step_kinds,
                    None,
                    prospect.version,
                    True,
                    note_rule=False,  # no person made this contact to write its note
                    loaded=(prospect, project),  # read above, under the lease: not read again
                    step_uow=step_uow,
                )
                uow.prospects.release_lease(pid, name)
                uow.commit()
                performed.append((pid, step.key))
        except ConcurrencyConflict:
            skipped.append(pid)
        except CrmError as exc:
            failed.append((pid, str(exc)))
            try:
                with ctx.store.unit_of_work() as uow:
                    uow.prospects.lease(pid, name, at, at + RETRY_AFTER)
                    uow.commit()
            except ConcurrencyConflict:
                pass  # another scheduler holds it now: it retries in its own time
    return SchedulerRun(len(ids), tuple(performed), tuple(deferred), tuple(skipped), tuple(failed))


class _Refused(CrmError):
    """An automatic step the application cannot perform unattended."""


class _Fixed:
    """A clock that reads ``at``: one instant for the whole step."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at


def send_reminders(
    ctx: Context, now: datetime | None = None, limit: int = 500, *, grace: timedelta = timedelta(0)
) -> int:
    """Record one reminder e-mail to the owner of each overdue step people must perform.

    Overdue: due more than ``grace`` before ``now``. The outbox key is made of
    the prospect, the step and its due time, so each step and due time gets
    one reminder whatever the retries; a prospect without an owner, or an
    owner without an e-mail address, gets none. Returns how many overdue steps
    were reminded of in this run (the outbox ignores a key it holds already).
    """
    at = ctx.now() if now is None else require_aware(now, "now")
    if not isinstance(grace, timedelta):
        raise InvalidInput("grace", "must be a timedelta", grace)
    try:
        until = at - grace
    except OverflowError:
        raise InvalidInput(
            "grace", "reaches beyond year 1 or 9999; give a shorter time", grace
        ) from None
    recorded = 0
    with ctx.store.unit_of_work() as uow:
        overdue = uow.prospects.due(until=until, automatic=False, limit=limit)
        for p in overdue:
            if p.owner is None or p.next_due_at is None:
                continue
            user = uow.users.find(p.owner)
            if user is None or not user.email:
                continue
            due = p.next_due_at.astimezone(UTC).isoformat()
            key = f"reminder:{p.id}:{p.due_step}:{due}"
            message = EmailMessage()
            message["From"] = formataddr((ctx.sender_name, ctx.sender_email))
            message["To"] = user.email
            message["Subject"] = f"Overdue: {p.due_step} ({p.id})"
            message["Message-ID"] = make_msgid(domain=ctx.sender_email.rpartition("@")[2])
            message.set_content(
                f"Step {p.due_step!r} of prospect {p.id} was due at "
                f"{p.next_due_at.isoformat()} and is not done yet.\n"
            )
            uow.outbox.add(
                OutboxMessage(
                    id=ctx.new_id(),
                    key=key,
                    channel="mail",
                    payload={"message": message.as_string()},
                    created_at=at,
                    due_at=at,
                )
            )
            recorded += 1
        uow.commit()
    return recorded
