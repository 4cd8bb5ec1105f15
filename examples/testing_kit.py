"""Test your application with the testing kit: fixtures, builders, outbox assertions.

Run with ``python examples/testing_kit.py`` (it runs itself under pytest), or
copy the tests into your own suite: installing crm_procedures registers the
pytest plugin, so ``crm_app``, ``crm_clock``, ``crm_store``, ``crm_outbox`` and
``crm_definitions`` are available without any import or ``conftest.py``.
Override ``crm_definitions`` to test your own procedure.
"""

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crm_procedures import (
    CrmApp,
    Definitions,
    TransitionNotAllowed,
    load_definitions,
    validate,
)
from crm_procedures.services import campaigns
from crm_procedures.testing import (
    FrozenClock,
    OutboxView,
    a_contact,
    a_group,
    a_relation,
    a_user,
    assert_invitation,
    assert_no_messages,
    assert_sent,
)

HERE = Path(__file__).resolve().parent
AMS = ZoneInfo("Europe/Amsterdam")


def start(app: CrmApp, procedure: str = "standard") -> tuple[str, str]:
    """Your own test helper: a leader, a client, one released prospect with a contact."""
    with app.store.unit_of_work() as uow:
        uow.groups.add(a_group(id="team", permissions={"project.write", "prospect.write"}))
        uow.users.add(a_user(id="ann", groups={"team"}, roles={"marketeer", "account_manager"}))
        uow.users.add(a_user(id="cor", groups={"team"}, roles={"client"}))
        uow.relations.add(a_relation(id="client"))
        uow.relations.add(a_relation(id="mill"))
        uow.contacts.add(a_contact(id="jan", relation_id="mill", email="jan@mill.example"))
        uow.commit()
    project = campaigns.start_campaign(
        app.ctx,
        "ann",
        relation_id="client",
        name="Test",
        procedure=procedure,
        members={"client": ["cor"]} if procedure == "standard" else None,
    )
    (prospect,) = campaigns.add_prospects(app.ctx, "ann", project.id, [("mill", "jan")])
    campaigns.release(app.ctx, "ann", project.id)
    return project.id, prospect.id


def test_send_info_mails_the_contact(crm_app: CrmApp, crm_outbox: OutboxView) -> None:
    _, prospect = start(crm_app)
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "call", role="marketeer")
    assert_no_messages(crm_app)
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "send_info", role="marketeer")
    assert_sent(crm_app, to="jan@mill.example", subject_contains="Information about", count=1)
    assert crm_outbox.dispatch() == 1  # delivered to the in-memory mailer
    assert crm_outbox.messages[0].status == "delivered"


def test_appointment_sends_an_invitation(crm_app: CrmApp, crm_clock: FrozenClock) -> None:
    _, prospect = start(crm_app)
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "call", role="marketeer")
    crm_clock.advance(hours=2)
    result = campaigns.perform_step(
        crm_app.ctx,
        "ann",
        prospect,
        "make_appointment",
        role="marketeer",
        appointment_start=crm_clock.now() + timedelta(days=3),
    )
    assert result.appointment is not None
    assert_invitation(crm_app, uid=result.appointment.uid, sequence=0, to="jan@mill.example")


def test_client_may_not_call_before_the_appointment(crm_app: CrmApp) -> None:
    _, prospect = start(crm_app)
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "call", role="marketeer")
    with pytest.raises(TransitionNotAllowed) as refused:
        campaigns.perform_step(crm_app.ctx, "cor", prospect, "client_call", role="client")
    assert refused.value.last_step == "call"


def test_our_procedures_are_valid() -> None:
    assert validate(load_definitions(HERE / "renewal_procedure.toml")) == []


class TestMyOwnProcedure:
    """Override ``crm_definitions`` (here per class; in a conftest.py for a whole suite)."""

    @pytest.fixture
    def crm_definitions(self) -> Definitions:
        return load_definitions(HERE / "renewal_procedure.toml")

    @pytest.fixture
    def crm_clock(self) -> FrozenClock:
        return FrozenClock(datetime(2026, 6, 1, 9, 0, tzinfo=AMS))

    def test_offer_goes_out_after_a_call(self, crm_app: CrmApp) -> None:
        _, prospect = start(crm_app, "renewal")
        campaigns.perform_step(crm_app.ctx, "ann", prospect, "call", role="account_manager")
        campaigns.perform_step(crm_app.ctx, "ann", prospect, "send_offer", role="account_manager")
        assert_sent(crm_app, to="jan@mill.example", subject_contains="Renewal", count=1)


if __name__ == "__main__":
    raise SystemExit(
        pytest.main(
            [
                __file__,
                "-v",
                "-p",
                "no:cacheprovider",
                "-W",
                "ignore::pytest.PytestAssertRewriteWarning",
            ]
        )
    )
