"""Folder adapters: e-mails as ``.eml`` files and invitations as ``.ics`` files (X1).

Useful for demos, for development without a mail server, and for hosts that
hand files to another system (a pickup directory, a shared calendar folder).

:class:`FolderMailer` writes ``<message-id>.eml`` (the id made file-name
safe) and never overwrites: delivering a Message-ID twice leaves one file.
:class:`FolderCalendar` keeps ``<uid>.ics`` with the latest version of each
appointment: a higher SEQUENCE replaces the file, an older or equal one is
ignored, and a cancellation is written as a ``METHOD:CANCEL`` object. The
UID is made a file name by :func:`uid_file_name`, which never gives two UIDs
one file (``2026/1@x`` and ``2026_1@x`` stay apart, also on file systems that
ignore case).

Files are written to a temporary name first and then moved into place, so a
reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_procedures._paths import usable_path
from crm_procedures.adapters.memory_mail import message_id_of
from crm_procedures.errors import DeliveryError, InvalidInput
from crm_procedures.formats.ical import invitation_ics
from crm_procedures.model.appointment import Appointment

__all__ = ["FolderCalendar", "FolderMailer", "safe_file_name", "uid_file_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")
_SEQUENCE = re.compile(rb"^SEQUENCE:(\d+)\r?$", re.MULTILINE)
_CANCELLED = re.compile(rb"^METHOD:CANCEL\r?$", re.MULTILINE)


def safe_file_name(text: str) -> str:
    """``text`` reduced to characters safe in a file name on every OS.

    Angle brackets are dropped, other unsafe characters become ``_``, and a
    leading dot is replaced so the file is never hidden or ``..``.
    """
    name = _UNSAFE.sub("_", text.strip().strip("<>"))[:200]
    if not name or name.startswith("."):
        name = "_" + name
    return name


_KEEP = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._@+-")
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)
_MAX_NAME = 200


def uid_file_name(uid: str) -> str:
    """A file name (without extension) for ``uid``, different for every different UID.

    Lower-case letters, digits and ``._@+-`` stay as they are (so the usual
    ``a-1@crm.example.com`` keeps its readable name); every other character,
    upper-case letters and a leading dot included, becomes ``%XX`` per UTF-8
    byte. Since ``%`` itself is encoded, the mapping is one-to-one, also
    where the file system ignores case. A name longer than 200 characters
    is cut and given a SHA-256 suffix after ``~`` (a character the encoding
    never produces). Names Windows reserves (``con``, ``nul``...) are
    encoded too.
    """
    out = []
    # A UID longer than the longest name is cut and hashed anyway: encoding
    # its head alone gives the same name, in time that does not grow with it.
    head = uid if len(uid) <= _MAX_NAME else uid[: _MAX_NAME + 1]
    for i, ch in enumerate(head):
        if ch in _KEEP and not (i == 0 and ch == "."):
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
    name = "".join(out)
    if name.split(".", 1)[0] in _RESERVED:
        name = f"%{ord(name[0]):02X}{name[1:]}"
    if len(name) > _MAX_NAME or not name:
        digest = hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()
        name = f"{name[:120]}~{digest}"
    return name


def _write_new(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless it exists; True when written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            # link() refuses an existing target, so two writers cannot both win.
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:
            if path.exists():
                return False
            os.replace(tmp, path)
            return True
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _replace(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _folder(folder: str | os.PathLike[str]) -> Path:
    path = usable_path("folder", folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput("folder", f"cannot create the folder: {exc}", str(folder)) from exc
    return path


class FolderMailer:
    """A Mailer that writes each message to ``<folder>/<message-id>.eml``.

    The file name is :func:`uid_file_name` of the Message-ID inside its angle
    brackets: one file per Message-ID, never shared by two (``<a/b@x>`` and
    ``<a_b@x>`` are ``a%2Fb@x.eml`` and ``a%5Fb@x.eml``). Idempotent by
    Message-ID: a second delivery of the same id keeps the first file. Raises
    :class:`~crm_procedures.errors.DeliveryError` (temporary) when the file
    cannot be written, InvalidInput for a message without Message-ID or a
    folder that cannot be created.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = _folder(folder)

    def path_for(self, message_id: str) -> Path:
        """The file a message with this Message-ID is written to (see :func:`uid_file_name`)."""
        bare = message_id.strip()
        if bare.startswith("<") and bare.endswith(">"):
            bare = bare[1:-1]
        return self.folder / f"{uid_file_name(bare)}.eml"

    def send(self, message: Any) -> None:
        """Write the message as an ``.eml`` file (CRLF line endings), once per Message-ID."""
        path = self.path_for(message_id_of(message))
        if path.exists():
            return
        try:
            _write_new(path, message.as_bytes())
        except OSError as exc:
            raise DeliveryError(f"cannot write {path.name}: {exc}", permanent=False) from exc

    def files(self) -> list[Path]:
        """The ``.eml`` files written so far, by name."""
        return sorted(self.folder.glob("*.eml"))


class FolderCalendar:
    """A Calendar that keeps ``<folder>/<uid>.ics`` per appointment.

    The file name is :func:`uid_file_name` of the UID: one file per UID, never
    one file for two.

    ``publish`` writes a ``METHOD:REQUEST`` object when the appointment's
    SEQUENCE is higher than the file's (or there is no file); ``cancel`` writes
    the ``METHOD:CANCEL`` version (also at the same SEQUENCE as a confirmed
    file, so a cancellation is never lost). ``organizer`` is used when the
    appointment has no ``organizer_email``; ``clock`` gives DTSTAMP.
    Raises DeliveryError (temporary) when a file cannot be written.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        organizer: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.folder = _folder(folder)
        self.organizer = organizer
        self._clock = clock or (lambda: datetime.now(UTC))

    def path_for(self, uid: str) -> Path:
        """The file that holds the appointment with this UID (see :func:`uid_file_name`)."""
        return self.folder / f"{uid_file_name(uid)}.ics"

    def held(self, uid: str) -> tuple[int, bool] | None:
        """``(sequence, cancelled)`` of the file for ``uid``, or None when there is none."""
        path = self.path_for(uid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        m = _SEQUENCE.search(data)
        return (int(m.group(1)) if m else -1, bool(_CANCELLED.search(data)))

    def _write(self, appointment: Appointment, method: str) -> None:
        held = self.held(appointment.uid)
        if held is not None:
            sequence, cancelled = held
            newer = appointment.sequence > sequence
            cancels = method == "CANCEL" and appointment.sequence == sequence and not cancelled
            if not (newer or cancels):
                return
        data = invitation_ics(
            appointment,
            method,
            self._clock(),
            organizer=appointment.organizer_email or self.organizer,
        )
        try:
            _replace(self.path_for(appointment.uid), data)
        except OSError as exc:
            raise DeliveryError(
                f"cannot write the calendar file for {appointment.uid}: {exc}", permanent=False
            ) from exc

    def publish(self, appointment: Appointment) -> None:
        """Write or replace ``<uid>.ics`` (METHOD:REQUEST; METHOD:CANCEL if cancelled)."""
        self._write(appointment, "CANCEL" if appointment.cancelled else "REQUEST")

    def cancel(self, appointment: Appointment) -> None:
        """Replace ``<uid>.ics`` with the cancellation (METHOD:CANCEL, STATUS:CANCELLED)."""
        self._write(appointment, "CANCEL")

    def files(self) -> list[Path]:
        """The ``.ics`` files, by name."""
        return sorted(self.folder.glob("*.ics"))
