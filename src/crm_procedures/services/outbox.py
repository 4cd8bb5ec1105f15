"""Delivering outbox messages after their unit of work committed (X4).

A dispatcher claims due messages (a lease with a token: no other dispatcher
gets them until it expires), commits the claim, and then, message by message:

1. **fences** the message: in its own short transaction, checks that its
   claim's token still holds it and renews the lease, counting the try
   (``attempts`` counts real tries, never claims); a message whose lease
   another dispatcher took over is left to that dispatcher;
2. hands it to the sender registered for its channel
   (:class:`~crm_procedures.ports.ChannelSender`: ``mail``, ``calendar``, or a
   host's own);
3. records the outcome in a new unit of work, per recipient for mail:

* accepted recipients are final; refused ones (5xx) are final and recorded
  with the server's reply; deferred ones (4xx) are tried again, alone, after
  an exponential backoff, and count as refused after ``max_attempts`` tries;
* the message's status says how it ended: ``delivered`` (everyone accepted),
  ``partially_failed`` (some did, the others were refused), ``failed``
  (nobody; also after a permanent
  :class:`~crm_procedures.errors.DeliveryError`, an unreadable payload or the
  last allowed attempt), or ``pending`` (waiting for the next try).

A dispatcher that dies between handing a message over and recording it
leaves the lease to expire; the message is then delivered again with the
same idempotency key (Message-ID, or iCalendar UID + SEQUENCE): at most one
extra delivery per such crash. Without a crash no message is delivered twice:
a dispatcher only sends under a lease it holds and has just renewed, so
``lease_seconds`` must exceed the longest single delivery (the mailer's
time-out), not the whole batch. Delivery is at-least-once; receivers that
see the key deliver it once.

Channels and payloads:

* ``"mail"``: ``{"message": <the RFC 5322 text, with its Message-ID>,
  "recipients": [<the envelope>]}``, parsed with the SMTP policy and given to
  :meth:`EnvelopeMailer.send_to <crm_procedures.ports.EnvelopeMailer.send_to>`
  with the recipients still open (or to :meth:`Mailer.send
  <crm_procedures.ports.Mailer.send>` for a mailer without ``send_to``);
* ``"calendar"``: ``{"action": "publish" | "cancel", "appointment": <the
  appointment as plain data>}``, given to :meth:`Calendar.publish
  <crm_procedures.ports.Calendar.publish>` or ``cancel``.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage

import attrs

from crm_procedures.errors import ConcurrencyConflict, DeliveryError, InvalidInput, StoreBusy
from crm_procedures.formats.mime import envelope_of, message_id_for
from crm_procedures.model._checks import require_aware
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.outbox import (
    DeliveryOutcome,
    OutboxMessage,
    OutboxStatus,
    RecipientOutcome,
    RecipientState,
    check_lease_seconds,
)
from crm_procedures.ports import Calendar, ChannelSender, Clock, Mailer, Store, UnitOfWork
from crm_procedures.serialization import structure

__all__ = [
    "CalendarSender",
    "DispatchReport",
    "DispatchStop",
    "MailSender",
    "channel_senders",
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
        delivered: messages every recipient accepted.
        retried: messages that wait for another attempt (a failure, or
            recipients the server deferred).
        failed: messages that failed for good (nobody received them).
        errors: ``(message id, error text)`` of every failed attempt or refusal.
        partially_failed: messages some recipients accepted and others refused.
        lost_leases: claimed messages not sent because another dispatcher
            holds them by now (the fence).
    """

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    errors: tuple[tuple[str, str], ...] = ()
    partially_failed: int = 0
    lost_leases: int = 0

    def __add__(self, other: DispatchReport) -> DispatchReport:
        return DispatchReport(
            self.claimed + other.claimed,
            self.delivered + other.delivered,
            self.retried + other.retried,
            self.failed + other.failed,
            self.errors + other.errors,
            self.partially_failed + other.partially_failed,
            self.lost_leases + other.lost_leases,
        )


_MAX_BACKOFF = 366 * 24 * 3600.0


def exponential_backoff(
    base_seconds: float = 30.0, factor: float = 2.0, cap_seconds: float = 6 * 3600.0
) -> Callable[[int], timedelta]:
    """A deterministic backoff: ``base * factor ** (attempts - 1)``, at most ``cap``.

    The returned function takes the number of attempts made so far (1 after
    the first) and returns how long to wait before the next.
    """
    numbers = (base_seconds, factor, cap_seconds)
    if any(isinstance(n, bool) or not isinstance(n, (int, float)) for n in numbers) or not (
        0 <= base_seconds <= _MAX_BACKOFF
        and 1 <= factor <= 1e6
        and 0 <= cap_seconds <= _MAX_BACKOFF
    ):
        raise InvalidInput(
            "backoff",
            f"needs 0 <= base <= {_MAX_BACKOFF:.0f}, 1 <= factor <= 1e6 and "
            f"0 <= cap <= {_MAX_BACKOFF:.0f} (seconds)",
            numbers,
        )

    def delay(attempts: int) -> timedelta:
        exponent = min(max(int(attempts) - 1, 0), 64)
        try:
            seconds = min(base_seconds * factor**exponent, cap_seconds)
        except OverflowError:
            seconds = cap_seconds
        return timedelta(seconds=seconds)

    return delay


_DEFAULT_BACKOFF = exponential_backoff()


def parse_mail(message: OutboxMessage) -> EmailMessage:
    """The e-mail of a ``mail`` message, parsed with the SMTP policy.

    A message text without a ``Message-ID`` gets one derived from the
    outbox key, so that every retry carries the same id: ``<key>`` (a key
    with ``@``) or ``<key@crm-procedures.invalid>``, or, when the key is no
    valid msg-id (it holds ``:`` or spaces), ``<sha256(key)[:32]@crm-procedures.invalid>``.

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
        derived = f"<{key}>" if "@" in key else f"<{key}@crm-procedures.invalid>"
        parsed["Message-ID"] = derived
        if parsed["Message-ID"] != derived:
            # Not a valid msg-id (a key such as "prospect:p-1:entry:2:mail"
            # holds colons): the header would be cut to "<prospect", one id for
            # many messages. A digest of the key is always valid and as stable.
            del parsed["Message-ID"]
            parsed["Message-ID"] = message_id_for(message.key, "outbox@crm-procedures.invalid")
    return parsed


def _calendar_call(message: OutboxMessage) -> tuple[str, Appointment]:
    action = message.payload.get("action")
    if action not in ("publish", "cancel"):
        raise InvalidInput("payload.action", "must be 'publish' or 'cancel'", action)
    data = message.payload.get("appointment")
    if not isinstance(data, Mapping):
        raise InvalidInput("payload.appointment", "must hold the appointment as plain data")
    return str(action), structure(dict(data), Appointment, path="payload.appointment")


_FINAL = (RecipientState.ACCEPTED, RecipientState.REFUSED)


def envelope(message: OutboxMessage) -> list[str] | None:
    """The recipients a message is delivered to, or None for a channel without them.

    A ``mail`` message holds its envelope in ``payload["recipients"]``
    (stored when it was built). A mail message recorded by an older version
    has none; its envelope is then read from its headers, the one case where
    they are re-parsed.
    """
    stored = message.envelope
    if stored is not None or message.channel != MAIL:
        return stored
    return envelope_of(parse_mail(message))


def open_recipients(message: OutboxMessage, recipients: Sequence[str]) -> list[str]:
    """The recipients of ``recipients`` not yet accepted nor refused for good."""
    done = {a for a, o in message.recipients.items() if o.state in _FINAL}
    return [a for a in recipients if a not in done]


def _check_limit(limit: object) -> None:
    """Raise InvalidInput unless ``limit`` is a whole number >= 0."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidInput("limit", "must be a whole number >= 0", limit)


def _check_message(message: object) -> None:
    if not isinstance(message, OutboxMessage):
        raise InvalidInput("message", "must be an OutboxMessage", type(message).__name__)


class MailSender:
    """The :class:`~crm_procedures.ports.ChannelSender` of the ``mail`` channel.

    Parses the stored text and delivers it to the recipients still open, with
    :meth:`EnvelopeMailer.send_to <crm_procedures.ports.EnvelopeMailer.send_to>`
    when the mailer has it (per-recipient outcome), else with ``send``.
    """

    def __init__(self, mailer: Mailer) -> None:
        if not callable(getattr(mailer, "send", None)):
            raise InvalidInput("mailer", "must have a send(message) method", type(mailer).__name__)
        self.mailer = mailer

    def deliver(self, message: OutboxMessage) -> DeliveryOutcome:
        """Deliver one ``mail`` message to its open recipients.

        Raises:
            InvalidInput: ``message`` is not an outbox message holding an e-mail.
            DeliveryError: the mailer's failure.
        """
        _check_message(message)
        parsed = parse_mail(message)
        recipients = envelope(message) or []
        send_to = getattr(self.mailer, "send_to", None)
        if callable(send_to):
            outcome = send_to(parsed, open_recipients(message, recipients))
            if not isinstance(outcome, DeliveryOutcome):
                raise DeliveryError(
                    f"{type(self.mailer).__name__}.send_to returned {outcome!r}, "
                    "not a DeliveryOutcome"
                )
            return outcome
        self.mailer.send(parsed)
        return DeliveryOutcome()


class CalendarSender:
    """The :class:`~crm_procedures.ports.ChannelSender` of the ``calendar`` channel."""

    def __init__(self, calendar: Calendar) -> None:
        for method in ("publish", "cancel"):
            if not callable(getattr(calendar, method, None)):
                raise InvalidInput(
                    "calendar", f"must have a {method}(appointment) method", type(calendar).__name__
                )
        self.calendar = calendar

    def deliver(self, message: OutboxMessage) -> DeliveryOutcome:
        """Publish or cancel the appointment the message holds.

        Raises:
            InvalidInput: ``message`` is not an outbox message holding an appointment.
            DeliveryError: the calendar's failure.
        """
        _check_message(message)
        action, appointment = _calendar_call(message)
        if action == "publish":
            self.calendar.publish(appointment)
        else:
            self.calendar.cancel(appointment)
        return DeliveryOutcome()


def channel_senders(
    mailer: Mailer | None = None,
    calendar: Calendar | None = None,
    senders: Mapping[str, ChannelSender] | None = None,
) -> dict[str, ChannelSender]:
    """The registry of channel senders: ``mail`` and ``calendar`` from their ports,
    then the host's own (``senders``, which may also replace those two)."""
    registry: dict[str, ChannelSender] = {}
    if mailer is not None:
        registry[MAIL] = MailSender(mailer)
    if calendar is not None:
        registry[CALENDAR] = CalendarSender(calendar)
    if senders is not None and not isinstance(senders, Mapping):
        raise InvalidInput("senders", "must map channel names to senders", senders)
    for channel, sender in (senders or {}).items():
        if not isinstance(channel, str) or not channel.strip():
            raise InvalidInput("senders", "channel names must be non-empty text", channel)
        if not callable(getattr(sender, "deliver", None)):
            raise InvalidInput(f"senders[{channel}]", "must have a deliver(message) method")
        registry[channel] = sender
    return registry


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


def _start(
    store: Store, message: OutboxMessage, now: datetime, lease_seconds: float
) -> OutboxMessage | None:
    """The fence: renew this claim's lease and count the try, in its own transaction."""
    token = message.lease_token
    if token is None:
        return None
    try:
        with store.unit_of_work() as uow:
            started = uow.outbox.start_attempt(message.id, token, now, lease_seconds)
            uow.commit()
    except ConcurrencyConflict:
        return None
    return started


@attrs.frozen
class _Try:
    """What one delivery try gave: an outcome, or an error for the whole message.

    ``envelope`` lists every recipient of the message (None for a channel
    without recipients); ``tried`` those this try was for.
    """

    token: str | None
    envelope: tuple[str, ...] | None
    tried: tuple[str, ...] = ()
    outcome: DeliveryOutcome | None = None
    error: str | None = None
    permanent: bool = False


_ACCEPTED = RecipientOutcome(RecipientState.ACCEPTED, 250, "")


def _describe(error: str | None, states: Mapping[str, RecipientOutcome]) -> str | None:
    parts = [error] if error else []
    parts.extend(
        f"{address}: {o.state.value} {o.code if o.code is not None else ''} {o.detail}".strip()
        for address, o in sorted(states.items())
        if o.state is not RecipientState.ACCEPTED
    )
    return "; ".join(parts) if parts else None


def settle(
    message: OutboxMessage,
    tried: _Try,
    now: datetime,
    max_attempts: int,
    backoff: Callable[[int], timedelta],
) -> OutboxMessage:
    """The message after one try: per-recipient states merged, status decided.

    Accepted and refused recipients are final. Deferred ones (all open ones
    after a temporary failure of the whole message) are retried after
    ``backoff(attempts)`` until ``max_attempts`` tries were made; then they
    count as refused. The status is ``delivered`` when every recipient
    accepted, ``partially_failed`` when some did, ``failed`` when none did.
    When another claim holds the message by now, only the states are merged
    (its lease is left alone) unless the message is finished.
    """
    states = dict(message.recipients)
    if tried.error is None and tried.outcome is not None:
        for address in tried.tried:
            held = states.get(address)
            if held is not None and held.state in _FINAL:
                continue
            states[address] = tried.outcome.recipients.get(address, _ACCEPTED)
    everyone = tried.envelope
    if everyone is None or not everyone:
        still_open = ["(the message)"] if tried.error is not None else []
    else:
        still_open = [
            a for a in everyone if a not in states or states[a].state is RecipientState.DEFERRED
        ]
    give_up = tried.permanent or message.attempts >= max_attempts
    if still_open and not give_up:
        last_error = _describe(tried.error, states)
        if message.lease_token != tried.token:  # another claim holds it now
            return attrs.evolve(message, recipients=states, last_error=last_error)
        return attrs.evolve(
            message,
            status=OutboxStatus.PENDING,
            recipients=states,
            last_error=last_error,
            due_at=now + backoff(message.attempts),
            lease_token=None,
        )
    if not everyone:
        accepted = tried.error is None
        status = OutboxStatus.DELIVERED if accepted else OutboxStatus.FAILED
    else:
        reason = tried.error or f"still deferred after {message.attempts} attempts"
        for address in still_open:
            held = states.get(address)
            code = held.code if held is not None else None
            states[address] = RecipientOutcome(RecipientState.REFUSED, code, reason)
        count = sum(1 for a in everyone if states[a].state is RecipientState.ACCEPTED)
        accepted = count > 0
        if count == len(everyone):
            status = OutboxStatus.DELIVERED
        else:
            status = OutboxStatus.PARTIALLY_FAILED if accepted else OutboxStatus.FAILED
    return attrs.evolve(
        message,
        status=status,
        recipients=states,
        last_error=None if status is OutboxStatus.DELIVERED else _describe(tried.error, states),
        delivered_at=now if accepted else message.delivered_at,
        lease_token=None,
    )


def _settle(
    message_id: str,
    tried: _Try,
    now: datetime,
    max_attempts: int,
    backoff: Callable[[int], timedelta],
    into: list[OutboxMessage],
) -> Callable[[UnitOfWork], None]:
    def action(uow: UnitOfWork) -> None:
        into.clear()
        current = uow.outbox.get(message_id)
        if current.status is not OutboxStatus.PENDING:
            into.append(current)
            return  # settled already (by a dispatcher whose lease ran out, or a person)
        new = settle(current, tried, now, max_attempts, backoff)
        into.append(uow.outbox.record(new))

    return action


def dispatch_once(
    store: Store,
    clock: Clock,
    mailer: Mailer | None = None,
    calendar: Calendar | None = None,
    *,
    senders: Mapping[str, ChannelSender] | None = None,
    limit: int = 100,
    lease_seconds: float = 60.0,
    max_attempts: int = 8,
    backoff: Callable[[int], timedelta] = _DEFAULT_BACKOFF,
) -> DispatchReport:
    """Claim up to ``limit`` due messages and deliver them; returns what happened.

    Only channels with a sender are claimed (``mail`` with ``mailer``,
    ``calendar`` with ``calendar``, and each of ``senders``: a host's own
    channels, which get the same leases, retries and backoff). When another
    dispatcher holds the claim, the round claims nothing.

    Fencing: the claim gives every message a lease token. Right before a
    message is handed to its sender, its own short transaction checks that
    the token still holds the message and renews the lease (and counts the
    try); a message another dispatcher claimed meanwhile is left to it
    (``lost_leases``). ``lease_seconds`` must therefore exceed the longest
    single delivery (the SMTP time-out), not the whole batch.

    Exceptions that are not ``Exception`` (a ``KeyboardInterrupt``, a process
    being stopped) propagate: a message being delivered stays leased and is
    delivered again after the lease.

    Raises:
        InvalidInput: bad arguments (a naive clock, ``max_attempts < 1``).
    """
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise InvalidInput("max_attempts", "must be a whole number of at least 1", max_attempts)
    check_lease_seconds(lease_seconds)
    _check_limit(limit)
    if not callable(backoff):
        raise InvalidInput("backoff", "must be a function of the attempts made", backoff)
    registry = channel_senders(mailer, calendar, senders)
    if not registry:
        return DispatchReport()
    now = _now(clock)
    try:
        with store.unit_of_work() as uow:
            claimed = uow.outbox.claim_due(now, limit, lease_seconds, sorted(registry))
            uow.commit()
    except (ConcurrencyConflict, StoreBusy):
        return DispatchReport()
    counts = dict.fromkeys(OutboxStatus, 0)
    lost = retried = 0
    errors: list[tuple[str, str]] = []
    for message in claimed:
        started = _start(store, message, _now(clock), lease_seconds)
        if started is None:
            lost += 1
            continue
        tried = _deliver(started, registry)
        if tried.error is not None:
            errors.append((message.id, tried.error))
        settled: list[OutboxMessage] = []
        _record(store, _settle(message.id, tried, _now(clock), max_attempts, backoff, settled))
        if not settled:
            continue
        final = settled[0]
        if final.status is OutboxStatus.PENDING:
            retried += 1
            if tried.error is None and final.last_error:
                errors.append((message.id, final.last_error))
        else:
            counts[final.status] += 1
            if final.status is not OutboxStatus.DELIVERED and tried.error is None:
                errors.append((message.id, final.last_error or ""))
    return DispatchReport(
        len(claimed),
        counts[OutboxStatus.DELIVERED],
        retried,
        counts[OutboxStatus.FAILED],
        tuple(errors),
        partially_failed=counts[OutboxStatus.PARTIALLY_FAILED],
        lost_leases=lost,
    )


def _deliver(message: OutboxMessage, registry: Mapping[str, ChannelSender]) -> _Try:
    token = message.lease_token
    everyone: tuple[str, ...] | None = None
    try:
        found = envelope(message)
        everyone = None if found is None else tuple(found)
        tried = () if everyone is None else tuple(open_recipients(message, everyone))
        sender = registry.get(message.channel)
        if sender is None:
            raise DeliveryError(f"no sender for channel {message.channel!r}", permanent=True)
        outcome = sender.deliver(message)
    except Exception as exc:
        # Any failure of the try is recorded against the message, never raised
        # out of the dispatcher: that is the outbox's contract.
        permanent = isinstance(exc, InvalidInput) or (
            isinstance(exc, DeliveryError) and exc.permanent
        )
        error = f"{type(exc).__name__}: {exc}"
        return _Try(token, everyone, error=error, permanent=permanent)
    return _Try(token, everyone, tried, outcome=outcome)


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
    senders: Mapping[str, ChannelSender] | None = None,
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
    if stop is not None and not callable(stop):
        raise InvalidInput("stop", "must be a function returning True to stop", stop)
    if max_rounds is not None and (
        isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 0
    ):
        raise InvalidInput("max_rounds", "must be a whole number >= 0", max_rounds)
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not 0 <= interval <= 24 * 3600
    ):
        raise InvalidInput("interval", "must be 0 to 86400 seconds", interval)
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
            senders=senders,
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
