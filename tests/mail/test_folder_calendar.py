"""FolderCalendar keeps one file per UID, never one file for two UIDs (issue 16, defect 17)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures.adapters.files import FolderCalendar, uid_file_name
from crm_procedures.ids import AppointmentId, UserId
from crm_procedures.model.appointment import Appointment, Attendee

STAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def appointment(uid: str, title: str) -> Appointment:
    return Appointment(
        id=AppointmentId("a-1"),
        employee=UserId("anna"),
        start=datetime(2026, 3, 10, 10, tzinfo=UTC),
        end=datetime(2026, 3, 10, 11, tzinfo=UTC),
        title=title,
        uid=uid,
        attendees=(Attendee("jan@acme.example.nl"),),
        organizer_email="anna@crm.example.com",
    )


def test_defect_17_uids_that_differ_only_in_unsafe_characters_get_two_files(
    tmp_path: Path,
) -> None:
    cal = FolderCalendar(tmp_path, clock=lambda: STAMP)
    uids = ["2026/1@x", "2026_1@x", "2026%2F1@x", "A@x", "a@x", "..@x", "con"]
    for n, uid in enumerate(uids):
        cal.publish(appointment(uid, f"Title {n}"))
    files = cal.files()
    assert len(files) == len(uids)
    # Also apart where the file system ignores case.
    assert len({p.name.casefold() for p in files}) == len(uids)
    for n, uid in enumerate(uids):
        assert f"SUMMARY:Title {n}\r\n".encode() in cal.path_for(uid).read_bytes()
        assert cal.path_for(uid).parent == tmp_path
    # The usual UID keeps its readable name.
    assert uid_file_name("a-1@crm.example.com") == "a-1@crm.example.com"


@given(st.lists(st.text(min_size=1, max_size=300), min_size=2, max_size=6, unique=True))
@settings(max_examples=300, deadline=None)
def test_defect_17_uid_file_names_are_one_to_one_and_safe(uids: list[str]) -> None:
    names = [uid_file_name(uid) for uid in uids]
    assert len({n.casefold() for n in names}) == len(uids)
    for name in names:
        assert 0 < len(name) <= 200
        assert "/" not in name
        assert "\\" not in name
        assert not name.startswith(".")
        assert name.isascii()
        assert name.isprintable()
