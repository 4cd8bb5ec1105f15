"""Folder inboxes: a Maildir, or a directory of ``.eml`` files (I1).

:class:`FolderInbox` reads a Maildir (``new/`` and ``cur/``, through the
standard library's :mod:`mailbox`) or, when the directory has no Maildir
layout, every ``*.eml`` file directly in it. It never moves, flags or deletes
a message: what was read is recorded only by the caller's cursor.

Order: by file name, comparing runs of digits as numbers, so Maildir names
(``<seconds>.M<microseconds>P<pid>...``) sort by delivery time and
``msg-9.eml`` comes before ``msg-10.eml``. A cursor names the last file read;
the next fetch returns the names that sort after it. A file that appears
later with a name sorting before the cursor is not seen: give files names
that grow with their arrival (Maildir delivery names do; for a plain folder
use names such as ``<unix-time>-<n>.eml``). Reading again is harmless: the
store applies a Message-ID once.
"""

from __future__ import annotations

import mailbox
import re
from pathlib import Path
from urllib.parse import quote, unquote

from crm_procedures._paths import usable_path
from crm_procedures.errors import InboxUnavailable, InvalidInput
from crm_procedures.inbound.cursor import InboundMessage, InboxCursor

__all__ = ["FolderInbox"]

_EPOCH = "folder"
_DIGITS = re.compile(r"(\d+)")
_MAX_LIMIT = 10_000


_Key = tuple[tuple[tuple[int, str, int], ...], str]


def _order(name: str) -> _Key:
    """Sort key: text and digit runs alternate, digit runs compare as numbers; then the name."""
    pieces = _DIGITS.split(name)
    runs = tuple(
        (1, "", int(piece)) if i % 2 else (0, piece, 0) for i, piece in enumerate(pieces) if piece
    )
    return runs, name


def check_limit(limit: object) -> int:
    """``limit`` as an int between 1 and 10,000, or InvalidInput."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
        raise InvalidInput("limit", f"must be an integer from 1 to {_MAX_LIMIT:,}", limit)
    return limit


class FolderInbox:
    """An :class:`~crm_procedures.ports.Inbox` over a Maildir or a folder of ``.eml`` files.

    Args:
        path: the Maildir (with ``cur/``, ``new/``, ``tmp/``) or the folder.

    Raises InboxUnavailable from :meth:`fetch` when the folder is missing or
    unreadable.
    """

    def __init__(self, path: str | Path) -> None:
        if not isinstance(path, str | Path) or not str(path):
            raise InvalidInput("path", "must be the path of a Maildir or a folder", path)
        self.path = usable_path("path", path)

    def __repr__(self) -> str:
        return f"FolderInbox({str(self.path)!r})"

    @property
    def is_maildir(self) -> bool:
        """True when the folder has the Maildir layout (``cur/`` and ``new/``)."""
        return (self.path / "cur").is_dir() and (self.path / "new").is_dir()

    def fetch(self, after: InboxCursor | None = None, limit: int = 100) -> list[InboundMessage]:
        """The messages after ``after`` by name order, at most ``limit`` (see the module)."""
        check_limit(limit)
        start = self._position(after)
        try:
            if self.is_maildir:
                return self._fetch_maildir(start, limit)
            return self._fetch_files(start, limit)
        except OSError as exc:
            raise InboxUnavailable(str(self.path), exc.strerror or type(exc).__name__) from exc

    def close(self) -> None:
        """Nothing to release: every fetch opens and closes its files."""

    def _position(self, after: InboxCursor | None) -> _Key | None:
        if after is None:
            return None
        if not isinstance(after, InboxCursor) or after.epoch != _EPOCH:
            raise InvalidInput(
                "after", "must be a cursor this folder inbox returned (epoch 'folder')", after
            )
        return _order(unquote(after.position))

    def _fetch_files(self, start: _Key | None, limit: int) -> list[InboundMessage]:
        if not self.path.is_dir():
            raise InboxUnavailable(str(self.path), "no such folder")
        names = [p.name for p in self.path.iterdir() if p.suffix.lower() == ".eml" and p.is_file()]
        out: list[InboundMessage] = []
        for name in self._after(names, start)[:limit]:
            try:
                raw = (self.path / name).read_bytes()
            except FileNotFoundError:  # removed between listing and reading
                continue
            out.append(InboundMessage(name, raw, InboxCursor(_EPOCH, quote(name, safe=""))))
        return out

    def _fetch_maildir(self, start: _Key | None, limit: int) -> list[InboundMessage]:
        box = mailbox.Maildir(self.path, factory=None, create=False)
        out: list[InboundMessage] = []
        for key in self._after(list(box.iterkeys()), start):
            if len(out) >= limit:
                break
            try:
                raw = box.get_bytes(key)
            except (KeyError, FileNotFoundError):  # removed between listing and reading
                continue
            out.append(InboundMessage(key, raw, InboxCursor(_EPOCH, quote(key, safe=""))))
        return out

    @staticmethod
    def _after(names: list[str], start: _Key | None) -> list[str]:
        ordered = sorted(names, key=_order)
        if start is None:
            return ordered
        return [n for n in ordered if _order(n) > start]
