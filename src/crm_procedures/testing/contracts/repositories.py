"""The operations every repository has, for every record kind, on every store.

The ``kind`` fixture (one per record kind) is defined by the suite's class.
"""

from __future__ import annotations

import pytest

from crm_procedures.errors import ConcurrencyConflict, InvalidInput, NotFound
from crm_procedures.ports import Store
from crm_procedures.testing.contracts._support import dump
from crm_procedures.testing.contracts.kinds import KINDS, Kind


def test_add_stores_version_one_and_get_returns_it_after_commit(store: Store, kind: Kind) -> None:
    record = kind.build()
    assert record.version == 0
    with store.unit_of_work() as uow:
        stored = kind.repository(uow).add(record)
        uow.commit()
    assert stored.version == 1
    assert stored.id == record.id
    with store.unit_of_work() as uow:
        repo = kind.repository(uow)
        assert repo.get(record.id) == stored
        assert repo.find(record.id) == stored
        assert repo.count() == 1


def test_missing_record_is_not_found(store: Store, kind: Kind) -> None:
    with store.unit_of_work() as uow:
        repo = kind.repository(uow)
        assert repo.find("no-such-id") is None
        with pytest.raises(NotFound):
            repo.get("no-such-id")
        assert repo.count() == 0


def test_adding_a_taken_id_is_a_conflict_and_keeps_the_first(store: Store, kind: Kind) -> None:
    first = kind.build()
    with store.unit_of_work() as uow:
        kind.repository(uow).add(first)
        uow.commit()
    twin = kind.changed(first, "Twin")
    with store.unit_of_work() as uow:
        with pytest.raises(ConcurrencyConflict) as caught:
            kind.repository(uow).add(twin)
        uow.commit()
    assert (caught.value.kind, caught.value.aggregate_id) == (kind.name, first.id)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    with store.unit_of_work() as uow:
        kept = kind.repository(uow).get(first.id)
    assert getattr(kept, kind.field) == getattr(first, kind.field)
    assert kept.version == 1


def test_save_stores_the_next_version(store: Store, kind: Kind) -> None:
    with store.unit_of_work() as uow:
        stored = kind.repository(uow).add(kind.build())
        uow.commit()
    with store.unit_of_work() as uow:
        saved = kind.repository(uow).save(kind.changed(stored, "Renamed"))
        uow.commit()
    assert saved.version == 2
    with store.unit_of_work() as uow:
        again = kind.repository(uow).get(stored.id)
    assert again == saved
    assert getattr(again, kind.field) == "Renamed"


def test_stale_save_is_a_conflict_naming_both_versions_and_overwrites_nothing(
    store: Store, kind: Kind
) -> None:
    with store.unit_of_work() as uow:
        loaded = kind.repository(uow).add(kind.build())
        uow.commit()
    with store.unit_of_work() as uow:
        kind.repository(uow).save(kind.changed(loaded, "First writer"))
        uow.commit()
    before = dump(store)
    with store.unit_of_work() as uow:
        with pytest.raises(ConcurrencyConflict) as caught:
            kind.repository(uow).save(kind.changed(loaded, "Second writer"))
        uow.commit()
    conflict = caught.value
    assert conflict.kind == kind.name
    assert conflict.aggregate_id == loaded.id
    assert (conflict.expected, conflict.actual) == (1, 2)
    assert "version 1" in str(conflict)
    assert "version 2" in str(conflict)
    assert dump(store) == before
    with store.unit_of_work() as uow:
        kept = kind.repository(uow).get(loaded.id)
    assert getattr(kept, kind.field) == "First writer"


def test_saving_an_unknown_record_is_not_found(store: Store, kind: Kind) -> None:
    with store.unit_of_work() as uow, pytest.raises(NotFound):
        kind.repository(uow).save(kind.build())


def test_add_many_stores_every_record_as_version_one(store: Store, kind: Kind) -> None:
    records = [kind.build() for _ in range(5)]
    with store.unit_of_work() as uow:
        kind.repository(uow).add_many(records)
        uow.commit()
    with store.unit_of_work() as uow:
        repo = kind.repository(uow)
        assert repo.count() == 5
        for record in records:
            got = repo.get(record.id)
            assert got.version == 1
            assert getattr(got, kind.field) == getattr(record, kind.field)


def test_add_many_with_a_taken_id_stores_none_of_them(store: Store, kind: Kind) -> None:
    taken = kind.build()
    with store.unit_of_work() as uow:
        kind.repository(uow).add(taken)
        uow.commit()
    before = dump(store)
    batch = [kind.build(), kind.changed(taken, "Again"), kind.build()]
    with store.unit_of_work() as uow:
        with pytest.raises(ConcurrencyConflict) as caught:
            kind.repository(uow).add_many(batch)
        assert caught.value.aggregate_id == taken.id
        uow.commit()
    assert dump(store) == before


def test_add_many_with_a_repeated_id_stores_none_of_them(store: Store, kind: Kind) -> None:
    one = kind.build()
    with store.unit_of_work() as uow:
        with pytest.raises(ConcurrencyConflict):
            kind.repository(uow).add_many([one, kind.build(), kind.changed(one, "Twice")])
        uow.commit()
    with store.unit_of_work() as uow:
        assert kind.repository(uow).count() == 0


def test_a_record_of_the_wrong_class_is_invalid_input(store: Store, kind: Kind) -> None:
    other = KINDS[1] if kind is KINDS[0] else KINDS[0]
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput):
            kind.repository(uow).add(other.build())
        uow.commit()
    with store.unit_of_work() as uow:
        assert kind.repository(uow).count() == 0
