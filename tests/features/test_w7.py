"""W6 and W7: the standard procedure's transition matrix, per role, on every store.

The expected matrix is DOMAIN.md's W7 written out in the integration tests
(``integration.test_campaigns.W7``), not read from the shipped definitions.
For every (role, last step) the test walks a fresh prospect to that last step
through ``perform_step`` and asks for every step the matrix does not allow:
each refusal must name exactly the steps the seed allows there, and leave the
stored campaign as it was. The walks themselves perform every allowed path.
"""

from __future__ import annotations

import pytest

from crm_procedures import TransitionNotAllowed
from integration.campaign import Campaign, new_prospect, snapshot
from integration.test_campaigns import ACTOR, PATHS, ROLES, STEPS, allowed, do, walk


@pytest.mark.parametrize("last", list(PATHS))
def test_w7_every_role_may_do_exactly_what_the_seed_allows(
    campaign: Campaign, last: str | None
) -> None:
    c = campaign
    p = new_prospect(c)
    walk(c, last, p)
    for role in ROLES:
        refused = [s for s in STEPS if s not in allowed(role, last)]
        assert refused, "every (role, last step) refuses something"
        for step in refused:
            before = snapshot(c.store, c.project.id)
            with pytest.raises(TransitionNotAllowed) as denied:
                do(c, ACTOR[role], role, step, p)
            assert (denied.value.role, denied.value.last_step) == (role, last)
            assert set(denied.value.allowed) == allowed(role, last)
            assert snapshot(c.store, c.project.id) == before


def test_w7_client_calls_before_and_after_the_appointment(campaign: Campaign) -> None:
    c = campaign
    walk(c, "make_appointment")
    for _ in range(3):
        result = do(c, "cor", "client", "client_call")
        assert result.prospect.last_step == "client_call"
    steps = [e.step for e in result.prospect.history if e.step]
    assert steps == ["call", "make_appointment", "client_call", "client_call", "client_call"]
