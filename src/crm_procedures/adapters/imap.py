"""An IMAP inbox on the standard library's :mod:`imaplib` (I1).

:class:`ImapInbox` reads one mailbox (``INBOX`` by default) over IMAP4 with
TLS (``ssl=True``, port 993), STARTTLS (``starttls=True``) or plain text (for
a server on the same host or in tests). It selects the mailbox read-only and
fetches with ``UID FETCH ... BODY.PEEK[]``, so it never sets ``\\Seen`` or
changes anything on the server.

Cursor: ``epoch`` is the mailbox's UIDVALIDITY, ``position`` the last UID
read. A fetch after a cursor returns the messages with a higher UID, oldest
first. When the server reports another UIDVALIDITY than the cursor's (the
mailbox was recreated or renumbered, RFC 3501 2.3.1.1), the UIDs in the cursor
mean nothing any more: the inbox reads the mailbox again from its first
message, and the returned cursors carry the new UIDVALIDITY. Messages applied
before are then met again and recognised by their Message-ID.

The connection is opened on the first fetch and kept; a broken connection is
dropped and opened again on the next fetch. Every failure to connect, log in,
select or fetch raises :class:`~crm_procedures.errors.InboxUnavailable` (poll
again later with the same cursor).
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl as _ssl
from typing import Any

from crm_procedures.adapters.inbox_folder import check_limit
from crm_procedures.errors import InboxUnavailable, InvalidInput
from crm_procedures.inbound.cursor import InboundMessage, InboxCursor

__all__ = ["ImapInbox"]

_FETCH_UID = re.compile(rb"\bUID (\d+)")
_DIGITS = re.compile(r"\d{1,10}")
_MAILBOX = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,200}")


class ImapInbox:
    """An :class:`~crm_procedures.ports.Inbox` over IMAP (see the module documentation).

    Args:
        host: the server's name or address.
        username: the login name.
        password: the login password (never shown in messages or ``repr``).
        port: the server's port (default 993 with ``ssl``, else 143).
        mailbox: the mailbox to read (ASCII name, no quotes or backslashes).
        ssl: connect with TLS (IMAPS).
        starttls: upgrade a plain connection with STARTTLS (ignored with ``ssl``).
        ssl_context: the TLS context (default: the system's trusted CAs,
            hostname checked).
        timeout: seconds for connecting and for each server answer.
    """

    def __init__(
        self,
        host: str,
        username: str,
        password: str,
        *,
        port: int | None = None,
        mailbox: str = "INBOX",
        ssl: bool = True,
        starttls: bool = False,
        ssl_context: _ssl.SSLContext | None = None,
        timeout: float = 30.0,
    ) -> None:
        for name, value in (("host", host), ("username", username), ("password", password)):
            if not isinstance(value, str) or not value or any(c in value for c in "\r\n\x00"):
                raise InvalidInput(name, "must be non-empty text on one line", None)
        if not isinstance(mailbox, str) or not _MAILBOX.fullmatch(mailbox):
            raise InvalidInput(
                "mailbox", "must be a printable ASCII mailbox name without quotes or backslashes"
            )
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
        ):
            raise InvalidInput("port", "must be a TCP port number (1-65535)", port)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise InvalidInput("timeout", "must be a positive number of seconds", timeout)
        self.host = host
        self.port = port if port is not None else (993 if ssl else 143)
        self.username = username
        self._password = password
        self.mailbox = mailbox
        self.ssl = ssl
        self.starttls = starttls and not ssl
        self._context = ssl_context
        self.timeout = float(timeout)
        self._conn: imaplib.IMAP4 | None = None

    def __repr__(self) -> str:
        return f"ImapInbox({self.name!r})"

    @property
    def name(self) -> str:
        """``imap[s]://user@host:port/mailbox``, for messages and logs (no password)."""
        scheme = "imaps" if self.ssl else "imap"
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{self.mailbox}"

    def fetch(self, after: InboxCursor | None = None, limit: int = 100) -> list[InboundMessage]:
        """Up to ``limit`` messages with a UID above the cursor's (see the module)."""
        check_limit(limit)
        last_uid = self._last_uid(after)
        try:
            conn = self._connection()
            uidvalidity = self._select(conn)
            if after is not None and after.epoch != uidvalidity:
                last_uid = 0  # renumbered mailbox: read it again from the beginning
            uids = self._uids_after(conn, last_uid)[:limit]
            return [m for uid in uids if (m := self._message(conn, uidvalidity, uid)) is not None]
        except InboxUnavailable:
            self._drop()
            raise
        except (imaplib.IMAP4.error, OSError, EOFError) as exc:
            self._drop()
            raise InboxUnavailable(self.name, f"{type(exc).__name__}: {exc}"[:300]) from exc

    def close(self) -> None:
        """Log out and close the connection (the next fetch opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError, EOFError):
                conn.logout()

    def __enter__(self) -> ImapInbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _last_uid(self, after: InboxCursor | None) -> int:
        if after is None:
            return 0
        if (
            not isinstance(after, InboxCursor)
            or not _DIGITS.fullmatch(after.epoch)
            or not _DIGITS.fullmatch(after.position)
        ):
            raise InvalidInput(
                "after", "must be a cursor an IMAP inbox returned (UIDVALIDITY and UID)", after
            )
        return int(after.position)

    def _connection(self) -> imaplib.IMAP4:
        if self._conn is not None:
            return self._conn
        conn: imaplib.IMAP4
        if self.ssl:
            context = self._context or _ssl.create_default_context()
            conn = imaplib.IMAP4_SSL(
                self.host, self.port, ssl_context=context, timeout=self.timeout
            )
        else:
            conn = imaplib.IMAP4(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                conn.starttls(self._context or _ssl.create_default_context())
        try:
            conn.login(self.username, self._password)
        except imaplib.IMAP4.error as exc:
            with contextlib.suppress(imaplib.IMAP4.error, OSError, EOFError):
                conn.logout()
            raise InboxUnavailable(self.name, "the server refused the login") from exc
        self._conn = conn
        return conn

    def _select(self, conn: imaplib.IMAP4) -> str:
        status, data = conn.select(_quoted(self.mailbox), readonly=True)
        if status != "OK":
            raise InboxUnavailable(self.name, f"cannot select the mailbox: {_text(data)}")
        _, values = conn.response("UIDVALIDITY")
        value = _text(values).strip()
        if not _DIGITS.fullmatch(value):
            raise InboxUnavailable(self.name, "the server reported no UIDVALIDITY")
        return str(int(value))

    def _uids_after(self, conn: imaplib.IMAP4, last_uid: int) -> list[int]:
        status, data = conn.uid("SEARCH", f"UID {last_uid + 1}:*")
        if status != "OK":
            raise InboxUnavailable(self.name, f"UID SEARCH failed: {_text(data)}")
        uids: set[int] = set()
        for chunk in data:
            if isinstance(chunk, bytes):
                uids.update(int(u) for u in chunk.split() if u.isdigit())
        # "N:*" always matches the highest UID, even below N: keep only the new ones.
        return sorted(u for u in uids if u > last_uid)

    def _message(self, conn: imaplib.IMAP4, uidvalidity: str, uid: int) -> InboundMessage | None:
        status, data = conn.uid("FETCH", str(uid), "(UID BODY.PEEK[])")
        if status != "OK":
            raise InboxUnavailable(self.name, f"UID FETCH {uid} failed: {_text(data)}")
        for item in data:
            if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
                found = _FETCH_UID.search(item[0]) if isinstance(item[0], bytes) else None
                if found is not None and int(found.group(1)) != uid:
                    continue
                return InboundMessage(
                    f"{uidvalidity}:{uid}", item[1], InboxCursor(uidvalidity, str(uid))
                )
        return None  # expunged between SEARCH and FETCH

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError, EOFError, imaplib.IMAP4.error):
                conn.shutdown()


def _quoted(mailbox: str) -> str:
    return f'"{mailbox}"'


def _text(data: Any) -> str:
    if isinstance(data, list | tuple):
        return " ".join(_text(d) for d in data if d is not None)
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return str(data)
