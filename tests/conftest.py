"""Suite-wide settings: Hypothesis profiles.

``HYPOTHESIS_PROFILE=ci`` (what ``nox -s tests`` uses) keeps the whole suite
within a few minutes; ``full`` is for the reliability runs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "full", max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
