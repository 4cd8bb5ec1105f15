"""The host's own fixtures: its procedure, a clock in its time zone, its users.

``crm_app``, ``crm_clock``, ``crm_outbox`` and ``crm_definitions`` come from the
crm_procedures pytest plugin; overriding them is all it takes to run the
host's own procedure with its own step kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from onboarding import DealerOnboarding, onboarding_definitions, onboarding_step_kinds

from crm_procedures import CrmApp, Definitions
from crm_procedures.testing import FrozenClock, a_group, a_relation, a_user, in_memory_app

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def crm_definitions() -> Definitions:
    return onboarding_definitions()


@pytest.fixture
def crm_clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=AMSTERDAM))


@pytest.fixture
def crm_app(crm_clock: FrozenClock, crm_definitions: Definitions) -> Iterator[CrmApp]:
    """The plugin's in-memory app, with the host's own step kinds registered."""
    app = in_memory_app(
        crm_definitions,
        crm_clock,
        sender_name="Fietsgroothandel",
        step_kinds=onboarding_step_kinds(),
    )
    yield app
    app.close()


@pytest.fixture
def season(crm_app: CrmApp) -> DealerOnboarding:
    """An opened season with an office user and an account manager."""
    with crm_app.store.unit_of_work() as uow:
        uow.groups.add(
            a_group(
                id="office",
                permissions={
                    "project.write",
                    "prospect.write",
                    "prospect.read_preparing",
                    "report.read",
                },
            )
        )
        uow.groups.add(a_group(id="field", permissions={"prospect.write", "activity.write"}))
        uow.users.add(a_user(id="sanne", name="Sanne de Wit", groups={"office"}))
        uow.users.add(a_user(id="tomek", name="Tomek Kowalski", groups={"field"}))
        uow.relations.add(a_relation(id="wholesaler", name="Fietsgroothandel B.V."))
        uow.commit()
    onboarding = DealerOnboarding(crm_app, office="sanne", manager="tomek")
    onboarding.open_season("wholesaler", "Dealers spring 2026")
    return onboarding
