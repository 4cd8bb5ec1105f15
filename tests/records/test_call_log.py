"""L5: the call log, fed by telephony and matched to contacts by phone number."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from crm_procedures.adapters.calls import Call, CsvCallFeed, MemoryCallFeed
from crm_procedures.errors import InvalidInput
from crm_procedures.model.activity import ActivityKind
from crm_procedures.services import projects
from records.builders import AMS, T0, World


def _call(cid: str, phone: str, minutes: float = 4, user: str | None = "u-anna") -> Call:
    return Call(cid, phone, "in", T0 - timedelta(hours=1), minutes * 60, user)


def test_call_is_matched_by_normalised_phone_and_recorded_as_a_contact(world: World) -> None:
    feed = MemoryCallFeed([_call("c-1", "020 - 123 45 67", minutes=4.5)])
    result = projects.ingest_calls(world.ctx, feed)
    (activity,) = result.recorded
    assert activity.kind is ActivityKind.CONTACT
    assert (activity.channel, activity.relation_id, activity.contact_ids) == (
        "phone",
        "R-1",
        ("C-1",),
    )
    assert activity.timer.accumulated == 270.0
    assert activity.completed
    assert activity.employee == "u-anna"


def test_feeding_the_same_call_twice_records_it_once(world: World) -> None:
    feed = MemoryCallFeed([_call("c-1", "+31 20 1234567")])
    projects.ingest_calls(world.ctx, feed)
    again = projects.ingest_calls(world.ctx, feed)
    assert (again.recorded, again.already_known) == ((), 1)


def test_call_from_an_unknown_number_is_left_unmatched(world: World) -> None:
    before = world.dump()
    result = projects.ingest_calls(world.ctx, MemoryCallFeed([_call("c-9", "anonymous")]))
    assert [c.call_id for c in result.unmatched] == ["c-9"]
    assert world.dump() == before


def test_call_without_a_known_user_goes_to_the_account_manager(world: World) -> None:
    result = projects.ingest_calls(
        world.ctx, MemoryCallFeed([_call("c-1", "0201234567", user=None)])
    )
    assert result.recorded[0].employee == "u-anna"


def test_call_lands_in_the_call_log_of_the_project_listing_the_contact(world: World) -> None:
    pid = projects.create_project(
        world.ctx, "u-anna", relation_id="R-1", name="Ovens", contact_ids=["C-1"]
    ).id
    projects.ingest_calls(world.ctx, MemoryCallFeed([_call("c-1", "0201234567")]))
    (logged,) = projects.call_log(world.ctx, "u-anna", pid)
    assert logged.project_id == pid
    assert projects.project_summary(world.ctx, "u-anna", pid).calls == 1


def test_csv_export_is_read_with_its_zone_and_durations(tmp_path: Path) -> None:
    export = tmp_path / "calls.csv"
    export.write_text(
        "call_id,phone,direction,start,duration,user\n"
        "a,0201234567,inbound,2026-03-02T09:00:00,1:30,u-anna\n"
        "b,0612345678,outgoing,2026-03-02T08:00:00+01:00,45,\n",
        encoding="utf-8",
    )
    calls = list(CsvCallFeed(export, timezone=AMS).calls())
    assert [c.call_id for c in calls] == ["b", "a"]
    assert (calls[1].direction, calls[1].duration_seconds, calls[1].user_id) == (
        "in",
        90.0,
        "u-anna",
    )
    assert calls[1].start.utcoffset() == timedelta(hours=1)
    assert calls[0].user_id is None
    since = list(CsvCallFeed(export, timezone=AMS).calls(since=T0 - timedelta(hours=1)))
    assert [c.call_id for c in since] == ["a"]


def test_csv_export_without_offset_or_zone_is_refused_with_its_line(tmp_path: Path) -> None:
    export = tmp_path / "calls.csv"
    export.write_text(
        "call_id,phone,direction,start,duration\n"
        "a,0201234567,in,2026-03-02T09:00:00+01:00,10\n"
        "b,0201234567,in,2026-03-02T09:00:00,10\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match=r"calls\.csv:3\.start.*timezone-aware"):
        list(CsvCallFeed(export).calls())


def test_csv_export_missing_a_column_is_refused(tmp_path: Path) -> None:
    export = tmp_path / "calls.csv"
    export.write_text("id,phone\n1,0201234567\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no column 'call_id'"):
        list(CsvCallFeed(export).calls())


def test_call_refuses_a_negative_duration() -> None:
    with pytest.raises(InvalidInput, match="duration_seconds"):
        Call("x", "0201234567", "in", T0, -1)
