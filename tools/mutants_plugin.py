"""pytest plugin loaded (``-p mutants_plugin``) only by mutation runs (``nox -s mutants``).

Two things keep the verdicts honest:

* the default name conventions remember recased words and parsed names; a
  memo filled by one test would hand a later test the result of the
  *unmutated* code, hiding the mutant. It is emptied before every test;
* Hypothesis runs derandomised and without its example database, so one
  mutant gets the same verdict on every run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "mutants",
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def _fresh_name_conventions_memo() -> Iterator[None]:
    from crm_procedures.policies import normalise

    normalise.DEFAULT_CONVENTIONS._memo.clear()
    yield
    normalise.DEFAULT_CONVENTIONS._memo.clear()
