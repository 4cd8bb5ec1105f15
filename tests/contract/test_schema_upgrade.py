"""Upgrading an older database in place to the latest schema (SQLite and PostgreSQL).

An older database is built with the migrations it was made by (the tables as
migration 1 released them, checked against the column lists frozen below) and
filled with the rows an older library wrote: the same records, without the
columns that migration 3 added. ``upgrade_schema`` must keep every row, fill
the new columns exactly as the store writes them, and give the same reports.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from sqlalchemy import Engine, inspect, select, text

from contract.conftest import SQL_ADAPTERS, TEMPLATE
from crm_procedures.adapters._common import utc_us
from crm_procedures.adapters.sql import SqlStore, open_store
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql.store import make_engine
from crm_procedures.ids import ActivityId, AppointmentId, ProjectId, RelationId, UserId
from crm_procedures.model.activity import ActivityKind
from crm_procedures.model.appointment import Appointment, AppointmentStatus
from crm_procedures.model.project import Project
from crm_procedures.model.relation import Relation
from crm_procedures.serialization import structure, unstructure
from crm_procedures.services.context import Context
from crm_procedures.services.reports import acquisition, employee_activity, funnel
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.postgres import PostgresServer
from reports.world import (
    READERS,
    START,
    Rights,
    World,
    expected_acquisition,
    expected_employee_rows,
    expected_funnel,
    generate,
)

# The columns of the tables that migration 3 changed, as migration 1 created them.
V1_COLUMNS = {
    "activities": [
        "id",
        "employee",
        "relation_id",
        "project_id",
        "start_key",
        "created_key",
        "completed",
        "version",
        "data",
    ],
    "appointments": [
        "id",
        "employee",
        "uid",
        "start_key",
        "end_key",
        "status",
        "recurring",
        "version",
        "data",
    ],
    "prospect_history": [
        "prospect_id",
        "seq",
        "kind",
        "at",
        "actor",
        "role",
        "step",
        "supersedes",
        "detail",
        "note",
    ],
}
ADDED_COLUMNS = {
    "activities": ["kind", "outcome"],
    "appointments": ["relation_id", "project_id"],
    "prospect_history": ["project_id", "superseded", "at_us"],
}
ADDED_BY = {"activities": 3, "appointments": 3, "prospect_history": 5}
"""The migration that added each table's ``ADDED_COLUMNS``."""

_numbers = itertools.count(1)


@pytest.fixture(params=SQL_ADAPTERS)
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An empty database and a database with the latest schema, of one SQL adapter."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    old, new = f"crm_upgrade_{next(_numbers)}", f"crm_upgrade_{next(_numbers)}"
    yield server.create_database(old), server.create_database(new, template=TEMPLATE)
    server.drop_database(old)
    server.drop_database(new)


def migrate_to(engine: Engine, version: int) -> None:
    """Apply the migrations up to ``version``, as a library of that version did."""
    with engine.begin() as conn:
        s.schema_version_table.create(conn)
    for number, description, apply in s.MIGRATIONS:
        if number > version:
            break
        with engine.begin() as conn:
            apply(conn)
            conn.execute(
                s.schema_version_table.insert().values(
                    version=number, description=description, applied_at="2026-01-01T00:00:00+00:00"
                )
            )


def columns(engine: Engine, table: str) -> list[str]:
    with engine.connect() as conn:
        found = [c["name"] for c in inspect(conn).get_columns(table)]
        conn.rollback()
    return found


def shape(engine: Engine, table: str) -> tuple[Any, ...]:
    """Columns (name, nullable, has a default) and indexes (name, columns) of ``table``."""
    with engine.connect() as conn:
        inspector = inspect(conn)
        cols = sorted(
            (c["name"], c["nullable"], c.get("default") is not None)
            for c in inspector.get_columns(table)
        )
        indexes = sorted(
            (i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)
        )
        conn.rollback()
    return tuple(cols), tuple(indexes)


def copy_as_old_rows(source: SqlStore, target: Engine) -> None:
    """Copy every row of ``source`` into ``target``, only the columns ``target`` has.

    Generated keys (``visit_reports.rid``, ``audit.seq``) are left to the
    database and the rows inserted in key order, so they come out the same.
    """
    with source.engine.connect() as src, target.begin() as dst:
        for table in s.metadata.sorted_tables:
            if table.name == "schema_version" or not inspect(dst).has_table(table.name):
                continue  # a table a later migration creates (it is empty in the old world)
            present = {c["name"] for c in inspect(dst).get_columns(table.name)}
            generated = table.autoincrement_column
            names = [c.name for c in table.columns if c.name in present and c is not generated]
            rows = src.execute(
                select(*(table.c[n] for n in names)).order_by(*table.primary_key.columns)
            )
            values = [dict(zip(names, row)) for row in rows]
            if values:
                dst.execute(table.insert(), values)
        src.rollback()


def old_database(url: str, version: int, world: World, new_url: str) -> SqlStore:
    """Fill the database at ``new_url`` with ``world`` and build an older copy at ``url``.

    Returns the store at ``new_url`` (latest schema), for comparisons.
    """
    new = open_store(new_url)
    assert s.schema_version(new.engine) == s.LATEST_VERSION
    world.store_into(new)
    engine = make_engine(url)
    try:
        migrate_to(engine, version)
        for table, names in V1_COLUMNS.items():
            if version < ADDED_BY[table]:
                assert columns(engine, table) == names
        copy_as_old_rows(new, engine)
    finally:
        engine.dispose()
    return new


def context(store: SqlStore) -> Context:
    return Context(store=store, clock=FrozenClock(START + timedelta(days=120)))


@pytest.mark.parametrize("version", [1, 2, 4, 8])
def test_an_older_database_upgrades_in_place_with_its_data_and_reports(
    urls: tuple[str, str], version: int
) -> None:
    old_url, new_url = urls
    world = generate(seed=20260105 + version, relations=10, activities=80)
    new = old_database(old_url, version, world, new_url)
    engine = make_engine(old_url)
    try:
        with pytest.raises(s.SchemaError) as refused:
            open_store(old_url, create=False).close()
        assert (refused.value.found, refused.value.expected) == (version, s.LATEST_VERSION)

        assert s.upgrade_schema(engine) == s.LATEST_VERSION
        assert s.schema_version(engine) == s.LATEST_VERSION
        for table, added in ADDED_COLUMNS.items():
            assert columns(engine, table)[: len(V1_COLUMNS[table])] == V1_COLUMNS[table]
            assert set(columns(engine, table)) == {*V1_COLUMNS[table], *added}
        for table in ("activities", "appointments", "prospects", "prospect_history"):
            assert shape(engine, table) == shape(new.engine, table), table
        assert "ix_prospects_funnel" in {index[0] for index in shape(engine, "prospects")[1]}
        history_indexes = {index[0] for index in shape(engine, "prospect_history")[1]}
        assert "ix_history_funnel" in history_indexes
        with engine.connect() as conn:
            applied = conn.execute(select(s.schema_version_table.c.version)).scalars().all()
            conn.rollback()
        assert sorted(applied) == [number for number, _, _ in s.MIGRATIONS]
    finally:
        engine.dispose()

    upgraded = open_store(old_url, create=False)
    try:
        # Every row, the backfilled columns included, equals what the store writes today.
        assert upgraded.dump() == new.dump()
        assert len(upgraded.dump()["activities"]) == len(world.activities) > 0
        # the backfill named each row's project and flagged the superseded ones
        history = upgraded.dump()["prospect_history"]
        assert all(row[10] for row in history)
        assert any(row[11] == 1 for row in history)
        # migration 9 gave every row its instant in microseconds, as the store writes it
        assert history
        assert all(row[12] == utc_us(structure(row[3], datetime)) for row in history)
        assert any("+00:00" not in row[3] for row in history)  # other offsets and zones too

        old_ctx, new_ctx = context(upgraded), context(new)
        since, until = START + timedelta(days=20), START + timedelta(days=70)
        for reader in READERS:
            rights = Rights.of(reader)
            for period in ((None, None), (since, until)):
                rows = employee_activity(old_ctx, reader, *period)
                assert rows == expected_employee_rows(world, rights, *period), reader
                assert rows == employee_activity(new_ctx, reader, *period)
            for project in world.projects:
                if rights.sees_project(project):
                    assert funnel(old_ctx, reader, project.id) == expected_funnel(
                        world, rights, project.id
                    )
            assert acquisition(old_ctx, reader, "region") == expected_acquisition(
                world, rights, "region"
            )
    finally:
        upgraded.close()
        new.close()


def test_upgrading_the_latest_schema_changes_nothing(urls: tuple[str, str]) -> None:
    _, new_url = urls
    store = open_store(new_url)
    engine = store.engine
    try:
        tables = ("activities", "appointments", "prospects", "prospect_history")
        before = [shape(engine, table) for table in tables]
        assert s.upgrade_schema(engine) == s.LATEST_VERSION
        assert s.create_schema(engine) == s.LATEST_VERSION
        assert [shape(engine, table) for table in tables] == before
        with engine.connect() as conn:
            applied = conn.execute(select(s.schema_version_table.c.version)).scalars().all()
            conn.rollback()
        assert sorted(applied) == [number for number, _, _ in s.MIGRATIONS]
    finally:
        store.close()


def test_writes_after_the_upgrade_keep_the_report_columns_in_step(
    urls: tuple[str, str],
) -> None:
    old_url, new_url = urls
    world = generate(seed=7, relations=6, activities=30)
    old_database(old_url, 2, world, new_url).close()
    upgraded = open_store(old_url)  # create=True upgrades on opening
    try:
        contact = next(a for a in world.activities if a.kind is ActivityKind.CONTACT)
        changed = attrs.evolve(contact, kind=ActivityKind.TASK, outcome="done")
        new_contact = attrs.evolve(contact, id=ActivityId("A-new"), outcome=None)
        booked = Appointment(
            AppointmentId("AP-new"),
            employee=contact.employee,
            start=START + timedelta(days=3),
            end=START + timedelta(days=3, hours=1),
            title="Visit",
            uid="ap-new@example.com",
            relation_id=contact.relation_id,
            project_id=world.projects[0].id,
            status=AppointmentStatus.CONFIRMED,
        )
        with upgraded.unit_of_work() as uow:
            uow.activities.save(
                attrs.evolve(changed, version=uow.activities.get(contact.id).version)
            )
            uow.activities.add(new_contact)
            uow.appointments.add(booked)
            uow.commit()
        a, ap = s.activities.c, s.appointments.c
        with upgraded.engine.connect() as conn:
            saved_row = conn.execute(select(a.kind, a.outcome).where(a.id == contact.id)).one()
            added_row = conn.execute(select(a.kind, a.outcome).where(a.id == "A-new")).one()
            booked_row = conn.execute(
                select(ap.relation_id, ap.project_id).where(ap.id == "AP-new")
            ).one()
            conn.rollback()
        assert tuple(saved_row) == ("task", "done")
        assert tuple(added_row) == ("contact", None)
        assert tuple(booked_row) == (contact.relation_id, world.projects[0].id)

        now = attrs.evolve(
            world,
            activities=[
                *(changed if x.id == contact.id else x for x in world.activities),
                new_contact,
            ],
            appointments=[*world.appointments, booked],
        )
        ctx = context(upgraded)
        for reader in READERS:
            assert employee_activity(ctx, reader) == expected_employee_rows(
                now, Rights.of(reader)
            ), reader
    finally:
        upgraded.close()


# -- migration 7: the index behind the phone lookup, and project member links --

PROJECT = Project(
    ProjectId("P-1"),
    RelationId("R-1"),
    "Campaign",
    members={"client": (UserId("u-client"),), "marketeer": (UserId("u-client"), UserId("u-m"))},
)


def test_members_of_projects_stored_before_version_7_limit_client_staff(
    urls: tuple[str, str],
) -> None:
    old_url, _ = urls
    engine = make_engine(old_url)
    try:
        migrate_to(engine, 3)
        with engine.begin() as conn:
            data = dict(unstructure(attrs_version(PROJECT)))
            conn.execute(
                s.projects.insert().values(
                    id="P-1",
                    relation_id="R-1",
                    name="Campaign",
                    restricted=False,
                    version=1,
                    data=json.dumps(data),
                )
            )
        assert s.upgrade_schema(engine) == s.LATEST_VERSION
        with engine.connect() as conn:
            links = conn.execute(
                select(s.project_links.c.principal_kind, s.project_links.c.principal_id).where(
                    s.project_links.c.project_id == "P-1"
                )
            ).all()
            conn.rollback()
        assert sorted(links) == [("member", "u-client"), ("member", "u-m")]
    finally:
        engine.dispose()
    store = open_store(old_url, create=False)
    try:
        with store.unit_of_work() as uow:
            uow.relations.add(Relation(RelationId("R-1"), "Firma", phone="+31201234567"))
            uow.commit()
        with store.unit_of_work(read_only=True) as uow:
            assert [r.id for r in uow.relations.by_phone("+31201234567")] == ["R-1"]
        if store.engine.dialect.name == "sqlite":
            with store.engine.connect() as conn:
                plan = conn.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT data FROM relations WHERE "
                        f"{s.RELATION_PHONE_SQL['sqlite']} = '+31201234567'"
                    )
                ).all()
                conn.rollback()
            assert "ix_relations_phone" in str(plan)
    finally:
        store.close()


def attrs_version(project: Project) -> Project:
    return attrs.evolve(project, version=1)


# -- migration 10: participants' agendas, and the index of a project's agenda --


def _meetings() -> list[Appointment]:
    hour = timedelta(hours=1)

    def one(aid: str, employee: str, start: int, **fields: Any) -> Appointment:
        return Appointment(
            AppointmentId(aid),
            employee=UserId(employee),
            start=START + start * hour,
            end=START + (start + 1) * hour,
            title=f"Meeting {aid}",
            uid=f"{aid.lower()}@example.com",
            **fields,
        )

    return [
        # named twice, and the employee among the participants: one row per other user
        one("AP-1", "ann", 1, participants=("bob", "cor", "bob", "ann"), project_id="P-1"),
        one("AP-2", "bob", 2),
        one("AP-3", "cor", 3, participants=("ann",), status=AppointmentStatus.CANCELLED),
        one("AP-4", "dan", 0, participants=("bob",), project_id="P-1", rrule="FREQ=DAILY"),
    ]


def test_participants_of_appointments_stored_before_version_10_have_them_in_their_agendas(
    urls: tuple[str, str],
) -> None:
    old_url, new_url = urls
    new = open_store(new_url)
    try:
        with new.unit_of_work() as uow:
            uow.appointments.add_many(_meetings())
            uow.commit()
        engine = make_engine(old_url)
        try:
            migrate_to(engine, 8)
            assert not inspect(engine).has_table("appointment_participants")
            copy_as_old_rows(new, engine)
            assert s.upgrade_schema(engine) == s.LATEST_VERSION
            for table in ("appointments", "appointment_participants"):
                assert shape(engine, table) == shape(new.engine, table), table
            assert "ix_appointments_project" in {i[0] for i in shape(engine, "appointments")[1]}
        finally:
            engine.dispose()
        upgraded = open_store(old_url, create=False)
        try:
            # the backfill wrote the rows the store writes today
            assert upgraded.dump() == new.dump()
            assert upgraded.dump()["appointment_participants"] == [
                ("AP-1", "bob"),
                ("AP-1", "cor"),
                ("AP-3", "ann"),
                ("AP-4", "bob"),
            ]
            day = (START, START + timedelta(days=1))
            with upgraded.unit_of_work(read_only=True) as uow:
                agendas = {
                    who: [a.id for a in uow.appointments.agenda(who, *day)]
                    for who in ("ann", "bob", "cor", "dan")
                }
                project = [a.id for a in uow.appointments.of_project("P-1", *day)]
            assert agendas == {
                "ann": ["AP-1"],
                "bob": ["AP-4", "AP-1", "AP-2"],
                "cor": ["AP-1"],
                "dan": ["AP-4"],
            }
            assert project == ["AP-4", "AP-1"]
        finally:
            upgraded.close()
    finally:
        new.close()


def test_an_agenda_and_a_projects_agenda_read_their_indexes(tmp_path: Path) -> None:
    from crm_procedures.adapters.sql import _appointments

    store = open_store(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        with store.unit_of_work() as uow:
            uow.appointments.add_many(_meetings())
            uow.commit()
        day = (START, START + timedelta(days=1))
        data = select(s.appointments.c.data)
        statements = {
            "agenda": _appointments.agenda(data, "bob", *day),
            "of_project": _appointments.of_project(data, "P-1", *day),
        }
        plans = {}
        with store.engine.connect() as conn:
            for name, statement in statements.items():
                assert statement is not None
                sql = statement.compile(
                    dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                )
                plans[name] = str(conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all())
            conn.rollback()
        # the employee's own appointments and those they take part in: two index ranges
        assert "ix_appointments_agenda" in plans["agenda"], plans["agenda"]
        assert "ix_appointment_participants_user" in plans["agenda"], plans["agenda"]
        assert "SCAN appointments" not in plans["agenda"], plans["agenda"]
        assert "ix_appointments_project" in plans["of_project"], plans["of_project"]
    finally:
        store.close()
