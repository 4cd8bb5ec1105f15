"""Outgoing e-mail as ``email.message.EmailMessage`` (stdlib only, no I/O).

Every message is built with :data:`SMTP_POLICY` (``email.policy.SMTP``: CRLF
line endings, RFC 5322 headers) and carries a ``Message-ID`` derived from the
outbox key, so a retried delivery carries the same id and a mailer that has
seen it can recognise the duplicate (X4).

Header values are checked before they reach the message: any CR, LF or other
control character raises :class:`~crm_procedures.errors.InvalidInput`, so text
from a contact record or a template can never add a header (``Bcc:``) or end
the header block early.

:mod:`crm_procedures.services.messages` re-exports the public names; this
module lives among the adapters because calendar adapters build invitation
e-mails too.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from email import policy as _policy
from email import quoprimime
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage, Message
from email.utils import format_datetime
from typing import Any

import attrs

from crm_procedures._memo import remember
from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import require_aware
from crm_procedures.model._email import is_sendable_email

__all__ = [
    "SMTP_POLICY",
    "Attachment",
    "Recipient",
    "build_email",
    "check_header",
    "envelope_of",
    "message_id_for",
]

# C0 controls (TAB included), DEL, and the characters some mail software
# treats as line breaks (NEL, LINE/PARAGRAPH SEPARATOR).
_HEADER_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")

MAX_HEADER = 10_000
"""The longest header value (subject, display name, ...), in characters.

Ten times the longest line a subject can be rendered from, and far beyond what
any mail client shows; the stdlib folds a header in time that grows with the
square of its length (a 1 MB subject takes about a minute).
"""
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")
_RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    }
)


class _CachingHeaderRegistry(HeaderRegistry):
    """The stdlib header registry, remembering the class it makes per header name.

    ``HeaderRegistry.__getitem__`` builds a new class with ``type()`` for
    every header set; caching it makes message assembly about three times
    faster without changing a byte of the output.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


class _CachingPolicy(_policy.EmailPolicy):
    """``EmailPolicy`` remembering the header objects it parses from raw values.

    Serialising a message asks for its Content-Type (and boundary, charset,
    transfer encoding) many times per part, and the stdlib parses the raw text
    again for every question. The parsed header objects are immutable, so one
    parse per distinct ``(factory, name, value)`` gives the same answers, and the same
    bytes, in a fraction of the time.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        # The factory is part of the key: a clone with another factory parses anew.
        key = (self.header_factory, name, value)
        header = _PARSED.get(key)
        if header is None:
            header = super().header_fetch_parse(name, value)
            remember(_PARSED, key, header, _PARSED_MAX)
        return header


_PARSED: dict[tuple[Any, str, str], Any] = {}
_PARSED_MAX = 4096

SMTP_POLICY = _CachingPolicy(linesep="\r\n", header_factory=_CachingHeaderRegistry())
"""``email.policy.SMTP`` with a faster (output-identical) header factory and fetch."""

_LINE_LENGTH = 78
_PLAIN_MESSAGE_ID = re.compile(r"^<[0-9a-f]{32}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*>$")


def _str_dict(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@attrs.frozen
class Attachment:
    """A file attached to an e-mail.

    ``mime_type`` is ``maintype/subtype``; ``params`` are extra Content-Type
    parameters (``{"method": "REQUEST"}``). Raises InvalidInput for a file
    name with control characters or a malformed MIME type.
    """

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"
    params: Mapping[str, str] = attrs.field(factory=dict, converter=_str_dict)

    def __attrs_post_init__(self) -> None:
        check_header("attachment.filename", self.filename)
        if not self.filename.strip():
            raise InvalidInput("attachment.filename", "must not be empty", self.filename)
        if not re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", self.mime_type):
            raise InvalidInput(
                "attachment.mime_type", "must look like 'maintype/subtype'", self.mime_type
            )
        for name, value in self.params.items():
            check_header(f"attachment.params[{name}]", name)
            check_header(f"attachment.params[{name}]", value)


Recipient = str | tuple[str, str]
"""An address (``"jan@example.nl"``) or a ``(display name, address)`` pair."""


def check_header(field: str, value: str) -> str:
    """Return ``value`` if it can be a header value; raise InvalidInput otherwise.

    Refused: anything that is not text, CR, LF and every other control
    character (header injection such as ``"Hi\\r\\nBcc: x@y"``), lone
    surrogates (text that cannot be written as UTF-8), and more than
    :data:`MAX_HEADER` characters.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text", value)
    if len(value) > MAX_HEADER:
        raise InvalidInput(
            field, f"is {len(value):,} characters long; at most {MAX_HEADER:,} fit a header", None
        )
    _check_unicode(field, value)
    if _HEADER_FORBIDDEN.search(value):
        raise InvalidInput(
            field,
            "must not contain line breaks or control characters (header injection refused)",
            value,
        )
    return value


def _check_unicode(field: str, value: str) -> None:
    """Refuse text that cannot be written as UTF-8 (a lone surrogate, from ``json.loads``)."""
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            field, "holds a lone surrogate (not Unicode text); decode the input properly", value
        ) from None


def message_id_for(key: str, sender: str) -> str:
    """The stable ``Message-ID`` for an outbox key: ``<sha256(key)[:32]@sender-domain>``.

    The same key always yields the same id, so a retry is recognisable as a
    duplicate. Raises InvalidInput for an empty key or a sender that is not an
    e-mail address.
    """
    if not isinstance(key, str) or not key:
        raise InvalidInput("key", "must be a non-empty text", key)
    _check_unicode("key", key)
    _address("sender", sender)
    domain = sender.rsplit("@", 1)[1].lower()
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _address(field: str, value: Recipient) -> Address:
    if isinstance(value, tuple):
        if len(value) != 2:
            raise InvalidInput(field, "must be an address or a (name, address) pair", value)
        name, addr = value
    else:
        name, addr = "", value
    check_header(f"{field}.name", name)
    check_header(field, addr)
    if not is_sendable_email(addr):
        raise InvalidInput(
            field,
            f"{addr!r} is not an e-mail address a mail header carries unchanged",
            addr,
        )
    local, domain = addr.rsplit("@", 1)
    return Address(display_name=name, username=local, domain=domain)


def _addresses(field: str, value: Recipient | Iterable[Recipient]) -> list[Address]:
    items: list[Recipient] = [value] if isinstance(value, (str, tuple)) else list(value)
    if not items:
        raise InvalidInput(field, "needs at least one recipient", value)
    return [_address(f"{field}[{i}]", item) for i, item in enumerate(items)]


def envelope_of(message: Message) -> list[str]:
    """The envelope recipients of a message: the addresses of To, Cc and Bcc, once each.

    Read from the header objects: for a message from :func:`build_email`
    these are the addresses as given (checked, never re-parsed), which is
    what the outbox stores as the message's envelope. Reading the envelope
    back from serialised headers is not safe: some Python versions write
    the comma between a non-ASCII display name and the next address as part
    of an encoded word (CPython gh-100884), and a parser then sees one
    address where there were two.
    """
    found: list[str] = []
    seen: set[str] = set()
    for name in ("To", "Cc", "Bcc"):
        for header in message.get_all(name, []):
            for address in getattr(header, "addresses", ()):
                spec = str(address.addr_spec)
                if spec and spec.lower() not in seen:
                    seen.add(spec.lower())
                    found.append(spec)
    return found


def _body_cte(text: str) -> str:
    # 7bit keeps plain ASCII readable; anything else is quoted-printable so the
    # message stays 7-bit clean for servers without 8BITMIME.
    return (
        "7bit"
        if text.isascii() and all(len(x) < 990 for x in text.split("\n"))
        else "quoted-printable"
    )


def build_email(
    *,
    sender: Recipient,
    to: Recipient | Iterable[Recipient],
    subject: str,
    text: str,
    key: str,
    date: datetime,
    html: str | None = None,
    cc: Sequence[Recipient] = (),
    reply_to: Recipient | None = None,
    attachments: Sequence[Attachment] = (),
    alternatives: Sequence[Attachment] = (),
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """Build one outgoing e-mail.

    ``sender`` and ``to`` are addresses or ``(display name, address)`` pairs.
    ``key`` is the outbox idempotency key; the ``Message-ID`` is derived from it
    (:func:`message_id_for`). MIME boundaries are random and occur in no part
    (nobody who writes a text can forge a part); a message stored in the
    outbox keeps its bytes, so retries are identical. ``date`` (timezone-aware) becomes the ``Date``
    header. ``alternatives`` are extra parts of the ``multipart/alternative``
    (an invitation's ``text/calendar``); ``attachments`` are files.
    ``headers`` adds further headers (``X-...``, ``Auto-Submitted``); the
    structural ones (From, To, Subject, Content-*) cannot be overridden there.

    Raises:
        InvalidInput: a header value with CR, LF or another control character,
            an address that is not one, a naive ``date``, or a reserved or
            malformed header name in ``headers``.
    """
    check_header("subject", subject)
    if not isinstance(text, str):
        raise InvalidInput("text", "must be text", text)
    _check_unicode("text", text)
    if html is not None:
        if not isinstance(html, str):
            raise InvalidInput("html", "must be text", html)
        _check_unicode("html", html)
    require_aware(date, "date")
    from_addr = _address("sender", sender)
    to_addrs = _addresses("to", to)
    cc_addrs = [_address(f"cc[{i}]", c) for i, c in enumerate(cc)]
    extra: list[tuple[str, str]] = []
    for name, value in (headers or {}).items():
        check_header("headers", name)
        if not _HEADER_NAME.match(name) or name.lower() in _RESERVED_HEADERS:
            raise InvalidInput(
                f"headers[{name}]", "is not a header name that may be set here", name
            )
        extra.append((name, check_header(f"headers[{name}]", value)))

    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = from_addr
    msg["To"] = to_addrs
    if cc_addrs:
        msg["Cc"] = cc_addrs
    if reply_to is not None:
        msg["Reply-To"] = _address("reply_to", reply_to)
    msg["Subject"] = subject
    # Date and a plain ASCII Message-ID are finished header text already: written raw
    # they serialise to the same bytes without a parse and refold per message.
    msg.set_raw("Date", format_datetime(date))
    message_id = message_id_for(key, from_addr.addr_spec)
    if _PLAIN_MESSAGE_ID.match(message_id):
        msg.set_raw("Message-ID", message_id)
    else:
        msg["Message-ID"] = message_id
    for name, value in extra:
        msg[name] = value

    body = [_text_part(text, "plain")]
    if html is not None:
        body.append(_text_part(html, "html"))
    body.extend(_file_part(part, attachment=False) for part in alternatives)
    files = [_file_part(part, attachment=True) for part in attachments]
    digest = _boundary_token([*body, *files]) if len(body) > 1 or files else ""
    if len(body) > 1:
        content = _multipart("alternative", body, f"=_{digest}_{1 if files else 0}")
    else:
        content = body[0]
    if files:
        content = _multipart("mixed", [content, *files], f"=_{digest}_0")
    msg.set_raw("MIME-Version", "1.0")
    for name, value in content.raw_items():
        msg.set_raw(name, value)
    msg.set_payload(content.get_payload())
    return msg


# Structural headers (Content-Type and friends) are written here as finished
# text with Message.set_raw instead of through the header registry: parsing
# and refolding a dozen such headers per message is what makes stdlib message
# assembly slow, and their values are fixed ASCII built from checked parts.
# Only From/To/Cc/Reply-To/Subject (user text) go through the registry, which
# encodes non-ASCII as RFC 2047 words.
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_QUOTABLE = re.compile(r"^[ -!#-\[\]-~]*$")


def _param_text(name: str, value: str) -> str | None:
    if _TOKEN.match(value):
        return f"{name}={value}" if name != "filename" else f'{name}="{value}"'
    if _QUOTABLE.match(value):
        return f'{name}="{value}"'
    return None


def _leaf(headers: list[tuple[str, str]], payload: str) -> EmailMessage:
    part = EmailMessage(policy=SMTP_POLICY)
    for name, value in headers:
        part.set_raw(name, value)
    part.set_payload(payload)
    return part


def _boundary_token(parts: Sequence[EmailMessage]) -> str:
    """A random boundary token that occurs in none of ``parts`` (headers or body).

    Random (96 bits from :mod:`secrets`), so no one who writes a part can
    guess it and close the part early (MIME part injection: a description
    holding ``--<boundary>`` and a forged ``text/html`` part). The token is
    drawn once, when the message is built; the outbox stores the finished
    text, so every retry sends the same bytes. A token found in a part is
    drawn again (a check, not a hope).
    """
    texts = [
        "\n".join([*(str(v) for _, v in part.raw_items()), str(part.get_payload())])
        for part in parts
    ]
    while True:
        token = secrets.token_hex(12)
        if not any(token in text for text in texts):
            return token


def _multipart(subtype: str, parts: list[EmailMessage], boundary: str) -> EmailMessage:
    # The "=_" prefix cannot occur in base64 or quoted-printable text, and the
    # random token is checked against every part (see _boundary_token).
    part = EmailMessage(policy=SMTP_POLICY)
    part.set_raw("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')
    part.set_payload(list(parts))
    return part


def _text_part(text: str, subtype: str) -> EmailMessage:
    lines = text.encode("utf-8").splitlines()
    data = b"\n".join(lines) + b"\n"
    cte = _body_cte(text)
    if cte == "7bit":
        payload = data.decode("ascii")
    else:
        payload = quoprimime.body_encode(data.decode("latin-1"), _LINE_LENGTH)
    return _leaf(
        [
            ("Content-Type", f'text/{subtype}; charset="utf-8"'),
            ("Content-Transfer-Encoding", cte),
        ],
        payload,
    )


def _file_part(part: Attachment, *, attachment: bool) -> EmailMessage:
    params = [_param_text(k, v) for k, v in part.params.items()]
    filename = _param_text("filename", part.filename) if attachment else None
    if None in params or (attachment and filename is None):
        # Non-ASCII or quote characters need RFC 2231 parameters: let the
        # stdlib content manager write them.
        maintype, subtype = part.mime_type.split("/", 1)
        slow = EmailMessage(policy=SMTP_POLICY)
        slow.set_content(
            part.content,
            maintype=maintype,
            subtype=subtype,
            params=dict(part.params),
            disposition="attachment" if attachment else None,
            filename=part.filename if attachment else None,
        )
        if "MIME-Version" in slow:
            del slow["MIME-Version"]
        return slow
    content_type = "; ".join([part.mime_type, *(p for p in params if p)])
    headers = [("Content-Type", content_type), ("Content-Transfer-Encoding", "base64")]
    if attachment:
        headers.append(("Content-Disposition", f"attachment; {filename}"))
    return _leaf(headers, _base64(part.content))


def _base64(data: bytes) -> str:
    step = _LINE_LENGTH // 4 * 3
    return "".join(
        binascii.b2a_base64(data[i : i + step]).decode("ascii") for i in range(0, len(data), step)
    )
