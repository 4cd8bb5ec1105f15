"""Units of work: commit, rollback, isolation of failed writes, stale copies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import pytest

from crm_procedures.errors import ConcurrencyConflict, InvalidInput, NotFound
from crm_procedures.model.audit import Change
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.model.prospect import EntryKind, HistoryEntry, Prospect, ProspectStatus
from crm_procedures.ports import Store
from crm_procedures.testing.builders import BUILDER_TIME, a_project, a_prospect, a_relation
from crm_procedures.testing.contracts._support import dump


class Boom(Exception):
    """An error of the caller's own, raised inside a unit of work."""


def _step(seq: int, step: str) -> HistoryEntry:
    return HistoryEntry(seq, EntryKind.STEP, BUILDER_TIME, "ann", "marketeer", step)


def _seeded(store: Store) -> Prospect:
    """A relation, a project and a running prospect with one step done, committed."""
    relation = a_relation()
    project = a_project(relation_id=relation.id)
    prospect = a_prospect(
        project_id=project.id,
        relation_id=relation.id,
        status=ProspectStatus.RUNNING,
        last_step="call",
        history=[_step(1, "call")],
    )
    with store.unit_of_work() as uow:
        uow.relations.add(relation)
        uow.projects.add(project)
        uow.prospects.add(prospect)
        uow.commit()
    return prospect


def test_committed_writes_are_visible_to_the_next_unit_of_work(store: Store) -> None:
    prospect = _seeded(store)
    with store.unit_of_work() as uow:
        got = uow.prospects.get(prospect.id)
    assert got == prospect
    assert got.version == 1
    assert got.history == [_step(1, "call")]


def test_leaving_without_commit_keeps_nothing(store: Store) -> None:
    before = dump(store)
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="relation-gone"))
        assert uow.relations.find("relation-gone") is not None  # reads see own writes
    assert dump(store) == before
    with store.unit_of_work() as uow:
        assert uow.relations.find("relation-gone") is None


def test_rollback_restores_every_kind_of_write(store: Store) -> None:
    prospect = _seeded(store)
    before = dump(store)
    with store.unit_of_work() as uow:
        loaded = uow.prospects.get(prospect.id)
        loaded.history.append(_step(2, "call_back"))
        loaded.last_step = "call_back"
        uow.prospects.save(loaded)
        uow.relations.save(attrs.evolve(uow.relations.get(prospect.relation_id), name="Changed"))
        uow.relations.add(a_relation())
        uow.outbox.add(OutboxMessage(id="m1", key="k1", channel="mail", created_at=BUILDER_TIME))
        uow.audit.record(Change("prospect", prospect.id, 2, BUILDER_TIME, "ann"))
        uow.definitions.put("procedure", {"steps": ["call"]})
        uow.rollback()
        # after a rollback the unit of work reads the committed state again
        assert uow.prospects.get(prospect.id).history == [_step(1, "call")]
        assert uow.outbox.list() == []
    assert dump(store) == before
    with store.unit_of_work() as uow:
        assert uow.prospects.get(prospect.id).version == 1
        assert uow.audit.of_record("prospect", prospect.id) == []
        with pytest.raises(NotFound):
            uow.definitions.get("procedure")


def test_an_exception_inside_the_block_rolls_back_and_propagates(store: Store) -> None:
    prospect = _seeded(store)
    before = dump(store)

    def change_then_fail() -> None:
        with store.unit_of_work() as uow:
            loaded = uow.prospects.get(prospect.id)
            loaded.owner = "bob"
            uow.prospects.save(loaded)
            uow.relations.add(a_relation())
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()
    assert dump(store) == before


def test_the_unit_of_work_is_usable_after_a_commit(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="relation-a"))
        uow.commit()
        uow.relations.add(a_relation(id="relation-b"))
        uow.commit()
        uow.relations.add(a_relation(id="relation-c"))
    with store.unit_of_work() as uow:
        assert [r.id for r in uow.relations.search("")] == ["relation-a", "relation-b"]


def test_stale_prospect_save_names_kind_id_and_both_versions(store: Store) -> None:
    prospect = _seeded(store)
    with store.unit_of_work() as uow:
        mine = uow.prospects.get(prospect.id)
    with store.unit_of_work() as uow:
        theirs = uow.prospects.get(prospect.id)
        theirs.history.append(_step(2, "call_back"))
        theirs.last_step = "call_back"
        uow.prospects.save(theirs)
        uow.commit()
    assert theirs.version == 2
    before = dump(store)
    mine.history.append(_step(2, "send_info"))
    mine.last_step = "send_info"
    with store.unit_of_work() as uow:
        with pytest.raises(ConcurrencyConflict) as caught:
            uow.prospects.save(mine)
        uow.commit()
    conflict = caught.value
    assert (conflict.kind, conflict.aggregate_id) == ("prospect", prospect.id)
    assert (conflict.expected, conflict.actual) == (1, 2)
    assert mine.version == 1
    assert dump(store) == before
    with store.unit_of_work() as uow:
        kept = uow.prospects.get(prospect.id)
    assert kept.last_step == "call_back"
    assert [e.step for e in kept.history] == ["call", "call_back"]


def test_save_returns_a_copy_and_sets_the_version_on_the_prospect_passed_in(
    store: Store,
) -> None:
    prospect = _seeded(store)
    assert prospect.version == 1  # add set it on the object passed in
    with store.unit_of_work() as uow:
        loaded = uow.prospects.get(prospect.id)
        loaded.owner = "ann"
        stored = uow.prospects.save(loaded)
        stored.owner = "somebody else"  # the returned copy is the caller's
        uow.commit()
    assert loaded.version == 2
    with store.unit_of_work() as uow:
        assert uow.prospects.get(prospect.id).owner == "ann"


def test_a_loaded_prospect_is_independent_of_the_store(store: Store) -> None:
    prospect = _seeded(store)
    with store.unit_of_work() as uow:
        loaded = uow.prospects.get(prospect.id)
        loaded.history.append(_step(2, "call_back"))
        loaded.owner = "mallory"
        assert uow.prospects.get(prospect.id).history == [_step(1, "call")]
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.prospects.get(prospect.id) == prospect


# -- a bad save leaves the store exactly as before --


def test_prospect_of_an_unknown_project_is_refused_and_nothing_is_written(
    store: Store,
) -> None:
    _seeded(store)
    before = dump(store)
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as caught:
            uow.prospects.add(a_prospect(project_id="no-such-project"))
        uow.commit()
    assert caught.value.field == "project_id"
    assert dump(store) == before


def test_a_refused_write_leaves_the_unit_of_work_usable(store: Store) -> None:
    _seeded(store)
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="relation-before"))
        with pytest.raises(InvalidInput):
            uow.prospects.add(a_prospect(project_id="no-such-project"))
        uow.relations.add(a_relation(id="relation-after"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.relations.find("relation-before") is not None
        assert uow.relations.find("relation-after") is not None
        assert uow.prospects.count() == 1


def test_bulk_add_with_one_unknown_project_writes_no_prospect(store: Store) -> None:
    seeded = _seeded(store)
    before = dump(store)
    batch = [
        a_prospect(project_id=seeded.project_id),
        a_prospect(project_id="no-such-project"),
        a_prospect(project_id=seeded.project_id),
    ]
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput):
            uow.prospects.add_many(batch)
        uow.commit()
    assert dump(store) == before


def _refused_save(
    store: Store, prospect_id: str, change: Callable[[Prospect], None]
) -> InvalidInput:
    """Load the prospect, ``change`` it, expect its save refused, and the store unchanged."""
    before = dump(store)
    with store.unit_of_work() as uow:
        loaded = uow.prospects.get(prospect_id)
        change(loaded)
        with pytest.raises(InvalidInput) as caught:
            uow.prospects.save(loaded)
        uow.commit()
    assert dump(store) == before
    return caught.value


def test_moving_a_prospect_to_an_unknown_project_is_refused(store: Store) -> None:
    prospect = _seeded(store)
    _refused_save(store, prospect.id, lambda p: setattr(p, "project_id", "no-such-project"))


def test_shortening_the_history_is_refused(store: Store) -> None:
    def shorten(loaded: Prospect) -> None:
        loaded.history.clear()
        loaded.last_step = None

    prospect = _seeded(store)
    assert _refused_save(store, prospect.id, shorten).field == "history"


def test_history_entries_out_of_order_are_refused(store: Store) -> None:
    prospect = _seeded(store)
    _refused_save(store, prospect.id, lambda p: p.history.append(_step(1, "call_back")))


def test_a_naive_datetime_is_refused(store: Store) -> None:
    prospect = _seeded(store)
    before = dump(store)
    with store.unit_of_work() as uow:
        loaded = uow.prospects.get(prospect.id)
        loaded.next_action_at = datetime(2026, 3, 2, 9, 0)
        with pytest.raises(InvalidInput):
            uow.prospects.save(loaded)
        with pytest.raises(InvalidInput):
            uow.prospects.add(
                a_prospect(
                    project_id=prospect.project_id,
                    next_action_at=datetime(2026, 3, 2, 9, 0),
                )
            )
        uow.commit()
    assert dump(store) == before


def test_an_outbox_payload_that_is_not_json_is_refused(store: Store) -> None:
    before = dump(store)
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput):
            uow.outbox.add(
                OutboxMessage(
                    id="m1", key="k1", channel="mail", payload={"when": datetime.now(UTC)}
                )
            )
        uow.commit()
    assert dump(store) == before


def test_definitions_that_are_not_plain_data_are_refused(store: Store) -> None:
    before = dump(store)
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput):
            uow.definitions.put("procedure", {"at": datetime.now(UTC)})
        with pytest.raises(InvalidInput):
            uow.definitions.put("", {"steps": []})
        uow.commit()
    assert dump(store) == before


def test_every_adapter_is_a_store_with_every_repository(store: Store) -> None:
    assert isinstance(store, Store)
    with store.unit_of_work() as uow:
        for name in (
            "relations",
            "contacts",
            "projects",
            "prospects",
            "activities",
            "appointments",
            "visit_reports",
            "documents",
            "users",
            "groups",
            "definitions",
            "outbox",
            "audit",
        ):
            assert hasattr(uow, name), name
