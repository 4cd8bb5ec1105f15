"""A file-system path from outside data, checked before the OS sees it (internal).

``Path("a\\x00b")`` is accepted by :mod:`pathlib`, and the first system call
then raises a raw ``ValueError`` ("embedded null byte"); a lone surrogate
outside Python's ``surrogateescape`` range raises ``UnicodeEncodeError``; a
name longer than the system allows raises ``OSError``. Every public call that
takes a folder or file name checks it here first, so a bad name is an
:class:`~crm_procedures.errors.InvalidInput` naming the argument.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from crm_procedures.errors import InvalidInput

__all__ = ["usable_path"]

MAX_PATH = 4096
"""The longest path accepted (Linux's ``PATH_MAX``), in encoded bytes."""
MAX_NAME = 255
"""The longest single name in a path (every common file system's limit), in bytes."""


def usable_path(field: str, value: Any) -> Path:
    """``value`` as a :class:`~pathlib.Path`, or InvalidInput naming ``field``.

    Refused: anything that is not text or a path, the empty name, NUL, text
    the file system cannot encode (a lone surrogate), and names or paths
    longer than the system's limits.
    """
    if not isinstance(value, str | os.PathLike):
        raise InvalidInput(field, "must be a file or folder name (text or a path)", value)
    try:
        raw = os.fsencode(value)
    except (UnicodeEncodeError, TypeError):
        raise InvalidInput(
            field, "holds characters no file name can hold (a lone surrogate)", str(value)
        ) from None
    if not raw:
        raise InvalidInput(field, "must not be empty", str(value))
    if b"\x00" in raw:
        raise InvalidInput(field, "must not contain a NUL character", str(value))
    if len(raw) > MAX_PATH or any(len(part) > MAX_NAME for part in raw.split(b"/")):
        raise InvalidInput(
            field,
            f"is too long (at most {MAX_PATH} bytes, {MAX_NAME} per name)",
            str(value)[:100],
        )
    return Path(os.fsdecode(raw))
