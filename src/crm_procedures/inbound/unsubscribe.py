"""One-click unsubscribe (RFC 8058): signed tokens and the ``List-Unsubscribe`` headers.

A campaign e-mail carries a link with a token that names the contact, the
project and the day it was issued, signed with HMAC-SHA256 under the
installation's secret. The host's web endpoint passes the token it receives
to :func:`verify_unsubscribe_token`, which checks the signature in constant
time (and the age, when asked) and returns who asked to unsubscribe from what;
a forged, altered, foreign or expired token raises
:class:`~crm_procedures.errors.UnsubscribeTokenInvalid`.

The token is URL-safe text: ``<payload>.<signature>``, both base64url without
padding. The payload is readable (not encrypted): it holds only ids.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import attrs

from crm_procedures.errors import InvalidInput, UnsubscribeTokenInvalid

__all__ = [
    "ONE_CLICK",
    "UnsubscribeRequest",
    "list_unsubscribe_headers",
    "sign_unsubscribe_token",
    "verify_unsubscribe_token",
]

ONE_CLICK = "List-Unsubscribe=One-Click"
"""The ``List-Unsubscribe-Post`` value RFC 8058 requires."""

_DOMAIN = b"crm_procedures/unsubscribe/1\x00"
_MIN_SECRET = 16
_MAX_ID = 200
_MAX_TOKEN = 2_000
_B64 = re.compile(r"[A-Za-z0-9_-]+")
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f<>\"'\\`{}|^]|[^\x00-\x7f]")


@attrs.frozen
class UnsubscribeRequest:
    """What a valid token asks: unsubscribe ``contact_id`` from ``project_id``.

    Attributes:
        contact_id: as signed.
        project_id: as signed.
        issued: the day the token was made.
    """

    contact_id: str
    project_id: str
    issued: date


def _check_secret(secret: object) -> bytes:
    if not isinstance(secret, bytes) or len(secret) < _MIN_SECRET:
        raise InvalidInput(
            "secret",
            f"must be bytes, at least {_MIN_SECRET} of them (e.g. secrets.token_bytes(32))",
            None,
        )
    return secret


def _check_id(field: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise InvalidInput(field, f"must be an id of 1 to {_MAX_ID} characters", value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(field, "must be text without unpaired surrogates", value) from exc
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64.fullmatch(text):
        raise UnsubscribeTokenInvalid("malformed")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise UnsubscribeTokenInvalid("malformed") from exc


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _DOMAIN + payload, hashlib.sha256).digest()


def sign_unsubscribe_token(secret: bytes, contact_id: str, project_id: str, issued: date) -> str:
    """A URL-safe token asking to unsubscribe ``contact_id`` from ``project_id``.

    Raises InvalidInput for a secret shorter than 16 bytes, an empty or
    overlong id, or an ``issued`` that is not a date.
    """
    key = _check_secret(secret)
    contact = _check_id("contact_id", contact_id)
    project = _check_id("project_id", project_id)
    if not isinstance(issued, date):
        raise InvalidInput("issued", "must be a datetime.date", issued)
    day = issued.date() if isinstance(issued, datetime) else issued
    payload = json.dumps(
        [contact, project, day.isoformat()], ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def verify_unsubscribe_token(
    secret: bytes,
    token: str,
    *,
    today: date | None = None,
    max_age: timedelta | None = None,
) -> UnsubscribeRequest:
    """Check ``token`` and return what it asks.

    With ``max_age`` (and ``today``, the caller's current date) a token issued
    more than ``max_age`` before ``today`` is refused as expired.

    Raises UnsubscribeTokenInvalid (reason ``malformed``, ``signature`` or
    ``expired``), and InvalidInput for a bad secret or a ``max_age`` without
    ``today``.
    """
    key = _check_secret(secret)
    if max_age is not None and (not isinstance(max_age, timedelta) or not isinstance(today, date)):
        raise InvalidInput("max_age", "needs a timedelta and today's date (today=...)", max_age)
    if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN or token.count(".") != 1:
        raise UnsubscribeTokenInvalid("malformed")
    encoded_payload, encoded_mac = token.split(".")
    payload = _unb64(encoded_payload)
    given = _unb64(encoded_mac)
    if not hmac.compare_digest(given, _mac(key, payload)):
        raise UnsubscribeTokenInvalid("signature")
    try:
        contact, project, day = json.loads(payload.decode("utf-8"))
        issued = date.fromisoformat(day)
    except (ValueError, TypeError) as exc:  # signed by us, so only a changed format lands here
        raise UnsubscribeTokenInvalid("malformed") from exc
    if not isinstance(contact, str) or not isinstance(project, str):
        raise UnsubscribeTokenInvalid("malformed")
    if max_age is not None and today is not None and today - issued > max_age:
        raise UnsubscribeTokenInvalid("expired")
    return UnsubscribeRequest(contact, project, issued)


def list_unsubscribe_headers(
    base_url: str, token: str, *, mailto: str | None = None
) -> dict[str, str]:
    """The ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` header values for one e-mail.

    ``base_url`` is the host's HTTPS endpoint (RFC 8058 requires HTTPS); the
    token is added as the ``token`` query parameter. ``mailto`` adds a
    ``mailto:`` alternative for clients without one-click support.

    Raises InvalidInput for a URL that is not absolute HTTPS, has a fragment
    or characters that do not belong in a header, for a token that is not one
    :func:`sign_unsubscribe_token` made, or for a bad ``mailto`` address.
    """
    if not isinstance(base_url, str) or _URL_UNSAFE.search(base_url) or len(base_url) > 1_000:
        raise InvalidInput("base_url", "must be a printable ASCII URL without spaces", base_url)
    try:
        parts = urlsplit(base_url)
    except ValueError as exc:
        raise InvalidInput("base_url", "is not a URL", base_url) from exc
    if parts.scheme.lower() != "https" or not parts.netloc or parts.fragment:
        raise InvalidInput(
            "base_url", "must be an absolute https:// URL without a #fragment", base_url
        )
    if not isinstance(token, str) or not re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token):
        raise InvalidInput("token", "must be a token sign_unsubscribe_token made", token)
    separator = "&" if parts.query else ("" if base_url.endswith("?") else "?")
    links = [f"<{base_url}{separator}token={token}>"]
    if mailto is not None:
        if (
            not isinstance(mailto, str)
            or _URL_UNSAFE.search(mailto)
            or not re.fullmatch(r"[^@?&=]{1,64}@[^@?&=]{1,255}", mailto)
        ):
            raise InvalidInput("mailto", "must be a plain ASCII e-mail address", mailto)
        links.append(f"<mailto:{mailto}?subject=unsubscribe>")
    return {"List-Unsubscribe": ", ".join(links), "List-Unsubscribe-Post": ONE_CLICK}
