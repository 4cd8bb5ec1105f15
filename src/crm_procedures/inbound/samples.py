"""Answers as mail programs write them: for tests, the demo and trying an installation out.

Each function returns the raw bytes of one received message that
:func:`~crm_procedures.inbound.classify.classify` recognises: a reply to a
sent Message-ID, an RFC 3834 automatic reply, an RFC 3464 bounce returning a
sent Message-ID, and an iTIP REPLY (RFC 5546) to an invitation. Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import require_aware

__all__ = ["auto_reply_to", "bounce_of", "calendar_reply_to", "reply_to"]


_MAX_HEADER = 998  # RFC 5322's longest line: a sample is one line per header


def _header(field: str, value: object, *, ascii_only: bool = False) -> str:
    """A header value a sample may carry: one line of text (ASCII for addresses and ids)."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text", value)
    if len(value) > _MAX_HEADER:
        raise InvalidInput(field, f"is longer than {_MAX_HEADER} characters", None)
    if any(ch in value for ch in "\r\n\x00") or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise InvalidInput(field, "must be one line without NUL or lone surrogates", None)
    if ascii_only and not value.isascii():
        raise InvalidInput(field, "must be ASCII (an address or a Message-ID)", None)
    if not value.isprintable():
        raise InvalidInput(field, "must be printable text", None)
    return value


def _base(sender: str, to: str, subject: str, message_id: str, date: datetime) -> EmailMessage:
    sender = _header("sender", sender, ascii_only=True)
    to = _header("to", to, ascii_only=True)
    subject = _header("subject", subject)
    message_id = _header("message_id", message_id, ascii_only=True)
    date = require_aware(date, "date")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date.astimezone(UTC))
    msg["Message-ID"] = message_id
    return msg


def reply_to(
    original_id: str,
    *,
    sender: str,
    to: str,
    body: str,
    message_id: str,
    date: datetime,
    subject: str = "Re: your e-mail",
) -> bytes:
    """A person's reply to the e-mail with Message-ID ``original_id``.

    Raises:
        InvalidInput: a header value that is not one printable line (ASCII for
            addresses and Message-IDs, at most 998 characters), or a naive date.
    """
    original_id = _header("original_id", original_id, ascii_only=True)
    if not isinstance(body, str) or any(0xD800 <= ord(ch) <= 0xDFFF for ch in body):
        raise InvalidInput("body", "must be text without lone surrogates", None)
    msg = _base(sender, to, subject, message_id, date)
    msg["In-Reply-To"] = original_id
    msg["References"] = original_id
    msg.set_content(body)
    return msg.as_bytes()


def auto_reply_to(
    original_id: str, *, sender: str, to: str, message_id: str, date: datetime
) -> bytes:
    """An out-of-office answer (``Auto-Submitted: auto-replied``) to ``original_id``.

    Raises:
        InvalidInput: as :func:`reply_to`.
    """
    original_id = _header("original_id", original_id, ascii_only=True)
    msg = _base(sender, to, "Out of office", message_id, date)
    msg["Auto-Submitted"] = "auto-replied"
    msg["In-Reply-To"] = original_id
    msg.set_content("I am out of the office until Monday.")
    return msg.as_bytes()


def bounce_of(
    original_id: str,
    *,
    recipient: str,
    to: str,
    message_id: str,
    date: datetime,
    hard: bool = True,
) -> bytes:
    """An RFC 3464 delivery status notification for ``recipient`` of ``original_id``.

    Raises:
        InvalidInput: as :func:`reply_to`.
    """
    original_id = _header("original_id", original_id, ascii_only=True)
    recipient = _header("recipient", recipient, ascii_only=True)
    to = _header("to", to, ascii_only=True)
    message_id = _header("message_id", message_id, ascii_only=True)
    date = require_aware(date, "date")
    status, action, code = ("5.1.1", "failed", "550") if hard else ("4.2.2", "delayed", "452")
    boundary = "=_report_" + "".join(c for c in message_id if c.isalnum())
    lines = [
        "From: MAILER-DAEMON@mail.example.com (Mail Delivery System)",
        f"To: {to}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {format_datetime(date.astimezone(UTC))}",
        f"Message-ID: {message_id}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        f"Your message could not be delivered to {recipient}.",
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mail.example.com",
        "",
        f"Final-Recipient: rfc822; {recipient}",
        f"Action: {action}",
        f"Status: {status}",
        f"Diagnostic-Code: smtp; {code} {status} <{recipient}>: mailbox unavailable",
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        f"From: {to}",
        f"To: {recipient}",
        f"Message-ID: {original_id}",
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8")


def calendar_reply_to(
    uid: str,
    *,
    sequence: int,
    attendee: str,
    organizer: str,
    partstat: str,
    message_id: str,
    date: datetime,
    comment: str | None = None,
) -> bytes:
    """An attendee's iTIP REPLY with ``partstat`` (ACCEPTED, DECLINED, TENTATIVE).

    Raises:
        InvalidInput: as :func:`reply_to`; a sequence that is not a whole number
            from 0 to 2**31 - 1.
    """
    uid = _header("uid", uid, ascii_only=True)
    attendee = _header("attendee", attendee, ascii_only=True)
    organizer = _header("organizer", organizer, ascii_only=True)
    partstat = _header("partstat", partstat, ascii_only=True)
    if comment is not None:
        comment = _header("comment", comment)
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence < 2**31:
        raise InvalidInput("sequence", "must be a whole number from 0 to 2**31 - 1", None)
    word = {"ACCEPTED": "Accepted", "DECLINED": "Declined"}.get(partstat.upper(), "Tentative")
    msg = _base(attendee, organizer, f"{word}: invitation", message_id, date)
    stamp = date.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//crm_procedures//samples//EN",
        "VERSION:2.0",
        "METHOD:REPLY",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{stamp}",
        f"ORGANIZER:mailto:{organizer}",
        f"ATTENDEE;PARTSTAT={partstat.upper()}:mailto:{attendee}",
    ]
    if comment:
        lines.append(f"COMMENT:{comment}")
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    msg.set_content(f"{attendee} {word.lower()} the invitation.")
    msg.add_alternative("\r\n".join(lines), subtype="calendar", params={"method": "REPLY"})
    return msg.as_bytes()
