"""The main job (``crm-procedures demo``): its artefacts are real and its run reproducible."""

from __future__ import annotations

import email
import io
import sqlite3
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import attrs
import icalendar
import pytest

from crm_procedures.demo import run_demo

SUSPECTS = 24


@attrs.frozen
class DemoRun:
    """One finished demo run: its exit code, what it printed and its folder."""

    code: int
    printed: str
    out: Path


def demo(out: Path, **options: Any) -> DemoRun:
    stream = io.StringIO()
    code = run_demo(out, suspects=SUSPECTS, quiet=True, stream=stream, **options)
    return DemoRun(code, stream.getvalue(), out)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return demo(tmp_path_factory.mktemp("demo") / "crm-demo")


def counts(out: Path) -> dict[str, Any]:
    """What a run produced, independent of generated ids."""
    with sqlite3.connect(out / "crm.db") as db:
        tables = {
            t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in (
                "prospects",
                "prospect_history",
                "relations",
                "contacts",
                "activities",
                "appointments",
                "outbox",
            )
        }
        statuses = dict(db.execute("SELECT status, count(*) FROM prospects GROUP BY status"))
    report = (out / "report.txt").read_text(encoding="utf-8")
    return {
        "tables": tables,
        "statuses": statuses,
        "eml": len(list((out / "outbox").glob("*.eml"))),
        "ics": len(list((out / "agenda").glob("*.ics"))),
        "report": report,
    }


def test_demo_finishes_with_exit_0_and_a_sound_database(first: DemoRun) -> None:
    assert first.code == 0, first.printed
    assert "integrity check: ok" in first.printed
    with sqlite3.connect(first.out / "crm.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (prospects,) = db.execute("SELECT count(*) FROM prospects").fetchone()
    assert 0 < prospects <= SUSPECTS + 1
    for name in ("procedure.mmd", "procedure.dot", "matrix.md", "suspects.csv"):
        assert (first.out / name).stat().st_size > 0, name


def test_every_outbox_message_parses_as_an_email(first: DemoRun) -> None:
    files = sorted((first.out / "outbox").glob("*.eml"))
    assert files
    for path in files:
        raw = path.read_bytes()
        assert b"\n" not in raw.replace(b"\r\n", b""), f"{path.name} has a bare LF"
        msg = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        for header in ("From", "To", "Subject", "Message-ID", "Date"):
            assert msg[header], f"{path.name} has no {header}"
        assert msg["To"].addresses[0].addr_spec.endswith("@example.nl")
        assert not msg.defects, (path.name, msg.defects)


def test_the_outbox_holds_information_emails_and_invitations(first: DemoRun) -> None:
    kinds = set()
    for path in (first.out / "outbox").glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        types = {part.get_content_type() for part in msg.walk()}
        kinds.add("invitation" if "text/calendar" in types else "mail")
    assert kinds == {"invitation", "mail"}


def test_every_agenda_file_parses_and_follows_rfc_5545_lines(first: DemoRun) -> None:
    files = sorted((first.out / "agenda").glob("*.ics"))
    assert files
    for path in files:
        raw = path.read_bytes()
        assert raw.endswith(b"\r\n")
        lines = raw.split(b"\r\n")[:-1]
        for line in lines:
            assert b"\n" not in line, f"{path.name}: bare LF"
            assert b"\r" not in line, f"{path.name}: bare CR"
            assert len(line) <= 75, f"{path.name}: {len(line)} octets: {line!r}"
        calendar: Any = icalendar.Calendar.from_ical(raw)
        events = list(calendar.walk("VEVENT"))
        assert events, path.name
        for event in events:
            assert str(event["UID"])
            start = event["DTSTART"]
            assert start.params.get("TZID") or start.to_ical().endswith(b"Z"), path.name
            assert start.dt.tzinfo is not None


def test_report_shows_the_funnel_and_the_employees(first: DemoRun) -> None:
    report = (first.out / "report.txt").read_text(encoding="utf-8")
    assert "Funnel" in report
    assert "Relations in the project" in report
    assert "Per employee" in report
    assert report.startswith("Campaign moves: ")
    assert "Summary" in first.printed
    assert report.splitlines()[0] in first.printed


def test_database_holds_the_history_the_account_printed(first: DemoRun) -> None:
    line = (first.out / "report.txt").read_text(encoding="utf-8").splitlines()[0]
    printed = {
        name.strip(): int(n)
        for name, n in (
            part.split(":") for part in line.removeprefix("Campaign moves: ").split(",")
        )
    }
    with sqlite3.connect(first.out / "crm.db") as db:
        steps = dict(
            db.execute(
                "SELECT step, count(*) FROM prospect_history WHERE kind='step' GROUP BY step"
            )
        )
        (closings,) = db.execute(
            "SELECT count(*) FROM prospect_history WHERE kind='status' AND detail LIKE 'closed:%'"
        ).fetchone()
        (won,) = db.execute(
            "SELECT count(*) FROM prospect_history WHERE kind='stage' AND detail='customer'"
        ).fetchone()
        (corrections,) = db.execute(
            "SELECT count(*) FROM prospect_history WHERE kind='correction'"
        ).fetchone()
    for step in ("call", "call_back", "send_info", "make_appointment", "client_call"):
        assert steps.get(step, 0) == printed.get(step.replace("_", " "), 0), step
    assert closings == printed.get("closed", 0)
    assert won == printed.get("won", 0)
    assert corrections == printed.get("corrections", 0)
    assert printed["call"] > 0


def test_same_seed_gives_the_same_campaign(first: DemoRun, tmp_path: Path) -> None:
    again = demo(tmp_path / "crm-demo")
    assert again.code == 0
    assert counts(again.out) == counts(first.out)


def test_another_seed_gives_another_campaign(first: DemoRun, tmp_path: Path) -> None:
    other = demo(tmp_path / "crm-demo", seed=8)
    assert other.code == 0
    assert counts(other.out)["report"] != counts(first.out)["report"]


def test_a_fresh_run_in_a_used_folder_starts_clean(tmp_path: Path) -> None:
    out = tmp_path / "crm-demo"
    once = demo(out)
    before = counts(out)
    (out / "outbox" / "stale.eml").write_bytes(b"left over")
    twice = demo(out)
    assert (once.code, twice.code) == (0, 0)
    assert not (out / "outbox" / "stale.eml").exists()
    assert counts(out) == before


def test_resuming_continues_the_same_campaign(tmp_path: Path) -> None:
    out = tmp_path / "crm-demo"
    assert demo(out).code == 0
    before = counts(out)
    resumed = demo(out, fresh=False)
    assert resumed.code == 0, resumed.printed
    assert "continuing" in resumed.printed
    after = counts(out)
    assert after["tables"]["prospects"] == before["tables"]["prospects"]
    assert after["tables"]["activities"] > before["tables"]["activities"]
    with sqlite3.connect(out / "crm.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_answers_come_back_through_the_folder_inbox(first: DemoRun) -> None:
    inbox = sorted((first.out / "inbox").glob("*.eml"))
    assert len(inbox) == 3
    with sqlite3.connect(first.out / "crm.db") as db:
        (processed,) = db.execute("SELECT count(*) FROM inbound_messages").fetchone()
        names = sorted(name for (name,) in db.execute("SELECT name FROM events"))
        (undeliverable,) = db.execute(
            "SELECT count(*) FROM address_statuses WHERE suppressed IS NOT NULL"
        ).fetchone()
    assert processed == 3
    assert names == ["appointment_declined", "bounce"]
    assert undeliverable == 1


def test_the_scheduler_sends_the_information_two_business_days_after_the_call(
    first: DemoRun,
) -> None:
    from datetime import datetime

    with sqlite3.connect(first.out / "crm.db") as db:
        rows = db.execute(
            "SELECT h.prospect_id, h.seq, h.step, h.at, h.actor FROM prospect_history h "
            "WHERE h.kind = 'step' AND h.step IN ('info_asked', 'send_info') "
            "ORDER BY h.prospect_id, h.seq"
        ).fetchall()
    asked: dict[str, datetime] = {}
    sends = 0
    for pid, _seq, step, at, actor in rows:
        when = datetime.fromisoformat(at.split("[")[0])
        if step == "info_asked":
            asked[pid] = when
            continue
        sends += 1
        assert actor == "system"
        call = asked[pid]
        # two business days later (the demo's weeks hold no Dutch holiday), office hours
        assert when.weekday() < 5
        assert 9 <= when.hour < 17
        days = 0
        day = call.date()
        while day < when.date():
            day = day.fromordinal(day.toordinal() + 1)
            days += day.weekday() < 5
        assert days >= 2, (call, when)
    assert sends > 0
    report = (first.out / "report.txt").read_text(encoding="utf-8")
    assert "Overdue work per marketeer" in report


def test_the_demo_runs_without_the_holidays_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "holidays", None)
    run = demo(tmp_path / "no-holidays")
    assert run.code == 0, run.printed
