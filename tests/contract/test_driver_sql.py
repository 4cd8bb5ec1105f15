"""The SQL store's hot paths run driver SQL; every store must still behave alike.

A step's loads and writes skip SQLAlchemy's execution context (issue 20), a
single-statement write on SQLite runs without a savepoint, and whether text
can be stored is checked on the row's texts with one scan. These tests hold
each shortcut to the behaviour of the long way, on every store.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.conftest import dump
from crm_procedures.errors import ConcurrencyConflict, InvalidInput
from crm_procedures.ids import GroupId, UserId
from crm_procedures.model.audit import Change
from crm_procedures.model.users import Group, User
from crm_procedures.ports import Store
from crm_procedures.testing.builders import a_project, a_prospect, a_relation

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
HYPOTHESIS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@HYPOTHESIS
@given(
    before=st.text(max_size=10).filter(lambda t: "\x00" not in t and t.isprintable()),
    after=st.text(max_size=10).filter(lambda t: "\x00" not in t and t.isprintable()),
)
def test_text_that_spells_the_nul_escape_is_stored_unchanged(
    store: Store, before: str, after: str
) -> None:
    # The JSON copy writes NUL as the six characters \u0000; a user may type them.
    notes = f"{before}\\u0000{after}"
    relation = a_relation(id=f"rel-{len(before)}-{len(after)}-{abs(hash(notes))}", notes=notes)
    with store.unit_of_work() as uow:
        if uow.relations.find(relation.id) is None:
            uow.relations.add(relation)
            uow.audit.record(
                Change("relation", relation.id, 1, NOW, "ann", "add", {"notes": ("", notes)})
            )
            uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.relations.get(relation.id).notes == notes
        assert uow.audit.of_record("relation", relation.id)[0].changes["notes"] == ("", notes)


def test_a_refused_insert_leaves_the_unit_of_work_usable_and_undone(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="rel", name="First"))
        uow.commit()
    with store.unit_of_work() as uow:
        with pytest.raises(ConcurrencyConflict):
            uow.relations.add(a_relation(id="rel", name="Second"))
        uow.relations.add(a_relation(id="rel-2", name="Third"))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.relations.get("rel").name == "First"
        assert uow.relations.get("rel-2").name == "Third"
        assert uow.relations.count() == 2


def test_a_stale_save_writes_neither_the_row_nor_its_history(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="rel"))
        uow.projects.add(a_project(id="proj", relation_id="rel"))
        uow.prospects.add(a_prospect(id="p1", project_id="proj", relation_id="rel"))
        uow.commit()
    with store.unit_of_work() as uow:
        stale = uow.prospects.get("p1")
    with store.unit_of_work() as uow:
        fresh = uow.prospects.get("p1")
        fresh.owner = UserId("bob")
        uow.prospects.save(fresh)
        uow.commit()
    before = dump(store)
    with store.unit_of_work() as uow:
        stale.owner = UserId("eve")
        with pytest.raises(ConcurrencyConflict):
            uow.prospects.save(stale)
        uow.commit()
    assert dump(store) == before


def test_users_and_groups_read_twice_are_equal_and_follow_a_save(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.groups.add(Group(GroupId("sales"), "Sales", frozenset({"prospect.write"})))
        uow.users.add(User(UserId("ann"), "Ann", groups=frozenset({GroupId("sales")})))
        uow.commit()
    with store.unit_of_work() as uow:
        first = uow.users.all()
        assert uow.users.all() == first
        ann = uow.users.get("ann")
        uow.users.save(User(UserId("ann"), "Ann B.", groups=ann.groups, version=ann.version))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert [u.name for u in uow.users.all()] == ["Ann B."]
        assert uow.users.get("ann").version == 2
        assert uow.groups.all()[0].permissions == frozenset({"prospect.write"})


def test_a_nul_in_an_audit_change_is_refused_and_nothing_stored(store: Store) -> None:
    before = dump(store)
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput):
            uow.audit.record(
                Change("relation", "rel", 1, NOW, "ann", "update", {"n": ("", "a\x00")})
            )
        uow.commit()
    assert dump(store) == before
