"""The host's tests of its own procedure, written with the crm_procedures testing kit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from onboarding import DealerOnboarding, ErpClient, deliver_erp_requests

from crm_procedures import CrmApp, RelationStage, TransitionNotAllowed
from crm_procedures.testing import (
    FrozenClock,
    OutboxView,
    a_relation,
    assert_emitted,
    assert_invitation,
    assert_no_messages,
    assert_sent,
)

CANDIDATES = """name;postcode;city;contact;first name;contact email
Fietsenmakerij de Spaak;3511 AB;Utrecht;Jansen;Piet;piet@spaak.example
Rijwielhandel Oost;1091 GH;Amsterdam;Bakker;Anna;anna@oost.example
Fietsenmakerij De Spaak;3511AB;Utrecht;Jansen;Piet;piet@spaak.example
;1000 AA;Amsterdam;Nobody;No;no@name.example
"""


def only_dealer(season: DealerOnboarding, name: str) -> str:
    season.import_candidates(CANDIDATES)
    with season.app.store.unit_of_work() as uow:
        by_relation = {
            p.relation_id: uow.relations.get(p.relation_id).name for p in season.dealers()
        }
    (found,) = [p.id for p in season.dealers() if name in by_relation[p.relation_id]]
    return found


def test_import_keeps_good_rows_and_reports_bad_and_duplicate_ones(
    season: DealerOnboarding,
) -> None:
    report = season.import_candidates(CANDIDATES)
    assert report.imported == 2
    assert [r.line for r in report.rejected] == [5]
    assert [d.line for d in report.duplicates] == [4]
    assert len(season.dealers()) == 2


def test_welcome_pack_goes_to_the_dealers_contact_after_the_call(
    season: DealerOnboarding, crm_app: CrmApp, crm_outbox: OutboxView
) -> None:
    dealer = only_dealer(season, "Oost")
    season.called(dealer, note="interested")
    assert_no_messages(crm_app)
    season.send_welcome_pack(dealer)
    (mail,) = assert_sent(crm_app, to="anna@oost.example", subject_contains="welcome", count=1)
    assert "Rijwielhandel Oost" in mail.text
    assert crm_outbox.dispatch() == 1


def test_the_welcome_pack_cannot_be_sent_before_the_call(season: DealerOnboarding) -> None:
    dealer = only_dealer(season, "Oost")
    with pytest.raises(TransitionNotAllowed):
        season.send_welcome_pack(dealer)


def test_first_visit_invites_the_contact(
    season: DealerOnboarding, crm_app: CrmApp, crm_clock: FrozenClock
) -> None:
    dealer = only_dealer(season, "Spaak")
    season.called(dealer)
    season.send_welcome_pack(dealer)
    crm_clock.advance(days=1)
    uid = season.plan_first_visit(dealer, crm_clock.now() + timedelta(days=7), "Shop floor")
    invitation = assert_invitation(crm_app, uid=uid, sequence=0, to="piet@spaak.example")
    assert "Spaak" in invitation.summary


def test_a_signed_dealer_gets_an_erp_account_and_counts_as_won(
    season: DealerOnboarding, crm_app: CrmApp, crm_clock: FrozenClock
) -> None:
    dealer = only_dealer(season, "Spaak")
    season.called(dealer)
    season.send_welcome_pack(dealer)
    season.plan_first_visit(dealer, crm_clock.now() + timedelta(days=2))
    (key,) = season.signed(dealer)
    with crm_app.store.unit_of_work() as uow:
        (request,) = [m for m in uow.outbox.list() if m.channel == "erp"]
        assert uow.prospects.get(dealer).stage is RelationStage.CUSTOMER
    assert request.key == key
    assert request.payload["dealer"] == "Fietsenmakerij de Spaak"
    assert request.payload["price_list"] == "dealer-2026"
    funnel = season.season_funnel()
    assert (funnel.total, funnel.prospects, funnel.won) == (2, 1, 1)
    assert funnel.steps["signed"] == 1


def test_the_manager_sees_edits_and_sends_the_welcome_pack(
    season: DealerOnboarding, crm_app: CrmApp
) -> None:
    dealer = only_dealer(season, "Oost")
    season.called(dealer)
    preview = season.preview_welcome_pack(dealer)
    assert preview.recipients == ("anna@oost.example",)
    assert preview.subject == "Welcome as a dealer of Fietsgroothandel, Rijwielhandel Oost"
    assert_no_messages(crm_app)
    season.send_welcome_pack(dealer, text=preview.text + "\nSee you on Tuesday!")
    (mail,) = assert_sent(crm_app, to="anna@oost.example", count=1)
    assert "See you on Tuesday!" in mail.text
    assert "Tomek Kowalski" in mail.text


def test_the_buttons_follow_the_procedure(season: DealerOnboarding) -> None:
    dealer = only_dealer(season, "Oost")
    before = season.buttons([dealer])[dealer]
    assert [a.step for a in before.steps()] == ["call"]
    season.called(dealer)
    after = season.buttons([dealer])[dealer]
    assert [a.step for a in after.steps()] == ["call", "send_welcome"]


def test_a_dealer_from_the_web_form_is_in_the_worklist_at_once(
    season: DealerOnboarding, crm_app: CrmApp
) -> None:
    with crm_app.store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="web", name="Fietshuis Web"))
        uow.commit()
    dealer = season.enrol("web")
    assert dealer in [p.id for p in season.dealers()]


def test_the_erp_request_is_delivered_by_the_hosts_own_sender_once(
    season: DealerOnboarding, crm_app: CrmApp, crm_clock: FrozenClock
) -> None:
    dealer = only_dealer(season, "Spaak")
    season.called(dealer)
    season.send_welcome_pack(dealer)
    season.plan_first_visit(dealer, crm_clock.now() + timedelta(days=2))
    season.signed(dealer)
    assert_emitted(crm_app, "erp", count=1, action="open_account", status="pending")
    erp = ErpClient()
    report = deliver_erp_requests(crm_app, erp)
    assert (report.delivered, report.failed) == (1, 0)
    assert erp.accounts == {"Fietsenmakerij de Spaak": "dealer-2026"}
    assert_emitted(crm_app, "erp", count=1, status="delivered")
    again = deliver_erp_requests(crm_app, erp)
    assert again.claimed == 0  # delivered once: nothing left to send
