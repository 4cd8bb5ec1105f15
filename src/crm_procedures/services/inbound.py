"""Applying what comes back: replies, bounces, calendar answers, unsubscribes (I1).

:func:`process_inbox` reads an :class:`~crm_procedures.ports.Inbox` from the
position stored for it, classifies each message
(:func:`~crm_procedures.inbound.classify.classify`) and applies it in one unit
of work together with the inbox's new position. A message is applied once by
its Message-ID: a poller killed between applying a message and storing its
position reads it again, finds the Message-ID among the processed ones and
only moves the position on.

What applying does, by kind:

* **reply**: matched to the e-mail it answers through ``In-Reply-To`` /
  ``References`` (the Message-IDs of sent e-mails, remembered when a step
  recorded them); recorded on the prospect's timeline as an e-mail contact
  activity (with the message attached as a document of kind ``email`` when a
  blob store is configured) and raising the event ``reply``;
* **automatic reply**: linked the same way, no event;
* **bounce**: each failed address's delivery record is updated (a hard
  failure suppresses it, soft failures are counted and suppress it at
  ``Context.soft_bounce_limit``), the sent e-mail it answers is linked and
  the event ``bounce`` raised;
* **calendar reply**: the attendee's PARTSTAT is stored on the appointment
  (:func:`~crm_procedures.services.agenda.record_attendee_reply_in`, or the
  ``attendee_replies`` given; an answer to an older SEQUENCE changes nothing)
  and recorded as an activity on the appointment's relation; a decline
  raises ``appointment_declined``;
* **calendar counter** and anything that matched nothing: kept for a person
  (:func:`unmatched_messages`, :func:`resolve`), never dropped.

Events are stored (``uow.events``) and handed to ``Context.on_event`` after
the commit. The suppression list is consulted by every e-mail step
(:func:`check_sendable`): a person's step is refused with
:class:`~crm_procedures.errors.Suppressed`, an automatic one (performed by
``SYSTEM_USER``) sends nothing and records the event ``email_skipped``.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol, cast

import attrs

from crm_procedures.access.permissions import require, require_prospect_write
from crm_procedures.errors import (
    CapabilityMissing,
    ConcurrencyConflict,
    InvalidInput,
    NotFound,
    Suppressed,
)
from crm_procedures.formats.mime import envelope_of
from crm_procedures.ids import ActivityId, UserId
from crm_procedures.inbound.classify import classify
from crm_procedures.inbound.cursor import InboundMessage, InboxCursor
from crm_procedures.inbound.kinds import (
    AutoReply,
    Bounce,
    CalendarCounter,
    CalendarReply,
    Classification,
    PartStat,
    Reply,
)
from crm_procedures.inbound.unsubscribe import (
    list_unsubscribe_headers,
    sign_unsubscribe_token,
    verify_unsubscribe_token,
)
from crm_procedures.model._checks import MAX_LINE
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.inbound import (
    MAX_BODY,
    AddressStatus,
    InboxPosition,
    ProcessedMessage,
    SentMessage,
    SuppressionReason,
    UnmatchedMessage,
    UnmatchedStatus,
    normalise_address,
)
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.ports import InboundUnitOfWork, Inbox, UnitOfWork
from crm_procedures.procedures.events import (
    APPOINTMENT_DECLINED,
    BOUNCE,
    EMAIL_SKIPPED,
    REPLY,
    UNSUBSCRIBE,
    Event,
)
from crm_procedures.services.context import SYSTEM_USER, Context, resolve_viewer

__all__ = [
    "DEFAULT_INBOX",
    "AttendeeReplies",
    "InboxRun",
    "check_sendable",
    "hand_out_events",
    "inbound_of",
    "is_suppressed",
    "process_inbox",
    "process_message",
    "remember_sent",
    "resolve",
    "suppressed_addresses",
    "unmatched_messages",
    "unsubscribe",
    "unsubscribe_headers",
    "unsuppress",
]

DEFAULT_INBOX = "default"
"""The name positions are stored under when :func:`process_inbox` is given none."""

_RETRIES = 3
_EMAIL = "email"


class AttendeeReplies(Protocol):
    """Stores an attendee's PARTSTAT on the appointment, inside the given unit of work.

    The agenda service provides one; :func:`process_inbox` calls it for each
    calendar reply whose appointment it found, before recording the activity.
    """

    def __call__(
        self,
        uow: UnitOfWork,
        ctx: Context,
        appointment: Appointment,
        reply: CalendarReply,
    ) -> None:
        """Record ``reply.partstat`` of ``reply.attendee`` at ``reply.sequence``."""
        ...


@attrs.frozen
class InboxRun:
    """What one :func:`process_inbox` call did.

    Attributes:
        fetched: messages the inbox handed out.
        applied: messages applied now.
        already: messages applied before (read again after a kill): skipped.
        kept: messages kept for a person (unmatched, counter-proposals).
        events: the events raised, in order.
        cursor: the stored position after the run (``None`` when nothing was read yet).
    """

    fetched: int
    applied: int
    already: int
    kept: int
    events: tuple[Event, ...]
    cursor: str | None


def inbound_of(uow: UnitOfWork) -> InboundUnitOfWork:
    """``uow`` as an :class:`~crm_procedures.ports.InboundUnitOfWork`.

    Raises:
        CapabilityMissing: the store keeps no inbound records (capability ``inbound``).
    """
    if not isinstance(uow, InboundUnitOfWork):
        raise CapabilityMissing(
            "inbound",
            type(uow).__name__,
            "give the unit of work 'inbound' and 'events' repositories "
            "(crm_procedures.ports.InboundUnitOfWork) and declare the capability 'inbound'",
        )
    return uow


def _has_inbound(uow: UnitOfWork) -> bool:
    return isinstance(uow, InboundUnitOfWork)


# -- sending side: remembering Message-IDs, the suppression list, unsubscribe headers ------------


def remember_sent(
    uow: UnitOfWork,
    message: OutboxMessage,
    email: EmailMessage,
    *,
    prospect_id: str | None,
    actor: str | None,
    now: datetime,
) -> None:
    """Remember the Message-ID of an e-mail recorded in the outbox (for matching answers).

    Does nothing on a store without the ``inbound`` capability.
    """
    if not _has_inbound(uow):
        return
    message_id = str(email.get("Message-ID") or "").strip()
    if not message_id:
        return
    envelope = message.envelope or envelope_of(email)
    inbound_of(uow).inbound.add_sent(
        SentMessage(
            id=message_id,
            outbox_id=message.id,
            outbox_key=message.key,
            prospect_id=prospect_id,
            recipients=tuple(a.lower() for a in envelope),
            recorded_at=now,
            actor=actor,
        )
    )


def is_suppressed(uow: UnitOfWork, address: str) -> bool:
    """True when ``address`` is on the suppression list (False without the capability).

    For a scheduler that decides whether to perform an automatic e-mail step.
    """
    return _suppression(uow, address) is not None


def _suppression(uow: UnitOfWork, address: str) -> AddressStatus | None:
    if not _has_inbound(uow):
        return None
    try:
        key = normalise_address(address)
    except InvalidInput:
        return None
    found = inbound_of(uow).inbound.address(key)
    return found if found is not None and found.suppressed is not None else None


def check_sendable(
    uow: UnitOfWork,
    address: str,
    *,
    actor: str,
    prospect_id: str | None,
    now: datetime,
    step: str = "",
) -> bool:
    """Consult the suppression list before an e-mail step sends to ``address``.

    Returns True when the e-mail may go. For a suppressed address: a person's
    step raises :class:`~crm_procedures.errors.Suppressed`; an automatic step
    (``actor`` is ``SYSTEM_USER``) returns False after storing the event
    ``email_skipped`` (the step goes on without its e-mail).
    """
    found = _suppression(uow, address)
    if found is None or found.suppressed is None:
        return True
    if actor != SYSTEM_USER:
        raise Suppressed(found.id, found.suppressed.value)
    event = Event(
        EMAIL_SKIPPED,
        prospect_id,
        now,
        {"address": found.id, "reason": found.suppressed.value, "step": step},
        id=f"{EMAIL_SKIPPED}:{prospect_id}:{step}:{found.id}:{now.isoformat()}"[:MAX_LINE],
    )
    inbound_of(uow).events.add(event)
    return False


def unsubscribe_headers(
    ctx: Context, contact_id: str, project_id: str, now: datetime
) -> dict[str, str]:
    """The ``List-Unsubscribe`` headers of a campaign e-mail, or none when not configured.

    Configured with ``CrmApp(unsubscribe_url=..., unsubscribe_secret=...)``.
    """
    if ctx.unsubscribe_url is None or ctx.unsubscribe_secret is None:
        return {}
    token = sign_unsubscribe_token(ctx.unsubscribe_secret, contact_id, project_id, now.date())
    return list_unsubscribe_headers(ctx.unsubscribe_url, token)


def unsubscribe(ctx: Context, token: str) -> Event:
    """Record the opt-out a one-click unsubscribe token asks for (the host's endpoint).

    The contact's address goes on the suppression list and the event
    ``unsubscribe`` is stored (once per contact and project: posting the same
    token again changes nothing) and handed to ``on_event``.

    Raises:
        UnsubscribeTokenInvalid: a malformed or forged token.
        InvalidInput: no ``unsubscribe_secret`` is configured.
        NotFound: the token names a contact that does not exist (any more).
        CapabilityMissing: the store keeps no inbound records.
    """
    if ctx.unsubscribe_secret is None:
        raise InvalidInput(
            "unsubscribe_secret", "is not configured: CrmApp(unsubscribe_secret=...)"
        )
    request = verify_unsubscribe_token(ctx.unsubscribe_secret, token)
    now = ctx.now()
    with ctx.store.unit_of_work() as uow:
        records = inbound_of(uow)
        contact = uow.contacts.find(request.contact_id)
        if contact is None:
            raise NotFound("contact", request.contact_id)
        prospect_id = None
        if uow.projects.find(request.project_id) is not None:
            for prospect in uow.prospects.of_project(request.project_id):
                if prospect.contact_id == contact.id:
                    prospect_id = prospect.id
                    break
        detail = {"contact_id": contact.id, "project_id": request.project_id}
        if contact.email:
            address = normalise_address(contact.email)
            _suppress(records, address, SuppressionReason.UNSUBSCRIBED, "unsubscribed", now)
            detail["address"] = address
        event = Event(
            UNSUBSCRIBE,
            prospect_id,
            now,
            detail,
            id=f"{UNSUBSCRIBE}:{contact.id}:{request.project_id}"[:MAX_LINE],
        )
        added = records.events.add(event)
        uow.commit()
    if added:
        hand_out_events(ctx, [event])
    return event


def unsuppress(ctx: Context, actor: str, address: str) -> None:
    """Take ``address`` off the suppression list (a person corrected it); counts start again.

    Raises:
        AccessDenied: the actor lacks ``project.write``.
        InvalidInput: not an e-mail address.
    """
    key = normalise_address(address)
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "project.write", f"address {key}")
        records = inbound_of(uow)
        found = records.inbound.address(key)
        if found is None or (found.suppressed is None and found.soft_failures == 0):
            return
        records.inbound.save_address(
            attrs.evolve(
                found,
                suppressed=None,
                suppressed_at=None,
                soft_failures=0,
                updated_at=ctx.now(),
                detail=f"lifted by {actor}"[:MAX_LINE],
            )
        )
        uow.commit()


def suppressed_addresses(
    ctx: Context, actor: str, *, limit: int = 100, offset: int = 0
) -> list[AddressStatus]:
    """The suppression list, by address.

    Raises:
        AccessDenied: the actor is unknown or inactive.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        resolve_viewer(uow, actor)
        return inbound_of(uow).inbound.suppressed(limit, offset)


def _suppress(
    records: InboundUnitOfWork,
    address: str,
    reason: SuppressionReason,
    detail: str,
    now: datetime,
) -> AddressStatus:
    found = records.inbound.address(address)
    if found is None:
        found = AddressStatus(address, now)
    if found.suppressed is not None:
        return found
    return records.inbound.save_address(
        attrs.evolve(
            found, suppressed=reason, suppressed_at=now, updated_at=now, detail=detail[:MAX_LINE]
        )
    )


# -- reading side ------------------------------------------------------------------------------


def process_inbox(
    ctx: Context,
    inbox: Inbox,
    *,
    limit: int = 100,
    name: str = DEFAULT_INBOX,
    attendee_replies: AttendeeReplies | None = None,
) -> InboxRun:
    """Fetch up to ``limit`` messages after the stored position and apply each once.

    Each message is applied in its own unit of work together with the
    inbox's new position (stored under ``name``); a message whose Message-ID
    was applied before only moves the position on. Events go to
    ``ctx.on_event`` after each commit. ``attendee_replies`` stores a
    calendar answer on its appointment inside that unit of work; by default
    :func:`~crm_procedures.services.agenda.record_attendee_reply_in`.

    Raises:
        InboxUnavailable: the inbox cannot be read (nothing changed; poll again).
        InvalidInput: a bad ``limit``, or a stored position of another kind of inbox.
        CapabilityMissing: the store keeps no inbound records.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput("name", "must be an inbox name of 1 to 200 characters", name)
    with ctx.store.unit_of_work(read_only=True) as uow:
        stored = inbound_of(uow).inbound.position(name)
    cursor = None if stored is None else InboxCursor.parse(stored.cursor)
    messages = inbox.fetch(cursor, limit=limit)
    applied = already = kept = 0
    events: list[Event] = []
    for message in messages:
        outcome, raised = process_message(
            ctx, message, name=name, attendee_replies=attendee_replies
        )
        if outcome == "already":
            already += 1
        else:
            applied += 1
            kept += outcome == "kept"
        events.extend(raised)
    last = messages[-1].cursor.dump() if messages else (stored.cursor if stored else None)
    return InboxRun(len(messages), applied, already, kept, tuple(events), last)


def _message_key(raw: bytes, message_id: str | None) -> str:
    if message_id and len(message_id) <= 900 and message_id.isprintable():
        return message_id
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def process_message(
    ctx: Context,
    message: InboundMessage,
    *,
    name: str = DEFAULT_INBOX,
    attendee_replies: AttendeeReplies | None = None,
) -> tuple[str, list[Event]]:
    """Apply one fetched message and store its position (one unit of work).

    Returns what happened (``"applied"``, ``"kept"`` or ``"already"``) and
    the events raised. Retries a unit of work that lost a race with another
    poller (the second sees the message as processed).
    """
    if not isinstance(message, InboundMessage):
        raise InvalidInput("message", "must be an InboundMessage from an Inbox", message)
    result = classify(message.raw)
    key = _message_key(message.raw, result.envelope.message_id)
    for attempt in range(_RETRIES):
        try:
            outcome, events = _apply_once(ctx, message, result, key, name, attendee_replies)
        except ConcurrencyConflict:
            if attempt == _RETRIES - 1:
                raise
            continue
        if events:
            hand_out_events(ctx, events)
        return outcome, events
    raise AssertionError("unreachable")  # pragma: no cover


def _apply_once(
    ctx: Context,
    message: InboundMessage,
    result: Classification,
    key: str,
    name: str,
    attendee_replies: AttendeeReplies | None,
) -> tuple[str, list[Event]]:
    now = ctx.now()
    with ctx.store.unit_of_work() as uow:
        records = inbound_of(uow)
        events: list[Event] = []
        if records.inbound.processed(key) is not None:
            outcome = "already"
        else:
            applier = _Applier(ctx, uow, records, message, result, key, now, attendee_replies)
            outcome, note = applier.apply()
            events = applier.events
            for event in events:
                records.events.add(event)
            records.inbound.mark_processed(
                ProcessedMessage(
                    key,
                    result.kind.value,
                    now,
                    source_id=message.source_id[:MAX_LINE],
                    outcome=note[:MAX_LINE],
                )
            )
        position = records.inbound.position(name)
        dump = message.cursor.dump()
        if position is None:
            records.inbound.save_position(InboxPosition(name, dump, now))
        elif position.cursor != dump:
            records.inbound.save_position(attrs.evolve(position, cursor=dump, updated_at=now))
        uow.commit()
    return outcome, events


def hand_out_events(ctx: Context, events: Sequence[Event]) -> None:
    """Hand committed events to ``ctx.on_event``; a failing hook is reported as a warning."""
    hook = ctx.on_event
    if hook is None:
        return
    for event in events:
        try:
            hook(event)
        except Exception as exc:  # the host's hook: reported, never undoing what committed
            warnings.warn(
                f"on_event hook failed for event {event.name!r} ({event.id}): {exc}",
                RuntimeWarning,
                stacklevel=3,
            )


def _one_line(value: str, limit: int = 200) -> str:
    text = " ".join(value.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class _Applier:
    """The rules of one message, inside its unit of work."""

    def __init__(
        self,
        ctx: Context,
        uow: UnitOfWork,
        records: InboundUnitOfWork,
        message: InboundMessage,
        result: Classification,
        key: str,
        now: datetime,
        attendee_replies: AttendeeReplies | None,
    ) -> None:
        self.ctx = ctx
        self.uow = uow
        self.records = records
        self.message = message
        self.result = result
        self.key = key
        self.now = now
        self.attendee_replies = attendee_replies
        self.events: list[Event] = []

    def apply(self) -> tuple[str, str]:
        result = self.result
        if isinstance(result, (Reply, AutoReply)):
            return self._reply(result)
        if isinstance(result, Bounce):
            return self._bounce(result)
        if isinstance(result, CalendarReply):
            return self._calendar_reply(result)
        if isinstance(result, CalendarCounter):
            return self._counter(result)
        return self._keep(result.reason, body=_body_of(result))

    # helpers

    def _event(self, name: str, prospect_id: str | None, detail: dict[str, str]) -> None:
        self.events.append(
            Event(name, prospect_id, self.now, detail, id=f"{name}:{self.key}"[:MAX_LINE])
        )

    def _sent(self, ids: Sequence[str | None]) -> SentMessage | None:
        for message_id in ids:
            if message_id:
                found = self.records.inbound.sent(message_id)
                if found is not None:
                    return found
        return None

    def _keep(
        self, reason: str, *, body: str = "", prospect_id: str | None = None
    ) -> tuple[str, str]:
        envelope = self.result.envelope
        digest = None
        if self.ctx.blobs is not None:
            digest = self.ctx.blobs.put(self.message.raw)
        self.records.inbound.add_unmatched(
            UnmatchedMessage(
                id=self.ctx.new_id(),
                message_id=envelope.message_id if envelope.message_id == self.key else None,
                kind=self.result.kind.value,
                reason=_one_line(reason, MAX_LINE),
                received_at=self.now,
                source_id=self.message.source_id[:MAX_LINE],
                sender=envelope.sender[:MAX_LINE] if envelope.sender else None,
                subject=_one_line(envelope.subject, MAX_LINE),
                body=_clean_body(body),
                raw_digest=digest,
                prospect_id=prospect_id,
            )
        )
        return "kept", reason

    def _timeline(
        self,
        sent: SentMessage,
        subject: str,
        note: str,
        outcome: str,
    ) -> Activity | None:
        """An e-mail contact activity on the prospect, with the message attached."""
        prospect = self.uow.prospects.find(sent.prospect_id) if sent.prospect_id else None
        if prospect is None:
            return None
        employee = sent.actor if sent.actor and sent.actor != SYSTEM_USER else None
        if employee is None or self.uow.users.find(employee) is None:
            project = self.uow.projects.find(prospect.project_id)
            members = [m for ids in (project.members.values() if project else ()) for m in ids]
            employee = members[0] if members else SYSTEM_USER
        activity = Activity(
            id=ActivityId(self.ctx.new_id()),
            kind=ActivityKind.CONTACT,
            employee=UserId(employee),
            subject=_one_line(subject, MAX_LINE),
            relation_id=prospect.relation_id,
            project_id=prospect.project_id,
            contact_ids=(prospect.contact_id,) if prospect.contact_id else (),
            channel=_EMAIL,
            note=_clean_body(note),
            outcome=outcome,
            start=self.result.envelope.date or self.now,
            created_at=self.now,
            completed_at=self.now,
        )
        stored = self.uow.activities.add(activity)
        if self.ctx.blobs is not None:
            from crm_procedures.services.projects import store_document

            store_document(
                self.uow,
                self.ctx,
                SYSTEM_USER,
                owner_kind="activity",
                owner_id=stored.id,
                name=_one_line(self.result.envelope.subject or "(no subject)"),
                content=self.message.raw,
                media_type="message/rfc822",
                kind=_EMAIL,
            )
        return stored

    # the rules

    def _reply(self, result: Reply | AutoReply) -> tuple[str, str]:
        sent = self._sent(result.envelope.references)
        automatic = isinstance(result, AutoReply)
        if sent is None:
            reason = "an automatic reply" if automatic else "a reply"
            return self._keep(
                f"{reason} to no e-mail this installation sent (no known In-Reply-To/References)",
                body=result.body,
            )
        label = "Automatic reply" if automatic else "Reply"
        activity = self._timeline(
            sent,
            f"{label}: {result.envelope.subject}",
            result.body,
            "auto_reply" if automatic else "replied",
        )
        if activity is None:
            return self._keep(
                f"{label.lower()} to outbox message {sent.outbox_key}, which names no prospect",
                body=result.body,
            )
        if not automatic:
            self._event(
                REPLY,
                sent.prospect_id,
                {
                    "message_id": self.key,
                    "outbox_id": sent.outbox_id,
                    "outbox_key": sent.outbox_key,
                    "activity_id": activity.id,
                    "from": result.envelope.sender or "",
                },
            )
        return "applied", f"linked to {sent.outbox_key}"

    def _bounce(self, result: Bounce) -> tuple[str, str]:
        sent = self._sent([result.original_message_id, *result.envelope.references])
        limit = self.ctx.soft_bounce_limit
        described = []
        for recipient in result.recipients:
            try:
                address = normalise_address(recipient.address)
            except InvalidInput:
                continue
            what = recipient.status or ("permanent" if recipient.hard else "temporary")
            detail = _one_line(f"{what}: {recipient.diagnostic or 'no diagnostic'}", MAX_LINE)
            if recipient.hard:
                _suppress(self.records, address, SuppressionReason.HARD_BOUNCE, detail, self.now)
                described.append(f"{address} undeliverable")
                continue
            found = self.records.inbound.address(address) or AddressStatus(address, self.now)
            failures = found.soft_failures + 1
            changed = attrs.evolve(
                found, soft_failures=failures, updated_at=self.now, detail=detail
            )
            if failures >= limit and changed.suppressed is None:
                changed = attrs.evolve(
                    changed, suppressed=SuppressionReason.SOFT_BOUNCES, suppressed_at=self.now
                )
            self.records.inbound.save_address(changed)
            described.append(f"{address} soft failure {failures}")
        summary = "; ".join(described) or "no usable address"
        if sent is None:
            return self._keep(
                f"a bounce ({summary}) of no e-mail this installation sent",
                prospect_id=None,
            )
        self._timeline(sent, f"Undeliverable: {result.envelope.subject}", summary, "bounced")
        self._event(
            BOUNCE,
            sent.prospect_id,
            {
                "message_id": self.key,
                "outbox_id": sent.outbox_id,
                "outbox_key": sent.outbox_key,
                "hard": "yes" if result.hard else "no",
                "addresses": ", ".join(r.address for r in result.recipients)[:MAX_LINE],
            },
        )
        return "applied", f"bounce of {sent.outbox_key}: {summary}"

    def _calendar_reply(self, result: CalendarReply) -> tuple[str, str]:
        appointment = self.uow.appointments.by_uid(result.uid)
        if appointment is None:
            return self._keep(
                f"{result.attendee} answered {result.partstat.value} to an invitation "
                f"(UID {result.uid}) that is not in the agenda",
                body=result.comment or "",
            )
        if self.attendee_replies is not None:
            self.attendee_replies(self.uow, self.ctx, appointment, result)
        else:
            from crm_procedures.services.agenda import record_attendee_reply_in

            record_attendee_reply_in(self.uow, self.ctx, appointment, result)
        comment = f"\n{result.comment}" if result.comment else ""
        activity = Activity(
            id=ActivityId(self.ctx.new_id()),
            kind=ActivityKind.CONTACT,
            employee=appointment.employee,
            subject=_one_line(
                f"Invitation {result.partstat.value} by {result.attendee}: {appointment.title}",
                MAX_LINE,
            ),
            relation_id=appointment.relation_id,
            project_id=appointment.project_id,
            contact_ids=(appointment.contact_id,) if appointment.contact_id else (),
            channel=_EMAIL,
            note=_clean_body(
                f"{result.attendee} {result.partstat.value} (SEQUENCE {result.sequence}){comment}"
            ),
            outcome=result.partstat.value,
            start=self.result.envelope.date or self.now,
            appointment_id=appointment.id,
            created_at=self.now,
            completed_at=self.now,
        )
        self.uow.activities.add(activity)
        if result.partstat is PartStat.DECLINED:
            self._event(
                APPOINTMENT_DECLINED,
                appointment.prospect_id,
                {
                    "appointment_id": appointment.id,
                    "uid": appointment.uid,
                    "sequence": str(result.sequence),
                    "attendee": result.attendee,
                    "comment": result.comment or "",
                },
            )
        return "applied", f"{result.attendee} {result.partstat.value} {appointment.id}"

    def _counter(self, result: CalendarCounter) -> tuple[str, str]:
        appointment = self.uow.appointments.by_uid(result.uid)
        start = result.start.isoformat() if result.start else (result.start_text or "?")
        end = result.end.isoformat() if result.end else (result.end_text or "?")
        who = result.attendee or "an attendee"
        where = f"appointment {appointment.id}" if appointment else f"UID {result.uid}"
        return self._keep(
            f"{who} proposes another time for {where}: {start} to {end}; answer them",
            body=result.comment or "",
            prospect_id=appointment.prospect_id if appointment else None,
        )


def _body_of(result: Classification) -> str:
    body = getattr(result, "body", "")
    return body if isinstance(body, str) else ""


def _clean_body(body: str) -> str:
    text = "".join(
        c if c in "\n\t" or (c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF) else " "
        for c in body[:MAX_BODY]
    )
    return text


# -- a person's list of kept messages ----------------------------------------------------------


def unmatched_messages(
    ctx: Context,
    actor: str,
    *,
    status: UnmatchedStatus | str | None = UnmatchedStatus.OPEN,
    limit: int = 50,
    offset: int = 0,
) -> list[UnmatchedMessage]:
    """Messages kept for a person (open ones by default), oldest first.

    Raises:
        AccessDenied: the actor is unknown or inactive.
        InvalidInput: an unknown status or a bad page.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        resolve_viewer(uow, actor)
        wanted = None if status is None else _status(status)
        return inbound_of(uow).inbound.unmatched(wanted, limit, offset)


def _status(value: object) -> UnmatchedStatus:
    try:
        return UnmatchedStatus(cast(Any, value))
    except ValueError:
        raise InvalidInput(
            "status", f"must be one of {', '.join(s.value for s in UnmatchedStatus)}", value
        ) from None


def resolve(
    ctx: Context,
    actor: str,
    record_id: str,
    *,
    prospect_id: str | None = None,
    dismiss: bool = False,
) -> UnmatchedMessage:
    """Link a kept message to a prospect (its timeline gets the e-mail) or dismiss it.

    Give exactly one of ``prospect_id`` and ``dismiss=True``.

    Raises:
        InvalidInput: neither or both, or the message was resolved already.
        NotFound: no such kept message, or no such prospect visible to the actor.
        AccessDenied: the actor is unknown or may not change the prospect's project.
    """
    if (prospect_id is None) == (not dismiss):
        raise InvalidInput("prospect_id", "give a prospect_id to link to, or dismiss=True")
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        records = inbound_of(uow)
        kept = records.inbound.get_unmatched(record_id)
        if kept.status is not UnmatchedStatus.OPEN:
            raise InvalidInput(
                "record_id", f"message {record_id} was {kept.status.value} already", record_id
            )
        now = ctx.now()
        if dismiss:
            done = attrs.evolve(
                kept, status=UnmatchedStatus.DISMISSED, resolved_by=actor, resolved_at=now
            )
        else:
            prospect = uow.prospects.get(cast(str, prospect_id), viewer)
            require_prospect_write(viewer, prospect, uow.projects.get(prospect.project_id))
            activity = uow.activities.add(
                Activity(
                    id=ActivityId(ctx.new_id()),
                    kind=ActivityKind.CONTACT,
                    employee=UserId(actor),
                    subject=_one_line(f"E-mail: {kept.subject or '(no subject)'}", MAX_LINE),
                    relation_id=prospect.relation_id,
                    project_id=prospect.project_id,
                    contact_ids=(prospect.contact_id,) if prospect.contact_id else (),
                    channel=_EMAIL,
                    note=kept.body,
                    outcome="linked",
                    start=kept.received_at,
                    created_at=now,
                    completed_at=now,
                )
            )
            if kept.raw_digest is not None and ctx.blobs is not None:
                from crm_procedures.services.projects import store_document

                try:
                    raw = ctx.blobs.get(kept.raw_digest)
                except NotFound:
                    raw = None
                if raw is not None:
                    store_document(
                        uow,
                        ctx,
                        actor,
                        owner_kind="activity",
                        owner_id=activity.id,
                        name=_one_line(kept.subject or "(no subject)"),
                        content=raw,
                        media_type="message/rfc822",
                        kind=_EMAIL,
                    )
            done = attrs.evolve(
                kept,
                status=UnmatchedStatus.LINKED,
                prospect_id=prospect.id,
                resolved_by=actor,
                resolved_at=now,
            )
        stored = records.inbound.save_unmatched(done)
        uow.commit()
    return stored
