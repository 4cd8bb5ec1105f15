"""crm_procedures: an embeddable engine for sales and relationship procedures.

Who may do which step next with a prospect, what happens when they do (an
e-mail goes out, an appointment lands in an agenda with an invitation), and
what every activity, visit and follow-up was.

The public API is what ``__all__`` lists; everything else may change.
"""

from __future__ import annotations

from crm_procedures._version import __version__

# Not ``typing.TYPE_CHECKING``: importing ``typing`` alone would cost more than the
# rest of ``import crm_procedures``. Type checkers treat this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from crm_procedures.adapters.memory import MemoryStore
    from crm_procedures.adapters.sql.store import open_store
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

# Every public name is imported from its module on first use (PEP 562), so that
# ``import crm_procedures`` costs next to nothing and a host pays only for the
# parts it uses: ``from crm_procedures import CrmApp`` imports the services, the
# model and the engine, not the SQL store, the calendar or the mail formats.
# ``open_store`` needs the ``sql`` extra (SQLAlchemy).
_LAZY: dict[str, str] = {
    "MemoryStore": "crm_procedures.adapters.memory",
    "AccessDenied": "crm_procedures.errors",
    "ActivityFrozen": "crm_procedures.errors",
    "AttachmentMissing": "crm_procedures.errors",
    "CapabilityMissing": "crm_procedures.errors",
    "ConcurrencyConflict": "crm_procedures.errors",
    "CrmError": "crm_procedures.errors",
    "DefinitionError": "crm_procedures.errors",
    "DeliveryError": "crm_procedures.errors",
    "Finding": "crm_procedures.errors",
    "InvalidInput": "crm_procedures.errors",
    "MigrationBlocked": "crm_procedures.errors",
    "NotFound": "crm_procedures.errors",
    "ProspectClosed": "crm_procedures.errors",
    "ProspectNotReleased": "crm_procedures.errors",
    "ReadOnlyUnitOfWork": "crm_procedures.errors",
    "RuleViolation": "crm_procedures.errors",
    "StoreBusy": "crm_procedures.errors",
    "TemplateError": "crm_procedures.errors",
    "TransitionNotAllowed": "crm_procedures.errors",
    "Activity": "crm_procedures.model",
    "ActivityKind": "crm_procedures.model",
    "Address": "crm_procedures.model",
    "Appointment": "crm_procedures.model",
    "AppointmentStatus": "crm_procedures.model",
    "Attendee": "crm_procedures.model",
    "Change": "crm_procedures.model",
    "Choice": "crm_procedures.model",
    "Contact": "crm_procedures.model",
    "Dictionary": "crm_procedures.model",
    "Document": "crm_procedures.model",
    "EntryKind": "crm_procedures.model",
    "Gender": "crm_procedures.model",
    "Group": "crm_procedures.model",
    "HistoryEntry": "crm_procedures.model",
    "Money": "crm_procedures.model",
    "OutboxMessage": "crm_procedures.model",
    "OutboxStatus": "crm_procedures.model",
    "Project": "crm_procedures.model",
    "Prospect": "crm_procedures.model",
    "ProspectStatus": "crm_procedures.model",
    "Relation": "crm_procedures.model",
    "RelationKind": "crm_procedures.model",
    "RelationStage": "crm_procedures.model",
    "RelationType": "crm_procedures.model",
    "Timer": "crm_procedures.model",
    "User": "crm_procedures.model",
    "VisitReport": "crm_procedures.model",
    "START": "crm_procedures.procedures",
    "BookAppointment": "crm_procedures.procedures",
    "CustomEffect": "crm_procedures.procedures",
    "Definitions": "crm_procedures.procedures",
    "Effect": "crm_procedures.procedures",
    "EmailTemplate": "crm_procedures.procedures",
    "Procedure": "crm_procedures.procedures",
    "Role": "crm_procedures.procedures",
    "SendEmail": "crm_procedures.procedures",
    "Step": "crm_procedures.procedures",
    "StepKindSpec": "crm_procedures.procedures",
    "TemplateAttachment": "crm_procedures.procedures",
    "TemplateVariant": "crm_procedures.procedures",
    "dump_definitions": "crm_procedures.procedures",
    "load_definitions": "crm_procedures.procedures",
    "standard_definitions": "crm_procedures.procedures",
    "validate": "crm_procedures.procedures",
    "Action": "crm_procedures.services.actions",
    "AvailableActions": "crm_procedures.services.actions",
    "CrmApp": "crm_procedures.services.app",
    "SystemClock": "crm_procedures.services.app",
    "StepResult": "crm_procedures.services.campaigns",
    "EmailPreview": "crm_procedures.services.previews",
    "StepPreview": "crm_procedures.services.previews",
    "StepContext": "crm_procedures.services.step_kinds",
    "StepHandler": "crm_procedures.services.step_kinds",
    "StepInputs": "crm_procedures.services.step_kinds",
    "StepKind": "crm_procedures.services.step_kinds",
    "open_store": "crm_procedures.adapters.sql",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'crm_procedures' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups find it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
