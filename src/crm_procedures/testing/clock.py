"""A frozen, steppable clock for tests and simulations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_procedures.model._checks import require_aware

__all__ = ["FrozenClock"]


class FrozenClock:
    """A :class:`~crm_procedures.ports.Clock` that stands still until told to move.

    ``FrozenClock(datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Europe/Amsterdam")))``;
    ``advance(hours=2)`` moves it forward; ``set(at)`` jumps. Raises
    :class:`~crm_procedures.errors.InvalidInput` for a naive datetime or a move
    backwards.
    """

    def __init__(self, at: datetime | None = None) -> None:
        self._now = (
            require_aware(at, "at") if at is not None else datetime(2026, 1, 5, 9, tzinfo=UTC)
        )

    def now(self) -> datetime:
        """The clock's current time."""
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; returns the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            from crm_procedures.errors import InvalidInput

            raise InvalidInput("delta", "a clock only moves forward", step)
        self._now = self._now + step
        return self._now

    def set(self, at: datetime) -> None:
        """Jump to ``at`` (timezone-aware, not before the current time)."""
        at = require_aware(at, "at")
        if at < self._now:
            from crm_procedures.errors import InvalidInput

            raise InvalidInput("at", "a clock only moves forward", at)
        self._now = at
