"""Releasing and closing a whole campaign in batches, on every store.

``campaigns.release_all`` and ``campaigns.close_all`` must leave each
prospect exactly as releasing or closing it alone would (status, close
reason, history entry, version), write one audit entry per changed
prospect, and write nothing when the input is bad.
"""

from __future__ import annotations

from typing import Any

import pytest

from crm_procedures.access.viewer import Viewer
from crm_procedures.errors import (
    AccessDenied,
    InvalidInput,
    NotFound,
    ReadOnlyUnitOfWork,
)
from crm_procedures.model.prospect import EntryKind, ProspectStatus
from crm_procedures.model.relation import Relation
from crm_procedures.ports import BulkAuditLog, BulkProspectChanges, Store
from crm_procedures.procedures import runtime
from crm_procedures.services import campaigns
from crm_procedures.testing.contracts import StoreFactory
from integration.campaign import Campaign, make_campaign, snapshot

EXTRA = 7


def _campaign(store: Store) -> tuple[Campaign, list[str]]:
    """The integration campaign (two running) plus ``EXTRA`` prospects in preparation."""
    c = make_campaign(store)
    with store.unit_of_work() as uow:
        for n in range(EXTRA):
            uow.relations.add(Relation(id=f"bulk-{n}", name=f"Bulk {n}"))
        uow.commit()
    added = campaigns.add_prospects(
        c.ctx, "pia", c.project.id, [(f"bulk-{n}", None) for n in range(EXTRA)]
    )
    return c, [p.id for p in added]


def _prospects(c: Campaign) -> dict[str, Any]:
    with c.store.unit_of_work(read_only=True) as uow:
        return {p.id: p for p in uow.prospects.of_project(c.project.id, Viewer.system())}


def _audit(c: Campaign, pid: str) -> list[tuple[str, int, str]]:
    with c.store.unit_of_work(read_only=True) as uow:
        return [(a.action, a.version, a.actor) for a in uow.audit.of_record("prospect", pid)]


def test_release_all_leaves_each_prospect_as_releasing_it_alone(
    crm_contract_store: StoreFactory,
) -> None:
    bulk_store, single_store = crm_contract_store(), crm_contract_store()
    try:
        bulk, ids = _campaign(bulk_store)
        single, same_ids = _campaign(single_store)
        assert ids == same_ids
        assert campaigns.release_all(bulk.ctx, "pia", bulk.project.id, batch=3) == EXTRA
        assert campaigns.release(single.ctx, "pia", single.project.id) == EXTRA
        assert _prospects(bulk) == _prospects(single)
        for pid in ids:
            assert _audit(bulk, pid) == [("release", 2, "pia")]
        assert _audit(bulk, bulk.acme) == _audit(single, single.acme)  # untouched
        assert campaigns.release_all(bulk.ctx, "pia", bulk.project.id) == 0
    finally:
        bulk_store.close()
        single_store.close()


def test_close_all_closes_open_prospects_and_changes_other_reasons_only(
    crm_contract_store: StoreFactory,
) -> None:
    store = crm_contract_store()
    try:
        c, ids = _campaign(store)
        campaigns.close_prospect(c.ctx, "pia", c.acme, "no_budget")
        campaigns.close_prospect(c.ctx, "pia", c.bolt, "not_interested")
        before = _prospects(c)
        closed = campaigns.close_all(c.ctx, "pia", c.project.id, "not_interested", batch=2)
        assert closed == EXTRA + 1  # the preparing ones and acme (another reason); not bolt
        after = _prospects(c)
        assert after[c.bolt] == before[c.bolt]
        for pid in [*ids, c.acme]:
            was, now = before[pid], after[pid]
            expected = was.copy()
            runtime.close(_procedure(c), expected, "not_interested", "pia", c.clock.now(), note="")
            assert now.status is ProspectStatus.CLOSED
            assert now.close_reason == "not_interested"
            assert now.history == expected.history
            assert now.history[-1].kind is EntryKind.STATUS
            assert now.version == was.version + 1
            assert _audit(c, pid)[-1] == ("close", now.version, "pia")
        assert campaigns.close_all(c.ctx, "pia", c.project.id, "not_interested") == 0
    finally:
        store.close()


def _procedure(c: Campaign) -> Any:
    assert c.ctx.definitions is not None
    return c.ctx.definitions.procedure("standard")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: campaigns.close_all(c.ctx, "pia", c.project.id, "bored"), InvalidInput),
        (
            lambda c: campaigns.close_all(c.ctx, "pia", c.project.id, None),  # type: ignore[arg-type]
            InvalidInput,
        ),
        (lambda c: campaigns.release_all(c.ctx, "pia", c.project.id, batch=0), InvalidInput),
        (lambda c: campaigns.release_all(c.ctx, "pia", c.project.id, batch=True), InvalidInput),
        (lambda c: campaigns.release_all(c.ctx, "pia", c.project.id, note="a\x00b"), InvalidInput),
        (lambda c: campaigns.release_all(c.ctx, "eve", c.project.id), AccessDenied),
        (lambda c: campaigns.close_all(c.ctx, "eve", c.project.id, "no_budget"), AccessDenied),
        (lambda c: campaigns.release_all(c.ctx, "pia", "no-such-project"), NotFound),
    ],
    ids=[
        "unknown-reason",
        "reason-not-text",
        "batch-zero",
        "batch-bool",
        "unstorable-note",
        "release-no-right",
        "close-no-right",
        "unknown-project",
    ],
)
def test_bad_bulk_calls_are_refused_and_write_nothing(
    crm_contract_store: StoreFactory, call: Any, error: type[Exception]
) -> None:
    store = crm_contract_store()
    try:
        c, _ids = _campaign(store)
        before = snapshot(store, c.project.id)
        with pytest.raises(error):
            call(c)
        assert snapshot(store, c.project.id) == before
    finally:
        store.close()


def test_change_status_many_pages_by_id_and_checks_its_input(
    crm_contract_store: StoreFactory,
) -> None:
    store = crm_contract_store()
    try:
        c, ids = _campaign(store)
        change = runtime.release_change("pia", c.clock.now())
        with store.unit_of_work() as uow:
            assert isinstance(uow.prospects, BulkProspectChanges)
            assert isinstance(uow.audit, BulkAuditLog)
            first = uow.prospects.change_status_many(c.project.id, change, limit=4)
            rest = uow.prospects.change_status_many(
                c.project.id, change, after=first[-1][0], limit=100
            )
            assert [pid for pid, _v in first + rest] == sorted(ids)
            assert {v for _pid, v in first + rest} == {2}
            assert uow.prospects.change_status_many(c.project.id, change) == []
            assert uow.prospects.change_status_many("no-such-project", change) == []
            bad_limits: list[Any] = [0, 10_001, "5", None]
            for bad in bad_limits:
                with pytest.raises(InvalidInput):
                    uow.prospects.change_status_many(c.project.id, change, limit=bad)
            with pytest.raises(InvalidInput):
                uow.prospects.change_status_many(c.project.id, "release")  # type: ignore[arg-type]
            # the stored prospect saves on from its new version (the loaded cache follows)
            p = uow.prospects.get(ids[0])
            assert p.version == 2
            assert p.status is ProspectStatus.RUNNING
            p.owner = "ann"
            assert uow.prospects.save(p).version == 3
            uow.commit()
        with store.unit_of_work(read_only=True) as uow:
            assert isinstance(uow.prospects, BulkProspectChanges)
            with pytest.raises(ReadOnlyUnitOfWork):
                uow.prospects.change_status_many(c.project.id, change)
    finally:
        store.close()
