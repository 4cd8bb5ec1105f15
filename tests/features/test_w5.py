"""W5: procedures are defined steps put in order with a name and a description; different
projects use different procedures, in one installation, on every store."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from crm_procedures import (
    InvalidInput,
    TransitionNotAllowed,
    dump_definitions,
    load_definitions,
    standard_definitions,
)
from crm_procedures.services import campaigns
from integration.campaign import MEMBERS, Campaign


def with_short_procedure() -> Any:
    """The standard definitions plus ``short``: call, then send information, then call again."""
    data = dump_definitions(standard_definitions())
    data["procedures"]["short"] = {
        "name": "Short procedure",
        "description": "One call, then the brochure.",
        "steps": ["call", "send_info"],
        "close_reasons": ["not_interested"],
        "matrix": {"marketeer": {"START": ["call"], "call": ["send_info"], "send_info": ["call"]}},
    }
    return load_definitions(data)


def test_w5_two_projects_follow_their_own_procedures(campaign: Campaign) -> None:
    c = campaign
    ctx = attrs.evolve(c.ctx, definitions=with_short_procedure())
    short = campaigns.start_campaign(
        ctx,
        "pia",
        relation_id="client",
        name="Short campaign",
        procedure="short",
        members={"marketeer": MEMBERS["marketeer"]},
    )
    (p,) = campaigns.add_prospects(ctx, "pia", short.id, [("acme", "c-acme")])
    campaigns.release(ctx, "pia", short.id)
    assert ctx.definitions is not None
    proc = ctx.definitions.procedure("short")
    assert (proc.name, proc.description) == ("Short procedure", "One call, then the brochure.")
    assert list(proc.steps) == ["call", "send_info"]

    campaigns.perform_step(ctx, "ann", p.id, "call", role="marketeer")
    campaigns.perform_step(ctx, "ann", c.acme, "call", role="marketeer")
    # The standard procedure lets a marketeer call back after a call; the short one has no
    # such step, and after a call only sends information.
    with pytest.raises(InvalidInput, match="not a step of procedure 'short'"):
        campaigns.perform_step(ctx, "ann", p.id, "call_back", role="marketeer")
    with pytest.raises(TransitionNotAllowed) as refused:
        campaigns.perform_step(ctx, "ann", p.id, "call", role="marketeer")
    assert refused.value.allowed == ("send_info",)
    assert campaigns.perform_step(ctx, "ann", c.acme, "call_back", role="marketeer")
    done = campaigns.perform_step(ctx, "ann", p.id, "send_info", role="marketeer")
    assert done.prospect.last_step == "send_info"
    with c.store.unit_of_work(read_only=True) as uow:
        stored = {pr.id: pr.procedure for pr in uow.projects.visible(None)}
    assert stored[short.id] == "short"
    assert stored[c.project.id] == "standard"
