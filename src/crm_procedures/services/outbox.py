"""Delivering outbox messages after their unit of work committed (X4).

A dispatcher claims due messages (a lease: no other dispatcher gets them until
it expires), commits the claim, hands each message to its port, and records
the outcome in a new unit of work:

* the port returned: the message is delivered (never marked before that);
* :class:`~crm_procedures.errors.DeliveryError` with ``permanent=True``, an
  unreadable payload, or the last allowed attempt: failed for good, the error
  kept for a person to read;
* any other error: pending again after an exponential backoff.

A dispatcher that dies between handing a message over and recording it leaves
the lease to expire; the message is then delivered again with the same
idempotency key (Message-ID, or iCalendar UID + SEQUENCE). Delivery is
at-least-once; receivers that see the key deliver it once.

Channels and payloads:

* ``"mail"``: ``{"message": <the RFC 5322 text, with its Message-ID>}``,
  parsed with the SMTP policy and given to :meth:`Mailer.send
  <crm_procedures.ports.Mailer.send>`;
* ``"calendar"``: ``{"action": "publish" | "cancel", "appointment": <the
  appointment as plain data>}``, given to :meth:`Calendar.publish
  <crm_procedures.ports.Calendar.publish>` or ``cancel``.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage

import attrs

from crm_procedures.errors import ConcurrencyConflict, DeliveryError, InvalidInput, StoreBusy
from crm_procedures.model._checks import require_aware
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.ports import Calendar, Clock, Mailer, Store, UnitOfWork
from crm_procedures.serialization import structure

__all__ = [
    "DispatchReport",
    "DispatchStop",
    "dispatch_once",
    "exponential_backoff",
    "parse_mail",
    "run_dispatcher",
]

MAIL = "mail"
CALENDAR = "calendar"


@attrs.frozen
class DispatchReport:
    """What one dispatch round (or a run of rounds) did.

    Attributes:
        claimed: messages leased.
        delivered: messages the port accepted.
        retried: messages that failed and wait for another attempt.
        failed: messages that failed for good.
        errors: ``(message id, error text)`` of every failed attempt.
    """

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    errors: tuple[tuple[str, str], ...] = ()

    def __add__(self, other: DispatchReport) -> DispatchReport:
        return DispatchReport(
            self.claimed + other.claimed,
            self.delivered + other.delivered,
            self.retried + other.retried,
            self.failed + other.failed,
            self.errors + other.errors,
        )


def exponential_backoff(
    base_seconds: float = 30.0, factor: float = 2.0, cap_seconds: float = 6 * 3600.0
) -> Callable[[int], timedelta]:
    """A deterministic backoff: ``base * factor ** (attempts - 1)``, at most ``cap``.

    The returned function takes the number of attempts made so far (1 after
    the first) and returns how long to wait before the next.
    """
    if base_seconds < 0 or factor < 1 or cap_seconds < 0:
        raise InvalidInput("backoff", "needs base >= 0, factor >= 1 and cap >= 0")

    def delay(attempts: int) -> timedelta:
        exponent = max(attempts - 1, 0)
        seconds = min(base_seconds * factor ** min(exponent, 64), cap_seconds)
        return timedelta(seconds=seconds)

    return delay


_DEFAULT_BACKOFF = exponential_backoff()


def parse_mail(message: OutboxMessage) -> EmailMessage:
    """The e-mail of a ``mail`` message, parsed with the SMTP policy.

    A message text without a ``Message-ID`` gets one derived from the
    outbox key, so that every retry carries the same id.

    Raises:
        InvalidInput: the payload holds no message text.
    """
    text = message.payload.get("message")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("payload.message", "must hold the full RFC 5322 message text")
    parsed = email.message_from_string(text, policy=email.policy.SMTP)
    if not isinstance(parsed, EmailMessage):  # pragma: no cover - the policy guarantees it
        raise InvalidInput("payload.message", "is not an e-mail message")
    if parsed["Message-ID"] is None:
        key = message.key.strip("<>")
        parsed["Message-ID"] = f"<{key}>" if "@" in key else f"<{key}@crm-procedures.invalid>"
    return parsed


def _calendar_call(message: OutboxMessage) -> tuple[str, Appointment]:
    action = message.payload.get("action")
    if action not in ("publish", "cancel"):
        raise InvalidInput("payload.action", "must be 'publish' or 'cancel'", action)
    data = message.payload.get("appointment")
    if not isinstance(data, Mapping):
        raise InvalidInput("payload.appointment", "must hold the appointment as plain data")
    return str(action), structure(dict(data), Appointment, path="payload.appointment")


def _deliver(message: OutboxMessage, mailer: Mailer | None, calendar: Calendar | None) -> None:
    if message.channel == MAIL and mailer is not None:
        mailer.send(parse_mail(message))
        return
    if message.channel == CALENDAR and calendar is not None:
        action, appointment = _calendar_call(message)
        if action == "publish":
            calendar.publish(appointment)
        else:
            calendar.cancel(appointment)
        return
    raise DeliveryError(f"no port for channel {message.channel!r}")


def _now(clock: Clock) -> datetime:
    return require_aware(clock.now(), "clock.now()")


def _record(store: Store, action: Callable[[UnitOfWork], None], tries: int = 5) -> bool:
    """Run ``action(uow)`` and commit, retrying a conflicting commit a few times."""
    for attempt in range(tries):
        try:
            with store.unit_of_work() as uow:
                action(uow)
                uow.commit()
            return True
        except (ConcurrencyConflict, StoreBusy):
            if attempt == tries - 1:
                return False
            time.sleep(0.01 * (attempt + 1))
    return False  # pragma: no cover - the loop returns


def _mark_failed(
    message_id: str, error: str, retry_at: datetime | None
) -> Callable[[UnitOfWork], None]:
    def action(uow: UnitOfWork) -> None:
        uow.outbox.mark_failed(message_id, error, retry_at)

    return action


def _mark_delivered(message_id: str, at: datetime) -> Callable[[UnitOfWork], None]:
    def action(uow: UnitOfWork) -> None:
        uow.outbox.mark_delivered(message_id, at)

    return action


def dispatch_once(
    store: Store,
    clock: Clock,
    mailer: Mailer | None = None,
    calendar: Calendar | None = None,
    *,
    limit: int = 100,
    lease_seconds: float = 60.0,
    max_attempts: int = 8,
    backoff: Callable[[int], timedelta] = _DEFAULT_BACKOFF,
) -> DispatchReport:
    """Claim up to ``limit`` due messages and deliver them; returns what happened.

    Only channels with a port are claimed (``mail`` with ``mailer``,
    ``calendar`` with ``calendar``). When another dispatcher holds the claim,
    the round claims nothing. When delivering takes longer than the lease, the
    round stops before the next message (its lease may belong to another
    dispatcher by then); the rest are delivered by a later round. Exceptions
    that are not ``Exception`` (a ``KeyboardInterrupt``, a process being
    stopped) propagate: messages already handed over stay leased and are
    delivered again after the lease.

    Raises:
        InvalidInput: bad arguments (a naive clock, ``max_attempts < 1``).
    """
    if max_attempts < 1:
        raise InvalidInput("max_attempts", "must be at least 1", max_attempts)
    channels = [c for c, port in ((MAIL, mailer), (CALENDAR, calendar)) if port is not None]
    if not channels:
        return DispatchReport()
    now = _now(clock)
    try:
        with store.unit_of_work() as uow:
            claimed = uow.outbox.claim_due(now, limit, lease_seconds, channels)
            uow.commit()
    except (ConcurrencyConflict, StoreBusy):
        return DispatchReport()
    delivered = retried = failed = 0
    errors: list[tuple[str, str]] = []
    lease_ends = now + timedelta(seconds=lease_seconds)
    for message in claimed:
        if _now(clock) >= lease_ends:
            # The lease ran out while earlier messages were slow to deliver: another
            # dispatcher may hold these now. Leave them to it (or to the next round)
            # rather than deliver a message twice.
            break
        try:
            _deliver(message, mailer, calendar)
        except Exception as exc:
            permanent = isinstance(exc, InvalidInput) or (
                isinstance(exc, DeliveryError) and exc.permanent
            )
            error = f"{type(exc).__name__}: {exc}"
            errors.append((message.id, error))
            if permanent or message.attempts >= max_attempts:
                failed += 1
                retry_at = None
            else:
                retried += 1
                retry_at = _now(clock) + backoff(message.attempts)
            _record(store, _mark_failed(message.id, error, retry_at))
            continue
        delivered += 1
        _record(store, _mark_delivered(message.id, _now(clock)))
    return DispatchReport(len(claimed), delivered, retried, failed, tuple(errors))


class DispatchStop:
    """A stop condition for :func:`run_dispatcher`: a thread-safe flag.

    Call :meth:`set` from anywhere (a signal handler, another thread) to end
    the loop after the current round.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Ask the loop to stop."""
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; returns True early when stopped."""
        return self._event.wait(seconds)


def run_dispatcher(
    store: Store,
    clock: Clock,
    mailer: Mailer | None = None,
    calendar: Calendar | None = None,
    *,
    stop: Callable[[], bool] | None = None,
    interval: float = 1.0,
    max_rounds: int | None = None,
    sleep: Callable[[float], None] | None = None,
    limit: int = 100,
    lease_seconds: float = 60.0,
    max_attempts: int = 8,
    backoff: Callable[[int], timedelta] = _DEFAULT_BACKOFF,
) -> DispatchReport:
    """Dispatch rounds until ``stop()`` is true or ``max_rounds`` ran; returns the sum.

    A full round (``limit`` claimed) is followed at once by the next; otherwise
    the loop waits ``interval`` seconds (with ``sleep``, or on the
    :class:`DispatchStop` itself so that stopping interrupts the wait).
    """
    if stop is None and max_rounds is None:
        raise InvalidInput("stop", "give a stop condition or max_rounds, or the loop never ends")
    total = DispatchReport()
    rounds = 0
    while not (stop is not None and stop()):
        if max_rounds is not None and rounds >= max_rounds:
            break
        report = dispatch_once(
            store,
            clock,
            mailer,
            calendar,
            limit=limit,
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
            backoff=backoff,
        )
        rounds += 1
        total = total + report
        if report.claimed >= limit or (max_rounds is not None and rounds >= max_rounds):
            continue
        if sleep is not None:
            sleep(interval)
        elif isinstance(stop, DispatchStop):
            stop.wait(interval)
        else:
            time.sleep(interval)
    return total
