"""Moving a running campaign to a newer version of its definitions (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest

from crm_procedures import (
    AccessDenied,
    DefinitionError,
    Definitions,
    EntryKind,
    InvalidInput,
    MigrationBlocked,
    NotFound,
    ProspectStatus,
    dump_definitions,
    load_definitions,
    standard_definitions,
)
from crm_procedures.services import campaigns
from crm_procedures.services.migration import (
    MIGRATION_DETAIL,
    migrate_campaign,
    plan_migration,
)
from crm_procedures.services.reports import negotiation_timeline
from integration.campaign import Campaign, snapshot
from integration.test_campaigns import do, parse, stored, walk


def edited(**changes: Any) -> Definitions:
    """The standard definitions with an edited ``info`` subject and, optionally, no call_back."""
    data = dump_definitions(standard_definitions())
    data["templates"]["info"]["subject"] = "New information about {{project.name}}"
    if changes.get("drop_call_back"):
        del data["steps"]["call_back"]
        procedure = data["procedures"]["standard"]
        procedure["steps"].remove("call_back")
        for rows in procedure["matrix"].values():
            rows.pop("call_back", None)
            for targets in rows.values():
                if "call_back" in targets:
                    targets.remove("call_back")
        for _role, rights in list(procedure["corrections"].items()):
            if isinstance(rights, list) and "call_back" in rights:
                rights.remove("call_back")
    return load_definitions(data)


def sent_subjects(c: Campaign) -> list[str]:
    with c.store.unit_of_work() as uow:
        return [str(parse(m.payload["message"])["Subject"]) for m in uow.outbox.list()]


def test_plan_reports_changes_and_stores_nothing(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    c.ctx.definitions = edited()
    before = snapshot(c.store, c.project.id)
    plan = plan_migration(c.ctx, "pia", c.project.id)
    assert (plan.from_version, plan.to_version) == (1, 2)
    assert not plan.blocking
    assert "template 'info' changed" in plan.changes
    assert plan.prospect_count == 2
    assert snapshot(c.store, c.project.id) == before
    assert any("version 1 -> 2" in line for line in plan.describe())


def test_migrate_pins_the_new_version_and_the_edited_template_reaches_the_campaign(
    campaign: Campaign,
) -> None:
    c = campaign
    walk(c, "call")
    c.ctx.definitions = edited()
    plan = migrate_campaign(c.ctx, "pia", c.project.id)
    assert plan.to_version == 2
    assert (
        campaigns.definitions_of(c.ctx, c.project.id)
        .template("info")
        .subject.startswith("New information")
    )
    for pid in (c.acme, c.bolt):
        last = stored(c, pid).history[-1]
        assert last.kind is EntryKind.STATUS
        assert last.detail == "running"
        assert "moved to definitions version 2 (from 1)" in last.note
    with c.store.unit_of_work() as uow:
        actions = [ch.action for ch in uow.audit.of_record("prospect", c.acme)]
        assert actions[-1] == "migrate"
        assert uow.audit.of_record("project", c.project.id)[-1].changes["procedure_version"] == (
            "1",
            "2",
        )
    do(c, "ann", "marketeer", "send_info")
    assert sent_subjects(c)[-1] == "New information about Spring campaign"
    timeline = negotiation_timeline(c.ctx, "pia", "acme")
    assert any("moved to definitions version 2" in item.detail for item in timeline)


def test_defect_removed_last_step_blocks_and_changes_nothing(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    do(c, "ann", "marketeer", "call_back")
    c.ctx.definitions = edited(drop_call_back=True)
    plan = plan_migration(c.ctx, "pia", c.project.id)
    assert plan.blocking
    (move,) = plan.prospects
    assert (move.prospect_id, move.last_step, move.new_step) == (c.acme, "call_back", None)
    assert "map_steps={'call_back': <step>}" in plan.problems[0]
    before = snapshot(c.store, c.project.id)
    with pytest.raises(MigrationBlocked, match="call_back") as info:
        migrate_campaign(c.ctx, "pia", c.project.id)
    assert info.value.problems == plan.problems
    assert snapshot(c.store, c.project.id) == before


def test_mapped_step_moves_the_prospect_with_a_correction(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    do(c, "ann", "marketeer", "call_back")
    c.ctx.definitions = edited(drop_call_back=True)
    plan = migrate_campaign(c.ctx, "pia", c.project.id, map_steps={"call_back": "call"})
    assert plan.prospects[0].new_step == "call"
    acme = stored(c, c.acme)
    assert acme.last_step == "call"
    last = acme.history[-1]
    assert last.kind is EntryKind.CORRECTION
    assert last.detail == MIGRATION_DETAIL
    assert last.step == "call"
    assert "'call_back' became 'call'" in last.note
    do(c, "ann", "marketeer", "send_info")
    assert stored(c, c.acme).last_step == "send_info"


def test_bad_mappings_block(campaign: Campaign) -> None:
    c = campaign
    c.ctx.definitions = edited(drop_call_back=True)
    plan = plan_migration(c.ctx, "pia", c.project.id, map_steps={"call": "nope", "zz": "call"})
    assert any("'nope'" in p for p in plan.problems)
    assert any("'zz'" in p for p in plan.problems)
    with pytest.raises(InvalidInput, match="map_steps"):
        plan_migration(c.ctx, "pia", c.project.id, map_steps={"call": 3})  # type: ignore[dict-item]


def test_only_the_project_leader_or_an_admin_may_move_a_campaign(campaign: Campaign) -> None:
    c = campaign
    c.ctx.definitions = edited()
    before = snapshot(c.store, c.project.id)
    with pytest.raises(AccessDenied, match="project leader"):
        migrate_campaign(c.ctx, "ann", c.project.id)
    with pytest.raises(AccessDenied):
        plan_migration(c.ctx, "cor", c.project.id)
    assert snapshot(c.store, c.project.id) == before


def test_to_a_stored_version_and_back(campaign: Campaign) -> None:
    c = campaign
    c.ctx.definitions = edited()
    migrate_campaign(c.ctx, "pia", c.project.id)
    back = migrate_campaign(c.ctx, "pia", c.project.id, to_version=1)
    assert (back.from_version, back.to_version) == (2, 1)
    assert campaigns.definitions_of(c.ctx, c.project.id) == standard_definitions()
    with pytest.raises(NotFound, match="stored versions: 1, 2"):
        plan_migration(c.ctx, "pia", c.project.id, to_version=7)
    with pytest.raises(InvalidInput):
        plan_migration(c.ctx, "pia", c.project.id, to_version="2")  # type: ignore[arg-type]


def test_same_version_is_unchanged_and_writes_nothing(campaign: Campaign) -> None:
    c = campaign
    before = snapshot(c.store, c.project.id)
    plan = migrate_campaign(c.ctx, "pia", c.project.id)
    assert plan.unchanged
    assert snapshot(c.store, c.project.id) == before


def test_invalid_application_definitions_are_refused(campaign: Campaign) -> None:
    c = campaign
    data = dump_definitions(standard_definitions())
    data["steps"]["send_info"]["template"] = "missing"
    c.ctx.definitions = load_definitions(data, validate=False)
    with pytest.raises(DefinitionError):
        plan_migration(c.ctx, "pia", c.project.id)


def test_closed_prospects_move_without_a_history_entry(campaign: Campaign) -> None:
    c = campaign
    campaigns.close_prospect(c.ctx, "ann", c.bolt, "not_interested")
    length = len(stored(c, c.bolt).history)
    c.ctx.definitions = edited()
    migrate_campaign(c.ctx, "pia", c.project.id)
    bolt = stored(c, c.bolt)
    assert bolt.status is ProspectStatus.CLOSED
    assert len(bolt.history) == length
