"""The ports: what crm_procedures needs from the world, as ``typing.Protocol``s.

Host applications implement these (or use the shipped adapters in
:mod:`crm_procedures.adapters`). Every shipped adapter passes the contract suites
in the repository's ``tests/contract/``; run them against your own adapter (see
the how-to "Plug in your own store").

The store
---------
A :class:`Store` opens units of work (:meth:`Store.unit_of_work`). Everything
read and written inside one ``with store.unit_of_work() as uow:`` block is one
transaction: leaving the block without :meth:`UnitOfWork.commit` (or with an
exception) rolls everything back, including outbox messages.

Read-only units of work: ``with store.unit_of_work(read_only=True) as uow:``
opens one that only reads. It takes no write lock (on SQLite a deferred
transaction, so in WAL it reads beside a writer and neither waits; on
PostgreSQL a ``READ ONLY`` transaction), and any write in it raises
:class:`~crm_procedures.errors.ReadOnlyUnitOfWork`. The services that only
read (gets, searches, worklists, agendas, reports) open this kind.

Versions: a record fresh from its constructor has ``version == 0``.
``add()`` stores it as version 1 and returns the stored copy. ``save()``
accepts a copy whose version equals the stored one, stores it as version + 1
and returns the stored copy; a stale copy raises
:class:`~crm_procedures.errors.ConcurrencyConflict` (for ``Prospect``, the one
mutable aggregate, ``save`` also sets ``version`` on the object passed in).
Nothing is ever deleted through the store.

Reads that list records take a :class:`~crm_procedures.access.Viewer` and
return only what that viewer may see, filtering inside the query. ``get`` with
a viewer raises :class:`~crm_procedures.errors.NotFound` both for a missing and
for an invisible record.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from crm_procedures.access.viewer import Viewer
from crm_procedures.inbound.cursor import InboundMessage, InboxCursor
from crm_procedures.model.activity import Activity
from crm_procedures.model.appointment import Appointment, CalendarChange
from crm_procedures.model.audit import Change
from crm_procedures.model.contact import Contact
from crm_procedures.model.document import Document
from crm_procedures.model.due import DueCursor, DueEntry
from crm_procedures.model.inbound import (
    AddressStatus,
    InboxPosition,
    ProcessedMessage,
    SentMessage,
    UnmatchedMessage,
    UnmatchedStatus,
)
from crm_procedures.model.outbox import DeliveryOutcome, OutboxMessage
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import BulkStatusChange, Prospect, ProspectStatus
from crm_procedures.model.relation import Relation
from crm_procedures.model.reports import AcquisitionRow, EmployeeRow, Funnel
from crm_procedures.model.users import Group, User
from crm_procedures.model.visit_report import VisitReport
from crm_procedures.procedures.events import Event

__all__ = [
    "ActivityRepository",
    "AppointmentRepository",
    "AuditLog",
    "BlobStore",
    "BulkAuditLog",
    "BulkNewRecords",
    "BulkProspectChanges",
    "BusyCalendar",
    "Calendar",
    "CallFeed",
    "CallRecord",
    "ChangeFeed",
    "ChannelSender",
    "Clock",
    "ContactRepository",
    "DefinitionRepository",
    "DocumentRepository",
    "DuePages",
    "EnvelopeMailer",
    "EventLog",
    "GroupRepository",
    "InboundRepository",
    "InboundUnitOfWork",
    "Inbox",
    "Mailer",
    "Outbox",
    "Page",
    "ProjectRepository",
    "ProspectRepository",
    "RelationRepository",
    "ReportQueries",
    "ReportingUnitOfWork",
    "Repository",
    "Store",
    "UnitOfWork",
    "UserRepository",
    "VisitReportRepository",
]

T = TypeVar("T")


class Clock(Protocol):
    """Where the time comes from. ``now()`` returns a timezone-aware datetime."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class Page(Protocol):
    """Paging of list queries: at most ``limit`` records after skipping ``offset``."""

    limit: int
    offset: int


class Repository(Protocol[T]):
    """The operations every record kind has."""

    def get(self, record_id: str, viewer: Viewer | None = None) -> T:
        """The record with that id. Raises NotFound (missing, or not visible to viewer)."""
        ...

    def find(self, record_id: str) -> T | None:
        """The record with that id, or ``None`` (no visibility check)."""
        ...

    def add(self, record: T) -> T:
        """Insert a new record (version 0); returns it stored as version 1.

        Raises ConcurrencyConflict when the id exists already.
        """
        ...

    def add_many(self, records: Sequence[T]) -> None:
        """Insert many new records at once (bulk import); each is stored as version 1."""
        ...

    def save(self, record: T) -> T:
        """Update a record; returns it stored as version + 1. Raises ConcurrencyConflict."""
        ...

    def count(self, viewer: Viewer | None = None) -> int:
        """How many records the viewer may see (all with ``None``)."""
        ...


class RelationRepository(Repository[Relation], Protocol):
    """Relations (companies and persons)."""

    def by_account_manager(self, user_id: str) -> list[Relation]:
        """Relations whose account manager is ``user_id``, ordered by name."""
        ...

    def search(
        self,
        name_contains: str,
        limit: int | None = 50,
        offset: int = 0,
        viewer: Viewer | None = None,
    ) -> list[Relation]:
        """Relations whose name contains the text (case-insensitive), by name then id.

        One page: at most ``limit`` (all with ``None``) after skipping
        ``offset``; ``search("", limit=500, offset=n)`` pages through every
        relation. With a viewer only the relations it may see.
        """
        ...

    def by_phone(self, phone: str, viewer: Viewer | None = None) -> list[Relation]:
        """Relations whose stored (normalised) phone equals ``phone``, by id."""
        ...


class ContactRepository(Repository[Contact], Protocol):
    """Contacts at relations."""

    def of_relation(self, relation_id: str) -> list[Contact]:
        """The contacts of one relation, ordered by last name."""
        ...

    def by_phone(self, phone: str) -> list[Contact]:
        """Contacts whose stored (normalised) phone equals ``phone``."""
        ...


class ProjectRepository(Repository[Project], Protocol):
    """Projects (and campaigns)."""

    def of_relation(self, relation_id: str, viewer: Viewer | None = None) -> list[Project]:
        """Projects under one relation that the viewer may see, ordered by name."""
        ...

    def visible(self, viewer: Viewer | None = None) -> list[Project]:
        """Every project the viewer may see, ordered by name."""
        ...


class ProspectRepository(Repository[Prospect], Protocol):
    """Prospects: relations inside projects, with their procedure history."""

    def of_project(
        self,
        project_id: str,
        viewer: Viewer | None = None,
        status: ProspectStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Prospect]:
        """Prospects of one project, optionally of one status, ordered by id."""
        ...

    def count_by_status(self, project_id: str, viewer: Viewer | None = None) -> dict[str, int]:
        """``{status: count}`` for one project."""
        ...

    def worklist(
        self,
        project_id: str,
        last_steps: Collection[str | None],
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Prospect]:
        """Running prospects of a project whose last step is in ``last_steps``.

        ``None`` in ``last_steps`` stands for "nothing done yet" (START). The
        domain computes ``last_steps`` from the matrix: the steps after which the
        role may do something. Ordered by ``next_action_at`` (missing first),
        then id.
        """
        ...

    def due(
        self,
        *,
        project_id: str | None = None,
        role: str | None = None,
        owner: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        automatic: bool | None = None,
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Prospect]:
        """Running prospects with a step due in ``[since, until)``, by due time, then id.

        ``project_id``, ``role`` (the due step's role), ``owner`` and
        ``automatic`` (the due step is performed by the scheduler) narrow the
        list when given. Prospects with nothing due are never listed.
        """
        ...

    def claim_due(self, now: datetime, limit: int, worker: str, lease_seconds: float) -> list[str]:
        """Ids of running prospects whose automatic step is due at ``now``, leased to ``worker``.

        At most ``limit``, earliest due first. A prospect leased to another
        worker until after ``now`` is skipped; the lease (``lease_seconds``
        long) holds once the unit of work commits. Claimers running at once
        get different prospects (PostgreSQL: ``FOR UPDATE SKIP LOCKED``).
        """
        ...

    def lease(self, prospect_id: str, worker: str, now: datetime, until: datetime) -> bool:
        """Lease one prospect to ``worker`` until ``until``; False when another holds it."""
        ...

    def lease_of(self, prospect_id: str) -> tuple[str, datetime] | None:
        """Who holds the lease of ``prospect_id`` and until when, or ``None``."""
        ...

    def release_lease(self, prospect_id: str, worker: str) -> None:
        """Drop ``worker``'s lease of ``prospect_id`` (nothing when another holds it)."""
        ...


@runtime_checkable
class DuePages(Protocol):
    """An optional capability of a prospect repository: due lists as small rows.

    The due worklists (``cadence.due_page``, ``cadence.due_worklist``) use it
    when the store's ``prospects`` repository has it, and build the same
    entries from :meth:`ProspectRepository.due` when it has not. The memory,
    SQL and Django example stores have it; ``CadenceContract`` checks it.
    """

    def due_page(
        self,
        *,
        project_id: str | None = None,
        role: str | None = None,
        owner: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        automatic: bool | None = None,
        viewer: Viewer | None = None,
        limit: int = 50,
        after: DueEntry | DueCursor | None = None,
    ) -> list[DueEntry]:
        """The entries :meth:`due` lists, as small rows read from the due index.

        Same filters, same order (due time, then id), same visibility; no
        prospect or history is loaded. ``after`` (the last entry of the
        previous page, or its ``cursor``) starts the page after it (keyset
        paging: a deep page costs what the first does).
        """
        ...


@runtime_checkable
class BulkProspectChanges(Protocol):
    """An optional capability of a prospect repository: one status change over many prospects.

    The bulk services (``campaigns.release_all``, ``campaigns.close_all``) use
    it when the store's ``prospects`` repository has it, and change the
    prospects one at a time through ``save`` when it has not.
    """

    def change_status_many(
        self, project_id: str, change: BulkStatusChange, *, after: str = "", limit: int = 1000
    ) -> list[tuple[str, int]]:
        """Apply ``change`` to the next ``limit`` prospects of the project it changes.

        The prospects are taken by id, after ``after``; each changed one is
        stored as version + 1 with its new history entry. Returns the
        ``(id, new version)`` of those changed, by id: fewer than ``limit``
        when no more are left.
        """
        ...


class ActivityRepository(Repository[Activity], Protocol):
    """Activities (contacts, meetings, tasks)."""

    def for_employee(
        self,
        employee: str,
        viewer: Viewer | None = None,
        open_only: bool = False,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Activity]:
        """ "My activities" (P3): one employee's, newest first (by start, then created).

        ``kind`` (``contact``, ``meeting``, ``task``) keeps only activities of
        that kind, inside the query, so pages stay full (the tabs of a list).
        """
        ...

    def of_relation(
        self,
        relation_id: str,
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Activity]:
        """All activities of one relation (P3), newest first; ``kind`` as for for_employee."""
        ...

    def of_project(
        self,
        project_id: str,
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Activity]:
        """All activities of one project, newest first; ``kind`` as for for_employee."""
        ...


class AppointmentRepository(Repository[Appointment], Protocol):
    """Appointments in agendas."""

    def agenda(self, employee: str, start: datetime, end: datetime) -> list[Appointment]:
        """Confirmed appointments of one employee overlapping [start, end), by start.

        The employee's own appointments and those that name them among their
        ``participants``, each once. Recurring appointments are returned once
        (the master); expanding occurrences is the agenda service's job.
        """
        ...

    def by_uid(self, uid: str) -> Appointment | None:
        """The appointment with this iCalendar UID, or ``None``."""
        ...

    def of_project(self, project_id: str, start: datetime, end: datetime) -> list[Appointment]:
        """Confirmed appointments booked for one project overlapping [start, end), by start.

        Whoever's agenda they are in (L5: the project's agenda). Recurring
        appointments are returned once (the master), as for :meth:`agenda`.
        """
        ...


class VisitReportRepository(Repository[VisitReport], Protocol):
    """Visit reports, queryable on their own (V2, V3)."""

    def search(
        self,
        *,
        account_manager: str | None = None,
        relation_id: str | None = None,
        visit_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        keyword: str | None = None,
        limit: int = 50,
        offset: int = 0,
        viewer: Viewer | None = None,
    ) -> list[VisitReport]:
        """Reports matching every given filter that ``viewer`` may see, newest first.

        ``keyword`` matches keywords, subject and text, case- and
        accent-insensitively. Visibility (see
        :func:`~crm_procedures.access.viewer.may_see_visit_report`) is applied
        inside the query; ``None`` sees every report.
        """
        ...


class DocumentRepository(Repository[Document], Protocol):
    """Document metadata."""

    def of_owner(self, owner_kind: str, owner_id: str) -> list[Document]:
        """Documents attached to one record, oldest first."""
        ...


class UserRepository(Repository[User], Protocol):
    """Users."""

    def all(self) -> list[User]:
        """Every user, by id."""
        ...


class GroupRepository(Repository[Group], Protocol):
    """User groups."""

    def all(self) -> list[Group]:
        """Every group, by id."""
        ...


class DefinitionRepository(Protocol):
    """Stored definitions (procedures, dictionaries, rules) as plain data, versioned."""

    def put(self, key: str, data: dict[str, Any]) -> int:
        """Store a new version of the definition ``key``; returns its version (1, 2, ...)."""
        ...

    def get(self, key: str, version: int | None = None) -> dict[str, Any]:
        """The definition's data at ``version`` (latest when ``None``). Raises NotFound."""
        ...

    def versions(self, key: str) -> list[int]:
        """The stored versions of ``key``, ascending."""
        ...


class Outbox(Protocol):
    """Messages recorded with state changes, delivered after commit (X4)."""

    def add(self, message: OutboxMessage) -> None:
        """Record a message in this unit of work. A duplicate ``key`` is ignored."""
        ...

    def claim_due(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float,
        channels: Collection[str] | None = None,
    ) -> list[OutboxMessage]:
        """Pending messages due at ``now``, leased to the caller for ``lease_seconds``.

        A leased message is not returned to another claimer until the lease
        expires (``due_at`` moves to ``now + lease``). Each claimed message
        carries a new ``lease_token`` naming this claim; ``attempts`` does not
        change (a claim is not a try: see :meth:`start_attempt`). The claim
        holds once the unit of work commits. ``channels`` limits the claim to
        messages of those channels (all when ``None``). Ordered by ``due_at``
        (missing first), then creation, then id.
        """
        ...

    def start_attempt(
        self, message_id: str, lease_token: str, now: datetime, lease_seconds: float
    ) -> OutboxMessage | None:
        """The fence before a delivery try: renew the lease if this claim still holds it.

        When the message is pending and its ``lease_token`` is still
        ``lease_token`` (nobody claimed it since), the lease is renewed to
        ``now + lease_seconds``, ``attempts`` rises by one and the message is
        returned; otherwise ``None`` (another dispatcher holds it, or it was
        settled): the caller must not deliver it. Run it in its own short unit
        of work and commit before delivering.
        """
        ...

    def record(self, message: OutboxMessage) -> OutboxMessage:
        """Store the outcome of a try: ``message`` as read, with its new state.

        Raises ConcurrencyConflict when the stored version is not
        ``message.version`` (read again and decide again), NotFound when
        there is no such message.
        """
        ...

    def mark_delivered(self, message_id: str, at: datetime) -> None:
        """Mark a message delivered (idempotent)."""
        ...

    def mark_failed(self, message_id: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: retry at ``retry_at``, or permanently failed when None."""
        ...

    def get(self, message_id: str) -> OutboxMessage:
        """One message. Raises NotFound."""
        ...

    def list(self, status: str | None = None, limit: int = 1000) -> list[OutboxMessage]:
        """Messages, optionally of one status, by creation."""
        ...


class AuditLog(Protocol):
    """The append-only change history of records."""

    def record(self, change: Change) -> None:
        """Append one change."""
        ...

    def of_record(self, record_kind: str, record_id: str) -> list[Change]:
        """Every change of one record, oldest first."""
        ...


@runtime_checkable
class BulkAuditLog(Protocol):
    """An optional capability of an audit log: append many changes with one statement."""

    def record_many(self, changes: Sequence[Change]) -> None:
        """Append the changes, in order."""
        ...


@runtime_checkable
class BulkNewRecords(Protocol):
    """An optional capability of a unit of work: store new relations, contacts and prospects.

    The suspect import uses it per batch when the unit of work has it, and the
    repositories' ``add_many`` (relations, then contacts, then prospects) when
    it has not; the stored records are the same either way.
    """

    def add_new_records(
        self,
        relations: Sequence[Relation],
        contacts: Sequence[Contact],
        prospects: Sequence[Prospect],
    ) -> None:
        """Insert them as version 1, relations first, all or none.

        Raises what the three ``add_many`` calls would: ConcurrencyConflict for
        an id that exists or repeats, InvalidInput for an invalid record.
        """
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository. Use as a context manager."""

    relations: RelationRepository
    contacts: ContactRepository
    projects: ProjectRepository
    prospects: ProspectRepository
    activities: ActivityRepository
    appointments: AppointmentRepository
    visit_reports: VisitReportRepository
    documents: DocumentRepository
    users: UserRepository
    groups: GroupRepository
    definitions: DefinitionRepository
    outbox: Outbox
    audit: AuditLog

    def commit(self) -> None:
        """Make every change of this unit of work durable and visible."""
        ...

    def rollback(self) -> None:
        """Undo every change of this unit of work."""
        ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class Store(Protocol):
    """A place where records live; opens units of work."""

    def unit_of_work(self, *, read_only: bool = False) -> AbstractContextManager[UnitOfWork]:
        """A new unit of work (one transaction).

        ``read_only=True`` opens one that takes no write lock and refuses
        every write with :class:`~crm_procedures.errors.ReadOnlyUnitOfWork`.
        A store that cannot tell the difference may open an ordinary unit of
        work, as long as it refuses writes in it.
        """
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


class Mailer(Protocol):
    """Sends e-mail messages.

    ``send`` receives a complete ``email.message.EmailMessage`` whose
    ``Message-ID`` header was derived from the outbox key. An adapter that can
    see earlier deliveries (a folder, the memory mailer) must not deliver the
    same Message-ID twice. Raises DeliveryError (``permanent=True`` when a retry
    cannot help).
    """

    def send(self, message: Any) -> None:
        """Deliver one message."""
        ...


class EnvelopeMailer(Mailer, Protocol):
    """A Mailer that is told the envelope and answers per recipient.

    ``send_to`` delivers ``message`` to exactly ``recipients`` (the SMTP
    envelope: never re-derived from the headers) and returns what the server
    said of each recipient it did not accept (``deferred`` for 4xx,
    ``refused`` for 5xx). It raises DeliveryError when the message as a whole
    was not delivered (connection, DATA refused). The dispatcher prefers it
    to :meth:`Mailer.send` and retries only the deferred recipients.
    """

    def send_to(self, message: Any, recipients: Sequence[str]) -> DeliveryOutcome:
        """Deliver one message to ``recipients``; per-recipient refusals in the outcome."""
        ...


class ChannelSender(Protocol):
    """Delivers the outbox messages of one channel (mail, calendar, a host's webhook).

    Registered with the dispatcher by channel name, every sender gets the same
    leases, retries, backoff and permanent failure. ``deliver`` raises
    DeliveryError (``permanent=True`` when a retry cannot help) or returns the
    per-recipient outcome (an empty :class:`DeliveryOutcome` when the channel
    has no recipients).
    """

    def deliver(self, message: OutboxMessage) -> DeliveryOutcome:
        """Deliver one message (to its recipients not yet accepted or refused)."""
        ...


@runtime_checkable
class Calendar(Protocol):
    """Publishes appointments to an attendee's calendar.

    ``publish`` creates or updates (same UID, higher SEQUENCE); ``cancel``
    removes. Implementations use ``(appointment.uid, appointment.sequence)`` as
    the idempotency key: publishing the same pair twice has no further effect.
    """

    def publish(self, appointment: Appointment) -> None:
        """Create or update the appointment in the calendar."""
        ...

    def cancel(self, appointment: Appointment) -> None:
        """Cancel the appointment in the calendar."""
        ...


@runtime_checkable
class BusyCalendar(Protocol):
    """A calendar that tells when an employee is busy (free/busy for conflict checks)."""

    def busy(
        self, employee: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The busy periods of ``employee`` overlapping [start, end), by start, as UTC instants.

        Recurring entries are expanded; cancelled and transparent (free)
        entries are left out. Raises DeliveryError when the calendar cannot
        be read and InvalidInput for naive or reversed times.
        """
        ...


@runtime_checkable
class ChangeFeed(Protocol):
    """A calendar that reports changes made in it by others (moves, cancellations).

    ``changes`` lists what changed since the last acknowledged state;
    ``acknowledge`` is called once the store holds the change, with the
    SEQUENCE the store gave it, so the change is reported once and a
    publication of that SEQUENCE or an older one is not written back over it.
    """

    def changes(self) -> list[CalendarChange]:
        """The changes not yet acknowledged. Raises DeliveryError when unreadable."""
        ...

    def acknowledge(self, change: CalendarChange, sequence: int) -> None:
        """Record that the store holds ``change`` as version ``sequence``."""
        ...


class BlobStore(Protocol):
    """Content of documents, addressed by SHA-256."""

    def put(self, content: bytes) -> str:
        """Store content; returns its SHA-256 hex digest. Raises InvalidInput over the limit."""
        ...

    def get(self, digest: str) -> bytes:
        """The content with that digest. Raises NotFound."""
        ...

    def exists(self, digest: str) -> bool:
        """True when content with that digest is stored."""
        ...


class CallRecord(Protocol):
    """One call reported by a telephony system."""

    call_id: str
    phone: str
    direction: str
    start: datetime
    duration_seconds: float
    user_id: str | None


class CallFeed(Protocol):
    """A telephony feed: yields call records not yet seen."""

    def calls(self, since: datetime | None = None) -> Iterator[CallRecord]:
        """Calls since ``since`` (all when ``None``), oldest first."""
        ...


class ReportQueries(Protocol):
    """The aggregate queries behind the reports (P1), computed inside the store.

    A unit of work may expose one as its ``reports`` attribute; the shipped
    stores have one each (SQL ``GROUP BY`` queries, and the same counts in
    memory). Every query applies the viewer's visibility like the lists do.
    ``since`` (inclusive) and ``until`` (exclusive) are timezone-aware.
    """

    def funnel(
        self,
        project_id: str,
        viewer: Viewer | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Funnel:
        """The funnel of one project (see :class:`~crm_procedures.model.reports.Funnel`)."""
        ...

    def employee_activity(
        self,
        viewer: Viewer | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[EmployeeRow]:
        """One row per employee with visible activities or appointments, by employee id."""
        ...

    def acquisition(self, viewer: Viewer | None, group_by: str) -> list[AcquisitionRow]:
        """Approached and won relations per value of ``group_by``, by group (``None`` last)."""
        ...

    def prospects_of_relation(self, relation_id: str, viewer: Viewer | None) -> list[Prospect]:
        """The visible prospects of one relation (every project), by project id then id."""
        ...


@runtime_checkable
class ReportingUnitOfWork(Protocol):
    """The report capability of a unit of work: ``uow.reports`` (P1).

    The services find report queries through this attribute and nothing
    else, for the shipped stores (memory: counts over the records the unit of
    work sees; SQL: ``GROUP BY`` queries) as for a host's store adapter. A
    unit of work without it makes the report services (and
    :func:`~crm_procedures.services.reports.report_queries`) raise
    :class:`~crm_procedures.errors.CapabilityMissing`; enrolment then falls
    back to reading the project's prospects through
    :meth:`ProspectRepository.of_project`.
    """

    @property
    def reports(self) -> ReportQueries:
        """The report queries over this unit of work's view of the records."""
        ...


class Inbox(Protocol):
    """A mailbox the library reads answers from (replies, bounces, calendar answers).

    Reading is resumable and at-least-once: :meth:`fetch` returns the messages
    after a cursor, oldest first, each with the cursor that covers it. The
    caller applies a message and stores ``message.cursor.dump()`` in the same
    unit of work; a poller killed in between reads the message again, and the
    store recognises it by its Message-ID. An inbox never deletes or flags
    what it hands out.

    When the position a cursor names no longer exists in the same form (IMAP
    UIDVALIDITY changed: the server renumbered the mailbox) the inbox reads
    again from the beginning; the Message-ID rule keeps that harmless.
    """

    def fetch(self, after: InboxCursor | None = None, limit: int = 100) -> list[InboundMessage]:
        """Up to ``limit`` messages after ``after`` (from the beginning when ``None``).

        Raises InvalidInput for a cursor of another kind of inbox or a bad
        limit, and InboxUnavailable when the mailbox cannot be read (retry
        later with the same cursor).
        """
        ...

    def close(self) -> None:
        """Release the connection or files; a later fetch opens them again."""
        ...


class InboundRepository(Protocol):
    """What the store keeps about mail that came back (I1): ``uow.inbound``.

    The Message-IDs of sent e-mails (what answers are matched with),
    processed Message-IDs (each received message applied once), inbox
    positions, messages kept for a person, and the delivery record of each
    e-mail address (soft failures, the suppression list). Records are
    versioned like the others: ``add``-like methods store version 1, saves
    need the stored version (ConcurrencyConflict otherwise).
    """

    def processed(self, message_id: str) -> ProcessedMessage | None:
        """The record of the message applied with this Message-ID, or ``None``."""
        ...

    def mark_processed(self, record: ProcessedMessage) -> ProcessedMessage:
        """Record a message as applied. Raises ConcurrencyConflict when it was already."""
        ...

    def add_sent(self, record: SentMessage) -> None:
        """Remember a sent e-mail's Message-ID; a Message-ID remembered already is ignored."""
        ...

    def sent(self, message_id: str) -> SentMessage | None:
        """The e-mail the library sent with this Message-ID, or ``None``."""
        ...

    def position(self, inbox: str) -> InboxPosition | None:
        """Where the inbox named ``inbox`` was read up to, or ``None``."""
        ...

    def save_position(self, position: InboxPosition) -> InboxPosition:
        """Store a position: version 0 adds it, otherwise it replaces that stored version."""
        ...

    def add_unmatched(self, message: UnmatchedMessage) -> UnmatchedMessage:
        """Keep a message for a person. Raises ConcurrencyConflict when the id exists."""
        ...

    def get_unmatched(self, record_id: str) -> UnmatchedMessage:
        """One kept message. Raises NotFound."""
        ...

    def save_unmatched(self, message: UnmatchedMessage) -> UnmatchedMessage:
        """Store a changed kept message as version + 1. Raises ConcurrencyConflict, NotFound."""
        ...

    def unmatched(
        self, status: UnmatchedStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[UnmatchedMessage]:
        """Kept messages (of one status when given), oldest received first, then by id."""
        ...

    def address(self, address: str) -> AddressStatus | None:
        """The delivery record of one address (lower case), or ``None``."""
        ...

    def save_address(self, status: AddressStatus) -> AddressStatus:
        """Store a delivery record: version 0 adds it, otherwise it replaces that version."""
        ...

    def suppressed(self, limit: int = 100, offset: int = 0) -> list[AddressStatus]:
        """The suppression list: addresses that receive no more e-mail, by address."""
        ...


class EventLog(Protocol):
    """The stored events (reply, bounce, unsubscribe, ...): ``uow.events``."""

    def add(self, event: Event) -> bool:
        """Store an event; returns False (storing nothing) when its id is stored already."""
        ...

    def of_prospect(self, prospect_id: str) -> list[Event]:
        """The events of one prospect, oldest first (by time, then id)."""
        ...


@runtime_checkable
class InboundUnitOfWork(Protocol):
    """The inbound capability of a unit of work: ``uow.inbound`` and ``uow.events``.

    A store that has it declares the capability ``inbound``. The inbound
    services (:mod:`crm_procedures.services.inbound`) raise
    :class:`~crm_procedures.errors.CapabilityMissing` on a unit of work
    without it; the e-mail steps then consult no suppression list.
    """

    @property
    def inbound(self) -> InboundRepository:
        """Processed messages, inbox positions, kept messages, address records."""
        ...

    @property
    def events(self) -> EventLog:
        """The stored events."""
        ...
