"""W8: prospect status preparing / running / closed, changeable at any moment, with
configurable close reasons; prospects in preparation are in no worklist. On every store."""

from __future__ import annotations

import pytest

from crm_procedures import EntryKind, InvalidInput, ProspectNotReleased, ProspectStatus
from crm_procedures.model.relation import Relation
from crm_procedures.services import campaigns
from integration.campaign import Campaign, snapshot
from integration.test_campaigns import do, stored, walk


def worklists(c: Campaign) -> set[str]:
    """The prospects in the marketeers' and the project leader's worklists."""
    ids = {p.id for p in campaigns.worklist(c.ctx, "ann", c.project.id, "marketeer")}
    return ids | {p.id for p in campaigns.worklist(c.ctx, "pia", c.project.id, "project_leader")}


def test_w8_preparing_prospects_are_in_no_worklist_until_released(campaign: Campaign) -> None:
    c = campaign
    with c.store.unit_of_work() as uow:
        uow.relations.add(Relation(id="cato", name="Cato Drukkerij"))
        uow.commit()
    (p,) = campaigns.add_prospects(c.ctx, "pia", c.project.id, [("cato", None)])
    assert p.status is ProspectStatus.PREPARING
    assert p.id not in worklists(c)
    assert {c.acme, c.bolt} <= worklists(c)
    before = snapshot(c.store, c.project.id)
    with pytest.raises(ProspectNotReleased):
        do(c, "pia", "project_leader", "call", p.id)
    assert snapshot(c.store, c.project.id) == before
    assert campaigns.release(c.ctx, "pia", c.project.id, [p.id]) == 1
    assert p.id in worklists(c)


@pytest.mark.parametrize("last", [None, "call", "make_appointment"])
def test_w8_a_prospect_closes_at_any_moment_with_a_configured_reason(
    campaign: Campaign, last: str | None
) -> None:
    c = campaign
    walk(c, last)
    before = snapshot(c.store, c.project.id)
    with pytest.raises(InvalidInput, match="not a close reason"):
        campaigns.close_prospect(c.ctx, "pia", c.acme, "bankrupt")
    assert snapshot(c.store, c.project.id) == before
    closed = campaigns.close_prospect(c.ctx, "pia", c.acme, "has_supplier", note="Vaillant")
    assert (closed.status, closed.close_reason) == (ProspectStatus.CLOSED, "has_supplier")
    assert stored(c, c.acme).close_reason == "has_supplier"
    assert c.acme not in worklists(c)
    statuses = [(e.detail, e.note) for e in stored(c, c.acme).history if e.kind is EntryKind.STATUS]
    assert statuses[-1] == ("closed:has_supplier", "Vaillant")


def test_w8_a_suspect_in_preparation_can_be_closed_before_release(campaign: Campaign) -> None:
    c = campaign
    with c.store.unit_of_work() as uow:
        uow.relations.add(Relation(id="cato", name="Cato Drukkerij"))
        uow.commit()
    (p,) = campaigns.add_prospects(c.ctx, "pia", c.project.id, [("cato", None)])
    closed = campaigns.close_prospect(c.ctx, "pia", p.id, "wrong_target")
    assert (closed.status, closed.close_reason) == (ProspectStatus.CLOSED, "wrong_target")
    assert campaigns.release(c.ctx, "pia", c.project.id) == 0
    assert stored(c, p.id).status is ProspectStatus.CLOSED
