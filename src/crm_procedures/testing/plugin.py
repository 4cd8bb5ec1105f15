"""The pytest plugin of the testing kit (registered through the ``pytest11`` entry point).

Installing crm_procedures makes these fixtures available in every test suite:

* ``crm_clock``: a :class:`~crm_procedures.testing.clock.FrozenClock` at
  Monday 2026-01-05 09:00 UTC; move it with ``advance(hours=2)``.
* ``crm_app``: a :class:`~crm_procedures.services.app.CrmApp` on in-memory
  adapters (see :func:`~crm_procedures.testing.app.in_memory_app`), using
  ``crm_clock`` and the definitions of the ``crm_definitions`` fixture.
* ``crm_definitions``: the definitions ``crm_app`` runs; ``None`` (the
  standard procedure) unless a test suite overrides the fixture, for
  example with ``load_definitions("procedure.toml")``.
* ``crm_store``: the app's store.
* ``crm_outbox``: an :class:`OutboxView` of the app: the e-mails and
  invitations recorded, and ``dispatch()`` to deliver them to the memory
  mailer and calendar.

Before each test the builders' id counters start again at 1, so ids in
failure messages are the same on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from crm_procedures.testing.clock import FrozenClock

if TYPE_CHECKING:
    from crm_procedures.ports import Store
    from crm_procedures.services.app import CrmApp
    from crm_procedures.testing.assertions import Invitation, SentMessage

__all__ = [
    "OutboxView",
    "crm_app",
    "crm_clock",
    "crm_definitions",
    "crm_outbox",
    "crm_store",
]


class OutboxView:
    """The messages of one app, for the ``crm_outbox`` fixture.

    ``messages`` and ``invitations`` list what was recorded or delivered;
    ``dispatch()`` runs one round of the outbox dispatcher with the app's
    memory mailer and calendar and returns how many messages it delivered.
    """

    def __init__(self, app: CrmApp) -> None:
        self.app = app

    @property
    def messages(self) -> list[SentMessage]:
        """Every e-mail sent (see :func:`~crm_procedures.testing.assertions.sent_messages`)."""
        from crm_procedures.testing.assertions import sent_messages

        return sent_messages(self.app)

    @property
    def invitations(self) -> list[Invitation]:
        """Every invitation sent (see :func:`~crm_procedures.testing.assertions.invitations`)."""
        from crm_procedures.testing.assertions import invitations

        return invitations(self.app)

    def dispatch(self) -> int:
        """Deliver the due messages to the app's memory mailer and calendar; returns how many."""
        from crm_procedures.services.outbox import dispatch_once

        report = dispatch_once(
            self.app.store, self.app.clock, self.app.mailer, self.app.calendar, limit=10_000
        )
        return report.delivered

    def __len__(self) -> int:
        return len(self.messages)


@pytest.fixture(autouse=True)
def _crm_reset_builder_ids() -> None:
    from crm_procedures.testing.builders import reset_ids

    reset_ids()


@pytest.fixture
def crm_clock() -> FrozenClock:
    """A frozen clock at Monday 2026-01-05 09:00 UTC; advance it with ``advance()``."""
    return FrozenClock()


@pytest.fixture
def crm_definitions() -> Any:
    """The definitions of ``crm_app``: ``None`` means the standard procedure.

    Override this fixture in a ``conftest.py`` to run the app with your own.
    """
    return None


@pytest.fixture
def crm_app(crm_clock: FrozenClock, crm_definitions: Any) -> Iterator[CrmApp]:
    """A CrmApp on in-memory adapters with ``crm_clock``; closed after the test."""
    from crm_procedures.testing.app import in_memory_app

    app = in_memory_app(crm_definitions, crm_clock)
    yield app
    app.close()


@pytest.fixture
def crm_store(crm_app: CrmApp) -> Store:
    """The store of ``crm_app`` (a MemoryStore)."""
    return crm_app.store


@pytest.fixture
def crm_outbox(crm_app: CrmApp) -> OutboxView:
    """The messages ``crm_app`` recorded, and ``dispatch()`` to deliver them."""
    return OutboxView(crm_app)
