"""The domain model: immutable records plus the one mutable aggregate, Prospect."""

from crm_procedures.model.activity import Activity, ActivityKind, Timer
from crm_procedures.model.appointment import Appointment, AppointmentStatus, Attendee
from crm_procedures.model.audit import Change
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.dictionaries import Choice, Dictionary
from crm_procedures.model.document import Document
from crm_procedures.model.money import Money
from crm_procedures.model.outbox import OutboxMessage, OutboxStatus
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import (
    EntryKind,
    HistoryEntry,
    Prospect,
    ProspectStatus,
    RelationStage,
)
from crm_procedures.model.relation import Address, Relation, RelationKind, RelationType
from crm_procedures.model.users import Group, User
from crm_procedures.model.visit_report import VisitReport

__all__ = [
    "Activity",
    "ActivityKind",
    "Address",
    "Appointment",
    "AppointmentStatus",
    "Attendee",
    "Change",
    "Choice",
    "Contact",
    "Dictionary",
    "Document",
    "EntryKind",
    "Gender",
    "Group",
    "HistoryEntry",
    "Money",
    "OutboxMessage",
    "OutboxStatus",
    "Project",
    "Prospect",
    "ProspectStatus",
    "Relation",
    "RelationKind",
    "RelationStage",
    "RelationType",
    "Timer",
    "User",
    "VisitReport",
]
