"""Regression tests of what ``hostile_api`` found at the boundaries, one per root cause.

Each names its defect: a value from outside reached the OS, the database
driver, a converter or an int-to-text conversion and escaped as a raw
``ValueError``/``TypeError``/``OverflowError``/``UnicodeEncodeError``/
``AttributeError`` instead of a named ``CrmError``.
"""

from __future__ import annotations

import math
import time as clock
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures._paths import usable_path
from crm_procedures.adapters.blobs import FolderBlobStore
from crm_procedures.adapters.calls import CsvCallFeed
from crm_procedures.adapters.files import FolderCalendar, FolderMailer, uid_file_name
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.sql import open_store
from crm_procedures.adapters.sql.due import set_lease
from crm_procedures.adapters.sql.schema import SchemaError
from crm_procedures.adapters.sql.store import make_engine
from crm_procedures.errors import (
    ConcurrencyConflict,
    CrmError,
    DefinitionError,
    InvalidInput,
    MalformedFile,
    NotFound,
)
from crm_procedures.formats.ical import fold_line, invitation_ics
from crm_procedures.formats.mime import build_email, message_id_for
from crm_procedures.model._checks import require_aware
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.procedures.definitions import load_definitions
from crm_procedures.procedures.effects import CustomEffect
from crm_procedures.procedures.procedure import Definitions, Procedure
from crm_procedures.procedures.step import Step
from crm_procedures.procedures.timing.data import dump_calendars, dump_send_window
from crm_procedures.services import campaigns, reports, scheduler
from crm_procedures.services.imports import export_csv, import_suspects, read_csv_rows
from crm_procedures.services.step_kinds import StepInputs
from crm_procedures.testing import builders
from crm_procedures.testing.contracts._support import has
from reliability.world import MEMBERS, T0, context, setup_people

HUGE = 10**5000
BAD_NAMES = ["a\x00b", "a\ud800b", "x" * 300, ""]


# -- paths: NUL, lone surrogates and over-long names never reach the OS


@pytest.mark.parametrize("name", BAD_NAMES)
def test_defect_hostile_10_folder_names_the_os_cannot_take_are_invalid_input(
    tmp_path: Path, name: str
) -> None:
    for make in (FolderBlobStore, FolderMailer, FolderCalendar):
        with pytest.raises(InvalidInput):
            make(tmp_path / name if name else name)


def test_defect_hostile_10_a_file_in_the_way_of_a_blob_folder_is_invalid_input(
    tmp_path: Path,
) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(InvalidInput):
        FolderBlobStore(tmp_path / "file" / "blobs")


def test_defect_hostile_10_a_usable_path_is_kept(tmp_path: Path) -> None:
    assert usable_path("folder", tmp_path / "ok") == tmp_path / "ok"


@pytest.mark.parametrize("name", ["a\x00b.toml", "a\ud800b.toml"])
def test_defect_hostile_11_load_definitions_of_an_impossible_file_name(name: str) -> None:
    with pytest.raises(DefinitionError):
        load_definitions(Path(name))


# -- int-to-text: a number of 5,000 digits in an error message


def test_defect_hostile_12_errors_formatting_a_5000_digit_number_are_made() -> None:
    for error in (
        SchemaError(HUGE, 2, "upgrade"),
        ConcurrencyConflict("prospect", "p1", HUGE, HUGE),
        MalformedFile(HUGE, "bad"),
    ):
        assert "digits" in str(error)
    assert "version 3" in str(ConcurrencyConflict("prospect", "p1", 3, None))


# -- dates: an aware datetime with no UTC reading in years 1..9999


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, 0, 5, tzinfo=ZoneInfo("Europe/Amsterdam")),
        datetime(9999, 12, 31, 22, tzinfo=ZoneInfo("America/New_York")),
    ],
)
def test_defect_hostile_13_require_aware_at_year_1_and_9999_is_invalid_input(
    moment: datetime,
) -> None:
    with pytest.raises(InvalidInput, match="year 1 or 9999"):
        require_aware(moment, "at")
    with pytest.raises(InvalidInput):
        OutboxMessage(id="m1", key="k", channel="email", created_at=moment)


# -- mail and calendar text: lone surrogates never reach .encode()


@given(st.text(min_size=1, max_size=5).map(lambda s: s + "\ud800"))
def test_defect_hostile_14_fold_line_with_a_lone_surrogate_is_invalid_input(line: str) -> None:
    with pytest.raises(InvalidInput):
        fold_line(line)


def test_defect_hostile_14_message_id_and_organizer_with_a_lone_surrogate() -> None:
    with pytest.raises(InvalidInput):
        message_id_for("key\ud800", "crm@example.com")
    with pytest.raises(InvalidInput):
        invitation_ics(builders.an_appointment(), organizer="a\ud800@example.com")
    with pytest.raises(InvalidInput):
        invitation_ics(
            builders.an_appointment(),
            dtstamp=datetime(1, 1, 1, 0, 5, tzinfo=ZoneInfo("Europe/Amsterdam")),
        )


# -- SQL store set-up: malformed URLs and timeouts


@pytest.mark.parametrize("url", ["", "not a url", "sqlite:///a\x00b.db", "post\ud800gres://x"])
def test_defect_hostile_15_malformed_database_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput):
        make_engine(url)
    with pytest.raises(InvalidInput):
        open_store(url)


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -1.0, 10**30, True, "10"])
def test_defect_hostile_15_busy_timeout_out_of_range_is_invalid_input(
    tmp_path: Path, timeout: Any
) -> None:
    with pytest.raises(InvalidInput, match="busy_timeout"):
        open_store(f"sqlite:///{tmp_path / 'crm.db'}", busy_timeout=timeout)
    assert not (tmp_path / "crm.db").exists()


# -- converters of the definitions' classes


NOT_A_MAPPING = st.one_of(st.text(min_size=1, max_size=10), st.integers(), st.just(None))


@given(NOT_A_MAPPING)
def test_defect_hostile_16_definition_converters_refuse_what_is_no_mapping(value: Any) -> None:
    with pytest.raises(CrmError):
        CustomEffect("kind", "step", value)
    with pytest.raises(CrmError):
        Step("call", "Call", params=value)
    with pytest.raises(CrmError):
        Step("call", "Call", labels=value)
    with pytest.raises(CrmError):
        StepInputs(values=value)
    with pytest.raises(CrmError):
        Procedure("p", "P", matrix=value)
    with pytest.raises(CrmError):
        Procedure("p", "P", corrections=value)
    with pytest.raises(CrmError):
        Definitions(steps=value)


def test_defect_hostile_16_dump_calendars_and_windows_of_the_wrong_type() -> None:
    with pytest.raises(InvalidInput):
        dump_calendars({"nl": "text"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput):
        dump_calendars("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        dump_send_window("text")  # type: ignore[arg-type]


# -- CSV: delimiters and batch sizes


@pytest.mark.parametrize("delimiter", ["", ";;", '"', "\n", "\x00", "\ud800", 1])
def test_defect_hostile_17_csv_delimiter_that_is_no_single_character(delimiter: Any) -> None:
    with pytest.raises(InvalidInput, match="delimiter"):
        export_csv([["a", "b"]], delimiter=delimiter)
    with pytest.raises(InvalidInput, match="delimiter"):
        read_csv_rows("name\nAcme\n", delimiter=delimiter)


def test_defect_hostile_17_import_batch_size_zero_stores_nothing() -> None:
    store = MemoryStore()
    setup_people(store)
    before = store.dump()
    with pytest.raises(InvalidInput, match="batch_size"):
        import_suspects(context(store), "pia", "p1", "name\nAcme\n", batch_size=0)
    assert store.dump() == before


# -- the contract kit


def test_defect_hostile_18_an_unknown_capability_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="capability"):
        has(MemoryStore(), "text")


def test_defect_hostile_19_send_window_dump_still_round_trips() -> None:
    from crm_procedures.procedures.timing.data import load_send_window
    from crm_procedures.procedures.timing.send_window import SendWindow

    window = SendWindow(days=frozenset({0, 1}), opens=time(9), closes=time(17))
    assert load_send_window(dump_send_window(window)) == window


# -- campaigns: relation pairs of the wrong shape


@pytest.mark.parametrize(
    "relations", [[()], [("client", None, "x")], [None], "ab", [("client", 1)]]
)
def test_defect_hostile_20_add_prospects_with_malformed_pairs_stores_nothing(
    relations: Any,
) -> None:
    store = MemoryStore()
    setup_people(store)
    ctx = context(store)
    project = campaigns.start_campaign(
        ctx,
        "pia",
        relation_id="client",
        name="Campaign",
        procedure="standard",
        members={r: list(u) for r, u in MEMBERS.items()},
    )
    before = store.dump()
    with pytest.raises(InvalidInput, match="relations"):
        campaigns.add_prospects(ctx, "pia", project.id, relations=relations)
    assert store.dump() == before


# -- mail: a megabyte subject is refused at once instead of folding for a minute


def test_defect_hostile_21_a_megabyte_subject_is_refused_at_once() -> None:
    started = clock.perf_counter()
    with pytest.raises(InvalidInput, match="subject"):
        build_email(
            sender=("Campaigns", "campaigns@example.com"),
            to=("Jan", "jan@example.nl"),
            subject="word " * 200_000,
            text="Body",
            key="k",
            date=T0,
        )
    assert clock.perf_counter() - started < 2.0
    assert build_email(
        sender=("Campaigns", "campaigns@example.com"),
        to=("Jan", "jan@example.nl"),
        subject="word " * 1_000,
        text="Body",
        key="k",
        date=T0,
    )["Subject"]


# -- the test kit's builders


@pytest.mark.parametrize(
    "start", [datetime(9999, 12, 31, 23, 30, tzinfo=ZoneInfo("UTC")), datetime(2026, 1, 1), "x"]
)
def test_defect_hostile_22_an_appointment_builder_with_a_far_or_naive_start(start: Any) -> None:
    with pytest.raises(InvalidInput, match="start"):
        builders.an_appointment(start=start)


@pytest.mark.parametrize("name", ["a\x00b.csv", "a\ud800b.csv", "x" * 300 + ".csv"])
def test_defect_hostile_23_csv_and_call_files_the_os_cannot_name(name: str) -> None:
    with pytest.raises(InvalidInput, match="source"):
        read_csv_rows(Path(name))
    with pytest.raises(InvalidInput, match="path"):
        CsvCallFeed(name)
    store = MemoryStore()
    setup_people(store)
    before = store.dump()
    with pytest.raises(InvalidInput, match="source"):
        import_suspects(context(store), "pia", "p1", Path(name))
    assert store.dump() == before


# -- scheduler, reports and file names (found by the full run)


def test_defect_hostile_24_scheduler_grace_past_the_calendar_and_unstorable_worker() -> None:
    store = MemoryStore()
    setup_people(store)
    ctx = context(store)
    with pytest.raises(InvalidInput, match="grace"):
        scheduler.send_reminders(ctx, grace=timedelta(days=999_999_999))
    with pytest.raises(InvalidInput, match="worker"):
        scheduler.run_due(ctx, worker="Evil\x00Co")


@pytest.mark.parametrize("project_id", ["a\x00b", "Evil\ud800Co"])
def test_defect_hostile_25_a_funnel_of_an_unstorable_project_id_is_not_found_everywhere(
    tmp_path: Path, project_id: str
) -> None:
    for store in (MemoryStore(), open_store(f"sqlite:///{tmp_path / 'crm.db'}")):
        setup_people(store)
        with pytest.raises(NotFound):
            reports.funnel(context(store), "pia", project_id)


def test_defect_hostile_26_a_megabyte_uid_is_named_at_once_and_as_before() -> None:
    uid = "\U0001f600" * 1_000_000
    started = clock.perf_counter()
    name = uid_file_name(uid)
    assert clock.perf_counter() - started < 1.0
    assert name != uid_file_name(uid + "x")
    assert uid_file_name("a" * 300)[:120] == "a" * 120


def test_defect_hostile_27_a_visit_report_builder_with_a_far_start() -> None:
    with pytest.raises(InvalidInput, match="start"):
        builders.a_visit_report(start=datetime(9999, 12, 31, 23, 30, tzinfo=ZoneInfo("UTC")))


@pytest.mark.parametrize("lease", [math.nan, 1e308, 0, -1])
def test_defect_hostile_28_run_due_lease_seconds_out_of_range_on_every_store(
    tmp_path: Path, lease: float
) -> None:
    for store in (MemoryStore(), open_store(f"sqlite:///{tmp_path / 'crm.db'}")):
        setup_people(store)
        with pytest.raises(InvalidInput, match="lease_seconds"):
            scheduler.run_due(context(store), lease_seconds=lease)


def test_defect_hostile_28_a_lease_id_too_long_for_an_index_is_refused(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'crm.db'}")
    with store.unit_of_work() as uow, pytest.raises(InvalidInput, match="prospect_id"):
        set_lease(uow, "x" * 1_000_001, "worker", 0, 1)


def test_defect_hostile_29_a_calendar_object_stamped_at_year_one_is_refused() -> None:
    from crm_procedures.formats.ical import calendar_object_ics

    stamp = datetime(1, 1, 1, 0, 5, tzinfo=ZoneInfo("Europe/Amsterdam"))
    with pytest.raises(InvalidInput):
        calendar_object_ics(builders.an_appointment(), stamp)


@pytest.mark.parametrize("field", ["linked_users", "linked_groups", "denied_users"])
def test_defect_hostile_30_project_principals_longer_than_an_id_are_refused(field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        builders.a_project(**{field: ["\U0001f600" * 20_000]})
    assert refused.value.field == field


def test_defect_hostile_31_a_suppression_page_past_64_bits_answers_alike(tmp_path: Path) -> None:
    from crm_procedures.services import inbound

    answers = []
    for store in (MemoryStore(), open_store(f"sqlite:///{tmp_path / 'crm.db'}")):
        setup_people(store)
        answers.append(inbound.suppressed_addresses(context(store), "pia", offset=10**5000))
    assert answers == [[], []]
