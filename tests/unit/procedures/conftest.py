"""Fixtures for the procedure engine tests: the standard procedure and prospects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from crm_procedures.ids import ContactId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model.prospect import Prospect, ProspectStatus
from crm_procedures.procedures.procedure import Definitions, Procedure
from crm_procedures.procedures.standard import standard_definitions

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MARKETEER = UserId("ann")
CLIENT_EMPLOYEE = UserId("carl")
LEADER = UserId("lea")


@pytest.fixture
def definitions() -> Definitions:
    return standard_definitions()


@pytest.fixture
def standard(definitions: Definitions) -> Procedure:
    return definitions.procedure("standard")


def make_prospect(
    status: ProspectStatus = ProspectStatus.RUNNING, last_step: str | None = None
) -> Prospect:
    return Prospect(
        ProspectId("p1"),
        ProjectId("campaign"),
        RelationId("acme"),
        ContactId("jansen"),
        status=status,
        last_step=last_step,
    )


@pytest.fixture
def new_prospect() -> Callable[..., Prospect]:
    return make_prospect
