"""Sizes and figures shared by the reliability tests.

``CRM_RELIABILITY=full`` selects the full sizes (what ``run.py --full`` and
``nox -s reliability`` use); anything else the bounded sizes that run with the
ordinary test suite. Each test records its figures (name, value, target, met)
into the JSON file named by ``CRM_RELIABILITY_FIGURES`` when that is set.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, settings

__all__ = [
    "FIGURES_ENV",
    "FULL",
    "SIZE_ENV",
    "hypothesis_settings",
    "record",
    "size",
]

SIZE_ENV = "CRM_RELIABILITY"
FIGURES_ENV = "CRM_RELIABILITY_FIGURES"
FULL = os.environ.get(SIZE_ENV, "").strip().lower() == "full"

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
}


def size(bounded: int, full: int) -> int:
    """The bounded or the full size of a run, as ``CRM_RELIABILITY`` says."""
    return full if FULL else bounded


def hypothesis_settings(bounded: int, full: int) -> settings:
    """Hypothesis settings with ``max_examples`` sized for the run, no deadline.

    The bounded run (the ordinary suite, CI) draws the same examples every time,
    so that a result can be reproduced; the full run (``run.py --full``, ``nox -s
    reliability``) draws new ones each time, to find what the last run did not.
    """
    return settings(
        max_examples=size(bounded, full),
        deadline=None,
        derandomize=not FULL,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


def _met(value: float, target: str) -> bool:
    op, _, number = target.partition(" ")
    return _OPS[op](value, float(number))


def record(name: str, value: float, target: str, *, accumulate: bool = False) -> bool:
    """Record a figure; returns whether ``value`` meets ``target`` (">= 2000", "== 0").

    With ``accumulate`` the value is added to what an earlier test recorded
    under the same name (one figure summed over several parametrised runs).
    """
    met = _met(value, target)
    path = os.environ.get(FIGURES_ENV)
    if not path:
        return met
    file = Path(path)
    data: dict[str, dict[str, object]] = {}
    if file.exists() and file.read_text(encoding="utf-8").strip():
        data = json.loads(file.read_text(encoding="utf-8"))
    if accumulate and name in data:
        earlier = data[name]["value"]
        if isinstance(earlier, (int, float)):
            value = earlier + value
        met = _met(value, target)
    data[name] = {"value": value, "target": target, "met": met}
    file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return met
