"""crm_procedures: an embeddable engine for sales and relationship procedures.

Who may do which step next with a prospect, what happens when they do (an
e-mail goes out, an appointment lands in an agenda with an invitation), and
what every activity, visit and follow-up was.

The public API is what ``__all__`` lists; everything else may change.
"""

from typing import TYPE_CHECKING, Any

from crm_procedures._version import __version__
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.errors import (
    AccessDenied,
    ActivityFrozen,
    AttachmentMissing,
    CapabilityMissing,
    ConcurrencyConflict,
    CrmError,
    DefinitionError,
    DeliveryError,
    Finding,
    InvalidInput,
    MigrationBlocked,
    NotFound,
    ProspectClosed,
    ProspectNotReleased,
    ReadOnlyUnitOfWork,
    RuleViolation,
    StoreBusy,
    TemplateError,
    TransitionNotAllowed,
)
from crm_procedures.model import (
    Activity,
    ActivityKind,
    Address,
    Appointment,
    AppointmentStatus,
    Attendee,
    Change,
    Choice,
    Contact,
    Dictionary,
    Document,
    EntryKind,
    Gender,
    Group,
    HistoryEntry,
    Money,
    OutboxMessage,
    OutboxStatus,
    Project,
    Prospect,
    ProspectStatus,
    Relation,
    RelationKind,
    RelationStage,
    RelationType,
    Timer,
    User,
    VisitReport,
)
from crm_procedures.procedures import (
    START,
    BookAppointment,
    CustomEffect,
    Definitions,
    Effect,
    EmailTemplate,
    Procedure,
    Role,
    SendEmail,
    Step,
    StepKindSpec,
    TemplateAttachment,
    TemplateVariant,
    dump_definitions,
    load_definitions,
    standard_definitions,
    validate,
)
from crm_procedures.services.actions import Action, AvailableActions
from crm_procedures.services.app import CrmApp, SystemClock
from crm_procedures.services.campaigns import StepResult
from crm_procedures.services.previews import EmailPreview, StepPreview
from crm_procedures.services.step_kinds import StepContext, StepHandler, StepInputs, StepKind

if TYPE_CHECKING:
    from crm_procedures.adapters.sql.store import open_store


def __getattr__(name: str) -> Any:
    # ``open_store`` needs the ``sql`` extra (SQLAlchemy); import it on first use
    # so that ``import crm_procedures`` works, and stays fast, without it.
    if name == "open_store":
        from crm_procedures.adapters import sql

        return sql.open_store
    raise AttributeError(f"module 'crm_procedures' has no attribute {name!r}")


__all__ = [
    "START",
    "AccessDenied",
    "Action",
    "Activity",
    "ActivityFrozen",
    "ActivityKind",
    "Address",
    "Appointment",
    "AppointmentStatus",
    "AttachmentMissing",
    "Attendee",
    "AvailableActions",
    "BookAppointment",
    "CapabilityMissing",
    "Change",
    "Choice",
    "ConcurrencyConflict",
    "Contact",
    "CrmApp",
    "CrmError",
    "CustomEffect",
    "DefinitionError",
    "Definitions",
    "DeliveryError",
    "Dictionary",
    "Document",
    "Effect",
    "EmailPreview",
    "EmailTemplate",
    "EntryKind",
    "Finding",
    "Gender",
    "Group",
    "HistoryEntry",
    "InvalidInput",
    "MemoryStore",
    "MigrationBlocked",
    "Money",
    "NotFound",
    "OutboxMessage",
    "OutboxStatus",
    "Procedure",
    "Project",
    "Prospect",
    "ProspectClosed",
    "ProspectNotReleased",
    "ProspectStatus",
    "ReadOnlyUnitOfWork",
    "Relation",
    "RelationKind",
    "RelationStage",
    "RelationType",
    "Role",
    "RuleViolation",
    "SendEmail",
    "Step",
    "StepContext",
    "StepHandler",
    "StepInputs",
    "StepKind",
    "StepKindSpec",
    "StepPreview",
    "StepResult",
    "StoreBusy",
    "SystemClock",
    "TemplateAttachment",
    "TemplateError",
    "TemplateVariant",
    "Timer",
    "TransitionNotAllowed",
    "User",
    "VisitReport",
    "__version__",
    "dump_definitions",
    "load_definitions",
    "open_store",
    "standard_definitions",
    "validate",
]
