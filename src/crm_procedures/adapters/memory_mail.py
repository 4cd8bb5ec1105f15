"""In-memory Mailer and Calendar adapters, for tests and demos (X1, X6).

:class:`MemoryMailer` keeps every delivered message and delivers a Message-ID
once; it can be told to fail (a number of times, or at a rate) so that
retry logic can be exercised. :class:`MemoryCalendar` keeps appointments by
UID and ignores an update whose SEQUENCE is not higher than the one it holds
(a cancellation at the same SEQUENCE still cancels).
"""

from __future__ import annotations

import random
from email.message import EmailMessage, Message
from typing import Any

import attrs

from crm_procedures.errors import DeliveryError, InvalidInput
from crm_procedures.model.appointment import Appointment, AppointmentStatus

__all__ = ["MemoryCalendar", "MemoryMailer"]


def message_id_of(message: Any) -> str:
    """The Message-ID of an e-mail message. Raises InvalidInput when it has none."""
    if not isinstance(message, Message):
        raise InvalidInput("message", "must be an email.message.EmailMessage", message)
    mid = message.get("Message-ID")
    if not mid:
        raise InvalidInput("message", "has no Message-ID; build it with build_email", None)
    return str(mid).strip()


class MemoryMailer:
    """A Mailer that keeps messages in a list (``sent``) instead of sending them.

    A Message-ID already delivered is not delivered again (``duplicates``
    counts the attempts). ``fail_next(n, permanent=False)`` makes the next
    ``n`` sends raise :class:`~crm_procedures.errors.DeliveryError`;
    ``failure_rate`` (0..1, with ``seed``) fails sends at random, temporarily.
    """

    def __init__(self, *, failure_rate: float = 0.0, seed: int | None = None) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise InvalidInput("failure_rate", "must lie between 0 and 1", failure_rate)
        self.sent: list[EmailMessage] = []
        self.attempts = 0
        self.duplicates = 0
        self.failure_rate = failure_rate
        self._random = random.Random(seed)
        self._fail: list[bool] = []
        self._ids: set[str] = set()

    def fail_next(self, times: int = 1, *, permanent: bool = False) -> None:
        """Make the next ``times`` calls of :meth:`send` raise DeliveryError."""
        self._fail.extend([permanent] * times)

    def send(self, message: Any) -> None:
        """Record ``message`` unless its Message-ID was delivered before.

        Raises:
            DeliveryError: when told to fail (see :meth:`fail_next`, ``failure_rate``).
            InvalidInput: the message has no Message-ID.
        """
        mid = message_id_of(message)
        self.attempts += 1
        if self._fail:
            permanent = self._fail.pop(0)
            raise DeliveryError(
                f"memory mailer told to fail ({'permanent' if permanent else 'temporary'})",
                permanent=permanent,
            )
        if self.failure_rate and self._random.random() < self.failure_rate:
            raise DeliveryError("memory mailer: simulated temporary failure", permanent=False)
        if mid in self._ids:
            self.duplicates += 1
            return
        self._ids.add(mid)
        self.sent.append(message)

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
