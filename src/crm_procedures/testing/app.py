"""An application wired to test adapters, for tests and demos (X6).

:func:`in_memory_app` runs on the memory store; :func:`make_app` on the store a
test run is configured for (memory, a new SQLite file, or any store URL), with
the same memory mailer, calendar and blob store.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_procedures.errors import InvalidInput
from crm_procedures.ports import Clock, Store
from crm_procedures.services.app import CrmApp
from crm_procedures.testing.clock import FrozenClock

if TYPE_CHECKING:
    from crm_procedures.procedures.procedure import Definitions

__all__ = ["STORE_CHOICES", "in_memory_app", "make_app"]

_SETTINGS = ("language", "sender_email", "sender_name", "step_kinds")
_PORTS = ("store", "clock", "definitions", "mailer", "calendar", "blobs")

STORE_CHOICES = ("memory", "sqlite")
"""The store names :func:`make_app` takes besides a URL: the memory store, a new SQLite file."""


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


def _options() -> tuple[str, ...]:
    import attrs

    return tuple(f.name for f in attrs.fields(CrmApp) if f.init and f.name not in _PORTS)


def make_app(
    store: str = "memory",
    definitions: Definitions | None = None,
    clock: Clock | None = None,
    *,
    directory: Path | None = None,
    **options: Any,
) -> CrmApp:
    """A :class:`~crm_procedures.services.app.CrmApp` on the store named by ``store``.

    ``store`` is ``"memory"`` (a :class:`~crm_procedures.adapters.memory.MemoryStore`),
    ``"sqlite"`` (a new SQLite file ``crm.db`` in ``directory``, which must be
    given and empty of it) or a store URL for
    :func:`~crm_procedures.adapters.sql.open_store` (``sqlite:///path.db``,
    ``postgresql://...``; the schema is created when missing). Mailer,
    calendar and blob store are the memory ones, the clock a
    :class:`~crm_procedures.testing.clock.FrozenClock` unless ``clock`` is
    given, the definitions the standard procedure unless given. ``options``
    are the application's other keyword arguments (``language``,
    ``sender_email``, ``sender_name``, and any the installed version adds,
    such as its step kinds).

    Raises:
        InvalidInput: an unknown store name or option, or ``"sqlite"`` without
            a directory.
    """
    known = _options()
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidInput(
            "options", f"unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    if not isinstance(store, str) or not (store in STORE_CHOICES or "://" in store):
        raise InvalidInput(
            "store",
            "must be memory, sqlite or a store URL such as sqlite:///crm.db",
            store,
        )
    if store == "memory":
        from crm_procedures.adapters.memory import MemoryStore

        made: Store = MemoryStore()
    else:
        if store == "sqlite":
            if directory is None:
                raise InvalidInput("directory", "is needed for a new SQLite file (store='sqlite')")
            store = f"sqlite:///{Path(directory) / 'crm.db'}"
        from crm_procedures.adapters.sql import open_store

        made = open_store(store)
    from crm_procedures.adapters.blobs import MemoryBlobStore
    from crm_procedures.adapters.memory_mail import MemoryCalendar, MemoryMailer

    if definitions is None:
        from crm_procedures.procedures.standard import standard_definitions

        definitions = standard_definitions()
    try:
        return CrmApp(
            store=made,
            clock=clock if clock is not None else FrozenClock(),
            definitions=definitions,
            mailer=MemoryMailer(),
            calendar=MemoryCalendar(),
            blobs=MemoryBlobStore(),
            **options,
        )
    except BaseException:
        made.close()
        raise
