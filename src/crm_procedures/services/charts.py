"""Charts of the reports (P1), as PNG or SVG files. Extra: ``charts`` (matplotlib).

People would rather look at a funnel than read it. These functions draw the
results of :func:`crm_procedures.services.reports.funnel` and
:func:`~crm_procedures.services.reports.employee_activity` with matplotlib's
non-interactive backend; the format follows the file suffix (``.png`` or
``.svg``). matplotlib is imported on first use, so importing this module is
cheap and works without the extra; drawing without it raises
:class:`ModuleNotFoundError` naming the extra to install.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crm_procedures._paths import usable_path
from crm_procedures.errors import InvalidInput
from crm_procedures.model.reports import EmployeeRow, Funnel
from crm_procedures.services.reports import funnel_stage_label

__all__ = ["employee_chart", "funnel_chart"]

_FORMATS = {".png": "png", ".svg": "svg"}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "charts need matplotlib; install it with: pip install 'crm_procedures[charts]'",
            name="matplotlib",
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _format(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput("path", "a chart is written as .png or .svg", str(path))
    return fmt


_MAX_LABEL = 500
"""The longest title or name a chart draws (matplotlib lays out longer text for minutes)."""


def _drawable(field: str, text: str) -> str:
    """``text`` if a chart can draw it: not too long, no lone surrogates (no font has them)."""
    if len(text) > _MAX_LABEL:
        raise InvalidInput(field, f"is longer than {_MAX_LABEL} characters", text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(field, "holds a lone surrogate, which no font can draw", text) from None
    return text


def _save(plt: Any, fig: Any, path: Path, fmt: str) -> Path:
    try:
        fig.tight_layout()
        # A fixed creation date keeps the files reproducible from run to run.
        metadata = {"Date": None} if fmt == "svg" else {"Software": "crm_procedures"}
        with plt.rc_context({"svg.hashsalt": "crm_procedures"}):  # stable element ids
            fig.savefig(path, format=fmt, metadata=metadata)
    finally:
        plt.close(fig)
    return path


def funnel_chart(
    funnel: Funnel, path: str | Path, *, title: str | None = None, language: str = "en"
) -> Path:
    """Draw the funnel as horizontal bars, top of the funnel first; returns the path.

    ``title`` defaults to "Funnel of project <id>"; pass the project's name.

    Raises:
        InvalidInput: the path does not end in ``.png`` or ``.svg``, or the
            title is longer than 500 characters or holds a lone surrogate.
        ModuleNotFoundError: matplotlib (the ``charts`` extra) is not installed.
    """
    target = usable_path("path", path)
    fmt = _format(target)
    heading = _drawable(
        "title", title if title is not None else f"Funnel of project {funnel.project_id}"
    )
    plt = _pyplot()
    rows = funnel.rows()
    labels = [funnel_stage_label(row, language) for row in rows]
    counts = [row.count for row in rows]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(rows) + 1.2))
    ax.barh(range(len(rows)), counts, color="#3b6ea8")
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    for y, n in enumerate(counts):
        ax.text(n, y, f" {n}", va="center")
    ax.set_xlabel("relations")
    ax.set_title(heading)
    return _save(plt, fig, target, fmt)


def employee_chart(rows: Sequence[EmployeeRow], path: str | Path) -> Path:
    """Draw contacts made and appointments booked per employee as grouped bars.

    Raises:
        InvalidInput: the path does not end in ``.png`` or ``.svg``, or an
            employee's name is longer than 500 characters or holds a lone surrogate.
        ModuleNotFoundError: matplotlib (the ``charts`` extra) is not installed.
    """
    target = usable_path("path", path)
    fmt = _format(target)
    names = [_drawable(f"rows[{i}].employee", row.employee) for i, row in enumerate(rows)]
    plt = _pyplot()
    xs = list(range(len(rows)))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(rows) + 2), 4))
    width = 0.4
    ax.bar([x - width / 2 for x in xs], [r.contacts for r in rows], width, label="contacts")
    ax.bar(
        [x + width / 2 for x in xs],
        [r.appointments_booked for r in rows],
        width,
        label="appointments booked",
    )
    ax.set_xticks(xs, names)
    ax.set_ylabel("count")
    ax.set_title("Per employee")
    ax.legend()
    return _save(plt, fig, target, fmt)
