"""Dealer onboarding: the host application's own service on top of crm_procedures.

A bicycle wholesaler signs up new dealers. The sales office imports a list of
candidate dealers, releases them to the account manager, who runs the
``onboarding`` procedure of ``onboarding.toml`` with each of them. The
service below is all the host writes: the library does the procedure rules,
the e-mail, the invitation, the history and the reports.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from crm_procedures import CrmApp, Definitions, Prospect, load_definitions
from crm_procedures.model.reports import Funnel
from crm_procedures.services import campaigns, imports, reports

HERE = Path(__file__).resolve().parent
PROCEDURE = "onboarding"
ROLE = "account_manager"


def onboarding_definitions() -> Definitions:
    """The host's procedure, templates and dictionaries."""
    return load_definitions(HERE / "onboarding.toml")


class DealerOnboarding:
    """One onboarding season, run by ``manager`` (an account manager) for ``office``."""

    def __init__(self, app: CrmApp, *, office: str, manager: str) -> None:
        self.app = app
        self.office = office
        self.manager = manager
        self.project_id = ""

    def open_season(self, wholesaler_relation_id: str, name: str) -> str:
        """Start the season's campaign; returns its project id."""
        project = campaigns.start_campaign(
            self.app.ctx,
            self.office,
            relation_id=wholesaler_relation_id,
            name=name,
            procedure=PROCEDURE,
            members={ROLE: [self.manager]},
        )
        self.project_id = project.id
        return project.id

    def import_candidates(self, csv_text: str) -> imports.ImportReport:
        """Import candidate dealers (a CSV export of the trade register) and release them."""
        report = imports.import_suspects(self.app.ctx, self.office, self.project_id, csv_text)
        if report.imported:
            campaigns.release(self.app.ctx, self.office, self.project_id)
        return report

    def dealers(self) -> list[Prospect]:
        """The dealers of this season in the account manager's worklist."""
        return campaigns.worklist(self.app.ctx, self.manager, self.project_id, ROLE)

    def called(self, prospect_id: str, note: str = "") -> None:
        """The account manager called the dealer."""
        campaigns.perform_step(
            self.app.ctx, self.manager, prospect_id, "call", role=ROLE, note=note
        )

    def send_welcome_pack(self, prospect_id: str) -> None:
        """Mail the welcome pack to the dealer's contact person."""
        campaigns.perform_step(self.app.ctx, self.manager, prospect_id, "send_welcome", role=ROLE)

    def plan_first_visit(self, prospect_id: str, at: datetime, location: str = "") -> str:
        """Book the first visit; the contact gets an invitation. Returns its UID."""
        result = campaigns.perform_step(
            self.app.ctx,
            self.manager,
            prospect_id,
            "first_visit",
            role=ROLE,
            appointment_start=at,
            location=location,
        )
        assert result.appointment is not None  # a make-appointment step always books one
        return result.appointment.uid

    def signed(self, prospect_id: str) -> None:
        """The dealer signed the agreement: the onboarding is done."""
        campaigns.perform_step(self.app.ctx, self.manager, prospect_id, "signed", role=ROLE)
        campaigns.mark_won(self.app.ctx, self.office, prospect_id, note="agreement signed")

    def season_funnel(self) -> Funnel:
        """How far this season's dealers got."""
        return reports.funnel(self.app.ctx, self.office, self.project_id)
