"""Classify one received e-mail: calendar answer, bounce, automatic reply, reply, or unmatched.

:func:`classify` is pure (no I/O, no clock) and total: any bytes give a
classification, garbage included (truncated MIME, unknown charsets, broken
base64, huge headers, binary noise give :class:`Unmatched` with the reason or
the best reading of what is there). The order of the rules, first match wins:

1. **Bounce** (:class:`Bounce`): an RFC 3464 delivery status notification
   (``multipart/report; report-type=delivery-status``), or one of the common
   non-standard formats (Exim, qmail, Postfix text, Gmail, Exchange) sent by a
   mailer daemon or with a bounce subject. Each failed recipient is hard
   (status 5.x.x, an SMTP 5xx reply, or "permanent") or soft (4.x.x, 4xx,
   "delayed", "will retry"); without evidence a failure counts as soft. The
   original Message-ID comes from the returned message or its headers.
2. **Calendar answer**: an iTIP (RFC 5546) ``text/calendar`` part with
   ``METHOD:REPLY`` (:class:`CalendarReply`, the attendee's PARTSTAT) or
   ``METHOD:COUNTER`` (:class:`CalendarCounter`, the proposed times).
3. **Automatic reply** (:class:`AutoReply`): RFC 3834 ``Auto-Submitted`` other
   than ``no``, ``X-Autoreply``, ``X-Autorespond``, ``Precedence:
   auto_reply/bulk/junk``, or an out-of-office subject (en, nl, pl, de, fr).
4. **Reply** (:class:`Reply`): a message naming earlier Message-IDs in
   ``In-Reply-To`` or ``References``.
5. Anything else is :class:`Unmatched`, with its reason, for a person to read.

Every kind carries the :class:`Envelope` (Message-ID, sender, subject, the
referenced Message-IDs, date), so even an unmatched message can be shown and
linked by hand.
"""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message

from crm_procedures.errors import InvalidInput
from crm_procedures.inbound._bounces import _standard_bounce, _text_bounce
from crm_procedures.inbound._calendar import _calendar_answer
from crm_procedures.inbound._read import (
    MAX_BODY_CHARS,
    MAX_MESSAGE_BYTES,
    _auto_reply_reason,
    _envelope,
    _parts,
    _plain_body,
)
from crm_procedures.inbound.kinds import (
    AutoReply,
    Bounce,
    BouncedRecipient,
    CalendarCounter,
    CalendarReply,
    Classification,
    Envelope,
    Kind,
    PartStat,
    Reply,
    Unmatched,
)

__all__ = [
    "MAX_BODY_CHARS",
    "MAX_MESSAGE_BYTES",
    "AutoReply",
    "Bounce",
    "BouncedRecipient",
    "CalendarCounter",
    "CalendarReply",
    "Classification",
    "Envelope",
    "Kind",
    "PartStat",
    "Reply",
    "Unmatched",
    "classify",
]


def classify(raw: bytes, *, max_body_chars: int = MAX_BODY_CHARS) -> Classification:
    """Classify the raw RFC 5322 bytes of one received message (see the module documentation).

    Never raises on the content of ``raw``. Raises InvalidInput when ``raw``
    is not bytes or ``max_body_chars`` is not a positive integer.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise InvalidInput("raw", "must be the bytes of one e-mail message", type(raw).__name__)
    if isinstance(max_body_chars, bool) or not isinstance(max_body_chars, int):
        raise InvalidInput("max_body_chars", "must be a positive integer", max_body_chars)
    if max_body_chars < 1:
        raise InvalidInput("max_body_chars", "must be a positive integer", max_body_chars)
    data = bytes(raw)
    if len(data) > MAX_MESSAGE_BYTES:
        head = data[: 256 * 1024].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        envelope = _safe_envelope(head)
        return Unmatched(
            envelope,
            f"message of {len(data):,} bytes is over the {MAX_MESSAGE_BYTES:,} bytes "
            "the classifier reads",
        )
    try:
        msg = message_from_bytes(data)
    except Exception as exc:  # the stdlib parser is lenient; this is the last resort
        return Unmatched(_EMPTY, f"not readable as an e-mail message ({type(exc).__name__})")
    try:
        envelope = _envelope(msg)
    except Exception as exc:  # pragma: no cover - every header read below is guarded
        return Unmatched(_EMPTY, f"headers not readable ({type(exc).__name__})")
    try:
        return _classify(msg, envelope, max_body_chars)
    except RecursionError:
        return Unmatched(envelope, "MIME structure nested too deeply to read")
    except Exception as exc:  # a broken message must reach a person, never stop a poller
        return Unmatched(envelope, f"content not readable ({type(exc).__name__}: {exc})"[:300])


_EMPTY = Envelope(None, None, "", (), None)


def _safe_envelope(head: bytes) -> Envelope:
    try:
        return _envelope(message_from_bytes(head + b"\r\n\r\n"))
    except Exception:
        return _EMPTY


def _classify(msg: Message, envelope: Envelope, max_body_chars: int) -> Classification:
    if not msg.keys():
        return Unmatched(envelope, "no headers: not an e-mail message")
    parts = _parts(msg)

    bounce = _standard_bounce(msg, envelope, parts)
    if bounce is not None:
        return bounce
    bounce = _text_bounce(msg, envelope, parts)
    if bounce is not None:
        return bounce

    calendar = _calendar_answer(envelope, parts)
    if calendar is not None:
        return calendar

    auto = _auto_reply_reason(msg, envelope)
    if auto is not None:
        body, truncated = _plain_body(parts, max_body_chars)
        return AutoReply(envelope, body, truncated, auto)

    if envelope.references:
        body, truncated = _plain_body(parts, max_body_chars)
        return Reply(envelope, body, truncated)
    return Unmatched(
        envelope,
        "no In-Reply-To or References naming an earlier message, no calendar answer, "
        "no delivery report",
    )
