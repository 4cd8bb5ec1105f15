"""W9: a suspect becomes a prospect only when its first contact did not close it."""

from __future__ import annotations

from datetime import timedelta

from crm_procedures.ids import ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import EntryKind, Prospect, ProspectStatus, RelationStage
from crm_procedures.procedures import runtime
from crm_procedures.procedures.standard import standard_definitions
from crm_procedures.services.reports import report_queries

from .conftest import T0, World

PROC = standard_definitions().procedure("standard")
WHO = UserId("u-anna")
REASON = PROC.close_reasons[0]


def running(pid: str) -> Prospect:
    return Prospect(
        ProspectId(pid), ProjectId("P-W9"), RelationId("R-1"), None, ProspectStatus.RUNNING
    )


def test_defect_w9_closed_by_the_first_contact_stays_a_suspect() -> None:
    p = running("a")
    runtime.perform(PROC, p, "call", "marketeer", WHO, T0)
    assert p.stage is RelationStage.PROSPECT  # approached, not (yet) closed
    runtime.close(PROC, p, REASON, WHO, T0 + timedelta(minutes=5))
    assert str(p.stage) == RelationStage.SUSPECT.value
    assert (p.became_prospect_at, p.became_prospect_by) == (None, None)
    stages = [e.detail for e in p.history if e.kind is EntryKind.STAGE]
    assert stages == ["prospect", "suspect"]
    # reopened and contacted again: now the contact did not close it
    runtime.reopen(p, WHO, T0 + timedelta(days=1))
    runtime.perform(PROC, p, "call_back", "marketeer", WHO, T0 + timedelta(days=1))
    assert p.stage is RelationStage.PROSPECT


def test_closed_after_a_second_step_remains_a_prospect() -> None:
    p = running("b")
    runtime.perform(PROC, p, "call", "marketeer", WHO, T0)
    runtime.perform(PROC, p, "call_back", "marketeer", WHO, T0 + timedelta(hours=1))
    runtime.close(PROC, p, REASON, WHO, T0 + timedelta(hours=2))
    assert p.stage is RelationStage.PROSPECT
    assert p.became_prospect_at == T0


def test_the_funnel_counts_only_relations_the_first_contact_did_not_close(world: World) -> None:
    closed_at_once, went_on, untouched = running("a"), running("b"), running("c")
    for p in (closed_at_once, went_on):
        runtime.perform(PROC, p, "call", "marketeer", WHO, T0)
    runtime.perform(PROC, went_on, "call_back", "marketeer", WHO, T0)
    runtime.close(PROC, closed_at_once, REASON, WHO, T0)
    with world.store.unit_of_work() as uow:
        uow.projects.add(Project(ProjectId("P-W9"), RelationId("R-1"), "W9"))
        for p in (closed_at_once, went_on, untouched):
            uow.prospects.add(p)
        uow.commit()
    with world.store.unit_of_work(read_only=True) as uow:
        funnel = report_queries(uow).funnel("P-W9", None)
    assert (funnel.total, funnel.suspects, funnel.prospects) == (3, 2, 1)
    assert funnel.closed == {REASON: 1}
    assert funnel.steps["call"] == 2
