"""In-memory Mailer and Calendar adapters, for tests and demos (X1, X6).

:class:`MemoryMailer` keeps every delivered message and delivers a Message-ID
once; it can be told to fail (a number of times, or at a rate) so that
retry logic can be exercised. :class:`MemoryCalendar` keeps appointments by
UID and ignores an update whose SEQUENCE is not higher than the one it holds
(a cancellation at the same SEQUENCE still cancels).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from email.message import EmailMessage, Message
from typing import Any

import attrs

from crm_procedures.errors import DeliveryError, InvalidInput
from crm_procedures.formats.mime import envelope_of
from crm_procedures.model._email import is_sendable_email
from crm_procedures.model.appointment import Appointment, AppointmentStatus
from crm_procedures.model.outbox import DeliveryOutcome, RecipientOutcome, RecipientState

__all__ = ["MemoryCalendar", "MemoryMailer"]


def message_id_of(message: Any) -> str:
    """The Message-ID of an e-mail message. Raises InvalidInput when it has none."""
    if not isinstance(message, Message):
        raise InvalidInput("message", "must be an email.message.EmailMessage", message)
    mid = message.get("Message-ID")
    if not mid:
        raise InvalidInput("message", "has no Message-ID; build it with build_email", None)
    return str(mid).strip()


def _envelope(recipients: Any) -> list[str]:
    if isinstance(recipients, (str, bytes)) or not isinstance(recipients, Iterable):
        raise InvalidInput("recipients", "must list at least one address", recipients)
    envelope = list(recipients)
    if not envelope:
        raise InvalidInput("recipients", "must list at least one address", recipients)
    for address in envelope:
        if not is_sendable_email(address):
            raise InvalidInput("recipients", f"{address!r} is not an e-mail address", address)
    return envelope


class MemoryMailer:
    """A Mailer that keeps messages in a list (``sent``) instead of sending them.

    A Message-ID already delivered to a recipient is not delivered to that
    recipient again; a send that reaches nobody new counts in ``duplicates``.
    ``deliveries`` maps each Message-ID to the recipients it reached, in order.
    ``fail_next(n, permanent=False)`` makes the next ``n`` sends raise
    :class:`~crm_procedures.errors.DeliveryError`; ``failure_rate`` (0..1,
    with ``seed``) fails sends at random, temporarily. ``answer(address,
    *codes)`` scripts the server's reply to one recipient: each try takes the
    next code (4xx defers, 5xx refuses, 2xx accepts; accepted when none is left).
    """

    def __init__(self, *, failure_rate: float = 0.0, seed: int | None = None) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise InvalidInput("failure_rate", "must lie between 0 and 1", failure_rate)
        self.sent: list[EmailMessage] = []
        self.deliveries: dict[str, list[str]] = {}
        self.attempts = 0
        self.duplicates = 0
        self.failure_rate = failure_rate
        self._random = random.Random(seed)
        self._fail: list[bool] = []
        self._answers: dict[str, list[int]] = {}

    def fail_next(self, times: int = 1, *, permanent: bool = False) -> None:
        """Make the next ``times`` calls of :meth:`send` raise DeliveryError."""
        self._fail.extend([permanent] * times)

    def answer(self, address: str, *codes: int) -> None:
        """Reply to ``address`` with ``codes`` on its next tries (then accept it)."""
        if not is_sendable_email(address):
            raise InvalidInput("address", "must be an e-mail address", address)
        for code in codes:
            if isinstance(code, bool) or not isinstance(code, int) or not 200 <= code < 600:
                raise InvalidInput("codes", "must be SMTP reply codes 200..599", code)
        self._answers.setdefault(address.lower(), []).extend(codes)

    def send(self, message: Any) -> None:
        """Deliver ``message`` to the addresses of its To and Cc headers.

        Raises:
            DeliveryError: when told to fail (see :meth:`fail_next`,
                ``failure_rate``), or a recipient was not accepted.
            InvalidInput: the message has no Message-ID.
        """
        found = [a for a in envelope_of(message) if is_sendable_email(a)]
        outcome = self.send_to(message, found or ["undisclosed-recipients@example.invalid"])
        if outcome.recipients:
            permanent = all(o.state is RecipientState.REFUSED for o in outcome.recipients.values())
            raise DeliveryError(
                f"not every recipient was accepted: {sorted(outcome.recipients)}",
                permanent=permanent,
            )

    def send_to(self, message: Any, recipients: Sequence[str]) -> DeliveryOutcome:
        """Deliver ``message`` to ``recipients``; scripted refusals come back per recipient.

        Raises:
            DeliveryError: when told to fail (see :meth:`fail_next`, ``failure_rate``).
            InvalidInput: the message has no Message-ID, or no recipients.
        """
        mid = message_id_of(message)
        recipients = _envelope(recipients)
        self.attempts += 1
        if self._fail:
            permanent = self._fail.pop(0)
            raise DeliveryError(
                f"memory mailer told to fail ({'permanent' if permanent else 'temporary'})",
                permanent=permanent,
            )
        if self.failure_rate and self._random.random() < self.failure_rate:
            raise DeliveryError("memory mailer: simulated temporary failure", permanent=False)
        states: dict[str, RecipientOutcome] = {}
        accepted: list[str] = []
        for address in recipients:
            queue = self._answers.get(address.lower())
            code = queue.pop(0) if queue else 250
            if code >= 500:
                states[address] = RecipientOutcome(RecipientState.REFUSED, code, "refused")
            elif code >= 400:
                states[address] = RecipientOutcome(RecipientState.DEFERRED, code, "deferred")
            else:
                accepted.append(address)
        if accepted:
            reached = self.deliveries.setdefault(mid, [])
            new = [a for a in accepted if a.lower() not in {r.lower() for r in reached}]
            if not new:
                self.duplicates += 1
            elif not reached:
                self.sent.append(message)
            reached.extend(new)
        return DeliveryOutcome(states)

    @property
    def message_ids(self) -> list[str]:
        """The Message-IDs delivered, in order."""
        return [message_id_of(m) for m in self.sent]

    def to(self, address: str) -> list[EmailMessage]:
        """The delivered messages with ``address`` among To/Cc (case-insensitive)."""
        want = address.lower()
        out = []
        for m in self.sent:
            rcpts = [str(v) for h in ("To", "Cc") for v in m.get_all(h, [])]
            if any(want in r.lower() for r in rcpts):
                out.append(m)
        return out


class MemoryCalendar:
    """A Calendar that keeps the latest version of each appointment by UID.

    ``publish`` and ``cancel`` with a SEQUENCE older than or equal to the one
    held are ignored (``ignored`` counts them), so replays and out-of-order
    deliveries do no harm. ``fail_next`` works as on :class:`MemoryMailer`.
    """

    def __init__(self) -> None:
        self.events: dict[str, Appointment] = {}
        self.ignored = 0
        self._fail: list[bool] = []

    def fail_next(self, times: int = 1, *, permanent: bool = False) -> None:
        """Make the next ``times`` publish/cancel calls raise DeliveryError."""
        self._fail.extend([permanent] * times)

    def _accept(self, appointment: Appointment, cancelling: bool = False) -> bool:
        if self._fail:
            permanent = self._fail.pop(0)
            raise DeliveryError("memory calendar told to fail", permanent=permanent)
        held = self.events.get(appointment.uid)
        if held is None or appointment.sequence > held.sequence:
            return True
        # A cancellation is never lost: at the same SEQUENCE it still wins
        # over a confirmed version.
        if cancelling and appointment.sequence == held.sequence and not held.cancelled:
            return True
        self.ignored += 1
        return False

    def publish(self, appointment: Appointment) -> None:
        """Create or update (a higher SEQUENCE replaces what is held)."""
        if self._accept(appointment):
            self.events[appointment.uid] = appointment

    def cancel(self, appointment: Appointment) -> None:
        """Mark the appointment cancelled (kept, with status ``cancelled``).

        Accepted at a higher SEQUENCE, or at the same SEQUENCE as a confirmed
        version held (a cancellation is never dropped).
        """
        if self._accept(appointment, cancelling=True):
            self.events[appointment.uid] = (
                appointment
                if appointment.cancelled
                else _with_status(appointment, AppointmentStatus.CANCELLED)
            )

    def active(self) -> list[Appointment]:
        """The appointments held that are not cancelled, by start."""
        return sorted((a for a in self.events.values() if not a.cancelled), key=lambda a: a.start)


def _with_status(appointment: Appointment, status: AppointmentStatus) -> Appointment:
    return attrs.evolve(appointment, status=status)
