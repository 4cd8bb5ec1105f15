"""Delivery failure reports: RFC 3464 and the common text formats."""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

from crm_procedures.inbound._read import (
    _ADDRESS,
    _MAX_HEADER_CHARS,
    _MAX_PARTS,
    _SPACES,
    _address,
    _auto_submitted,
    _content_type,
    _header,
    _message_ids,
    _part_text,
    _raw_header,
)
from crm_procedures.inbound.kinds import Bounce, BouncedRecipient, Envelope

# -- bounces ---------------------------------------------------------------------------------

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"(?<![\d.])([45])\d\d(?:[ -]|$)", re.MULTILINE)


def _standard_bounce(msg: Message, envelope: Envelope, parts: list[Message]) -> Bounce | None:
    report = next((p for p in parts if _content_type(p) == "message/delivery-status"), None)
    if report is None:
        return None
    blocks = _status_blocks(report)
    recipients: list[BouncedRecipient] = []
    for block in blocks[1:] if len(blocks) > 1 else blocks:
        final = block.get("final-recipient") or block.get("original-recipient") or ""
        address = _address(final.split(";", 1)[-1].strip())
        action = block.get("action", "").strip().lower() or None
        if address is None or action not in ("failed", "delayed"):
            continue
        status_match = _STATUS.search(block.get("status", ""))
        status = ".".join(status_match.groups()) if status_match else None
        hard = status[0] == "5" if status is not None and status[0] in "45" else action == "failed"
        diagnostic = block.get("diagnostic-code", "").split(";", 1)[-1].strip() or None
        recipients.append(BouncedRecipient(address, hard, status, action, diagnostic))
    if not recipients:
        return None
    return Bounce(envelope, tuple(recipients), _original_message_id(parts, envelope), True)


def _status_blocks(report: Message) -> list[dict[str, str]]:
    """The header blocks of a message/delivery-status part, names lower case."""
    payload = report.get_payload()
    if isinstance(payload, list) and payload:
        blocks = []
        for sub in payload[:_MAX_PARTS]:
            if isinstance(sub, Message):
                blocks.append({k.lower(): _header(sub, k) for k in sub})
        return blocks
    text = payload if isinstance(payload, str) else ""
    out: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n\s*\r?\n", text[:1_000_000])[:_MAX_PARTS]:
        try:
            headers = HeaderParser().parsestr(chunk.strip() + "\n\n")
        except Exception:
            continue
        out.append({k.lower(): _header(headers, k) for k in headers})
    return out


def _original_message_id(parts: list[Message], envelope: Envelope) -> str | None:
    for part in parts:
        ctype = _content_type(part)
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                ids = _message_ids(_header(inner, "Message-ID"))
                if ids and ids[0] != envelope.message_id:
                    return ids[0]
        elif ctype == "text/rfc822-headers":
            found = _message_id_in_text(_part_text(part, 200_000), envelope)
            if found:
                return found
    for part in parts:
        if _content_type(part) == "text/plain":
            found = _message_id_in_text(_part_text(part, 200_000), envelope)
            if found:
                return found
    return None


_MESSAGE_ID_LINE = re.compile(
    r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE
)


def _message_id_in_text(text: str, envelope: Envelope) -> str | None:
    for candidate in _MESSAGE_ID_LINE.findall(text):
        ids = _message_ids(candidate)
        if ids and ids[0] != envelope.message_id:
            return ids[0]
    return None


_DAEMONS = re.compile(
    r"^(mailer-daemon|mailer_daemon|mailerdaemon|mail-daemon|postmaster|"
    r"mail\.delivery\.system|microsoftexchange[0-9a-f]*)@",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver(ed|able)|returned mail|mail delivery (failed|failure|system)|"
    r"delivery (status notification|failure|has failed|failed|problem)|failure notice|"
    r"could not be delivered|non[- ]?delivery|unzustellbar|onbestelbaar|niedostarczon|"
    r"non remis|undelivered mail returned to sender",
    re.IGNORECASE,
)
_BOUNCE_BODY = re.compile(
    r"delivery to the following recipients? failed|could not be delivered to one or more|"
    r"the following address(?:\(es\)|es)? failed|wasn't able to deliver your message|"
    r"was not delivered to|message could not be delivered|permanent error|"
    r"delivery has failed to these recipients|your message (?:couldn't|could not|wasn't) "
    r"(?:be )?delivered|i'm sorry to have to inform you|delivery to these recipients|"
    r"has not yet been delivered|undeliverable|delivery incomplete|"
    r"(?:recipient|user|mailbox) (?:address )?(?:rejected|unknown|not found|unavailable)",
    re.IGNORECASE,
)
_RETURNED_COPY = re.compile(
    r"^[ \t-]*(?:-{2,}.*(?:copy of|original message|returned message|"
    r"undelivered message|below this line)|original message headers:|"
    r"-{3,} ?(?:the )?(?:original|forwarded) message|"
    r"------ This is a copy)",
    re.IGNORECASE | re.MULTILINE,
)
_PERMANENT = re.compile(
    r"permanent|gave up|given up|does not exist|no such user|unknown user", re.I
)
_TEMPORARY = re.compile(
    r"temporar|delayed|will (?:retry|keep trying|try again)|not yet been delivered|"
    r"deferred|try again later|mailbox (?:is )?full|over ?quota",
    re.IGNORECASE,
)


def _text_bounce(msg: Message, envelope: Envelope, parts: list[Message]) -> Bounce | None:
    sender = envelope.sender or ""
    from_daemon = bool(_DAEMONS.match(sender)) or "mail delivery" in _header(msg, "From").lower()
    null_return = _raw_header(msg, "Return-Path").strip() == "<>"
    subject_says = bool(_BOUNCE_SUBJECT.search(envelope.subject))
    machine_sent = null_return or envelope.sender is None or _auto_submitted(msg) is not None
    if not (from_daemon or (subject_says and machine_sent)):
        return None
    diagnostic = _bounce_text(parts)
    if not (_BOUNCE_BODY.search(diagnostic) or (from_daemon and subject_says)):
        return None
    excluded = {sender}
    try:
        for _, addr in getaddresses([_header(msg, h) for h in ("To", "Cc", "Reply-To")]):
            excluded.add(addr.lower())
    except Exception:
        pass
    addresses: list[str] = []
    for found in _ADDRESS.findall(diagnostic):
        address = found.lower().strip(".")
        if address in excluded or _DAEMONS.match(address) or address in addresses:
            continue
        addresses.append(address)
    if not addresses:
        return None
    status_match = _STATUS.search(diagnostic)
    status = ".".join(status_match.groups()) if status_match else None
    if status is not None and status[0] in "45":
        hard = status[0] == "5"
    elif code := _SMTP_CODE.search(diagnostic):
        hard = code.group(1) == "5"
    elif _TEMPORARY.search(diagnostic):
        hard = False
    else:
        hard = bool(_PERMANENT.search(diagnostic))
    words = _diagnostic_line(diagnostic)
    recipients = tuple(
        BouncedRecipient(address, hard, status, None, words) for address in addresses[:50]
    )
    return Bounce(envelope, recipients, _original_message_id(parts, envelope), False)


def _bounce_text(parts: list[Message]) -> str:
    """The report's own words: its inline text parts up to the returned copy of the message."""
    texts: list[str] = []
    for part in parts:
        if _content_type(part) in ("message/rfc822", "text/rfc822-headers"):
            break
        if part.is_multipart() or _content_type(part) != "text/plain":
            continue
        text = _part_text(part, 100_000)
        cut = _RETURNED_COPY.search(text)
        texts.append(text[: cut.start()] if cut else text)
        if cut:
            break
    return "\n".join(texts)


def _diagnostic_line(text: str) -> str | None:
    for pattern in (_STATUS, _SMTP_CODE):
        found = pattern.search(text)
        if found:
            start = text.rfind("\n", 0, found.start()) + 1
            end = text.find("\n", found.end())
            line = text[start : end if end != -1 else len(text)]
            return _SPACES.sub(" ", line).strip()[:_MAX_HEADER_CHARS] or None
    return None
