"""An application wired to in-memory adapters, for tests and demos (X6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_procedures.errors import InvalidInput
from crm_procedures.ports import Clock
from crm_procedures.services.app import CrmApp
from crm_procedures.testing.clock import FrozenClock

if TYPE_CHECKING:
    from crm_procedures.procedures.procedure import Definitions

__all__ = ["in_memory_app"]

_SETTINGS = ("language", "sender_email", "sender_name", "step_kinds")


def in_memory_app(
    definitions: Definitions | None = None,
    clock: Clock | None = None,
    **settings: Any,
) -> CrmApp:
    """A :class:`~crm_procedures.services.app.CrmApp` on in-memory adapters.

    Store :class:`~crm_procedures.adapters.memory.MemoryStore`, mailer
    :class:`~crm_procedures.adapters.memory_mail.MemoryMailer`, calendar
    :class:`~crm_procedures.adapters.memory_mail.MemoryCalendar`, blobs
    :class:`~crm_procedures.adapters.blobs.MemoryBlobStore`, and a
    :class:`~crm_procedures.testing.clock.FrozenClock` unless ``clock`` is
    given. ``definitions`` default to the standard procedure
    (:func:`~crm_procedures.procedures.standard.standard_definitions`).
    ``settings`` are the facade's settings: ``language``, ``sender_email``,
    ``sender_name``, ``step_kinds`` (the host's own :class:`StepKind` objects).

    Raises:
        InvalidInput: an unknown setting.
    """
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise InvalidInput(
            "settings", f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(_SETTINGS)}"
        )
    # Imported here: these adapters belong to the library's optional parts.
    from crm_procedures.adapters.blobs import MemoryBlobStore
    from crm_procedures.adapters.memory import MemoryStore
    from crm_procedures.adapters.memory_mail import MemoryCalendar, MemoryMailer

    if definitions is None:
        from crm_procedures.procedures.standard import standard_definitions

        definitions = standard_definitions()
    return CrmApp(
        store=MemoryStore(),
        clock=clock if clock is not None else FrozenClock(),
        definitions=definitions,
        mailer=MemoryMailer(),
        calendar=MemoryCalendar(),
        blobs=MemoryBlobStore(),
        **settings,
    )
