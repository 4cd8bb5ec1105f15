"""The exception hierarchy of crm_procedures.

Every error the library raises on purpose derives from :class:`CrmError`.
Each class carries the structured facts behind its message as attributes
(which field, which step, which role), so host applications can react to the
facts instead of parsing text. Where a builtin exception fits, the class also
derives from it (``InvalidInput`` is a ``ValueError``, ``NotFound`` a
``LookupError``, ``AccessDenied`` a ``PermissionError``), so code that already
catches builtins keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "AccessDenied",
    "ActivityFrozen",
    "AttachmentMissing",
    "CalendarConflict",
    "CapabilityMissing",
    "ConcurrencyConflict",
    "CrmError",
    "DefinitionError",
    "DeliveryError",
    "Finding",
    "InboxUnavailable",
    "InvalidInput",
    "MalformedFile",
    "MigrationBlocked",
    "NotFound",
    "ProspectClosed",
    "ProspectNotReleased",
    "ReadOnlyUnitOfWork",
    "RuleViolation",
    "StaleCalendarReply",
    "StoreBusy",
    "Suppressed",
    "TemplateError",
    "TransitionNotAllowed",
    "UnsubscribeTokenInvalid",
]


class CrmError(Exception):
    """Base class of every error raised by crm_procedures on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(CrmError, ValueError):
    """A value given to the library is not acceptable.

    Attributes:
        field: the dotted path of the offending field (``contacts[2].email``),
            or ``None`` when the problem is not tied to one field.
        value: the rejected value (may be ``None``).
        reason: what is wrong, in words.
    """

    def __init__(self, field: str | None, reason: str, value: Any = None) -> None:
        self.field = field
        self.reason = reason
        self.value = value
        where = f"{field}: " if field else ""
        super().__init__(f"{where}{reason}")

    def at(self, prefix: str) -> InvalidInput:
        """Return a copy whose field path is prefixed with ``prefix``."""
        field = prefix if not self.field else _join_path(prefix, self.field)
        return InvalidInput(field, self.reason, self.value)


def _number(value: Any) -> str:
    """``value`` as text; a whole number too long to print is described by its size.

    Python refuses to turn an int of more than 4,300 digits into text, so an
    error message that formats one would fail while being made.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    return str(value)


def _join_path(prefix: str, field: str) -> str:
    if field.startswith("["):
        return f"{prefix}{field}"
    return f"{prefix}.{field}"


class Finding:
    """One problem found in a definition (see :func:`crm_procedures.validate`).

    Attributes:
        code: a stable identifier such as ``"unreachable-step"``.
        severity: ``"error"`` or ``"warning"``.
        message: what is wrong and how to fix it.
        location: where: file, table and key, joined with ``/`` or ``.``.
    """

    __slots__ = ("code", "location", "message", "severity")

    def __init__(self, code: str, message: str, location: str = "", severity: str = "error"):
        self.code = code
        self.severity = severity
        self.message = message
        self.location = location

    def __repr__(self) -> str:
        return (
            f"Finding(code={self.code!r}, severity={self.severity!r}, "
            f"message={self.message!r}, location={self.location!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return (self.code, self.severity, self.message, self.location) == (
            other.code,
            other.severity,
            other.message,
            other.location,
        )

    def __hash__(self) -> int:
        return hash((self.code, self.severity, self.message, self.location))

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.severity} [{self.code}] {self.message}"

    def as_dict(self) -> dict[str, str]:
        """The finding as plain data (for JSON output)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "location": self.location,
        }


class DefinitionError(CrmError, ValueError):
    """A definition (procedure, matrix, template, rule set) cannot be used.

    Attributes:
        findings: every problem found, not just the first.
    """

    def __init__(self, findings: Iterable[Finding], source: str | None = None) -> None:
        self.findings: tuple[Finding, ...] = tuple(findings)
        self.source = source
        head = f"{source}: " if source else ""
        n = len(self.findings)
        lines = "\n".join(f"  - {f}" for f in self.findings)
        super().__init__(f"{head}{n} problem{'s' if n != 1 else ''} in the definitions:\n{lines}")


class TransitionNotAllowed(CrmError):
    """The acting role may not perform this step after the prospect's last step.

    Attributes:
        step: the step that was asked for.
        role: the acting role.
        last_step: the prospect's last completed step (``None`` = nothing done yet).
        allowed: the steps this role may perform now.
    """

    def __init__(self, step: str, role: str, last_step: str | None, allowed: Iterable[str]) -> None:
        self.step = step
        self.role = role
        self.last_step = last_step
        self.allowed = tuple(sorted(allowed))
        after = f"after {last_step!r}" if last_step else "on a prospect with nothing done yet"
        may = ", ".join(repr(a) for a in self.allowed) or "nothing"
        super().__init__(f"role {role!r} may not perform {step!r} {after}; it may perform: {may}")


class ProspectClosed(CrmError):
    """The prospect is closed; reopen it before performing steps.

    Attributes:
        prospect_id: the closed prospect.
        reason: the close reason recorded.
    """

    def __init__(self, prospect_id: str, reason: str | None) -> None:
        self.prospect_id = prospect_id
        self.reason = reason
        why = f" (reason: {reason})" if reason else ""
        super().__init__(
            f"prospect {prospect_id} is closed{why}; reopen it before performing steps"
        )


class ProspectNotReleased(CrmError):
    """The prospect is still being prepared; release it (status running) first."""

    def __init__(self, prospect_id: str) -> None:
        self.prospect_id = prospect_id
        super().__init__(
            f"prospect {prospect_id} is in preparation; release it (set status running) "
            "before performing steps"
        )


class ActivityFrozen(CrmError):
    """A completed activity cannot change.

    Attributes:
        activity_id: the frozen activity.
        field: the field a change was attempted on (if known).
    """

    def __init__(self, activity_id: str, field: str | None = None) -> None:
        self.activity_id = activity_id
        self.field = field
        what = f" field {field!r}" if field else ""
        super().__init__(
            f"activity {activity_id} is completed and frozen; its{what or ' fields'} cannot change"
        )


class RuleViolation(CrmError, ValueError):
    """A record breaks one or more blocking mandatory-data rules.

    Attributes:
        violations: every violation found (objects with ``rule``, ``record``,
            ``field`` and ``message``).
    """

    def __init__(self, violations: Sequence[Any]) -> None:
        self.violations = tuple(violations)
        lines = "\n".join(f"  - {getattr(v, 'message', v)}" for v in self.violations)
        n = len(self.violations)
        super().__init__(f"{n} mandatory-data rule{'s' if n != 1 else ''} broken:\n{lines}")


class ConcurrencyConflict(CrmError):
    """Somebody else saved the aggregate since it was loaded.

    Attributes:
        kind: the aggregate kind (``"prospect"``, ``"activity"``, ...).
        aggregate_id: which one.
        expected: the version the caller loaded.
        actual: the version in the store (``None`` when unknown).
    """

    def __init__(
        self, kind: str, aggregate_id: str, expected: int | None, actual: int | None
    ) -> None:
        self.kind = kind
        self.aggregate_id = aggregate_id
        self.expected = expected
        self.actual = actual
        now = f"version {_number(actual)}" if actual is not None else "a newer version"
        super().__init__(
            f"{kind} {aggregate_id} was changed by someone else (you loaded version "
            f"{_number(expected)}, the store has {now}); load it again and retry"
        )


class NotFound(CrmError, LookupError):
    """No record with that id exists, or the viewer may not see it.

    Attributes:
        kind: the record kind.
        record_id: the id asked for.
    """

    def __init__(self, kind: str, record_id: str) -> None:
        self.kind = kind
        self.record_id = record_id
        super().__init__(f"no {kind} with id {record_id!r}")


class AccessDenied(CrmError, PermissionError):
    """The acting user lacks the permission this action needs.

    Attributes:
        user_id: who tried.
        permission: the permission that was missing.
    """

    def __init__(self, user_id: str, permission: str, what: str = "", hint: str = "") -> None:
        self.user_id = user_id
        self.permission = permission
        on = f" on {what}" if what else ""
        how = f"; {hint}" if hint else ""
        super().__init__(f"user {user_id} lacks permission {permission!r}{on}{how}")


class TemplateError(CrmError, ValueError):
    """An e-mail template is malformed or names a field that does not exist.

    Attributes:
        template: the template key.
        placeholder: the offending placeholder, if one.
    """

    def __init__(self, template: str, reason: str, placeholder: str | None = None) -> None:
        self.template = template
        self.placeholder = placeholder
        self.reason = reason
        super().__init__(f"template {template!r}: {reason}")


class DeliveryError(CrmError):
    """A mailer or calendar could not deliver a message.

    Attributes:
        permanent: ``True`` when retrying cannot help (e.g. SMTP 5xx).
    """

    def __init__(self, message: str, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)


class StoreBusy(CrmError):
    """The store is busy (another writer holds its lock past the wait); retry later.

    Nothing of the unit of work was written. Unlike :class:`ConcurrencyConflict`
    nobody changed the record: only the lock could not be had in time.

    Attributes:
        operation: what was being done when the lock could not be had.
    """

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(f"the store is busy ({operation}); retry in a moment")


class ReadOnlyUnitOfWork(CrmError):
    """A write was attempted in a read-only unit of work.

    Open ``store.unit_of_work()`` (without ``read_only=True``) to write.

    Attributes:
        operation: the write that was refused.
    """

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(
            f"{operation} is a write, and this unit of work is read-only; "
            "open store.unit_of_work() to write"
        )


class MalformedFile(InvalidInput):
    """An imported file cannot be read as a whole: the problem and its line.

    Raised for what makes every row doubtful rather than one row bad: a column
    header given twice, a quote that is never closed, a file that mixes text
    encodings. ``field`` is ``"source"``.

    Attributes:
        line: the physical line (1 = the header) where the problem is.
        lines: every line found with the problem (``line`` is the first).
    """

    def __init__(self, line: int, reason: str, lines: Sequence[int] = ()) -> None:
        self.line = line
        self.lines: tuple[int, ...] = tuple(lines) or (line,)
        super().__init__("source", f"line {_number(line)}: {reason}", line)


class InboxUnavailable(CrmError):
    """An inbox (IMAP server, mail folder) could not be read; retry later.

    Nothing was fetched, so nothing needs undoing: poll again with the same
    cursor.

    Attributes:
        inbox: which inbox (``imap://host:port/mailbox`` or the folder path).
        reason: what went wrong, in words.
    """

    def __init__(self, inbox: str, reason: str) -> None:
        self.inbox = inbox
        self.reason = reason
        super().__init__(f"the inbox {inbox} cannot be read: {reason}")


class UnsubscribeTokenInvalid(CrmError, ValueError):
    """An unsubscribe token is malformed, forged, signed with another secret, or expired.

    Attributes:
        reason: why the token was refused (``malformed``, ``signature``, ``expired``).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"this unsubscribe link is not valid ({reason}); ask for a new one "
            "or unsubscribe by replying to the e-mail"
        )


class CapabilityMissing(CrmError):
    """The store's unit of work lacks an optional capability a service needs.

    Attributes:
        capability: the attribute the service looked for (``"reports"``).
        store: the unit of work's type name.
        hint: how to provide it.
    """

    def __init__(self, capability: str, store: str, hint: str) -> None:
        self.capability = capability
        self.store = store
        self.hint = hint
        super().__init__(f"the store's unit of work ({store}) offers no {capability!r}; {hint}")


class MigrationBlocked(CrmError):
    """A campaign cannot move to another version of its definitions as asked.

    Nothing was changed. ``problems`` lists each blocking problem in words
    (a prospect whose last step no longer exists and is not mapped, a step
    mapped to a step the new version lacks).

    Attributes:
        project_id: the campaign.
        problems: what blocks the move, one line each.
    """

    def __init__(self, project_id: str, problems: Sequence[str]) -> None:
        self.project_id = project_id
        self.problems = tuple(problems)
        shown_problems = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(
            f"campaign {project_id} cannot move to the new definitions: {shown_problems}{more}; "
            "map the removed steps with map_steps={old: new} or fix the definitions"
        )


class AttachmentMissing(NotFound):
    """A document an e-mail template attaches is not there; nothing was stored.

    Attributes:
        template: the template key.
        kind: ``"document"`` (no document with that id) or ``"blob"`` (its
            content is not in the blob store).
        record_id: the document id or the SHA-256 digest.
    """

    def __init__(self, template: str, kind: str, record_id: str, filename: str = "") -> None:
        self.template = template
        self.kind = kind
        self.record_id = record_id
        name = f" ({filename})" if filename else ""
        what = (
            f"no document with id {record_id!r}"
            if kind == "document"
            else f"the blob store has no content with digest {record_id!r}{name}"
        )
        CrmError.__init__(
            self,
            f"template {template!r} attaches a document, but {what}; store the document "
            "(and its content in the blob store) or remove the attachment from the template",
        )


class CalendarConflict(DeliveryError):
    """A calendar server holds a version of the appointment the library has not seen.

    Raised by :class:`~crm_procedures.adapters.caldav.CalDavCalendar` when a
    conditional write (``If-Match`` on the ETag it last saw, or
    ``If-None-Match: *`` on create) is refused with 412: someone changed the
    entry in the calendar since. Nothing was written. The calendar wins: pick
    up its changes (``CalDavCalendar.changes`` and
    ``agenda.apply_calendar_changes``), then publish again. Temporary, so the
    outbox retries the publication after the changes were applied.

    Attributes:
        uid: the appointment's iCalendar UID.
        calendar: the calendar collection's URL.
    """

    def __init__(self, uid: str, calendar: str) -> None:
        self.uid = uid
        self.calendar = calendar
        super().__init__(
            f"the calendar {calendar} holds a newer version of {uid} than the store has seen; "
            "apply the calendar's changes (agenda.apply_calendar_changes), then publish again",
            permanent=False,
        )


class StaleCalendarReply(CrmError):
    """An attendee's answer is to an older version (SEQUENCE) of the appointment.

    The appointment moved or was cancelled after the invitation the attendee
    answered; their answer no longer applies, and nothing was recorded.

    Attributes:
        uid: the appointment's iCalendar UID.
        sequence: the SEQUENCE the answer names.
        current: the SEQUENCE the store holds (or of the attendee's newer answer).
    """

    def __init__(self, uid: str, sequence: int, current: int) -> None:
        self.uid = uid
        self.sequence = sequence
        self.current = current
        super().__init__(
            f"the answer to appointment {uid} is for version {_number(sequence)}, but version "
            f"{_number(current)} is current; the attendee must answer the latest invitation"
        )


class Suppressed(CrmError):
    """An e-mail step was refused: the address is on the suppression list; nothing was stored.

    Attributes:
        address: the suppressed address (lower case).
        reason: why (``unsubscribed``, ``hard_bounce``, ``soft_bounces``).
    """

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        why = {
            "unsubscribed": "the contact unsubscribed",
            "hard_bounce": "mail to it bounced permanently",
            "soft_bounces": "mail to it failed too often",
        }.get(reason, reason)
        super().__init__(
            f"{address} receives no more e-mail ({why}); record another address for the "
            "contact, or lift the suppression with crm_procedures.services.inbound.unsuppress"
        )
