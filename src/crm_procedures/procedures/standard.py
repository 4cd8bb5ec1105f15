"""The standard procedure of the WATCH documentation (W7), shipped as data.

The definitions live in ``crm_procedures/data/standard.toml`` (a copy is in
``examples/standard_procedure.toml``); this module only loads them.
"""

from __future__ import annotations

import functools

from crm_procedures.procedures.definitions import load_definitions
from crm_procedures.procedures.procedure import Definitions

__all__ = ["STANDARD_PROCEDURE", "standard_definitions"]

STANDARD_PROCEDURE = "standard"
"""The key of the standard procedure inside :func:`standard_definitions`."""


@functools.cache
def standard_definitions() -> Definitions:
    """The W7 standard procedure with its roles, steps, template and close reasons.

    Roles ``marketeer``, ``client`` and ``project_leader``; steps ``call``,
    ``call_back``, ``send_info`` (an e-mail from template ``info``),
    ``make_appointment`` (60 minutes with the client) and ``client_call``.
    The result is immutable and loaded once.
    """
    import tomllib
    from importlib import resources

    text = resources.files("crm_procedures").joinpath("data/standard.toml").read_text("utf-8")
    return load_definitions(tomllib.loads(text))
