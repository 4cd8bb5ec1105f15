"""Reading headers and parts of a parsed message without ever raising."""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import decode_header
from email.message import Message
from email.utils import parseaddr, parsedate_to_datetime

from crm_procedures.inbound.kinds import Envelope

MAX_MESSAGE_BYTES = 25 * 1024 * 1024
"""Larger messages are not parsed: :class:`Unmatched` with the reason (headers still read)."""
MAX_BODY_CHARS = 20_000
"""Default limit of the plain text body kept on a reply."""
_MAX_HEADER_CHARS = 2_000
_MAX_PARTS = 200
_MAX_REFERENCES = 100
_MAX_CALENDAR_CHARS = 1_000_000


# -- headers ---------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_SPACES = re.compile(r"\s+")
_MSGID = re.compile(r"<([^<>\s@]{1,250}@[^<>\s@]{1,250})>")
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"
)


def _header(msg: Message, name: str) -> str:
    """One header, RFC 2047 decoded, unknown charsets replaced, single line, bounded."""
    try:
        value = msg.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    try:
        chunks = decode_header(value)
    except Exception:
        chunks = [(str(value), None)]
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        out.append(_decode(chunk, charset))
    text = "".join(out)
    text = _CONTROL.sub("", text)
    return _SPACES.sub(" ", text).strip()[:_MAX_HEADER_CHARS]


def _decode(data: bytes, charset: str | None) -> str:
    name = (charset or "utf-8").strip().lower()
    if name in ("unknown-8bit", "x-unknown", ""):
        name = "utf-8"
    try:
        codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        name = "utf-8"
    try:
        return data.decode(name, errors="replace")
    except Exception:  # a codec can fail in ways `errors=` does not cover
        return data.decode("utf-8", errors="replace")


def _address(value: str) -> str | None:
    try:
        _, address = parseaddr(value)
    except Exception:
        return None
    address = address.strip().lower()
    if "@" not in address or len(address) > 320 or _CONTROL.search(address):
        return None
    return address


def _message_ids(text: str) -> list[str]:
    return [f"<{m}>" for m in _MSGID.findall(text)]


def _envelope(msg: Message) -> Envelope:
    ids = _message_ids(_header(msg, "Message-ID"))
    refs: list[str] = []
    seen: set[str] = set()
    for name in ("In-Reply-To", "References"):
        for mid in _message_ids(_raw_header(msg, name)):
            if mid not in seen and len(refs) < _MAX_REFERENCES:
                seen.add(mid)
                refs.append(mid)
    return Envelope(
        message_id=ids[0] if ids else None,
        sender=_address(_header(msg, "From")),
        subject=_header(msg, "Subject"),
        references=tuple(refs),
        date=_date(_header(msg, "Date")),
    )


def _raw_header(msg: Message, name: str) -> str:
    """A header's text without RFC 2047 decoding (Message-IDs are plain ASCII), bounded."""
    try:
        values = msg.get_all(name) or []
    except Exception:
        return ""
    return " ".join(str(v) for v in values)[: 100 * _MAX_HEADER_CHARS]


def _date(text: str) -> datetime | None:
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except Exception:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


# -- parts -----------------------------------------------------------------------------------


def _parts(msg: Message) -> list[Message]:
    """The message's parts in order (the message itself first), at most 200."""
    out: list[Message] = []
    for part in _walk(msg, 0):
        out.append(part)
        if len(out) >= _MAX_PARTS:
            break
    return out


def _walk(part: Message, depth: int) -> Iterator[Message]:
    yield part
    if depth > 30 or not part.is_multipart():
        return
    payload = part.get_payload()
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                yield from _walk(sub, depth + 1)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def _param(part: Message, name: str, header: str = "content-type") -> str:
    try:
        value = part.get_param(name, header=header)
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231: (charset, language, value)
        value = value[2]
    return str(value or "")[:_MAX_HEADER_CHARS]


def _is_attachment(part: Message) -> bool:
    return _header(part, "Content-Disposition").lower().startswith("attachment")


def _part_text(part: Message, limit_chars: int) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        return ""
    data = data[: limit_chars * 4]
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return _decode(data, charset)[:limit_chars]


_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)


def _plain_body(parts: list[Message], limit: int) -> tuple[str, bool]:
    """The first inline text/plain part (else text/html without its tags), at most ``limit``."""
    html_part: Message | None = None
    for part in parts:
        ctype = _content_type(part)
        if part.is_multipart() or _is_attachment(part):
            continue
        if ctype == "text/plain":
            return _bounded(_part_text(part, limit + 1), limit)
        if ctype == "text/html" and html_part is None:
            html_part = part
    if html_part is not None:
        text = html.unescape(_TAG.sub(" ", _part_text(html_part, 4 * limit + 4)))
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r"\s*\n\s*", "\n", text).strip()
        return _bounded(text, limit)
    return "", False


def _bounded(text: str, limit: int) -> tuple[str, bool]:
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    if len(text) > limit:
        return text[:limit], True
    return text, False


# -- automatic replies -----------------------------------------------------------------------

_OUT_OF_OFFICE = re.compile(
    r"out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"away from (?:the )?office|on vacation|on holiday|abwesenheit|automatische antwort|"
    r"automatisch antwoord|afwezig|niet aanwezig|nieobecno|odpowied[źz] automatyczna|"
    r"automatyczna odpowied|r[ée]ponse automatique|absence du bureau",
    re.IGNORECASE,
)


def _auto_submitted(msg: Message) -> str | None:
    value = _header(msg, "Auto-Submitted").split(";", 1)[0].strip().lower()
    return value if value and value != "no" else None


def _auto_reply_reason(msg: Message, envelope: Envelope) -> str | None:
    value = _auto_submitted(msg)
    if value:
        return f"Auto-Submitted: {value}"[:200]
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        text = _header(msg, name)
        if text and text.lower() not in ("no", "false", "0"):
            return f"{name}: {text}"[:200]
    precedence = _header(msg, "Precedence").lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return f"Precedence: {precedence}"
    if _header(msg, "X-MS-Exchange-Inbox-Rules-Loop"):
        return "X-MS-Exchange-Inbox-Rules-Loop"
    found = _OUT_OF_OFFICE.search(envelope.subject)
    if found:
        return f"subject: {found.group(0).lower()}"
    return None
