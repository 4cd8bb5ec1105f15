"""Assertions on the messages an application sent: e-mails and invitations (X6).

Services never send directly: they record messages in the outbox, and the
dispatcher hands them to the mailer afterwards. These assertions look at
both: the outbox (recorded, whether delivered yet or not) and, for an app
with a :class:`~crm_procedures.adapters.memory_mail.MemoryMailer`, what the
mailer received when the outbox was dispatched. A message found in both
counts once (same Message-ID).

When an assertion fails, its message lists every message that *was* sent,
so the test output shows what happened instead of only what did not::

    assert_sent(app, to="jan@example.com", subject_contains="brochure")
    assert_invitation(app, uid=appointment.uid, sequence=0, method="REQUEST")
    assert_no_messages(app)
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage, Message
from email.utils import getaddresses
from typing import Any

import attrs

from crm_procedures.errors import DeliveryError, InvalidInput
from crm_procedures.model._checks import shown
from crm_procedures.model.outbox import DeliveryOutcome, OutboxMessage

__all__ = [
    "Invitation",
    "RecordingSender",
    "SentMessage",
    "assert_emitted",
    "assert_invitation",
    "assert_no_messages",
    "assert_sent",
    "channel_messages",
    "invitations",
    "sent_messages",
]


@attrs.frozen
class SentMessage:
    """One e-mail as the assertions see it.

    Attributes:
        message_id: the Message-ID header (the duplicate-detection key).
        to: the recipient addresses (To and Cc), lower-case.
        subject: the subject.
        text: the plain-text body (empty when the message has none).
        status: the outbox status (``pending``, ``delivered``, ``failed``), or
            ``delivered`` for a message only the mailer holds.
        key: the outbox key ("" for a message only the mailer holds).
        message: the parsed e-mail.
    """

    message_id: str
    to: tuple[str, ...]
    subject: str
    text: str
    status: str
    key: str
    message: EmailMessage = attrs.field(eq=False, repr=False)

    def __str__(self) -> str:
        return f"to {', '.join(self.to) or '(nobody)'}: {self.subject!r} [{self.status}] {self.key}"


@attrs.frozen
class Invitation:
    """One iCalendar invitation (or cancellation) found among the messages.

    Attributes:
        uid: the event's UID.
        sequence: its SEQUENCE (0 when absent).
        method: ``REQUEST`` or ``CANCEL``.
        to: the recipients of the e-mail carrying it (empty for a calendar
            channel message).
        summary: the event's SUMMARY.
        key: the outbox key.
    """

    uid: str
    sequence: int
    method: str
    to: tuple[str, ...]
    summary: str
    key: str

    def __str__(self) -> str:
        who = f" to {', '.join(self.to)}" if self.to else ""
        return f"{self.method} uid={self.uid} sequence={self.sequence}{who}: {self.summary!r}"


def _parse(text: str) -> EmailMessage:
    parsed = email.message_from_string(text, policy=email.policy.SMTP)
    if not isinstance(parsed, EmailMessage):  # pragma: no cover - the policy guarantees it
        raise TypeError("not an e-mail message")
    return parsed


def _recipients(message: Message) -> tuple[str, ...]:
    values = [str(v) for h in ("To", "Cc") for v in message.get_all(h, [])]
    return tuple(addr.lower() for _name, addr in getaddresses(values) if addr)


def _text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (KeyError, LookupError):
        return ""


def _sources(target: Any) -> tuple[Any, Any]:
    """(store or None, mailer or None) of an app, a store or a mailer."""
    store = getattr(target, "store", None)
    mailer = getattr(target, "mailer", None)
    if store is None and hasattr(target, "unit_of_work"):
        store = target
    if mailer is None and store is None and hasattr(target, "sent"):
        mailer = target
    if store is None and mailer is None:
        raise TypeError(
            f"expected a CrmApp, a store or a MemoryMailer, got {type(target).__name__}"
        )
    return store, mailer


def _outbox(store: Any) -> list[OutboxMessage]:
    if store is None:
        return []
    with store.unit_of_work() as uow:
        found: list[OutboxMessage] = uow.outbox.list(limit=1_000_000)
        return found


def sent_messages(target: Any) -> list[SentMessage]:
    """Every e-mail recorded in the outbox or delivered to the memory mailer.

    Outbox messages come in the outbox's order (the time they were recorded,
    then their id: messages recorded at one instant of a frozen clock have no
    set order among themselves), followed by messages only the mailer holds.

    ``target`` is a :class:`~crm_procedures.services.app.CrmApp`, a store, or
    a :class:`~crm_procedures.adapters.memory_mail.MemoryMailer`.
    """
    store, mailer = _sources(target)
    out: list[SentMessage] = []
    seen: set[str] = set()
    for record in _outbox(store):
        text = record.payload.get("message")
        if record.channel != "mail" or not isinstance(text, str):
            continue
        parsed = _parse(text)
        mid = str(parsed.get("Message-ID", "")).strip()
        seen.add(mid)
        out.append(
            SentMessage(
                mid,
                _recipients(parsed),
                str(parsed.get("Subject", "")),
                _text_body(parsed),
                record.status.value,
                record.key,
                parsed,
            )
        )
    for delivered in getattr(mailer, "sent", None) or ():
        mid = str(delivered.get("Message-ID", "")).strip()
        if mid in seen:
            continue
        seen.add(mid)
        parsed = delivered if isinstance(delivered, EmailMessage) else _parse(str(delivered))
        out.append(
            SentMessage(
                mid,
                _recipients(parsed),
                str(parsed.get("Subject", "")),
                _text_body(parsed),
                "delivered",
                "",
                parsed,
            )
        )
    return out


def _listing(items: list[Any], noun: str) -> str:
    if not items:
        return f"no {noun} at all was sent"
    lines = "\n".join(f"  - {item}" for item in items)
    return f"{len(items)} {noun}(s) sent:\n{lines}"


def _matches(
    m: SentMessage, to: str | None, subject_contains: str | None, body_contains: str | None
) -> bool:
    if to is not None and to.lower() not in m.to:
        return False
    if subject_contains is not None and subject_contains.lower() not in m.subject.lower():
        return False
    return body_contains is None or body_contains.lower() in m.text.lower()


def assert_sent(
    target: Any,
    *,
    to: str | None = None,
    subject_contains: str | None = None,
    body_contains: str | None = None,
    count: int | None = None,
) -> list[SentMessage]:
    """Assert that an e-mail matching every given filter was sent; return the matches.

    ``to`` is an address (To or Cc, case-insensitive); ``subject_contains``
    and ``body_contains`` are case-insensitive parts of the subject and the
    plain-text body. With ``count`` exactly that many must match.

    Raises:
        AssertionError: nothing (or not ``count``) matched; the message lists
            what was sent.
    """
    every = sent_messages(target)
    found = [m for m in every if _matches(m, to, subject_contains, body_contains)]
    wanted = [
        f"{name}={value!r}"
        for name, value in (
            ("to", to),
            ("subject_contains", subject_contains),
            ("body_contains", body_contains),
        )
        if value is not None
    ]
    what = ", ".join(wanted) or "any"
    if count is None and not found:
        raise AssertionError(f"expected an e-mail with {what}; {_listing(every, 'e-mail')}")
    if count is not None and len(found) != count:
        raise AssertionError(
            f"expected {shown(count)} e-mail(s) with {what}, found {len(found)}; "
            f"{_listing(every, 'e-mail')}"
        )
    return found


def assert_no_messages(target: Any, *, to: str | None = None) -> None:
    """Assert that no e-mail was sent (to ``to``, when given).

    Raises:
        AssertionError: something was sent; the message lists it.
    """
    every = sent_messages(target)
    found = [m for m in every if to is None or to.lower() in m.to]
    if found:
        whom = f" to {to!r}" if to else ""
        raise AssertionError(f"expected no e-mail{whom}; {_listing(found, 'e-mail')}")


_UNFOLD = re.compile(r"\r?\n[ \t]")


def _ics_parts(message: EmailMessage) -> list[str]:
    out = []
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                out.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return out


def _ics_field(lines: list[str], name: str) -> str | None:
    for line in lines:
        head, sep, value = line.partition(":")
        if sep and head.split(";", 1)[0].upper() == name:
            return value.strip()
    return None


def _invitation(ics: str, to: tuple[str, ...], key: str) -> Invitation | None:
    lines = _UNFOLD.sub("", ics).splitlines()
    method = _ics_field(lines, "METHOD") or ""
    event = lines
    if "BEGIN:VEVENT" in lines:
        event = lines[lines.index("BEGIN:VEVENT") :]
    uid = _ics_field(event, "UID")
    if uid is None:
        return None
    sequence = _ics_field(event, "SEQUENCE")
    summary = _ics_field(event, "SUMMARY") or ""
    return Invitation(uid, int(sequence or 0), method.upper(), to, summary, key)


def invitations(target: Any) -> list[Invitation]:
    """Every invitation or cancellation among the sent messages, in the order of
    :func:`sent_messages`.

    Looks at e-mails carrying a ``text/calendar`` part and at outbox
    messages of the ``calendar`` channel; a ``calendar`` message of a UID,
    SEQUENCE and METHOD that an e-mail invitation already carries is the same
    invitation published to a calendar and is not listed twice.
    """
    store, _mailer = _sources(target)
    out: list[Invitation] = []
    for m in sent_messages(target):
        for ics in _ics_parts(m.message):
            found = _invitation(ics, m.to, m.key)
            if found is not None:
                out.append(found)
    for record in _outbox(store):
        data = record.payload.get("appointment")
        if record.channel != "calendar" or not isinstance(data, dict):
            continue
        method = "CANCEL" if record.payload.get("action") == "cancel" else "REQUEST"
        uid, sequence = str(data.get("uid", "")), int(data.get("sequence", 0))
        if any(i.uid == uid and i.sequence == sequence and i.method == method for i in out):
            continue
        out.append(
            Invitation(
                uid,
                sequence,
                method,
                (),
                str(data.get("title", "")),
                record.key,
            )
        )
    return out


def assert_invitation(
    target: Any,
    *,
    uid: str | None = None,
    sequence: int | None = None,
    method: str = "REQUEST",
    to: str | None = None,
) -> Invitation:
    """Assert that an invitation with this UID, SEQUENCE and METHOD was sent; return it.

    ``method`` is ``REQUEST`` (new or updated) or ``CANCEL``. Filters left
    ``None`` match anything. When several match, the last one is returned.

    Raises:
        AssertionError: none matched; the message lists the invitations sent.
    """
    every = invitations(target)
    found = [
        i
        for i in every
        if (uid is None or i.uid == uid)
        and (sequence is None or i.sequence == sequence)
        and i.method == method.upper()
        and (to is None or to.lower() in i.to)
    ]
    if not found:
        wanted = ", ".join(
            f"{n}={shown(v, 200)}"
            for n, v in (("uid", uid), ("sequence", sequence), ("method", method), ("to", to))
            if v is not None
        )
        raise AssertionError(
            f"expected an invitation with {wanted}; {_listing(every, 'invitation')}"
        )
    return found[-1]


def channel_messages(target: Any, channel: str) -> list[OutboxMessage]:
    """The outbox messages of one channel (``"mail"``, ``"calendar"`` or a host's own).

    ``target`` is a :class:`~crm_procedures.services.app.CrmApp` or a store.
    Messages come in the outbox's order.

    Raises:
        TypeError: ``target`` holds no store.
    """
    store, _mailer = _sources(target)
    if store is None:
        raise TypeError(f"expected a CrmApp or a store, got {type(target).__name__}")
    return [m for m in _outbox(store) if m.channel == channel]


def _payload_matches(payload: Any, expected: dict[str, Any]) -> bool:
    return all(k in payload and payload[k] == v for k, v in expected.items())


def assert_emitted(
    target: Any,
    channel: str,
    *,
    count: int | None = None,
    status: str | None = None,
    **payload: Any,
) -> list[OutboxMessage]:
    """Assert that outbox messages of ``channel`` hold ``payload``; returns them.

    Every keyword besides ``count`` and ``status`` must equal the value of the
    same key in a message's payload (``assert_emitted(app, "erp",
    action="open_account")``). ``status`` compares the delivery state
    (``"pending"``, ``"delivered"``, ``"failed"``...). Without ``count`` at
    least one message must match.

    Raises:
        AssertionError: no message (or not ``count`` messages) matches; the
            message lists what the channel holds.
    """
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise InvalidInput("count", "must be a whole number >= 0 or None", shown(count))
    found = channel_messages(target, channel)
    matching = [
        m
        for m in found
        if _payload_matches(m.payload, payload) and (status is None or m.status.value == status)
    ]
    if (count is None and matching) or (count is not None and len(matching) == count):
        return matching
    wanted = shown(count) if count is not None else "at least one"
    held = "\n".join(f"  - {m.key} [{m.status.value}] {dict(m.payload)!r}" for m in found)
    raise AssertionError(
        f"expected {wanted} {channel!r} message(s) with {payload!r}"
        + (f" and status {status!r}" if status else "")
        + f", found {len(matching)}; "
        + (f"the channel holds {len(found)}:\n{held}" if found else "the channel holds none")
    )


class RecordingSender:
    """A channel sender for tests: records what it delivers, fails when told to.

    Register it with the dispatcher for a host's own channel
    (``dispatch_once(store, clock, senders={"erp": sender})``). ``delivered``
    holds the payloads in the order delivered; ``fail_next`` makes the next
    ``n`` deliveries raise a temporary :class:`~crm_procedures.errors.DeliveryError`
    (``permanent=True`` for one a retry cannot help).
    """

    def __init__(self) -> None:
        self.delivered: list[dict[str, Any]] = []
        self._failures: list[bool] = []

    def fail_next(self, n: int = 1, *, permanent: bool = False) -> None:
        """Make the next ``n`` deliveries fail."""
        self._failures.extend([permanent] * n)

    def deliver(self, message: OutboxMessage) -> DeliveryOutcome:
        """Record the message's payload (or fail, as told)."""
        if self._failures:
            permanent = self._failures.pop(0)
            raise DeliveryError(f"{message.channel} refused {message.key} (test)", permanent)
        self.delivered.append(dict(message.payload))
        return DeliveryOutcome()
