"""Documents around a project or report: metadata here, content in a BlobStore."""

from __future__ import annotations

from datetime import datetime

import attrs

from crm_procedures.ids import DocumentId, UserId
from crm_procedures.model._checks import aware, non_empty, non_negative_int, one_line

__all__ = ["Document"]


@attrs.frozen
class Document:
    """A stored file (e-mail, PDF, photo): its metadata and content hash.

    ``owner_kind``/``owner_id`` say what it hangs on (``project``,
    ``visit_report``, ...). ``sha256`` addresses the content in the BlobStore.
    """

    id: DocumentId = attrs.field(validator=non_empty)
    owner_kind: str = attrs.field(validator=non_empty)
    owner_id: str = attrs.field(validator=non_empty)
    name: str = attrs.field(validator=non_empty)
    media_type: str = attrs.field(default="application/octet-stream", validator=one_line)
    size: int = attrs.field(default=0, validator=non_negative_int)
    sha256: str = attrs.field(default="", validator=one_line)
    kind: str = attrs.field(default="file", validator=one_line)
    added_at: datetime | None = attrs.field(default=None, validator=aware)
    added_by: UserId | None = attrs.field(default=None, validator=one_line)
    version: int = attrs.field(default=0, validator=non_negative_int)
