"""Dealer onboarding: the host application's own service on top of crm_procedures.

A bicycle wholesaler signs up new dealers. The sales office imports a list of
candidate dealers, releases them to the account manager, who runs the
``onboarding`` procedure of ``onboarding.toml`` with each of them. Signing
the agreement opens the dealer's account in the wholesaler's ERP: a step kind
of the host's own (``erp_account``), registered once on the application. The
service below is all the host writes: the library does the procedure rules,
the e-mail, the invitation, the history and the reports.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from crm_procedures import (
    AvailableActions,
    CrmApp,
    Definitions,
    EmailPreview,
    Prospect,
    StepContext,
    StepKind,
    load_definitions,
)
from crm_procedures.errors import DeliveryError
from crm_procedures.model.outbox import DeliveryOutcome, OutboxMessage
from crm_procedures.model.reports import Funnel
from crm_procedures.services import campaigns, imports, reports
from crm_procedures.services.actions import available_actions_many
from crm_procedures.services.enrolment import enroll
from crm_procedures.services.outbox import DispatchReport, dispatch_once

HERE = Path(__file__).resolve().parent
PROCEDURE = "onboarding"
ROLE = "account_manager"


ERP = "erp"
"""The outbox channel of the ERP: the host's own sender delivers it after the commit."""


def open_erp_account(ctx: StepContext) -> None:
    """What an ``erp_account`` step does: ask the ERP for the dealer's account."""
    ctx.emit(
        ERP,
        {
            "action": "open_account",
            "dealer": ctx.relation().name,
            "price_list": str(ctx.params["price_list"]),
            "account_manager": ctx.actor,
        },
    )


def onboarding_step_kinds() -> list[StepKind]:
    """The host's own step kinds, registered on its CrmApp."""
    return [StepKind("erp_account", open_erp_account, "Open the dealer's account in the ERP")]


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

    def enrol(self, relation_id: str, contact_id: str | None = None) -> str:
        """Sign one dealer up from the web shop's form: in the worklist at once."""
        return enroll(self.app.ctx, self.office, self.project_id, relation_id, contact_id).id

    def buttons(self, prospect_ids: list[str]) -> dict[str, AvailableActions]:
        """What the account manager may do now with each dealer of one worklist page."""
        return dict(available_actions_many(self.app.ctx, self.manager, prospect_ids))

    def preview_welcome_pack(self, prospect_id: str) -> EmailPreview:
        """The welcome e-mail as the dealer would read it; nothing is sent or stored."""
        preview = campaigns.preview_step(
            self.app.ctx, self.manager, prospect_id, "send_welcome", role=ROLE
        )
        assert preview.email is not None  # a send-e-mail step always has its e-mail
        return preview.email

    def send_welcome_pack(
        self, prospect_id: str, subject: str | None = None, text: str | None = None
    ) -> None:
        """Mail the welcome pack to the dealer's contact person, as edited by the manager."""
        campaigns.perform_step(
            self.app.ctx,
            self.manager,
            prospect_id,
            "send_welcome",
            role=ROLE,
            subject=subject,
            text=text,
        )

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

    def signed(self, prospect_id: str) -> tuple[str, ...]:
        """The dealer signed: the ERP account is requested and the dealer is won (the
        step's ``outcome``). Returns the outbox keys of the ERP request."""
        result = campaigns.perform_step(
            self.app.ctx, self.manager, prospect_id, "signed", role=ROLE, note="agreement signed"
        )
        return result.message_keys

    def season_funnel(self) -> Funnel:
        """How far this season's dealers got."""
        return reports.funnel(self.app.ctx, self.office, self.project_id)


class ErpClient:
    """The wholesaler's ERP as the example talks to it: accounts by dealer name.

    A real host calls its ERP's API here; the example keeps the accounts in a
    dict so that its tests can see what arrived.
    """

    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}

    def open_account(self, dealer: str, price_list: str) -> None:
        self.accounts[dealer] = price_list


class ErpSender:
    """Delivers the ``erp`` channel: the library's dispatcher calls it after the commit,
    with the same leases, retries, backoff and permanent failure as e-mail."""

    def __init__(self, erp: ErpClient) -> None:
        self.erp = erp

    def deliver(self, message: OutboxMessage) -> DeliveryOutcome:
        payload = message.payload
        if payload.get("action") != "open_account":
            # A request this ERP does not know: a retry cannot help.
            raise DeliveryError(f"the ERP has no action {payload.get('action')!r}", permanent=True)
        self.erp.open_account(str(payload["dealer"]), str(payload["price_list"]))
        return DeliveryOutcome()


def deliver_erp_requests(app: CrmApp, erp: ErpClient) -> DispatchReport:
    """One dispatcher round for the ERP channel (a host runs this in its worker)."""
    return dispatch_once(app.store, app.clock, senders={ERP: ErpSender(erp)})
