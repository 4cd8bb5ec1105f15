"""Report output: the text table in three languages, CSV export, and charts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm_procedures.errors import InvalidInput
from crm_procedures.locales import LANGUAGES, label
from crm_procedures.model.reports import AcquisitionRow, EmployeeRow, Funnel, TimelineItem
from crm_procedures.services.charts import employee_chart, funnel_chart
from crm_procedures.services.reports import render_table, to_csv

FUNNEL = Funnel(
    "P-1",
    total=40,
    suspects=10,
    prospects=30,
    steps={"call": 30, "visit": 12, "offer": 5},
    closed={"not_interested": 8, "": 2, "own_reason": 1},
    won=3,
)
EMPLOYEES = [
    EmployeeRow(
        "anna",
        activities=12,
        contacts=8,
        meetings=3,
        tasks=1,
        completed=9,
        outcomes={"reached": 5, "no_answer": 3},
        relations_contacted=6,
        appointments_booked=3,
        converted=2,
    ),
    EmployeeRow("bart", activities=1, tasks=1),
]


def lines_of(table: str) -> list[str]:
    return table.rstrip("\n").split("\n")


@pytest.mark.parametrize("language", LANGUAGES)
def test_funnel_table_has_headings_in_the_language_and_one_line_per_row(language: str) -> None:
    table = render_table(FUNNEL, language=language)
    lines = lines_of(table)
    heading = lines[0]
    for key in ("stage", "count", "share"):
        assert label(f"report.column.{key}", language) in heading
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + len(FUNNEL.rows())
    # Every data line ends in its share, right-aligned under the heading.
    assert lines[2].endswith("100.0%")
    assert lines[3].endswith("25.0%")  # 10 suspects of 40
    assert all(len(line) <= len(lines[1]) for line in lines)
    assert label("report.funnel.won", language) in table


def test_funnel_table_lists_steps_most_reached_first_and_names_close_reasons() -> None:
    table = render_table(FUNNEL, language="en")
    order = [table.index(f"Step reached: {step}") for step in ("call", "visit", "offer")]
    assert order == sorted(order)
    assert "Closed: Not interested" in table
    assert "Closed: " + label("report.unknown_group", "en") in table
    assert "Closed: own_reason" in table  # a reason of the installation's own keeps its key
    assert label("choice.close_reason.not_interested", "nl") in render_table(FUNNEL, "nl")


def test_tables_differ_between_languages_only_in_words() -> None:
    en, nl, pl = (render_table(EMPLOYEES, language=lang) for lang in ("en", "nl", "pl"))
    assert len({en, nl, pl}) == 3
    for table in (en, nl, pl):
        assert "anna" in table
        assert "33.3%" in table  # 2 converted of 6 contacted
        assert "no_answer: 3, reached: 5" in table


def test_an_empty_report_renders_as_nothing_but_an_unknown_language_is_refused() -> None:
    assert render_table([], language="pl") == ""
    with pytest.raises(InvalidInput):
        render_table(FUNNEL, language="de")
    with pytest.raises(InvalidInput):
        render_table([], language="de")
    with pytest.raises(InvalidInput):
        to_csv(FUNNEL, language="fr")


def test_rows_of_mixed_or_unknown_kinds_are_refused() -> None:
    with pytest.raises(InvalidInput):
        render_table([EMPLOYEES[0], AcquisitionRow("x", 1, 1)])
    with pytest.raises(InvalidInput):
        to_csv([object()])


def test_csv_export_reads_back_as_the_report() -> None:
    text = to_csv(EMPLOYEES)
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["employee", "activities", "contacts", "meetings"]
    assert rows[1][:4] == ["anna", "12", "8", "3"]
    record = dict(zip(rows[0], rows[1]))
    assert record["conversion"] == "0.3333"
    assert record["appointments_booked"] == "3"
    assert dict(zip(rows[0], rows[2]))["conversion"] == ""  # nothing contacted: no ratio
    assert len(rows) == 1 + len(EMPLOYEES)


def test_csv_export_of_the_funnel_keeps_stage_keys_and_counts() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(FUNNEL))))
    stages = {r[0]: int(r[1]) for r in rows[1:]}
    assert stages["total"] == 40
    assert stages["step:visit"] == 12
    assert stages["closed:not_interested"] == 8
    assert stages["closed"] == 2
    assert stages["won"] == 3


@pytest.mark.parametrize("language", ["nl", "pl"])
def test_csv_headings_follow_the_language_when_asked(language: str) -> None:
    heading = next(csv.reader(io.StringIO(to_csv(FUNNEL, language=language))))
    assert heading == [label(f"report.column.{k}", language) for k in ("stage", "count", "share")]


@pytest.mark.parametrize("payload", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"])
def test_csv_export_neutralises_spreadsheet_formulas(payload: str) -> None:
    rows = [AcquisitionRow(payload, 4, 1), AcquisitionRow(None, 2, 0)]
    parsed = list(csv.reader(io.StringIO(to_csv(rows))))
    assert parsed[1][0] == "'" + payload
    assert parsed[1][1:] == ["4", "1", "0.25"]
    assert parsed[2][0] == ""


def test_csv_export_neutralises_formulas_in_timeline_text() -> None:
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    item = TimelineItem(at, "activity", "anna", "=cmd|' /C calc'!A0", "@evil")
    parsed = list(csv.reader(io.StringIO(to_csv([item]))))
    assert parsed[1][3] == "'=cmd|' /C calc'!A0"
    assert parsed[1][4] == "'@evil"


def test_funnel_chart_writes_png_and_svg(tmp_path: Path) -> None:
    png = funnel_chart(FUNNEL, tmp_path / "funnel.png", language="nl")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    svg = funnel_chart(FUNNEL, tmp_path / "funnel.svg")
    text = svg.read_text(encoding="utf-8")
    assert "<svg" in text
    again = funnel_chart(FUNNEL, tmp_path / "again.svg")
    assert again.read_text(encoding="utf-8") == text  # reproducible output


def test_employee_chart_writes_one_group_of_bars_per_employee(tmp_path: Path) -> None:
    svg = employee_chart(EMPLOYEES, tmp_path / "employees.svg").read_text(encoding="utf-8")
    assert svg.count("anna") >= 1
    assert svg.count("bart") >= 1


def test_a_chart_in_another_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        funnel_chart(FUNNEL, tmp_path / "funnel.pdf")
    assert not (tmp_path / "funnel.pdf").exists()
