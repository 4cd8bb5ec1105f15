"""Blob stores: document content addressed by its SHA-256 digest.

Two adapters of :class:`~crm_procedures.ports.BlobStore`:

* :class:`MemoryBlobStore` keeps content in a dict (tests, demos).
* :class:`FolderBlobStore` keeps one file per digest under a folder
  (``<root>/ab/abcdef...``), written to a temporary file in the same folder and
  renamed into place, so a reader never sees half a file and a crash leaves at
  most a stray temporary file, never a corrupt blob.

Both refuse content over ``max_bytes`` with
:class:`~crm_procedures.errors.InvalidInput` and store nothing in that case.
Storing the same content twice stores it once.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path

from crm_procedures._paths import usable_path
from crm_procedures.errors import InvalidInput, NotFound

__all__ = ["FolderBlobStore", "MemoryBlobStore"]

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _check_content(content: object, max_bytes: int | None) -> bytes:
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise InvalidInput("content", "must be bytes", type(content).__name__)
    data = bytes(content)
    if max_bytes is not None and len(data) > max_bytes:
        raise InvalidInput(
            "content",
            f"is {len(data)} bytes, over the limit of {max_bytes} bytes; "
            "store a smaller file or raise the limit",
            len(data),
        )
    return data


def _check_digest(digest: object) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise InvalidInput(
            "digest", "must be a SHA-256 hex digest (64 lowercase hex digits)", digest
        )
    return digest


def _check_limit(max_bytes: int | None) -> int | None:
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0
    ):
        raise InvalidInput("max_bytes", "must be a whole number >= 0 or None", max_bytes)
    return max_bytes


class MemoryBlobStore:
    """A :class:`~crm_procedures.ports.BlobStore` in memory.

    ``max_bytes`` (``None``: no limit) bounds the size of one piece of content.
    Raises :class:`InvalidInput` for a negative limit.
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = _check_limit(max_bytes)
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, content: bytes) -> str:
        """Store ``content``; returns its SHA-256 hex digest.

        Raises:
            InvalidInput: not bytes, or over ``max_bytes`` (nothing is stored).
        """
        data = _check_content(content, self.max_bytes)
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._blobs.setdefault(digest, data)
        return digest

    def get(self, digest: str) -> bytes:
        """The content with ``digest``.

        Raises:
            InvalidInput: ``digest`` is not a SHA-256 hex digest.
            NotFound: no content with that digest is stored.
        """
        key = _check_digest(digest)
        try:
            return self._blobs[key]
        except KeyError:
            raise NotFound("blob", key) from None

    def exists(self, digest: str) -> bool:
        """True when content with ``digest`` is stored (a malformed digest: False)."""
        return isinstance(digest, str) and digest in self._blobs

    def __len__(self) -> int:
        return len(self._blobs)


class FolderBlobStore:
    """A :class:`~crm_procedures.ports.BlobStore` in a folder, one file per digest.

    The folder is created when missing. ``max_bytes`` (``None``: no limit)
    bounds the size of one piece of content. Raises :class:`InvalidInput` for a
    negative limit or a path that exists and is not a folder.
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int | None = None) -> None:
        self.max_bytes = _check_limit(max_bytes)
        self.root = usable_path("path", path)
        if self.root.exists() and not self.root.is_dir():
            raise InvalidInput("path", f"{self.root} exists and is not a folder", str(self.root))
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput("path", f"cannot create the folder: {exc}", str(path)) from exc

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def put(self, content: bytes) -> str:
        """Store ``content``; returns its SHA-256 hex digest.

        The content is written to a temporary file beside its final place,
        flushed to disk and renamed, so the file under the digest's name is
        always complete.

        Raises:
            InvalidInput: not bytes, or over ``max_bytes`` (nothing is written).
        """
        data = _check_content(content, self.max_bytes)
        digest = hashlib.sha256(data).hexdigest()
        target = self._path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> bytes:
        """The content with ``digest``.

        Raises:
            InvalidInput: ``digest`` is not a SHA-256 hex digest.
            NotFound: no content with that digest is stored.
        """
        key = _check_digest(digest)
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound("blob", key) from None

    def exists(self, digest: str) -> bool:
        """True when content with ``digest`` is stored (a malformed digest: False)."""
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            return False
        return self._path(digest).is_file()
