"""Charts of the reports: real PNG/SVG files, clear errors for bad paths and a missing extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crm_procedures.errors import InvalidInput
from crm_procedures.model.reports import EmployeeRow, Funnel
from crm_procedures.services.charts import employee_chart, funnel_chart

FUNNEL = Funnel(
    project_id="spring",
    total=10,
    suspects=4,
    prospects=6,
    steps={"call": 6, "make_appointment": 2},
    closed={"no_budget": 1},
    won=1,
)
EMPLOYEES = [
    EmployeeRow("ann", activities=5, contacts=4, appointments_booked=1),
    EmployeeRow("bas", activities=3, contacts=3, appointments_booked=2),
]


def test_funnel_chart_writes_a_png(tmp_path: Path) -> None:
    out = funnel_chart(FUNNEL, tmp_path / "funnel.png")
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_svg_charts_carry_the_labels_and_names(tmp_path: Path) -> None:
    funnel_svg = funnel_chart(FUNNEL, tmp_path / "funnel.svg").read_text(encoding="utf-8")
    assert "<svg" in funnel_svg
    assert "spring" in funnel_svg  # the default title names the project
    named = funnel_chart(FUNNEL, tmp_path / "named.svg", title="Spring campaign")
    assert "Spring campaign" in named.read_text(encoding="utf-8")
    people = employee_chart(EMPLOYEES, tmp_path / "people.svg").read_text(encoding="utf-8")
    assert "<svg" in people
    assert "appointments booked" in people


def test_same_input_gives_the_same_svg(tmp_path: Path) -> None:
    a = funnel_chart(FUNNEL, tmp_path / "a.svg").read_bytes()
    b = funnel_chart(FUNNEL, tmp_path / "b.svg").read_bytes()
    assert a == b


def test_an_unknown_suffix_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"\.png or \.svg"):
        funnel_chart(FUNNEL, tmp_path / "funnel.gif")
    assert list(tmp_path.iterdir()) == []


def test_without_matplotlib_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ModuleNotFoundError, match=r"crm_procedures\[charts\]"):
        employee_chart(EMPLOYEES, tmp_path / "people.png")
